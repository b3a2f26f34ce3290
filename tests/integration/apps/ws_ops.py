"""A WebSocket app for the operational tests (issue 9,
tests/integration/test_62_websocket_ops.py). HTTP requests get 404.

Routes:
  /hold?out=PATH   accept, wait for websocket.disconnect, write its code
                   to PATH (the graceful stop and reload tests)
  /flood?n=N&out=PATH  accept, send N binary messages of 1 MiB, writing
                   the count sent so far to PATH after each, then close
  /scope           accept, send scope facts as JSON, close
  /echo            accept, echo until disconnect
"""

import json
import os

MIB = b"\x5a" * (1 << 20)


def _write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


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
    q = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&")
             if "=" in p)
    m = await receive()
    assert m["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    path = scope["path"]
    if path == "/hold":
        while True:
            m = await receive()
            if m["type"] == "websocket.disconnect":
                _write(q["out"], str(m.get("code")))
                return
    if path == "/flood":
        n = int(q["n"])
        for i in range(n):
            await send({"type": "websocket.send", "bytes": MIB})
            _write(q["out"], str(i + 1))
        await send({"type": "websocket.close", "code": 1000})
        return
    if path == "/scope":
        await send({"type": "websocket.send", "text": json.dumps({
            "scheme": scope["scheme"],
            "http_version": scope["http_version"],
            "tls": "tls" in scope.get("extensions", {}),
        })})
        await send({"type": "websocket.close", "code": 1000})
        return
    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            return
        if m.get("text") is not None:
            await send({"type": "websocket.send", "text": m["text"]})
        else:
            await send({"type": "websocket.send", "bytes": m["bytes"]})
