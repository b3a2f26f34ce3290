"""The ASGI app of the hostile-input tests (test_50, test_51).

Every request is counted by path before anything else, so a test can tell
whether a request reached the app at all (a smuggled request must not).

Routes (any method):
  /count    the counts as JSON {path: n}; not counted itself
  /noread   200 "early" at once, never calls receive() (body left unread)
  /linger   as /noread, then the app keeps running (never reading) until
            /release is requested (at most 20 s)
  /release  ends every /linger app; not counted itself
  anything  reads the whole body, then 200 JSON {"method", "path",
            "raw_path", "len"} (len: body bytes read)
SPDX-License-Identifier: BSD-2-Clause
"""

import asyncio
import json

COUNTS = {}
RELEASE = None


async def respond(send, status, body, ctype=b"application/json"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    global RELEASE
    path = scope["path"]
    if RELEASE is None:
        RELEASE = asyncio.Event()
    if path == "/release":
        RELEASE.set()
        RELEASE = asyncio.Event()
        await respond(send, 200, b"released", b"text/plain")
        return
    if path == "/count":
        await respond(send, 200, json.dumps(COUNTS).encode())
        return
    COUNTS[path] = COUNTS.get(path, 0) + 1
    if path in ("/noread", "/linger"):
        await respond(send, 200, b"early", b"text/plain")
        if path == "/linger":
            try:
                await asyncio.wait_for(RELEASE.wait(), 20)
            except asyncio.TimeoutError:
                pass
        return
    n = 0
    while True:
        m = await receive()
        if m["type"] == "http.disconnect":
            return
        n += len(m.get("body", b""))
        if not m.get("more_body"):
            break
    await respond(send, 200, json.dumps({
        "method": scope["method"], "path": path,
        "raw_path": scope.get("raw_path", b"").decode("latin-1"),
        "len": n}).encode())
