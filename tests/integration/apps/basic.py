"""A raw ASGI 3 app with one small route per behaviour the tests need.

Routes (GET unless said; query parameters in brackets):
  /                 200 "hello" with Content-Length
  /echo             the request body back, Content-Length set
  /scope            the scope as JSON (bytes as {"$b": latin-1 text})
  /messages         JSON list of every receive() message until more_body
                    is False: [{"type", "len", "more_body"}]; with [id],
                    the body bytes received so far are recorded under it
  /stream-echo      answers each body chunk as it arrives (chunked response)
  /nolength         3 body parts without Content-Length [n=size of each]
  /big              [n] bytes without Content-Length, 64 KiB sends
  /status           status [code], body [body] (default empty)
  /headers          duplicate set-cookie and custom headers
  /noread           responds 200 without reading the body
  /slow             responds after [s] seconds
  /tag              responds with [tag] after [ms] milliseconds
  /pid              the worker's PID
  /read-record      records the receive() message types under [id]
  /late-read        sleeps [s] seconds, then reads the body: size, sha256
  /empty-chunks     streams "a", "", "b", "", "" (empty sends between)
  /app-server-date  the app sets its own Server and Date headers
  /app-te           the app sets transfer-encoding: chunked itself
  /exit             the worker exits at once with [code]
  /env              JSON of os.environ.get([name])
  /disconnect       reads the body, then waits on receive(); records the
                    message type under [id]; never responds
  /after-response   responds, then calls receive(); records under [id]
  /send-forever     streams until send() raises; records the exception
  /result           what was recorded under [id] (404 until then)
  /raise-before     raises before http.response.start
  /raise-after      raises after start and one chunk of a chunked body
  /loop-debug       loop.get_debug() before, in and after set_debug(True)
  /keyboard-interrupt  raises KeyboardInterrupt after an await
  /raise-after-await  raises in fail_in_helper() after an await
  /raise-in-await   awaits an object whose __await__ iterator raises
  /return-early     returns without responding
  /short-body       declares Content-Length: 10, sends 5 bytes, returns
  /bad/<kind>       sends an invalid message (see BAD below)

Any route: [started=NAME] creates the file $AM_TEST_DIR/NAME as soon as
the request reaches the app, so a test can wait for "the request is in
the app" (conftest.wait_app_started) instead of sleeping.
"""

import asyncio
import hashlib
import json
import os
import sys
from urllib.parse import parse_qs

RESULTS = {}
LIFESPAN = {"startup": 0, "shutdown": 0}


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


async def respond(send, status=200, body=b"", headers=None, length=True):
    hs = list(headers or [])
    if length:
        hs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status,
                "headers": hs})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive):
    body = b""
    while True:
        m = await receive()
        if m["type"] == "http.disconnect":
            raise ConnectionError("client went away")
        body += m.get("body", b"")
        if not m.get("more_body", False):
            return body


BAD = {
    "type": [{"type": "http.response.bogus", "status": 200}],
    "body-first": [{"type": "http.response.body", "body": b"x"}],
    "status-str": [{"type": "http.response.start", "status": "200"}],
    "status-range": [{"type": "http.response.start", "status": 42}],
    "header-str": [{"type": "http.response.start", "status": 200,
                    "headers": [("x-a", "str value")]}],
    "header-name-str": [{"type": "http.response.start", "status": 200,
                         "headers": [("x-a", b"v")]}],
    "header-shape": [{"type": "http.response.start", "status": 200,
                      "headers": [(b"x-a",)]}],
    "header-crlf": [{"type": "http.response.start", "status": 200,
                     "headers": [(b"x-a", b"v\r\nx-injected: 1")]}],
    "body-str": [{"type": "http.response.start", "status": 200},
                 {"type": "http.response.body", "body": "text"}],
    "not-dict": ["http.response.start"],
}


async def lifespan(scope, receive, send):
    while True:
        m = await receive()
        if m["type"] == "lifespan.startup":
            LIFESPAN["startup"] += 1
            if "state" in scope:
                scope["state"]["from_lifespan"] = "yes"
            await send({"type": "lifespan.startup.complete"})
        elif m["type"] == "lifespan.shutdown":
            LIFESPAN["shutdown"] += 1
            await send({"type": "lifespan.shutdown.complete"})
            return


def mark_started(name):
    with open(os.path.join(os.environ["AM_TEST_DIR"], name), "w") as f:
        f.write(str(os.getpid()))


def fail_in_helper():
    raise RuntimeError("boom-after-await")


class FailingAwaitable:
    """Not a coroutine: an awaitable whose iterator raises."""

    def __await__(self):
        yield from asyncio.sleep(0).__await__()
        raise ValueError("boom-in-awaitable")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    assert scope["type"] == "http", scope["type"]
    path = scope["path"]
    args = q(scope)
    if "started" in args:
        mark_started(args["started"])

    if path == "/":
        return await respond(send, body=b"hello",
                             headers=[(b"content-type", b"text/plain")])

    if path == "/echo":
        body = await read_body(receive)
        return await respond(send, body=body)

    if path == "/scope" or path.startswith("/scope/"):
        body = await read_body(receive)
        d = dict(scope)
        d["_body_len"] = len(body)
        d["_client_type"] = type(scope.get("client")).__name__
        d["_server_type"] = type(scope.get("server")).__name__
        return await respond(send, body=json.dumps(jsonable(d)).encode(),
                             headers=[(b"content-type", b"application/json")])

    if path == "/messages":
        msgs = []
        while True:
            m = await receive()
            msgs.append({"type": m["type"], "len": len(m.get("body", b"")),
                         "more_body": m.get("more_body", False),
                         "keys": sorted(m)})
            if "id" in args:  # progress: body bytes received so far
                RESULTS[args["id"]] = sum(x["len"] for x in msgs)
            if m["type"] != "http.request" or not m.get("more_body", False):
                break
        return await respond(send, body=json.dumps(msgs).encode())

    if path == "/stream-echo":
        started = False
        while True:
            m = await receive()
            if m["type"] != "http.request":
                return
            if not started:
                await send({"type": "http.response.start", "status": 200,
                            "headers": []})
                started = True
            more = m.get("more_body", False)
            await send({"type": "http.response.body",
                        "body": b"<" + m.get("body", b"") + b">",
                        "more_body": more})
            if not more:
                return

    if path == "/nolength":
        n = int(args.get("n", "5"))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(3):
            await send({"type": "http.response.body",
                        "body": bytes([ord("a") + i]) * n,
                        "more_body": i < 2})
        return

    if path == "/big":
        n = int(args.get("n", "1000000"))
        await send({"type": "http.response.start", "status": 200,
                    "headers": []})
        piece = bytes(range(256)) * 256
        sent = 0
        while sent < n:
            part = piece[:min(len(piece), n - sent)]
            sent += len(part)
            await send({"type": "http.response.body", "body": part,
                        "more_body": sent < n})
        return

    if path == "/status":
        code = int(args.get("code", "200"))
        hs = []
        if code == 304:
            hs.append((b"etag", b'"v1"'))
        await send({"type": "http.response.start", "status": code,
                    "headers": hs})
        await send({"type": "http.response.body",
                    "body": args.get("body", "").encode()})
        return

    if path == "/headers":
        return await respond(send, body=b"h", headers=[
            (b"set-cookie", b"a=1"),
            (b"x-custom", b"Value With Case"),
            (b"set-cookie", b"b=2"),
        ])

    if path == "/noread":
        return await respond(send, body=b"did not read")

    if path == "/slow":
        await asyncio.sleep(float(args.get("s", "1")))
        return await respond(send, body=b"slow done")

    if path == "/tag":
        await asyncio.sleep(int(args.get("ms", "0")) / 1000)
        body = await read_body(receive)
        return await respond(send, body=args.get("tag", "").encode() +
                             (b":" + body if body else b""))

    if path == "/pid":
        return await respond(send, body=str(os.getpid()).encode())

    if path == "/lifespan-count":
        return await respond(send, body=json.dumps(LIFESPAN).encode())

    if path == "/disconnect":
        await read_body(receive)
        m = await receive()
        RESULTS[args["id"]] = m["type"]
        return

    if path == "/after-response":
        await read_body(receive)
        await respond(send, body=b"done")
        m = await asyncio.wait_for(receive(), 5)
        RESULTS[args["id"]] = m["type"]
        return

    if path == "/send-forever":
        await send({"type": "http.response.start", "status": 200,
                    "headers": []})
        try:
            for _ in range(2000):
                await send({"type": "http.response.body", "body": b"x" * 1024,
                            "more_body": True})
                await asyncio.sleep(0.01)
            RESULTS[args["id"]] = "no exception"
        except BaseException as e:
            RESULTS[args["id"]] = {
                "type": type(e).__name__,
                "oserror": isinstance(e, OSError),
            }
            if args.get("reraise") == "1":
                raise
        return

    if path == "/result":
        key = args["id"]
        if key not in RESULTS:
            return await respond(send, 404, b"not yet")
        return await respond(send, body=json.dumps(RESULTS[key]).encode())

    if path == "/raise-before":
        raise RuntimeError("boom-before-start")

    if path == "/raise-after":
        await send({"type": "http.response.start", "status": 200,
                    "headers": []})
        await send({"type": "http.response.body", "body": b"partial",
                    "more_body": True})
        await asyncio.sleep(0.05)
        raise RuntimeError("boom-after-start")

    if path == "/loop-debug":
        loop = asyncio.get_running_loop()
        seen = [loop.get_debug()]
        loop.set_debug(True)
        seen.append(loop.get_debug())
        loop.set_debug(False)
        seen.append(loop.get_debug())
        return await respond(send, body=json.dumps(seen).encode())

    if path == "/keyboard-interrupt":
        await asyncio.sleep(0)
        raise KeyboardInterrupt

    if path == "/raise-after-await":
        await asyncio.sleep(0)
        fail_in_helper()

    if path == "/raise-in-await":
        await asyncio.sleep(0)
        await FailingAwaitable()

    if path == "/return-early":
        return

    if path == "/short-body":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"12345"})
        return

    if path.startswith("/bad/"):
        for m in BAD[path[5:]]:
            await send(m)
        return

    if path == "/read-record":
        types = []
        while True:
            m = await receive()
            types.append(m["type"])
            if m["type"] != "http.request" or not m.get("more_body"):
                break
        RESULTS[args["id"]] = types
        if types[-1] == "http.request":
            await respond(send, body=b"read all")
        return

    if path == "/late-read":
        await asyncio.sleep(float(args.get("s", "2")))
        h = hashlib.sha256()
        n = 0
        while True:
            m = await receive()
            h.update(m.get("body", b""))
            n += len(m.get("body", b""))
            if not m.get("more_body"):
                break
        return await respond(send, body=json.dumps(
            {"size": n, "sha256": h.hexdigest()}).encode())

    if path == "/empty-chunks":
        await send({"type": "http.response.start", "status": 200,
                    "headers": []})
        for part, more in ((b"a", True), (b"", True), (b"b", True),
                           (b"", True), (b"", False)):
            await send({"type": "http.response.body", "body": part,
                        "more_body": more})
        return

    if path == "/app-server-date":
        return await respond(send, body=b"own", headers=[
            (b"server", b"my-app/1.0"),
            (b"date", b"Thu, 01 Jan 2026 00:00:00 GMT")])

    if path == "/app-te":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"transfer-encoding", b"chunked"),
                                (b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"abc",
                    "more_body": True})
        await send({"type": "http.response.body", "body": b"def"})
        return

    if path == "/exit":
        os._exit(int(args.get("code", "1")))

    if path == "/env":
        return await respond(send, body=json.dumps(
            os.environ.get(args["name"])).encode())

    if path == "/stderr":
        print("app wrote to stderr", file=sys.stderr, flush=True)
        return await respond(send, body=b"ok")

    return await respond(send, 404, b"not found: " + path.encode())
