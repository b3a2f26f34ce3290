"""HTTP/2 (issue 4): h2c by prior knowledge and by Upgrade, h2 over TLS,
the ASGI view of an h2 request, streaming and flow control both ways,
concurrent streams on one connection, resets, trailers, GOAWAY on stop
and on idle, and listen[].http2: false.

Clients: curl, httpx and the raw-frame client of h2util.py (which shows
every frame the server sends). The app is apps/h2_app.py.
SPDX-License-Identifier: BSD-2-Clause
"""

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import httpx
import pytest

from conftest import APPS, free_port, raw, running, wait_until
from h2util import (
    CANCEL, END_STREAM, ENABLE_PUSH, GOAWAY, HEADERS, INITIAL_WINDOW_SIZE,
    INTERNAL_ERROR, MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, NO_ERROR,
    PREFACE, PROTOCOL_ERROR, ConnectionClosed, H2Conn, b64url_settings, config_rejected,
    data_frame, headers_frame, hpack_block, rst_frame, settings_frame,
    tls_listen)
from httpraw import request

APP = {"app": "h2_app:app", "chdir": str(APPS)}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with running(tmp_path_factory.mktemp("h2"), dict(APP)) as s:
        yield s


@pytest.fixture
def h2(srv):
    c = H2Conn.open(srv)
    c.handshake()
    yield c
    c.close()


def result(srv, key, want=None, timeout=10):
    """Poll the app's /result?id=key over HTTP/1.1 until it exists (and
    equals want, or want(value) is true, when given)."""
    last = [None]

    def get():
        r = httpx.get(f"{srv.url}/result?id={key}", timeout=10)
        if r.status_code != 200:
            return None
        v = last[0] = r.json()
        if want is None:
            return v
        ok = want(v) if callable(want) else v == want
        return v if ok else None
    v = wait_until(get, timeout, 0.05)
    assert v is not None, f"app recorded {last[0]!r} under {key}, " \
        f"wanted {want!r}"
    return v


def curl(*args, timeout=30):
    if not shutil.which("curl"):
        pytest.skip("curl not installed")
    r = subprocess.run(["curl", "-sS", "--max-time", "20"] + list(args),
                       capture_output=True, timeout=timeout)
    return r


# ------------------------------------------------------------ clients


def test_curl_prior_knowledge(srv):
    r = curl("-o", "/dev/null", "-w", "%{http_version}",
             "--http2-prior-knowledge", f"{srv.url}/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"2", r.stdout


def test_curl_upgrade(srv):
    """curl --http2 on http:// sends Upgrade: h2c (RFC 7540 §3.2)."""
    r = curl("-o", "/dev/null", "-w", "%{http_version}", "--http2",
             f"{srv.url}/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"2", r.stdout


def test_curl_upgrade_body_echo(srv):
    """A POST with a body and Upgrade: h2c: the body is read as body
    (upgraded or not), never as frames."""
    r = curl("-w", "\n%{http_version}", "--http2", "--data-binary",
             "hello body", f"{srv.url}/echo")
    assert r.returncode == 0, r.stderr
    body, _, version = r.stdout.rpartition(b"\n")
    assert body == b"hello body"
    assert version in (b"1.1", b"2")


def test_httpx_prior_knowledge(srv):
    """httpx with http1=False, http2=True speaks h2c by prior
    knowledge."""
    with httpx.Client(http1=False, http2=True, timeout=10) as c:
        r = c.get(f"{srv.url}/")
        assert r.http_version == "HTTP/2"
        assert r.status_code == 200 and r.text == "hello"
        r = c.post(f"{srv.url}/echo", content=b"x" * 100000)
        assert r.content == b"x" * 100000


def test_settings_advertised(h2):
    """Issue 4: the server advertises its limits (nghttp2's default for
    concurrent streams is unlimited); documented defaults: 100 streams,
    16 KiB frames, 256 KiB stream window."""
    s = h2.server_settings
    assert MAX_CONCURRENT_STREAMS in s, s
    assert s[MAX_CONCURRENT_STREAMS] == 100, s
    assert s.get(MAX_FRAME_SIZE, 16384) == 16384, s
    assert s.get(INITIAL_WINDOW_SIZE) == 256 * 1024, s


# ------------------------------------------------------------ ASGI scope


def scope_of(c, path="/scope", **kw):
    r = c.get(path, **kw)
    assert r.status == 200, r
    return json.loads(r.data)


def hdrs(scope):
    return [(k["$b"], v["$b"]) for k, v in scope["headers"]]


def test_scope_from_pseudo_headers(h2, srv):
    s = scope_of(h2, "/scope?x=1&y=%20z",
                 headers=[("x-custom", "v"), ("accept", "*/*")])
    assert s["type"] == "http"
    assert s["http_version"] == "2"
    assert s["method"] == "GET"
    assert s["scheme"] == "http"
    assert s["path"] == "/scope"
    assert s["query_string"] == {"$b": "x=1&y=%20z"}
    names = [k for k, _ in hdrs(s)]
    assert all(n == n.lower() for n in names), names
    assert not any(n.startswith(":") for n in names), names
    assert ("x-custom", "v") in hdrs(s)
    assert s["server"] and s["server"][1] == srv.port
    assert s["client"] and s["client"][0] == "127.0.0.1"


def test_scope_authority_becomes_host(h2):
    """:authority reaches the app as a host header when none was sent
    (RFC 9113 §8.3.1), exactly once."""
    s = scope_of(h2)
    hosts = [v for k, v in hdrs(s) if k == "host"]
    assert hosts == [h2.authority], hdrs(s)


def test_scope_host_header_kept(h2):
    """A request with host and no :authority keeps its host field."""
    sid = h2.request("GET", "/scope", headers=[("host", "example.test")],
                     authority=False)
    s = json.loads(h2.read_response(sid).data)
    assert [v for k, v in hdrs(s) if k == "host"] == ["example.test"]


def test_scope_cookie_crumbs_joined(h2):
    """RFC 9113 §8.2.3: cookie crumbs are joined with "; " into one
    field before they reach an HTTP/1.1-style consumer."""
    s = scope_of(h2, headers=[("cookie", "a=1"), ("x-other", "o"),
                              ("cookie", "b=2"), ("cookie", "c=3")])
    cookies = [v for k, v in hdrs(s) if k == "cookie"]
    assert cookies == ["a=1; b=2; c=3"], hdrs(s)


def test_scope_post_method(h2):
    sid = h2.request("POST", "/scope?q", body=b"data")
    s = json.loads(h2.read_response(sid).data)
    assert s["method"] == "POST" and s["query_string"] == {"$b": "q"}


# ------------------------------------------------------------ bodies


def test_upload_5mb_sha256(h2):
    """A 5 MB request body arrives whole and in order (flow control: the
    client only sends within the windows the server opens)."""
    body = os.urandom(5 * 1000 * 1000)
    sid = h2.request("POST", "/sha256", body=body)
    r = h2.read_response(sid, timeout=60)
    assert r.status == 200, r
    got = json.loads(r.data)
    assert got["len"] == len(body)
    assert got["sha256"] == hashlib.sha256(body).hexdigest()


def test_response_streaming_1mib(h2):
    """1 MiB sent by the app in 64 KiB parts arrives complete, in order,
    in frames no larger than our SETTINGS_MAX_FRAME_SIZE (16 KiB)."""
    r = h2.get("/stream?n=1048576&chunk=65536", timeout=60)
    assert r.status == 200
    assert len(r.data) == 1 << 20
    for i in range(16):
        part = r.data[i * 65536:(i + 1) * 65536]
        assert part == bytes([65 + i]) * 65536, f"part {i} wrong"
    assert max(r.data_frames) <= 16384


def test_response_streaming_with_small_client_window(srv):
    """The server respects a small client window (4 KiB) and sends the
    rest as WINDOW_UPDATEs arrive."""
    c = H2Conn.open(srv)
    try:
        c.handshake({ENABLE_PUSH: 0, INITIAL_WINDOW_SIZE: 4096})
        r = c.get("/stream?n=200000&chunk=65536", timeout=30)
        assert len(r.data) == 200000
        assert max(r.data_frames) <= 4096
    finally:
        c.close()


# ------------------------------------------------------------ concurrency


def test_50_concurrent_streams_one_connection(h2):
    """Issue 4: streams of one connection run concurrently in the app:
    50 requests sleeping 0.5 s take far less than 50 x 0.5 s (a generous
    bound: 5 s)."""
    t0 = time.monotonic()
    sids = [h2.request("GET", "/sleep?s=0.5") for _ in range(50)]
    for sid in sids:
        r = h2.read_response(sid, timeout=30)
        assert r.status == 200 and r.data == b"slept"
    elapsed = time.monotonic() - t0
    assert elapsed < 5.0, f"50 streams took {elapsed:.1f}s: serialised?"


def test_100_streams_in_one_write_get_their_own_scopes(h2):
    """100 streams in one TCP write: past 64 waiting for their first step,
    a request's scope is built later from a copy of its head
    (worker/asgi.c). Each scope and body is still the stream's own."""
    frames, want = [], {}
    for i in range(100):
        sid = h2.alloc_stream()
        h2.send_stream_window[sid] = h2.peer_initial_window
        if i % 2:
            hs = h2.request_headers("POST", f"/echo?i={i}",
                                    [("x-i", str(i))])
            frames.append(headers_frame(sid, hpack_block(hs),
                                        end_stream=False))
            frames.append(data_frame(sid, b"body-%d" % i, end_stream=True))
        else:
            hs = h2.request_headers("GET", f"/scope%2F{i}?i={i}",
                                    [("x-i", str(i)), ("x-pad", "p" * i)])
            frames.append(headers_frame(sid, hpack_block(hs)))
        want[sid] = i
    h2.send(b"".join(frames))
    for sid, i in want.items():
        r = h2.read_response(sid, timeout=30)
        assert r.status == 200, (i, r)
        if i % 2:
            assert r.data == b"body-%d" % i
            continue
        s = json.loads(r.data)
        assert s["method"] == "GET" and s["http_version"] == "2"
        assert s["path"] == f"/scope/{i}"
        assert s["raw_path"] == {"$b": f"/scope%2F{i}"}
        assert s["query_string"] == {"$b": f"i={i}"}
        assert ("x-i", str(i)) in hdrs(s)
        assert ("x-pad", "p" * i) in hdrs(s)
        assert s["client"][0] == "127.0.0.1"


def test_endless_sse_does_not_block_other_streams(h2, srv):
    sse = h2.request("GET", "/sse?id=sse1")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        h2.drain(0.1)
        r = h2.responses.get(sse)
        if r and r.data.count(b"\n\n") >= 3:
            break
    r = h2.responses.get(sse)
    assert r and r.status == 200 and r.data.count(b"\n\n") >= 3, r
    assert r.header("content-type") == "text/event-stream"
    for _ in range(3):
        assert h2.get("/", timeout=5).data == b"hello"
    n = r.data.count(b"\n\n")
    h2.drain(0.5)
    assert r.data.count(b"\n\n") > n, "SSE stream stalled"
    assert not r.ended
    h2.send(rst_frame(sse, CANCEL))
    # The app's next send() after the reset fails (asgiref: an OSError
    # subclass) so an endless generator ends.
    result(srv, "sse1")


# ------------------------------------------------------------ resets, errors


def test_rst_stream_gives_http_disconnect(h2, srv):
    """Issue 4: the stream reset by the client makes the app's pending
    receive() return http.disconnect."""
    sid = h2.request("GET", "/hang?id=rst1")
    result(srv, "rst1", "waiting")
    h2.send(rst_frame(sid, CANCEL))
    result(srv, "rst1", "http.disconnect")
    h2.expect_no_error()


def test_connection_close_gives_http_disconnect(srv):
    c = H2Conn.open(srv)
    c.handshake()
    c.request("GET", "/hang?id=close1")
    result(srv, "close1", "waiting")
    c.close()
    result(srv, "close1", "http.disconnect")


def test_raise_after_start_resets_only_that_stream(h2):
    """Issue 4: an app that raises after http.response.start gets its
    stream reset with INTERNAL_ERROR; other streams of the connection go
    on."""
    other = h2.request("GET", "/sleep?s=1")
    bad = h2.request("GET", "/raise-after")
    h2.expect_stream_error(bad, INTERNAL_ERROR, allow_connection_error=False)
    r = h2.read_response(other)
    assert r.status == 200 and r.data == b"slept"
    assert h2.get("/").status == 200


def test_trailers(h2):
    """Issue 4: http.response.trailers is advertised in the scope and
    the trailers reach the client as a last HEADERS frame with END_STREAM
    and no pseudo-header (RFC 9113 §8.1)."""
    s = scope_of(h2, headers=[("te", "trailers")])
    assert "http.response.trailers" in (s.get("extensions") or {}), s
    r = h2.get("/trailers?v=abc", headers=[("te", "trailers")])
    assert r.status == 200, r
    assert r.data == b"data"
    assert r.trailers is not None, "no trailing HEADERS frame"
    t = dict(r.trailers)
    assert t.get("grpc-status") == "0" and t.get("x-trailer") == "abc", t
    assert not any(k.startswith(":") for k in t)
    last = [f for f in h2.frames if f.stream_id == r.stream_id][-1]
    assert last.type == HEADERS and last.has(END_STREAM), last


def test_mixed_case_names_lowercased(h2):
    """Known and unknown names, in the head and in trailers sent in two
    messages, reach the client lowercased with their values untouched;
    Keep-Alive is dropped (RFC 9113 §8.2.2); the app's Server stays and
    ours is not added; Date is ours."""
    r = h2.get("/mixed-case", headers=[("te", "trailers")])
    assert r.status == 299, r
    assert r.data == b"mixed"
    names = [k for k, _ in r.headers]
    assert names == [k.lower() for k in names], names
    h = dict(r.headers)
    assert h.get("content-type") == "text/Plain", h
    assert h.get("x-mixed-case") == "Value", h
    assert "keep-alive" not in h, h
    assert [v for k, v in r.headers if k == "server"] == ["app"], h
    assert len(h.get("date", "")) == 29, h
    assert r.trailers is not None, "no trailing HEADERS frame"
    assert list(r.trailers) == [("grpc-status", "0"), ("content-type", "x/y"),
                                ("x-trailer-case", "T")], r.trailers


# ------------------------------------------------------------ flow control


def test_slow_reader_keeps_window_shut(h2, srv):
    """Issue 4: request DATA reaches receive() as it arrives and the
    window is reopened only as the app consumes it. The app reads one
    message and then stops; the client sends while it has window. The
    stream-level WINDOW_UPDATEs must not exceed what the app consumed,
    so the server never holds more than one window of unread body."""
    sid = h2.request("POST", "/read-some?id=slow1&n=1&s=8", end_stream=False)
    initial = h2.peer_initial_window
    sent = 0
    quiet_since = None
    chunk = min(h2.server_max_frame(), 16384)
    limit = 16 * 1024 * 1024
    while sent < limit:
        room = min(h2.send_conn_window, h2.send_stream_window[sid], chunk)
        if room > 0:
            try:
                h2.send(data_frame(sid, b"s" * room))
            except OSError as e:
                raise AssertionError(
                    f"connection lost after {sent} body bytes ({e}); "
                    f"frames: {h2.frames[-5:]!r}") from None
            h2.send_conn_window -= room
            h2.send_stream_window[sid] -= room
            sent += room
            quiet_since = None
            continue
        if quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.5:
            break
        h2.drain(0.1)
    assert sent < limit, (
        f"the server kept opening the window ({sent} bytes sent) while "
        "the app read one message: request bodies are not flow-controlled")
    consumed = result(srv, "slow1")["bytes"]
    reopened = sum(inc for s, inc in h2.window_updates if s == sid)
    assert consumed > 0
    assert reopened <= consumed, (
        f"stream window reopened by {reopened} but the app consumed only "
        f"{consumed}")
    assert sent <= consumed + initial, (sent, consumed, initial)
    h2.send(rst_frame(sid, CANCEL))
    h2.expect_no_error()


# ------------------------------------------------------------ GOAWAY


def test_graceful_stop_sends_goaway_and_finishes_stream(server):
    """RFC 9113 §6.8 / issue 4: SIGTERM sends GOAWAY and the in-flight
    stream still completes; the server then exits cleanly."""
    s = server(dict(APP))
    c = H2Conn.open(s)
    try:
        c.handshake()
        sid = c.request("GET", "/sleep?s=2")
        c.drain(0.5)
        s.send_signal(signal.SIGTERM)
        r = c.read_response(sid, timeout=20)
        assert r.status == 200 and r.data == b"slept"
        goaways = [f for f in c.frames if f.type == GOAWAY]
        if not goaways:
            c.expect_goaway(NO_ERROR, timeout=10)
            goaways = [f for f in c.frames if f.type == GOAWAY]
        assert goaways, "no GOAWAY on graceful stop"
        assert all(g.error_code == NO_ERROR for g in goaways), goaways
        assert goaways[-1].last_stream_id >= sid, goaways
    finally:
        c.close()
    assert s.wait_exit(20) == 0


def test_idle_connection_gets_goaway(server):
    """Issue 4: an idle h2 connection is closed after timeouts.h2_idle
    with a GOAWAY."""
    s = server(dict(APP, timeouts={"h2_idle": "1s"}))
    c = H2Conn.open(s, timeout=10)
    try:
        c.handshake()
        assert c.get("/").status == 200
        g = c.expect_goaway(NO_ERROR, timeout=8)
        assert g.last_stream_id == 1
        deadline = time.monotonic() + 5
        while not c.eof and time.monotonic() < deadline:
            try:
                c.read_frame(1)
            except (ConnectionClosed, socket.timeout):
                pass
        assert c.eof, "connection not closed after the idle GOAWAY"
    finally:
        c.close()


def test_http2_off_on_listener(server):
    """listen[].http2: false: the prior-knowledge preface is not served
    as HTTP/2 (an HTTP/1.1 error or a close), Upgrade: h2c is ignored and
    HTTP/1.1 still works."""
    port = free_port()
    s = server(dict(APP, listen=[{"address": f"127.0.0.1:{port}",
                                  "http2": False}]))
    sock = s.connect(5)
    try:
        sock.sendall(PREFACE + settings_frame({}))
        data = b""
        try:
            while len(data) < 9:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        assert not (len(data) >= 9 and data[3] == 4 and
                    not data.startswith(b"HTTP/")), \
            f"HTTP/2 SETTINGS served on an http2: false listener: {data!r}"
        if data:
            assert data.startswith(b"HTTP/1.1 4") or \
                data.startswith(b"HTTP/1.1 5"), data
    finally:
        sock.close()
    r = curl("-o", "/dev/null", "-w", "%{http_version}", "--http2",
             f"{s.url}/")
    assert r.stdout == b"1.1", r
    assert httpx.get(f"{s.url}/").text == "hello"


# ------------------------------------------------------------ Upgrade: h2c


def upgrade_request(method="GET", path="/scope", settings_value=None,
                    body=None, extra=()):
    hs = [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c")]
    if settings_value is not None:
        hs.append(("HTTP2-Settings", settings_value))
    return request(method, path, host="127.0.0.1", headers=hs + list(extra),
                   body=body)


def finish_upgrade(sock, rest):
    """After a 101: our preface + SETTINGS; the response to the upgraded
    request is stream 1 (RFC 7540 §3.2)."""
    c = H2Conn(sock)
    c.buf = rest
    c.next_stream_id = 3
    c.handshake()
    return c.read_response(1, timeout=30)


def read_head(sock):
    buf = b""
    sock.settimeout(10)
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def test_upgrade_h2c_answers_on_stream_1(srv):
    sock = srv.connect(10)
    try:
        sock.sendall(upgrade_request(
            settings_value=b64url_settings({ENABLE_PUSH: 0})))
        head, rest = read_head(sock)
        assert head.startswith(b"HTTP/1.1 101"), head
        assert b"upgrade: h2c" in head.lower(), head
        r = finish_upgrade(sock, rest)
        assert r.status == 200
        s = json.loads(r.data)
        assert s["method"] == "GET" and s["path"] == "/scope"
    finally:
        sock.close()


def test_upgrade_h2c_with_body(srv):
    """A request with a body and Upgrade: h2c gets its body read as body
    (here a body that looks like HTTP/2 frames), whether or not the
    server upgrades."""
    body = (PREFACE + settings_frame({}) + os.urandom(100000)) * 2
    sock = srv.connect(10)
    try:
        sock.sendall(upgrade_request("POST", "/sha256",
                                     b64url_settings({}), body=body))
        head, rest = read_head(sock)
        if head.startswith(b"HTTP/1.1 101"):
            r = finish_upgrade(sock, rest)
            assert r.status == 200
            got = json.loads(r.data)
        else:
            assert head.startswith(b"HTTP/1.1 200"), head
            lines = head.split(b"\r\n")
            length = int(next(v for k, _, v in
                              (ln.partition(b":") for ln in lines[1:])
                              if k.strip().lower() == b"content-length"))
            while len(rest) < length:
                rest += sock.recv(65536)
            got = json.loads(rest[:length])
        assert got["len"] == len(body)
        assert got["sha256"] == hashlib.sha256(body).hexdigest()
    finally:
        sock.close()


@pytest.mark.parametrize("value", [
    None,                                   # missing
    "!!not*base64url!!",                    # not base64url
    base64.urlsafe_b64encode(b"\0\3\0").decode().rstrip("="),  # 3 bytes
], ids=["missing", "not-base64", "not-multiple-of-6"])
def test_upgrade_without_valid_settings_is_http11(srv, value):
    """RFC 7540 §3.2.1 / issue 4: without exactly one valid HTTP2-Settings
    the request is served as plain HTTP/1.1."""
    with raw(srv) as c:
        c.send(upgrade_request("GET", "/", value))
        r = c.read_response()
        assert r.status == 200 and r.version == "HTTP/1.1", r
        assert r.body == b"hello"


def test_upgrade_settings_with_invalid_value(srv):
    """HTTP2-Settings that decodes but holds an invalid value (ENABLE_PUSH
    7): served as HTTP/1.1, or upgraded and then refused as RFC 9113
    §6.5.2 says for such a SETTINGS frame (GOAWAY PROTOCOL_ERROR); never
    applied silently."""
    sock = srv.connect(10)
    try:
        sock.sendall(upgrade_request("GET", "/",
                                     b64url_settings({ENABLE_PUSH: 7})))
        head, rest = read_head(sock)
        if head.startswith(b"HTTP/1.1 101"):
            c = H2Conn(sock)
            c.buf = rest
            c.handshake()
            c.expect_goaway(PROTOCOL_ERROR)
        else:
            assert head.startswith(b"HTTP/1.1 200"), head
    finally:
        sock.close()


def test_upgrade_settings_payload_applied(srv):
    """RFC 7540 §3.2.1: the HTTP2-Settings payload is the client's first
    SETTINGS: an initial window of 1 limits the first DATA to 1 byte."""
    sock = srv.connect(10)
    try:
        sock.sendall(upgrade_request(
            "GET", "/", b64url_settings({INITIAL_WINDOW_SIZE: 1})))
        head, rest = read_head(sock)
        assert head.startswith(b"HTTP/1.1 101"), head
        c = H2Conn(sock)
        c.buf = rest
        c.auto_window = False
        # Our SETTINGS repeat the window of 1 (the preface needs one).
        c.handshake({INITIAL_WINDOW_SIZE: 1})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            c.drain(0.2)
            r = c.responses.get(1)
            if r and r.data:
                break
        c.drain(0.3)
        r = c.responses.get(1)
        assert r and r.status == 200 and r.data == b"h", r
    finally:
        sock.close()


# ------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def tls_srv(tmp_path_factory):
    from conftest import Server
    tmp = tmp_path_factory.mktemp("h2tls")
    s = Server(tmp, dict(APP, listen=[tls_listen(tmp, free_port())]))
    why = config_rejected(s)
    if why:
        pytest.fail(f"TLS listener refused: {why}")
    s.start()
    try:
        yield s
    finally:
        s.stop(timeout=15)
    s.check_clean()


def test_curl_tls_alpn_h2(tls_srv):
    r = curl("-k", "-o", "/dev/null", "-w", "%{http_version}", "--http2",
             f"https://127.0.0.1:{tls_srv.port}/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"2", r.stdout


def test_curl_tls_http11(tls_srv):
    r = curl("-k", "-o", "/dev/null", "-w", "%{http_version}", "--http1.1",
             f"https://127.0.0.1:{tls_srv.port}/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"1.1", r.stdout


def test_tls_h2_scope_scheme_https(tls_srv):
    c = H2Conn.open(tls_srv, tls=True)
    try:
        assert c.sock.selected_alpn_protocol() == "h2"
        c.handshake()
        s = scope_of(c)
        assert s["scheme"] == "https" and s["http_version"] == "2"
    finally:
        c.close()


def test_httpx_tls_h2(tls_srv):
    with httpx.Client(http2=True, verify=False, timeout=10) as c:
        r = c.get(f"https://127.0.0.1:{tls_srv.port}/")
        assert r.http_version == "HTTP/2" and r.text == "hello"


# ------------------------------------------------------------ late sends


@pytest.mark.parametrize("how", ["rst", "close"])
@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-tls"])
def test_app_responds_after_stream_gone(srv, tls_srv_or_none, tls, how):
    """An app that answers after its stream was reset (or its connection
    closed) must not hurt the worker: its send() fails or is dropped, the
    worker lives on (regression: a segfault on TLS connections)."""
    s = srv
    if tls:
        if tls_srv_or_none is None:
            pytest.fail("TLS listener refused")
        s = tls_srv_or_none
    c = H2Conn.open(s, tls=tls)
    c.handshake()
    sid = c.request("GET", "/sleep?s=0.5")
    if how == "rst":
        c.send(rst_frame(sid, CANCEL))
        time.sleep(1.0)
        c.close()
    else:
        c.close()
        time.sleep(1.0)
    c = H2Conn.open(s, tls=tls)
    try:
        c.handshake()
        assert c.get("/").status == 200
    finally:
        c.close()
    assert "exited on signal" not in s.log_text(), s.log_text()[-3000:]


@pytest.fixture(scope="module")
def tls_srv_or_none(request):
    try:
        return request.getfixturevalue("tls_srv")
    except pytest.skip.Exception:
        return None


def test_stream_body_timeout_resets_stream(server):
    """A stream whose app waits for request body the client never sends is
    reset (CANCEL) after timeouts.body_read, as HTTP/1.1 closes a slow
    body; other streams on the connection go on."""
    s = server(dict(APP, timeouts={"body_read": "1s"}))
    c = H2Conn.open(s)
    try:
        c.handshake()
        sid = c.request("POST", "/echo", end_stream=False)
        c.expect_stream_error(sid, CANCEL, timeout=10)
        r = c.get("/")
        assert r.status == 200
    finally:
        c.close()


def test_stream_write_timeout_resets_stalled_stream(server):
    """A client that keeps a stream's window shut holds the response (and
    the app's send()) only for timeouts.write: then RST_STREAM CANCEL."""
    s = server(dict(APP, timeouts={"write": "1s"}))
    c = H2Conn.open(s)
    try:
        c.auto_window = False
        c.handshake(settings={INITIAL_WINDOW_SIZE: 0})
        sid = c.request("GET", "/stream")
        c.expect_stream_error(sid, CANCEL, timeout=10)
    finally:
        c.close()
