"""The ASGI app of the HTTP/2, conformance and proxy tests (test_10..12).

Routes (any method unless said; query parameters in brackets):
  /                 200 "hello" with Content-Length
  /scope            the scope as JSON (bytes as {"$b": latin-1 text}),
                    after reading the whole body
  /echo             the request body back
  /sha256           {"len": n, "sha256": hex, "chunks": k} of the body
  /stream           [n] bytes (default 1 MiB) in [chunk] sends (64 KiB),
                    no Content-Length
  /sleep            responds after [s] seconds (default 0.5)
  /noread           responds after [s] seconds (default 5) without ever
                    calling receive() (the request body stays unread)
  /sse              text/event-stream, one event every 50 ms, forever
                    (until send() fails or http.disconnect)
  /hang             reads the body, then waits on receive(); records the
                    message type under [id]; never responds
  /raise-after      sends start and one body chunk (more_body), then raises
  /trailers         200 with trailers: true; body "data", then trailers
                    grpc-status: 0, x-trailer: [v]
  /mixed-case       299, header names in mixed case (known and unknown
                    ones, a connection-specific one), body "mixed",
                    then trailers Grpc-Status: 0, Content-Type: x/y,
                    X-Trailer-Case: T
  /block            sends a head and "x" (more_body), lets the server
                    write them, then blocks the whole worker for [s]
                    seconds (default 1: time.sleep), then "y"
  /slow-read        reads one body chunk every [ms] (default 200) for [n]
                    chunks (default 1), records the byte count under [id]
                    then waits on receive() (never responds) unless [done]
  /read-some        reads [n] body messages (default 1), records the byte
                    count under [id] after each, then sleeps [s] (default
                    6) without reading more and answers {"bytes": n}
  /inflight         sleeps [s] (default 0.3) and answers {"peak": max in
                    flight seen so far, "now": in flight at start}; with
                    [until], waits instead until [until] requests have
                    been in flight at once (at most 10 s)
  /inflight-reset   resets the peak counter
  /result           what was recorded under [id] (404 until then)
SPDX-License-Identifier: BSD-2-Clause
"""

import asyncio
import hashlib
import json
import time
from urllib.parse import parse_qs

RESULTS = {}
INFLIGHT = {"now": 0, "peak": 0}


def q(scope):
    return {k: v[0] for k, v in
            parse_qs(scope["query_string"].decode("latin-1")).items()}


def jsonable(v):
    if isinstance(v, bytes):
        return {"$b": v.decode("latin-1")}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return repr(v)


async def respond(send, status=200, body=b"", headers=None,
                  ctype=b"text/plain"):
    hs = [(b"content-type", ctype),
          (b"content-length", str(len(body)).encode())]
    hs += list(headers or [])
    await send({"type": "http.response.start", "status": status,
                "headers": hs})
    await send({"type": "http.response.body", "body": body})


async def respond_json(send, obj, status=200):
    await respond(send, status, json.dumps(obj).encode(),
                  ctype=b"application/json")


async def read_body(receive):
    parts = []
    while True:
        m = await receive()
        if m["type"] == "http.disconnect":
            return None, len(parts)
        parts.append(m.get("body", b""))
        if not m.get("more_body"):
            return b"".join(parts), len(parts)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    args = q(scope)

    if path == "/":
        await respond(send, body=b"hello")
    elif path == "/scope" or path.startswith("/scope/"):
        await read_body(receive)
        await respond_json(send, jsonable(dict(scope)))
    elif path == "/echo":
        body, _ = await read_body(receive)
        await respond(send, body=body or b"",
                      ctype=b"application/octet-stream")
    elif path == "/sha256":
        h = hashlib.sha256()
        n = chunks = 0
        while True:
            m = await receive()
            if m["type"] == "http.disconnect":
                return
            b = m.get("body", b"")
            h.update(b)
            n += len(b)
            chunks += 1
            if not m.get("more_body"):
                break
        await respond_json(send, {"len": n, "sha256": h.hexdigest(),
                                  "chunks": chunks})
    elif path == "/stream":
        total = int(args.get("n", 1 << 20))
        size = int(args.get("chunk", 65536))
        await read_body(receive)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type",
                                 b"application/octet-stream")]})
        sent = i = 0
        while sent < total:
            k = min(size, total - sent)
            # Each chunk is one repeated byte so order is checkable.
            await send({"type": "http.response.body",
                        "body": bytes([65 + i % 26]) * k,
                        "more_body": True})
            sent += k
            i += 1
        await send({"type": "http.response.body", "body": b""})
    elif path == "/sleep":
        await read_body(receive)
        await asyncio.sleep(float(args.get("s", 0.5)))
        await respond(send, body=b"slept")
    elif path == "/noread":
        await asyncio.sleep(float(args.get("s", 5)))
        await respond(send, body=b"did not read")
    elif path == "/sse":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"),
                                (b"cache-control", b"no-cache")]})
        i = 0
        try:
            while True:
                await send({"type": "http.response.body",
                            "body": f"data: {i}\n\n".encode(),
                            "more_body": True})
                i += 1
                await asyncio.sleep(0.05)
        except Exception as e:  # the client went away
            RESULTS[args.get("id", "sse")] = type(e).__name__
    elif path == "/hang":
        key = args.get("id", "hang")
        body, _ = await read_body(receive)
        if body is None:
            RESULTS[key] = "http.disconnect"
            return
        RESULTS[key] = "waiting"
        m = await receive()
        RESULTS[key] = m["type"]
    elif path == "/raise-after":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"partial",
                    "more_body": True})
        raise RuntimeError("h2_app: raised after start on purpose")
    elif path == "/trailers":
        await read_body(receive)
        exts = scope.get("extensions") or {}
        if "http.response.trailers" not in exts:
            await respond(send, 501, b"no trailers extension")
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")],
                    "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await send({"type": "http.response.trailers",
                    "headers": [(b"grpc-status", b"0"),
                                (b"x-trailer",
                                 args.get("v", "t").encode())],
                    "more_trailers": False})
    elif path == "/mixed-case":
        await read_body(receive)
        await send({"type": "http.response.start", "status": 299,
                    "headers": [(b"Content-Type", b"text/Plain"),
                                (b"X-Mixed-Case", b"Value"),
                                (b"Keep-Alive", b"timeout=5"),
                                (b"SERVER", b"app")],
                    "trailers": True})
        await send({"type": "http.response.body", "body": b"mixed"})
        await send({"type": "http.response.trailers",
                    "headers": [(b"Grpc-Status", b"0"),
                                (b"Content-Type", b"x/y")],
                    "more_trailers": True})
        await send({"type": "http.response.trailers",
                    "headers": [(b"X-Trailer-Case", b"T")],
                    "more_trailers": False})
    elif path == "/block":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"x",
                    "more_body": True})
        await asyncio.sleep(0.05)
        time.sleep(float(args.get("s", 1)))
        await send({"type": "http.response.body", "body": b"y"})
    elif path == "/slow-read":
        key = args.get("id", "slow")
        ms = int(args.get("ms", 200))
        n = int(args.get("n", 1))
        got = 0
        more = True
        for _ in range(n):
            m = await receive()
            if m["type"] == "http.disconnect":
                RESULTS[key] = {"bytes": got, "disconnect": True}
                return
            got += len(m.get("body", b""))
            more = m.get("more_body", False)
            RESULTS[key] = {"bytes": got, "more": more}
            if not more:
                break
            await asyncio.sleep(ms / 1000)
        if args.get("done"):
            while more:
                m = await receive()
                if m["type"] == "http.disconnect":
                    return
                got += len(m.get("body", b""))
                more = m.get("more_body", False)
            await respond_json(send, {"bytes": got})
            return
        m = await receive()
        RESULTS[key] = {"bytes": got, "after": m["type"]}
    elif path == "/read-some":
        key = args.get("id", "read-some")
        got = 0
        RESULTS[key] = {"bytes": 0, "messages": 0}
        for i in range(int(args.get("n", 1))):
            m = await receive()
            if m["type"] == "http.disconnect":
                break
            got += len(m.get("body", b""))
            RESULTS[key] = {"bytes": got, "messages": i + 1}
            if not m.get("more_body"):
                break
        await asyncio.sleep(float(args.get("s", 6)))
        try:
            await respond_json(send, {"bytes": got})
        except Exception:  # the client reset the stream meanwhile
            pass
    elif path == "/inflight":
        await read_body(receive)
        INFLIGHT["now"] += 1
        now = INFLIGHT["now"]
        INFLIGHT["peak"] = max(INFLIGHT["peak"], now)
        try:
            if "until" in args:
                deadline = time.monotonic() + 10
                while (INFLIGHT["peak"] < int(args["until"]) and
                       time.monotonic() < deadline):
                    await asyncio.sleep(0.01)
            else:
                await asyncio.sleep(float(args.get("s", 0.3)))
        finally:
            INFLIGHT["now"] -= 1
        client = scope.get("client")
        await respond_json(send, {"peak": INFLIGHT["peak"], "now": now,
                                  "client": jsonable(client),
                                  "scheme": scope.get("scheme"),
                                  "http_version": scope["http_version"]})
    elif path == "/inflight-reset":
        INFLIGHT["peak"] = INFLIGHT["now"]
        await respond(send, body=b"ok")
    elif path == "/result":
        key = args.get("id")
        if key in RESULTS:
            await respond_json(send, RESULTS[key])
        else:
            await respond(send, 404, b"not yet")
    else:
        await respond(send, 404, b"no such route")
