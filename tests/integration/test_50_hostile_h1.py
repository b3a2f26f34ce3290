"""Hostile HTTP/1.1 input (issue 10, items 1-9), RFC 9112 / RFC 9110.

One test per item, each on a cleartext and a TLS listener, each followed
by a check that the worker survived and serves a fresh request; the
memory-class tests also bound the worker's RSS growth. Keys these tests
propose (not in the binary yet, so their tests fail at start-up today):
  limits.chunk_extensions   bytes of chunk extensions per request (sum of
                            all chunk lines; default 4KiB) -> 400 + close
  limits.body_min_rate      bytes/s a request body must average once
                            timeouts.body_read has passed since the head
                            (time the server is not reading, because the
                            app has not asked for more, does not count)
                            -> 408 + close
SPDX-License-Identifier: BSD-2-Clause
"""

import json
import socket

import pytest

from h2util import GOAWAY, PROTOCOL_ERROR
from hostile import (
    answered, check_alive, check_rss, closed, counts, h1, send_watching,
    start, wait_metric, wait_readable, worker_rss)
from httpraw import IncompleteResponse, LAST_CHUNK, request

pytestmark = pytest.mark.am_timeout(60)

TLS = pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])


def refused(c, statuses=(400,)):
    """The server answers with one of statuses and closes the connection
    (RFC 9112 §9.6: the close is announced or at least done)."""
    r = c.read_response()
    assert r.status in statuses, r
    assert closed(c), "connection still open after the error response"
    return r


# ------------------------------------------------------------ item 1


@TLS
@pytest.mark.parametrize("with_cl", [False, True], ids=["te", "te+cl"])
def test_01_http10_transfer_encoding_is_refused(server, tmp_path, tls,
                                                with_cl):
    """RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means
    faulty framing, even with a Content-Length: 400 and close. The request
    hidden behind the chunked body never runs."""
    srv = start(server, tmp_path, tls)
    smuggled = request("GET", "/smuggled")
    body = LAST_CHUNK + smuggled
    hs = [("Transfer-Encoding", "chunked"), ("Connection", "keep-alive")]
    if with_cl:
        hs.append(("Content-Length", str(len(body))))
    with h1(srv) as c:
        c.send(request("POST", "/first", headers=hs, version="HTTP/1.0")
               + body)
        refused(c)
    n = counts(srv)
    assert n.get("/smuggled", 0) == 0, n
    assert n.get("/first", 0) == 0, n
    check_alive(srv)


# ------------------------------------------------------------ item 2

BAD_CHUNK_LINES = {
    "size-space": b"5 \r\nhello\r\n" + LAST_CHUNK,
    "size-tab": b"5\t\r\nhello\r\n" + LAST_CHUNK,
    "size-space-word": b"5 xyz\r\nhello\r\n" + LAST_CHUNK,
    "last-space": b"0 \r\n\r\n",
    "last-request": b"0 GET /x HTTP/1.1\r\n\r\n",
}


@TLS
@pytest.mark.parametrize("body", list(BAD_CHUNK_LINES.values()),
                         ids=list(BAD_CHUNK_LINES))
def test_02_lenient_chunk_line_is_refused(server, tmp_path, tls, body):
    """RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF; after the
    hex digits only BWS ";" extensions may follow. Anything else: 400 and
    close (a front-end that reads it differently can smuggle)."""
    srv = start(server, tmp_path, tls)
    with h1(srv) as c:
        c.send(request("POST", "/chunk",
                       headers=[("Transfer-Encoding", "chunked")]) + body)
        refused(c)
    assert counts(srv).get("/x", 0) == 0
    check_alive(srv)


GOOD_CHUNK_LINES = {
    "ext": b"5;a=b\r\nhello\r\n" + LAST_CHUNK,
    "ext-bws": b"5 ; a = b\r\nhello\r\n" + LAST_CHUNK,
    "ext-quoted": b'5;a="x y"\r\nhello\r\n' + LAST_CHUNK,
}


@TLS
@pytest.mark.parametrize("body", list(GOOD_CHUNK_LINES.values()),
                         ids=list(GOOD_CHUNK_LINES))
def test_02_valid_chunk_extensions_accepted(server, tmp_path, tls, body):
    """The control of test_02: what §7.1.1 allows is served."""
    srv = start(server, tmp_path, tls)
    with h1(srv) as c:
        c.send(request("POST", "/chunk",
                       headers=[("Transfer-Encoding", "chunked")]) + body)
        r = c.read_response()
    assert r.status == 200, r
    assert b'"len": 5' in r.body
    check_alive(srv)


# ------------------------------------------------------------ item 3


def ext_chunk(data, ext_len):
    """A chunk whose line carries about ext_len bytes of extension."""
    return b"%x;x=%s\r\n%s\r\n" % (len(data), b"a" * (ext_len - 3), data)


@TLS
def test_03_chunk_extension_flood_is_refused(server, tmp_path, tls):
    """16 MiB of chunk extensions carrying 4 KiB of data: refused with 400
    long before the end under the default limits.chunk_extensions (4KiB),
    and the worker does not buffer them."""
    srv = start(server, tmp_path, tls)
    rss = worker_rss(srv)
    payload = ext_chunk(b"d" * 4096, 16 << 20) + LAST_CHUNK
    with h1(srv, timeout=10) as c:
        c.send(request("POST", "/ext",
                       headers=[("Transfer-Encoding", "chunked")]))
        sent = send_watching(c, payload)
        refused(c)
    assert sent < len(payload), "the whole flood was read"
    check_rss(srv, rss)
    check_alive(srv)


@TLS
def test_03_chunk_extensions_capped_per_request(server, tmp_path, tls):
    """limits.chunk_extensions counts the extension bytes of all chunk
    lines of a request: 3 x 300 bytes under a 1KiB limit pass, 4 x 300
    bytes do not (400 and close)."""
    srv = start(server, tmp_path, tls,
                {"limits": {"chunk_extensions": "1KiB"}})
    te = [("Transfer-Encoding", "chunked")]
    with h1(srv) as c:
        c.send(request("POST", "/ext", headers=te)
               + b"".join(ext_chunk(b"abc", 300) for _ in range(3))
               + LAST_CHUNK)
        r = c.read_response()
        assert r.status == 200, r
        c.send(request("POST", "/ext", headers=te)
               + b"".join(ext_chunk(b"abc", 300) for _ in range(4))
               + LAST_CHUNK)
        refused(c)
    check_alive(srv)


# ------------------------------------------------------------ item 4


@TLS
def test_04_http09_request_line_answered_at_once(server, tmp_path, tls):
    """`GET /` + CRLF (HTTP/0.9) is not HTTP/1.x: answered with 400 or 505
    as soon as the line is complete, then closed; no waiting for more."""
    srv = start(server, tmp_path, tls)
    with h1(srv, timeout=3) as c:
        c.send(b"GET /\r\n")
        try:
            refused(c, (400, 505))
        except socket.timeout:
            pytest.fail("no answer to an HTTP/0.9 request line in 3 s")
    assert counts(srv).get("/", 0) == 0
    check_alive(srv)


# ------------------------------------------------------------ item 5


@TLS
def test_05_fragment_in_target_is_refused(server, tmp_path, tls):
    """RFC 9112 §3.2: origin-form = absolute-path [ "?" query ], no
    fragment: 400."""
    srv = start(server, tmp_path, tls)
    with h1(srv) as c:
        c.send(request("GET", "/a#b"))
        r = c.read_response()
    assert r.status == 400, r
    assert counts(srv).get("/a", 0) == 0
    check_alive(srv)


# ------------------------------------------------------------ item 6


@TLS
@pytest.mark.parametrize("method", ["FOO", "BLARGH", "-BLARGH", "M.1~!"])
def test_06_unknown_token_method_reaches_app(server, tmp_path, tls,
                                             method):
    """RFC 9110 §9.1: method = token; §5.6.2 tchar includes - . ~ ! etc.
    An unknown method is the app's to judge: it reaches the scope as is."""
    srv = start(server, tmp_path, tls)
    with h1(srv) as c:
        c.send(request(method, "/m", body=b""))
        r = c.read_response(method=method)
    assert r.status == 200, r
    assert json.loads(r.body)["method"] == method
    check_alive(srv)


# ------------------------------------------------------------ item 7


@TLS
@pytest.mark.parametrize("target", ["s://]ufd/:", "http://[::1/x",
                                    "http://h:80x/"])
def test_07_invalid_absolute_form_is_refused(server, tmp_path, tls,
                                             target):
    """RFC 9112 §3.2.2 / RFC 3986: an absolute-form target that does not
    parse as an absolute-URI is refused with 400 and never reaches the
    app."""
    srv = start(server, tmp_path, tls)
    before = sum(counts(srv).values())
    with h1(srv) as c:
        c.send(request("PUT", target, body=b""))
        r = c.read_response()
    assert r.status == 400, r
    assert sum(counts(srv).values()) == before, counts(srv)
    check_alive(srv)


# ------------------------------------------------------------ item 8

# The rule (proposed): only a first line that is exactly "PRI * HTTP/2.0"
# is an HTTP/2 preface attempt (GOAWAY PROTOCOL_ERROR if the rest is
# wrong); any other first line is judged as HTTP/1.x once it is complete
# or can no longer be valid: 400 and close. Same verdict however the
# bytes arrive.
GARBAGE = {
    "pri-slash": (b"PRI / HTTP/1.1\r\nHost: x\r\n\r\n", ("h1", 400)),
    "ctl-method": (b"P\x00I / HTTP/1.1\r\nHost: x\r\n\r\n", ("h1", 400)),
    "bad-version": (b"GET / HTXP/1.1\r\nHost: x\r\n\r\n", ("h1", 400)),
    "binary": (b"\x00\x01\x02\x03garbage\r\n\r\n", ("h1", 400)),
    "pr-binary": (b"PR\x16\x03garbage\r\n\r\n", ("h1", 400)),
    "preface-bad-tail": (b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
                         ("h2", PROTOCOL_ERROR)),
}


def verdict(c):
    """("h1", status) or ("h2", GOAWAY error code), then the close."""
    first = c.read_exact(9)
    if first.startswith(b"HTTP/1."):
        c.buf = first + c.buf
        r = c.read_response()
        v = ("h1", r.status)
    else:
        # frames until a GOAWAY (the server's SETTINGS may come first)
        head = first
        while True:
            n = int.from_bytes(head[:3], "big")
            payload = c.read_exact(n)
            if head[3] == GOAWAY:
                v = ("h2", int.from_bytes(payload[4:8], "big"))
                break
            head = c.read_exact(9)
    assert closed(c), f"{v}: connection still open"
    return v


@TLS
@pytest.mark.parametrize("data,want", list(GARBAGE.values()),
                         ids=list(GARBAGE))
def test_08_garbage_verdict_independent_of_segmentation(server, tmp_path,
                                                        tls, data, want):
    srv = start(server, tmp_path, tls)
    got = {}
    for mode in ("whole", "bytewise"):
        with h1(srv, alpn=None, nodelay=True) as c:
            if mode == "whole":
                c.send(data)
            else:
                for i in range(len(data)):
                    if answered(c):
                        break   # answered already: stop feeding it
                    try:
                        c.send(data[i:i + 1])
                    except OSError:
                        break
            try:
                got[mode] = verdict(c)
            except (IncompleteResponse, socket.timeout) as e:
                got[mode] = ("none", repr(e)[:80])
    assert got["whole"] == got["bytewise"], got
    assert got["whole"] == want, got
    check_alive(srv)


# ------------------------------------------------------------ item 9


@TLS
@pytest.mark.am_timeout(40)
def test_09_dribbled_body_is_cut_off(server, tmp_path, tls):
    """A body sent at 4 bytes/s (one byte every 0.25 s, so the per-read
    timeouts.body_read of 1 s never fires) is answered 408 and closed once
    it falls below limits.body_min_rate (100 bytes/s) after the 1 s grace.
    The test stops dribbling after 10 s: no answer by then fails."""
    srv = start(server, tmp_path, tls, {
        "timeouts": {"body_read": "1s"},
        "limits": {"body_min_rate": 100}})
    with h1(srv, nodelay=True) as c:
        c.send(request("POST", "/slow", headers=[("Content-Length", "1000")]))
        cut_off = False
        for _ in range(40):
            wait_readable(c.sock, 0.25)
            if answered(c):
                cut_off = True
                break
            c.send(b"x")
        assert cut_off, "a body dribbled for 10 s was never cut off"
        refused(c, (408,))
    check_alive(srv)


@TLS
@pytest.mark.am_timeout(40)
def test_09_time_the_server_does_not_read_does_not_count(server, tmp_path,
                                                         tls):
    """limits.body_min_rate counts only the time the server reads: a
    256 KiB body sent at once to an app that sleeps 3 s before reading
    (reading pauses at limits.body_buffer) is served, although its rate
    over the wall clock is far below the 1 MiB/s asked."""
    srv = start(server, tmp_path, tls, {
        "app": "basic:app",
        "timeouts": {"body_read": "1s"},
        "limits": {"body_min_rate": "1MiB", "body_buffer": "64KiB"}})
    body = b"b" * (256 * 1024)
    with h1(srv, timeout=20) as c:
        c.send(request("POST", "/late-read?s=3", body=body))
        r = c.read_response()
    assert r.status == 200, r
    assert json.loads(r.body)["size"] == len(body)


@TLS
@pytest.mark.am_timeout(40)
def test_09_rate_clock_starts_with_100_continue(server, tmp_path, tls):
    """A client that sends Expect: 100-continue waits for the 100: the body
    rate is measured from it. The app reads after 1 s; the body comes
    right after the 100 and is served, though 4 bytes in the 2 s after
    the head are far below limits.body_min_rate."""
    srv = start(server, tmp_path, tls, {
        "app": "basic:app",
        "timeouts": {"body_read": "2s"},
        "limits": {"body_min_rate": "1MiB"}})
    with h1(srv, timeout=20) as c:
        c.send(request("POST", "/late-read?s=1", body=b"", headers=[
            ("Content-Length", "4"), ("Expect", "100-continue")]))
        assert c.read_response(interim=True).status == 100
        c.send(b"data")
        r = c.read_response()
    assert r.status == 200, r
    assert json.loads(r.body)["size"] == 4


@TLS
@pytest.mark.am_timeout(40)
def test_09_dribbled_head_is_cut_off(server, tmp_path, tls):
    """The head has one deadline, timeouts.header_read, that a byte does
    not renew: a head dribbled at 4 bytes/s gets 408 once it passes."""
    srv = start(server, tmp_path, tls, {"timeouts": {"header_read": "1s"}})
    head = request("GET", "/slow-head",
                   headers=[("X-Pad", "p" * 100)])
    with h1(srv, nodelay=True) as c:
        cut_off = False
        for i in range(40):
            wait_readable(c.sock, 0.25)
            if answered(c):
                cut_off = True
                break
            c.send(head[i:i + 1])
        assert cut_off, "a head dribbled for 10 s was never cut off"
        refused(c, (408,))
    assert counts(srv).get("/slow-head", 0) == 0
    check_alive(srv)


@TLS
@pytest.mark.am_timeout(60)
def test_abuse_is_counted_by_cause(server, tmp_path, tls):
    """asgimaster_connections_abuse_total counts connections ended for
    abuse by cause: chunk_extensions, body_too_slow, header_timeout."""
    srv = start(server, tmp_path, tls, {
        "timeouts": {"body_read": "1s", "header_read": "1s"},
        "limits": {"body_min_rate": 100, "chunk_extensions": "1KiB"}},
        metrics=True)
    name = "asgimaster_connections_abuse_total"
    with h1(srv) as c:
        c.send(request("POST", "/ext",
                       headers=[("Transfer-Encoding", "chunked")])
               + ext_chunk(b"abc", 2000) + LAST_CHUNK)
        refused(c)
    assert wait_metric(srv, name, 1, {"cause": "chunk_extensions"}) == 1
    with h1(srv, nodelay=True) as c:
        c.send(request("POST", "/slow", headers=[("Content-Length", "100")]))
        for _ in range(40):
            wait_readable(c.sock, 0.25)
            if answered(c):
                break
            c.send(b"x")
        refused(c, (408,))
    assert wait_metric(srv, name, 1, {"cause": "body_too_slow"}) == 1
    with h1(srv) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        refused(c, (408,))
    assert wait_metric(srv, name, 1, {"cause": "header_timeout"}) == 1
    # an idle connection that never sent a byte is no abuse
    with h1(srv) as c:
        assert closed(c, timeout=10)
    assert wait_metric(srv, name, 1, {"cause": "header_timeout"}) == 1
    check_alive(srv)
