"""WebSocket over HTTP/1.1 with a real client (python3-websockets): raw
ASGI, Starlette WebSocketRoute and FastAPI endpoints; echo, subprotocols,
accept headers, denial before accept (403) and by
websocket.http.response (401 with a body), close codes both ways, an app
exception (1011), the ASGI scope, and permessage-deflate (issue 9).
"""

import asyncio
import json

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

from conftest import running

AM_STRICT_ERRORS = False  # /raise logs the app's traceback as [error]


@pytest.fixture(scope="module")
def raw_app(tmp_path_factory):
    with running(tmp_path_factory.mktemp("wsraw"),
                 {"app": "ws_raw:app"}) as s:
        yield s


@pytest.fixture(scope="module")
def star(tmp_path_factory):
    with running(tmp_path_factory.mktemp("wsstar"),
                 {"app": "ws_starlette:app"}, strict_errors=True) as s:
        yield s


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    with running(tmp_path_factory.mktemp("wsfast"),
                 {"app": "ws_fastapi:app"}, strict_errors=True) as s:
        yield s


def ws_url(srv, path):
    return f"ws://127.0.0.1:{srv.port}{path}"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


# ---------------------------------------------------------------- raw ASGI


def test_echo_text_and_bytes(raw_app):
    async def go():
        async with websockets.connect(ws_url(raw_app, "/echo"),
                                      compression=None) as ws:
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x00\xffbin")
            assert await ws.recv() == b"\x00\xffbin"
            big = "x" * 200000
            await ws.send(big)
            assert await ws.recv() == big
    run(go())


def test_fragmented_message(raw_app):
    async def go():
        async with websockets.connect(ws_url(raw_app, "/echo"),
                                      compression=None) as ws:
            await ws.send(iter(["ab", "cd", "é"]))
            assert await ws.recv() == "abcdé"
    run(go())


def test_ping_pong(raw_app):
    async def go():
        async with websockets.connect(ws_url(raw_app, "/echo")) as ws:
            waiter = await ws.ping(b"data")
            await asyncio.wait_for(waiter, 10)
    run(go())


def test_subprotocol(raw_app):
    async def go():
        async with websockets.connect(
                ws_url(raw_app, "/echo"),
                subprotocols=["superchat", "chat"]) as ws:
            assert ws.subprotocol == "superchat"
        async with websockets.connect(ws_url(raw_app, "/echo"),
                                      subprotocols=["other"]) as ws:
            assert ws.subprotocol is None
    run(go())


def test_accept_with_headers(raw_app):
    async def go():
        async with websockets.connect(ws_url(raw_app, "/headers")) as ws:
            assert ws.response_headers["x-extra"] == "yes"
    run(go())


def test_close_before_accept_is_403(raw_app):
    async def go():
        with pytest.raises(InvalidStatusCode) as e:
            async with websockets.connect(ws_url(raw_app, "/deny")):
                pass
        assert e.value.status_code == 403
    run(go())


def test_http_response_denial(raw_app):
    from httpraw import request
    from conftest import raw
    with raw(raw_app) as c:
        c.send(request("GET", "/http-deny", headers=[
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13")]))
        r = c.read_response()
    assert r.status == 401
    assert r.body == b"no entry"


def test_app_closes_with_code(raw_app):
    async def go():
        async with websockets.connect(ws_url(raw_app, "/echo")) as ws:
            await ws.send("close 4321 bye now")
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4321
            assert ws.close_reason == "bye now"
    run(go())


def test_client_close_code_echoed_and_reported(raw_app):
    async def go():
        ws = await websockets.connect(ws_url(raw_app, "/disconnect?c1"))
        await ws.close(code=4001, reason="client bye")
        # RFC 6455 5.5.1: the server echoes the status code it received.
        assert ws.close_code == 4001
        async with websockets.connect(ws_url(raw_app, "/result?c1")) as r:
            got = json.loads(await r.recv())
        assert got == {"type": "websocket.disconnect", "code": 4001,
                       "reason": "client bye"}
    run(go())


def test_app_exception_is_1011(raw_app):
    raw_app.allow_errors_in_this_test()

    async def go():
        async with websockets.connect(ws_url(raw_app, "/raise")) as ws:
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1011
    run(go())
    raw_app.wait_log(r"ws_raw: raised on purpose")


def test_scope(raw_app):
    async def go():
        async with websockets.connect(
                ws_url(raw_app, "/scope?a=1"),
                subprotocols=["chat", "x"]) as ws:
            return json.loads(await ws.recv())
    scope = run(go())
    assert scope["type"] == "websocket"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/scope"
    assert scope["raw_path"] == "/scope"
    assert scope["query_string"] == "a=1"
    assert scope["root_path"] == ""
    assert scope["subprotocols"] == ["chat", "x"]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"] == ["127.0.0.1", raw_app.port]
    assert "websocket.http.response" in scope["extensions"]
    names = [n for n, _ in scope["headers"]]
    assert "sec-websocket-key" in names
    assert "upgrade" in names


def test_compression_negotiated(raw_app):
    async def go():
        async with websockets.connect(ws_url(raw_app, "/echo"),
                                      compression="deflate") as ws:
            ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
            assert ext.startswith("permessage-deflate")
            msg = "compress me " * 50000
            for _ in range(3):  # context takeover across messages
                await ws.send(msg)
                assert await ws.recv() == msg
            await ws.send(b"\x01" * 100000)
            assert await ws.recv() == b"\x01" * 100000
    run(go())


def test_compression_no_context_takeover(raw_app):
    from websockets.extensions.permessage_deflate import \
        ClientPerMessageDeflateFactory

    async def go():
        f = ClientPerMessageDeflateFactory(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            server_max_window_bits=10, client_max_window_bits=10)
        async with websockets.connect(ws_url(raw_app, "/echo"),
                                      extensions=[f],
                                      compression=None) as ws:
            ext = ws.response_headers["Sec-WebSocket-Extensions"]
            assert "server_no_context_takeover" in ext
            assert "server_max_window_bits=10" in ext
            for i in range(3):
                await ws.send(f"message {i} " * 1000)
                assert await ws.recv() == f"message {i} " * 1000
    run(go())


def test_http_request_still_served(raw_app):
    import httpx
    r = httpx.get(f"{raw_app.url}/echo", timeout=10)
    assert r.status_code == 404


# ---------------------------------------------------------------- Starlette


def test_starlette_websocket_route(star):
    async def go():
        async with websockets.connect(ws_url(star, "/ws")) as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
            await ws.send(b"raw")
            assert await ws.recv() == b"raw"
        async with websockets.connect(ws_url(star, "/json")) as ws:
            await ws.send(json.dumps({"a": 1}))
            assert json.loads(await ws.recv()) == {"got": {"a": 1},
                                                   "path": "/json"}
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4000
            assert ws.close_reason == "done"
    run(go())


def test_starlette_http_and_unknown_ws_route(star):
    import httpx
    assert httpx.get(f"{star.url}/", timeout=10).text == "hello"

    async def go():
        with pytest.raises(InvalidStatusCode) as e:
            async with websockets.connect(ws_url(star, "/nope")):
                pass
        assert e.value.status_code == 403  # Starlette closes before accept
    run(go())


# ---------------------------------------------------------------- FastAPI


def test_fastapi_websocket_with_dependency(fast):
    async def go():
        async with websockets.connect(
                ws_url(fast, "/ws?token=secret")) as ws:
            await ws.send("ping")
            assert await ws.recv() == "secret:ping"
        with pytest.raises(InvalidStatusCode) as e:
            async with websockets.connect(ws_url(fast, "/ws?token=bad")):
                pass
        assert e.value.status_code == 403
    run(go())
