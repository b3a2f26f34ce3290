"""Importable only through `pythonpath: [pp]`."""

import os
import sys


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = ("pp:" + os.getcwd() + ":" + sys.prefix).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
