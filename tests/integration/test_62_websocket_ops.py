"""WebSocket in operation (issue 9): over TLS (wss, with and without
compression), keep-alive pings and their timeout, graceful stop (1001)
and reload (1012) with open sockets, send() backpressure against a client
that does not read (bounded worker memory), the access log line and the
metrics of a session, and the --ws-* flags.
"""

import asyncio
import json
import re
import signal
import ssl
import time
import urllib.request

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from conftest import SANITIZED, free_port, running, wait_until
from h2util import tls_listen
from wsraw import OP_CLOSE, OP_PING, OP_TEXT, WsRaw, frame

AM_STRICT_ERRORS = True



def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def rss(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * 4096


def worker_pid(srv):
    pids = list(srv.worker_pids().values())
    assert len(pids) == 1, pids
    return pids[0]


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wstls")
    with running(tmp, {"app": "ws_ops:app",
                       "listen": [tls_listen(tmp, free_port())]}) as s:
        yield s


def client_ssl():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_wss_echo_and_scope(tls_srv, compression):
    async def go():
        url = f"wss://127.0.0.1:{tls_srv.port}"
        async with websockets.connect(url + "/echo", ssl=client_ssl(),
                                      compression=compression) as ws:
            ext = ws.response_headers.get("Sec-WebSocket-Extensions")
            assert (ext is not None) == (compression is not None)
            for msg in ("hello", "x" * 100000, b"\x00" * 70000):
                await ws.send(msg)
                assert await ws.recv() == msg
        async with websockets.connect(url + "/scope", ssl=client_ssl(),
                                      compression=compression) as ws:
            return json.loads(await ws.recv())
    scope = run(go())
    assert scope == {"scheme": "wss", "http_version": "1.1", "tls": True}


# ---------------------------------------------------------------- pings


def test_keepalive_ping_then_timeout_1011(tmp_path):
    with running(tmp_path, {"app": "ws_ops:app",
                            "websocket": {"ping_interval": "200ms",
                                          "ping_timeout": "300ms"}}) as s:
        c, status, _ = WsRaw.handshake(("127.0.0.1", s.port), "/echo")
        with c:
            assert status == 101
            fin, rsv, op, payload = c.recv_frame()
            assert op == OP_PING
            # No pong: RFC 6455 §7.4.1 1011 (as uvicorn's keep-alive).
            assert c.recv_close() == 1011
            c.read_to_eof()

        async def go():  # a client that answers pings stays open
            async with websockets.connect(
                    f"ws://127.0.0.1:{s.port}/echo") as ws:
                for i in range(5):
                    pong = await ws.ping()
                    await pong
                    await ws.send(str(i))
                    assert await ws.recv() == str(i)
        run(go())


# ---------------------------------------------------------------- drain


def hold_and_signal(srv, tmp, sig, expect):
    out = tmp / f"code-{sig}"

    async def go():
        async with websockets.connect(
                f"ws://127.0.0.1:{srv.port}/hold?out={out}") as ws:
            await ws.send("hi")  # the app is in receive()
            srv.send_signal(sig)
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return ws.close_code
    assert run(go()) == expect
    wait_until(lambda: out.exists(), 30)
    assert out.read_text() == str(expect)  # the app got it too


def test_sigterm_closes_open_sockets_1001(server, tmp_path):
    s = server({"app": "ws_ops:app", "timeouts": {"graceful": "2s"}})
    hold_and_signal(s, tmp_path, signal.SIGTERM, 1001)
    s.wait_exit(30)
    assert "1006" not in s.log_text()


def test_sighup_closes_open_sockets_1012(server, tmp_path):
    s = server({"app": "ws_ops:app", "timeouts": {"graceful": "2s"}})
    s.allow_respawn = True
    hold_and_signal(s, tmp_path, signal.SIGHUP, 1012)


# ---------------------------------------------------------------- memory


def test_client_that_never_reads_keeps_worker_memory_bounded(tmp_path):
    """The app sends 100 MiB to a client that reads nothing for a while:
    send() waits once limits.write_buffer (256KiB) is queued, so the worker
    grows by less than 24 MiB (a 1 MiB message in Python, its frame in the
    write buffer, allocator slack), then the client reads all of it."""
    with running(tmp_path, {"app": "ws_ops:app"}) as s:
        pid = worker_pid(s)
        base = rss(pid)
        out = tmp_path / "sent"
        c, status, _ = WsRaw.handshake(("127.0.0.1", s.port),
                                       f"/flood?n=100&out={out}")
        with c:
            assert status == 101
            wait_until(lambda: out.exists() and int(out.read_text()) >= 3,
                       30)
            peak = 0
            for _ in range(20):
                peak = max(peak, rss(pid))
                time.sleep(0.05)
            sent = int(out.read_text())
            assert sent < 100, "the socket buffers took 100 MiB?"
            assert SANITIZED or peak - base < 24 << 20, (peak - base, sent)
            total = 0
            while True:
                fin, rsv, op, payload = c.recv_frame()
                if op == OP_CLOSE:
                    break
                total += len(payload)
                peak = max(peak, rss(pid))
            assert total == 100 << 20
            assert SANITIZED or peak - base < 24 << 20, peak - base


# ---------------------------------------------------------------- logs


def test_access_log_and_metrics(tmp_path):
    mport = free_port()
    access = tmp_path / "access.log"
    with running(tmp_path, {"app": "ws_ops:app",
                            "log": {"access_log": str(access)},
                            "metrics": {"address": f"127.0.0.1:{mport}"}}) \
            as s:
        async def go():
            async with websockets.connect(
                    f"ws://127.0.0.1:{s.port}/echo?x=1") as ws:
                await ws.send("a")
                assert await ws.recv() == "a"
                body = urllib.request.urlopen(
                    f"http://127.0.0.1:{mport}/metrics", timeout=10).read()
                return body.decode()
        text = run(go())
        assert re.search(r"^asgimaster_websockets 1$", text, re.M), text
        wait_until(lambda: access.exists() and " 101 " in access.read_text(),
                   10)
        line = [x for x in access.read_text().splitlines() if " 101 " in x]
        assert '"GET /echo?x=1 HTTP/1.1" 101' in line[0], line
        body = urllib.request.urlopen(
            f"http://127.0.0.1:{mport}/metrics", timeout=10).read().decode()
        assert re.search(r"^asgimaster_websockets 0$", body, re.M), body
        assert re.search(r'^asgimaster_websocket_messages_total'
                         r'\{direction="in"\} 1$', body, re.M), body
        assert re.search(r'^asgimaster_websocket_closes_total'
                         r'\{code="1000"\} 1$', body, re.M), body


# ---------------------------------------------------------------- flags


def test_ws_flags(tmp_path):
    with running(tmp_path, {"app": "ws_ops:app"},
                 args=["--ws-max-size", "1000",
                       "--ws-per-message-deflate", "false",
                       "--ws-ping-interval", "0"]) as s:
        c, status, _ = WsRaw.handshake(
            ("127.0.0.1", s.port), "/echo",
            headers=["Sec-WebSocket-Extensions: permessage-deflate"])
        with c:
            assert status == 101
            assert c.header("sec-websocket-extensions") is None
            c.send(frame(OP_TEXT, b"x" * 1000))
            assert c.recv_frame() == (True, 0, OP_TEXT, b"x" * 1000)
            c.send(frame(OP_TEXT, b"x" * 1001))
            assert c.recv_close() == 1009


# ---------------------------------------------------------------- idle


def test_idle_sockets_cost_under_32_kib_each(tmp_path):
    """300 accepted, idle sockets (a raw ASGI app waiting in receive()):
    the worker grows by at most 32 KiB per socket, all in (connection,
    session, the app's task and scope). Measured: about 12 KiB."""
    n = 300
    with running(tmp_path, {"app": "ws_ops:app"}) as s:
        pid = worker_pid(s)
        warm = [opened(s) for _ in range(30)]
        base = rss(pid)
        socks = [opened(s) for _ in range(n)]
        for c in socks[-5:]:  # all are served, none is stuck
            c.send(frame(OP_TEXT, b"ok"))
            assert c.recv_frame() == (True, 0, OP_TEXT, b"ok")
        grown = rss(pid) - base
        for c in warm + socks:
            c.close()
    assert SANITIZED or grown / n < 32 * 1024, grown / n


def opened(srv):
    c, status, _ = WsRaw.handshake(("127.0.0.1", srv.port), "/echo")
    assert status == 101
    return c


def test_max_requests_recycle_closes_with_1012(server, tmp_path):
    s = server({"app": "ws_ops:app", "max_requests": 2,
                "timeouts": {"graceful": "2s"}})
    s.allow_respawn = True
    out = tmp_path / "code"

    async def go():
        async with websockets.connect(
                f"ws://127.0.0.1:{s.port}/hold?out={out}") as ws:
            await ws.send("hi")
            for _ in range(2):  # the worker's last requests
                _get404(s)
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return ws.close_code
    assert run(go()) == 1012
    wait_until(lambda: out.exists(), 30)
    assert out.read_text() == "1012"


def _get404(srv):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("GET", "/x")
    assert c.getresponse().status == 404
    c.close()


def test_trusted_proxy_scheme_gives_wss(tmp_path):
    # forwarded_allow_ips defaults to 127.0.0.1: X-Forwarded-Proto counts.
    with running(tmp_path, {"app": "ws_ops:app"}) as s:
        c, status, _ = WsRaw.handshake(("127.0.0.1", s.port), "/scope",
                                       headers=["X-Forwarded-Proto: https"])
        with c:
            assert status == 101
            fin, rsv, op, payload = c.recv_frame()
            assert json.loads(payload)["scheme"] == "wss"
