"""Lifespan startup never completes: timeouts.boot must end the boot.

Once lifespan.startup arrived, $AM_TEST_DIR/lifespan-started-<pid> is
created (when AM_TEST_DIR is set), so a test can wait for "the worker is
inside its boot" instead of sleeping.
"""

import asyncio
import os


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        d = os.environ.get("AM_TEST_DIR")
        if d:
            with open(os.path.join(d, f"lifespan-started-{os.getpid()}"),
                      "w") as f:
                f.write("1")
        await asyncio.sleep(3600)
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": b"should not serve"})
