"""An app without lifespan support: it raises on any non-http scope, as
many older apps do. /calls tells how often it saw a lifespan scope."""

import json

CALLS = {"lifespan": 0}


async def app(scope, receive, send):
    if scope["type"] != "http":
        CALLS[scope["type"]] = CALLS.get(scope["type"], 0) + 1
        raise RuntimeError(f"unsupported scope type {scope['type']!r}")
    body = json.dumps(CALLS).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
