"""conf/starlette_app.py: a Starlette example for asgimaster.

  asgimaster --chdir conf starlette_app:app

  /            JSON with the request's details
  /stream      a streamed (chunked) text response, one line every 100 ms
  /counter     a counter kept in the lifespan state
  /echo        POST: echoes the request body back

The lifespan context manager yields a dict: Starlette copies it into each
request's state (request.state.*), as ASGI's lifespan "state" defines.
"""

import asyncio
import contextlib
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@contextlib.asynccontextmanager
async def lifespan(app):
    counter = {"hits": 0}
    yield {"counter": counter, "pid": os.getpid()}


async def index(request: Request):
    return JSONResponse({
        "method": request.method,
        "path": request.url.path,
        "query": dict(request.query_params),
        "client": list(request.client) if request.client else None,
        "http_version": request.scope.get("http_version"),
        "worker_pid": request.state.pid,
    })


async def stream(request: Request):
    count = int(request.query_params.get("n", "5"))

    async def lines():
        for i in range(count):
            yield "line %d\n" % i
            await asyncio.sleep(0.1)

    return StreamingResponse(lines(), media_type="text/plain")


async def counter(request: Request):
    request.state.counter["hits"] += 1
    return JSONResponse({"hits": request.state.counter["hits"],
                         "worker_pid": request.state.pid})


async def echo(request: Request):
    body = await request.body()
    return Response(body, media_type=request.headers.get(
        "content-type", "application/octet-stream"))


app = Starlette(
    routes=[
        Route("/", index),
        Route("/stream", stream),
        Route("/counter", counter),
        Route("/echo", echo, methods=["POST"]),
    ],
    lifespan=lifespan,
)
