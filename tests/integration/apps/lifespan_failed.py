"""Lifespan startup fails with a message: the worker must not serve."""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        m = await receive()
        assert m["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed",
                    "message": "database unreachable (test)"})
        return
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": b"should not serve"})
