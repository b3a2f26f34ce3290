"""A Starlette app with a WebSocketRoute echo and an HTTP route beside it
(issue 9; tests/integration_ws/)."""

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect


async def hello(request):
    return PlainTextResponse("hello")


async def echo(websocket):
    await websocket.accept()
    try:
        while True:
            m = await websocket.receive()
            if m["type"] == "websocket.disconnect":
                return
            if m.get("text") is not None:
                await websocket.send_text(m["text"])
            else:
                await websocket.send_bytes(m["bytes"])
    except WebSocketDisconnect:
        return


async def json_echo(websocket):
    await websocket.accept()
    data = await websocket.receive_json()
    await websocket.send_json({"got": data, "path": websocket.url.path})
    await websocket.close(code=4000, reason="done")


app = Starlette(routes=[
    Route("/", hello),
    WebSocketRoute("/ws", echo),
    WebSocketRoute("/json", json_echo),
])
