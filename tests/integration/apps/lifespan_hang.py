"""Lifespan startup never completes: timeouts.boot must end the boot."""

import asyncio


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await asyncio.sleep(3600)
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": b"should not serve"})
