"""conf/app.py: the example app `make run` serves (conf/server.yaml).

A plain ASGI 3 application with no dependencies:
  /       "Hello, world!" as text/plain
  /info   the request as asgimaster hands it over (the ASGI scope), as JSON
  other   404
It supports the lifespan protocol: startup stores the start time in the
lifespan state, which each request's scope["state"] receives a copy of.
"""

import json
import os
import time


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if "state" in scope:
                scope["state"]["started"] = time.time()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def describe(scope):
    """The scope as JSON-friendly values (bytes decoded as latin-1)."""
    state = scope.get("state") or {}
    return {
        "asgi": scope.get("asgi"),
        "http_version": scope.get("http_version"),
        "scheme": scope.get("scheme"),
        "method": scope.get("method"),
        "path": scope.get("path"),
        "raw_path": (scope.get("raw_path") or b"").decode("latin-1"),
        "query_string": scope.get("query_string", b"").decode("latin-1"),
        "root_path": scope.get("root_path"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")]
                    for k, v in scope.get("headers", [])],
        "client": scope.get("client"),
        "server": scope.get("server"),
        "state": {k: repr(v) for k, v in state.items()},
        "pid": os.getpid(),
    }


async def respond(send, status, body, content_type):
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
        ],
    })
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    if scope["type"] != "http":
        raise RuntimeError("unsupported scope type: %s" % scope["type"])

    # Drain the request body, if any, so the connection can be reused.
    message = {"more_body": True}
    while message.get("more_body"):
        message = await receive()
        if message["type"] == "http.disconnect":
            return

    path = scope["path"]
    if path == "/":
        await respond(send, 200, b"Hello, world!\n", b"text/plain")
    elif path == "/info":
        body = json.dumps(describe(scope), indent=2).encode() + b"\n"
        await respond(send, 200, body, b"application/json")
    else:
        await respond(send, 404, b"Not Found\n", b"text/plain")
