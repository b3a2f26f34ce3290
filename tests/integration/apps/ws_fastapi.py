"""A FastAPI app with a websocket endpoint behind a dependency
(issue 9; tests/integration_ws/)."""

from fastapi import Depends, FastAPI, WebSocket, WebSocketDisconnect
from fastapi import WebSocketException, status

app = FastAPI()


async def token(websocket: WebSocket):
    t = websocket.query_params.get("token")
    if t != "secret":
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
    return t


@app.get("/")
async def root():
    return {"hello": "fastapi"}


@app.websocket("/ws")
async def ws(websocket: WebSocket, t: str = Depends(token)):
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(f"{t}:{text}")
    except WebSocketDisconnect:
        return
