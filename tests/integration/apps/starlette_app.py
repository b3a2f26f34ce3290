"""A Starlette app: streaming response, sync (threadpool) route, upload
with sha256, lifespan state through request.state."""

import asyncio
import contextlib
import hashlib
import threading

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.responses import StreamingResponse
from starlette.routing import Route


@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"db": "connected", "counter": [0]}


async def stream(request):
    n = int(request.query_params.get("n", "5"))

    async def gen():
        for i in range(n):
            yield f"chunk {i}\n".encode()
            await asyncio.sleep(0.02)

    return StreamingResponse(gen(), media_type="text/plain")


def sync_route(request):
    # Runs in Starlette's threadpool (anyio.to_thread).
    return JSONResponse({
        "thread": threading.current_thread().name,
        "main": threading.current_thread() is threading.main_thread(),
    })


async def upload(request):
    h = hashlib.sha256()
    n = 0
    chunks = 0
    async for part in request.stream():
        h.update(part)
        n += len(part)
        chunks += 1
    return JSONResponse({"sha256": h.hexdigest(), "size": n,
                         "chunks": chunks})


async def state(request):
    request.state.counter[0] += 1
    return JSONResponse({"db": request.state.db,
                         "counter": request.state.counter[0]})


async def hello(request):
    return PlainTextResponse("hello from starlette")


app = Starlette(routes=[
    Route("/", hello),
    Route("/stream", stream),
    Route("/sync", sync_route),
    Route("/upload", upload, methods=["POST", "PUT"]),
    Route("/state", state),
], lifespan=lifespan)
