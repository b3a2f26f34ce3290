"""A raw ASGI WebSocket app, in the style of a Django Channels consumer
(issue 9; tests/integration_ws/). HTTP requests get 404.

Routes (by path):
  /echo          accept (the first offered subprotocol of "chat",
                 "superchat"), then echo text and bytes; the text
                 "close CODE REASON" makes the app close with that code
  /headers       accept with an extra header x-extra: yes
  /deny          websocket.close before accept (the handshake gets 403)
  /http-deny     websocket.http.response 401 with a body
  /raise         accept, then raise (the client sees 1011)
  /scope         accept, send the scope as JSON text, close 1000
  /disconnect    accept, wait for websocket.disconnect, record its code
                 and reason under the query string's id
  /result        accept, send what was recorded under [id], close
"""

import json

RESULTS = {}


def _scope_json(scope):
    out = {}
    for k, v in scope.items():
        if k in ("state",):
            continue
        if isinstance(v, bytes):
            v = v.decode("latin-1")
        elif k == "headers":
            v = [[n.decode("latin-1"), x.decode("latin-1")] for n, x in v]
        elif isinstance(v, tuple):
            v = list(v)
        elif k == "extensions":
            v = sorted((v or {}).keys())
        out[k] = v
    return out


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    assert scope["type"] == "websocket"
    path = scope["path"]
    query = scope["query_string"].decode()
    m = await receive()
    assert m["type"] == "websocket.connect", m

    if path == "/deny":
        await send({"type": "websocket.close", "code": 1000})
        return
    if path == "/http-deny":
        await send({"type": "websocket.http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "websocket.http.response.body",
                    "body": b"no entry"})
        return
    if path == "/headers":
        await send({"type": "websocket.accept",
                    "headers": [(b"x-extra", b"yes")]})
    elif path == "/echo":
        sub = None
        for p in scope.get("subprotocols", []):
            if p in ("chat", "superchat"):
                sub = p
                break
        await send({"type": "websocket.accept", "subprotocol": sub})
    else:
        await send({"type": "websocket.accept"})

    if path == "/raise":
        raise RuntimeError("ws_raw: raised on purpose")
    if path == "/scope":
        await send({"type": "websocket.send",
                    "text": json.dumps(_scope_json(scope))})
        await send({"type": "websocket.close", "code": 1000})
        return
    if path == "/result":
        await send({"type": "websocket.send",
                    "text": json.dumps(RESULTS.get(query))})
        await send({"type": "websocket.close", "code": 1000})
        return
    if path == "/disconnect":
        m = await receive()
        RESULTS[query] = {"type": m["type"], "code": m.get("code"),
                          "reason": m.get("reason")}
        return

    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            return
        if m.get("text") is not None:
            t = m["text"]
            if t.startswith("close "):
                _, code, reason = (t.split(" ", 2) + [""])[:3]
                await send({"type": "websocket.close", "code": int(code),
                            "reason": reason})
                return
            await send({"type": "websocket.send", "text": t})
        else:
            await send({"type": "websocket.send", "bytes": m["bytes"]})
