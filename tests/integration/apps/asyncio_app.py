"""Asyncio on the worker's loop: tasks, current_task, timers,
run_in_executor, anyio, and an httpx client calling back into the server."""

import asyncio
import contextvars
import json
import os
import threading

import anyio


REQUEST_VAR = contextvars.ContextVar("request_var", default=None)
WRAPPED = {}


async def respond(send, obj, status=200):
    body = json.dumps(obj).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()),
                            (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]

    if path == "/first-step":
        # Nothing awaited yet: the bridge runs this first step from C, and
        # it must still be a task step with its own context.
        task = asyncio.current_task()
        info = {"task": isinstance(task, asyncio.Task),
                "in_all_tasks": task in asyncio.all_tasks(),
                "done": task.done() if task else None,
                "name": task.get_name() if task else None,
                "before": REQUEST_VAR.get()}
        REQUEST_VAR.set(scope["query_string"].decode())
        if b"sleep" in scope["query_string"]:
            await asyncio.sleep(0)
        info["same_task"] = asyncio.current_task() is task
        info["after"] = REQUEST_VAR.get()
        return await respond(send, info)

    if path == "/wrap-call-soon":
        # The app replaces loop.call_soon: the bridge must leave it alone
        # and schedule tasks through it; "/unwrap-call-soon" restores it.
        loop = asyncio.get_running_loop()
        inner = loop.call_soon
        WRAPPED["calls"] = 0

        def call_soon(*args, **kwargs):
            WRAPPED["calls"] += 1
            return inner(*args, **kwargs)

        WRAPPED["inner"] = inner
        loop.call_soon = call_soon
        return await respond(send, {"wrapped": True})

    if path == "/unwrap-call-soon":
        loop = asyncio.get_running_loop()
        calls = WRAPPED["calls"]
        loop.call_soon = WRAPPED.pop("inner")
        return await respond(send, {"calls": calls})

    if path == "/raise-first-step":
        REQUEST_VAR.set("raised")
        raise ValueError("boom-in-first-step")

    if path == "/mutate-scope":
        # What the app got, then vandalise it: the next request must not
        # see any of this (asgiref www.rst: a fresh scope per request).
        got = {"method": scope["method"], "scheme": scope["scheme"],
               "http_version": scope["http_version"],
               "query_string": scope["query_string"].decode(),
               "root_path": scope["root_path"],
               "headers": [[n.decode(), v.decode()]
                           for n, v in scope["headers"]],
               "header_types": sorted({type(x).__name__
                                       for h in scope["headers"]
                                       for x in h}),
               "client": list(scope["client"]),
               "state": dict(scope["state"]),
               "extra": scope.get("extra")}
        scope["method"] = "BREW"
        scope["scheme"] = "coffee"
        scope["query_string"] = b"stale"
        scope["headers"].append((b"x-stale", b"1"))
        scope["state"]["stale"] = True
        scope["extra"] = "stale"
        del scope["root_path"]
        return await respond(send, got)

    if path == "/task":
        async def child(x):
            await asyncio.sleep(0.01)
            return x * 2

        t = asyncio.create_task(child(21))
        gathered = await asyncio.gather(child(1), child(2))
        return await respond(send, {
            "task_result": await t,
            "gathered": gathered,
            "current_task": asyncio.current_task() is not None,
            "running_loop": type(asyncio.get_running_loop()).__name__,
        })

    if path == "/timer":
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.call_later(0.05, fut.set_result, "fired")
        start = loop.time()
        v = await asyncio.wait_for(fut, 5)
        return await respond(send, {"value": v,
                                    "elapsed": loop.time() - start})

    if path == "/executor":
        loop = asyncio.get_running_loop()
        name = await loop.run_in_executor(
            None, lambda: threading.current_thread().name)
        main = await asyncio.to_thread(
            lambda: threading.current_thread() is threading.main_thread())
        return await respond(send, {"executor_thread": name,
                                    "to_thread_main": main})

    if path == "/anyio":
        await anyio.sleep(0.01)
        async with anyio.create_task_group() as tg:
            results = []

            async def w(i):
                await anyio.sleep(0.01)
                results.append(i)

            for i in range(3):
                tg.start_soon(w, i)
        r = await anyio.to_thread.run_sync(lambda: "from thread")
        return await respond(send, {"results": sorted(results),
                                    "thread": r})

    if path == "/httpx":
        import httpx
        port = int(scope["query_string"].decode().split("=")[1])
        async with httpx.AsyncClient(timeout=5) as client:
            r = await client.get(f"http://127.0.0.1:{port}/task")
        return await respond(send, {"status": r.status_code,
                                    "inner": r.json()})

    if path == "/sleep-gather":
        # Two requests sleeping at once on one worker must overlap.
        await asyncio.sleep(1)
        return await respond(send, {"pid": os.getpid()})

    return await respond(send, {"error": "not found"}, 404)
