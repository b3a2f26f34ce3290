"""HTTP/1.1 over raw sockets: keep-alive, HTTP/1.0 rules, pipelining,
request bodies, Expect: 100-continue, HEAD, bodiless statuses, Date and
Server, response framing, and what the parser and the limits refuse
(RFC 9110, RFC 9112; ISSUE3 "Worker")."""

import email.utils
import hashlib
import os
import re
import select
import socket
import threading
import time

import pytest

from conftest import free_port, raw, running, wait_until
from httpraw import LAST_CHUNK, IncompleteResponse, chunk, request


# Any [error] line fails a test unless it sets allow_errors.
AM_STRICT_ERRORS = True


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with running(tmp_path_factory.mktemp("h1"), strict_errors=True) as s:
        yield s


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    cfg = {
        "limits": {
            "request_line": "1KiB",
            "header_size": "4KiB",
            "header_count": 20,
            "body_size": "1MiB",
        },
        "timeouts": {"keepalive": "1s", "header_read": "1s",
                     "body_read": "1s", "write": "1s"},
        # info: the timeouts say when they fire (tests wait for the line)
        "log": {"level": "info"},
    }
    with running(tmp_path_factory.mktemp("h1lim"), cfg,
                 strict_errors=True) as s:
        yield s


def get(c, path="/", method="GET", **kw):
    c.send(request(method, path, **kw))
    return c.read_response(method)


# ------------------------------------------------------------ keep-alive


def test_keepalive_serves_several_requests(srv):
    with raw(srv) as c:
        for _ in range(3):
            r = get(c, "/")
            assert r.status == 200
            assert r.body == b"hello"
            assert "close" not in (r.header("connection") or "").lower()
        local = c.sock.getsockname()
        r = get(c, "/scope")
        import json
        assert json.loads(r.body)["client"][1] == local[1]


def test_connection_close_request(srv):
    with raw(srv) as c:
        r = get(c, "/", headers=[("Connection", "close")])
        assert r.status == 200 and r.body == b"hello"
        assert "close" in r.header("connection", "").lower()
        assert c.is_closed()


def test_pipelined_request_after_close_is_not_served(srv):
    # RFC 9112 9.6: no further requests are processed after "close".
    with raw(srv) as c:
        c.send(request("GET", "/tag?tag=one",
                       headers=[("Connection", "close")])
               + request("GET", "/tag?tag=two"))
        r = c.read_response()
        assert r.body == b"one"
        assert c.is_closed()


# ------------------------------------------------------------ HTTP/1.0


def test_http10_closes_by_default(srv):
    with raw(srv) as c:
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.version in ("HTTP/1.0", "HTTP/1.1")
        assert r.body == b"hello"
        assert c.is_closed()


def test_http10_keepalive_header(srv):
    with raw(srv) as c:
        for _ in range(2):
            c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = c.read_response()
            assert r.status == 200 and r.body == b"hello"
            # RFC 9112 C.2.2: a persistent 1.0 connection is signalled.
            assert r.header("connection", "").lower() == "keep-alive"


def test_http10_no_length_is_close_delimited(srv):
    with raw(srv) as c:
        c.send(b"GET /nolength HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert not r.chunked, "no chunked encoding to an HTTP/1.0 client"
        assert r.close_delimited
        assert r.body == b"aaaaabbbbbccccc"


def test_http10_scope_version(srv):
    import json
    with raw(srv) as c:
        c.send(b"GET /scope HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert json.loads(r.body)["http_version"] == "1.0"


# ------------------------------------------------------------ pipelining


def test_pipelining_three_in_one_send(srv):
    with raw(srv) as c:
        c.send(request("GET", "/tag?tag=a&ms=300")
               + request("GET", "/tag?tag=b")
               + request("GET", "/tag?tag=c&ms=100"))
        bodies = [c.read_response().body for _ in range(3)]
        assert bodies == [b"a", b"b", b"c"]
        # The connection is still usable.
        assert get(c, "/").body == b"hello"


def test_pipelining_with_bodies(srv):
    with raw(srv) as c:
        c.send(request("POST", "/tag?tag=one", body=b"first")
               + request("POST", "/tag?tag=two",
                         headers=[("Transfer-Encoding", "chunked")])
               + chunk("sec") + chunk("ond") + LAST_CHUNK
               + request("GET", "/tag?tag=three"))
        bodies = [c.read_response().body for _ in range(3)]
        assert bodies == [b"one:first", b"two:second", b"three"]


def test_pipelining_many(srv):
    n = 50
    with raw(srv) as c:
        c.send(b"".join(request("GET", f"/tag?tag={i}") for i in range(n)))
        for i in range(n):
            assert c.read_response().body == str(i).encode()


# ------------------------------------------------------------ request bodies


def test_content_length_body(srv):
    body = os.urandom(200_000)
    with raw(srv) as c:
        r = get(c, "/echo", method="POST", body=body)
        assert r.status == 200
        assert r.body == body


def test_content_length_body_in_pieces(srv):
    body = b"0123456789" * 1000
    with raw(srv) as c:
        c.send(request("POST", "/echo", body=b"",
                       headers=[("Content-Length", str(len(body)))]))
        for i in range(0, len(body), 3000):
            c.send(body[i:i + 3000])
            time.sleep(0.02)
        r = c.read_response()
        assert r.body == body


def test_chunked_body(srv):
    with raw(srv) as c:
        c.send(request("POST", "/echo",
                       headers=[("Transfer-Encoding", "chunked")]))
        c.send(b"5;ext=1\r\nhello\r\n")
        c.send(chunk(" "))
        c.send(chunk("world"))
        c.send(b"0\r\nX-Trailer: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"hello world"
        # Still in sync afterwards.
        assert get(c, "/").body == b"hello"


def test_chunked_body_large(srv):
    data = os.urandom(1_000_000)
    with raw(srv) as c:
        payload = request("POST", "/echo",
                          headers=[("Transfer-Encoding", "chunked")])
        for i in range(0, len(data), 65536):
            payload += chunk(data[i:i + 65536])
        c.send(payload + LAST_CHUNK)
        r = c.read_response()
        assert hashlib.sha256(r.body).digest() == \
            hashlib.sha256(data).digest()


def test_empty_body_post(srv):
    with raw(srv) as c:
        r = get(c, "/echo", method="POST", body=b"")
        assert r.status == 200 and r.body == b""


# ------------------------------------------------------------ 100-continue


def test_expect_100_continue_when_app_reads(srv):
    with raw(srv) as c:
        c.send(request("POST", "/echo", headers=[
            ("Content-Length", "5"), ("Expect", "100-continue")]))
        r = c.read_response(interim=True)
        assert r.status == 100, r
        assert r.version == "HTTP/1.1"
        c.send(b"abcde")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"abcde"


def test_expect_100_continue_not_sent_when_app_does_not_read(srv):
    with raw(srv) as c:
        c.send(request("POST", "/noread", headers=[
            ("Content-Length", "5"), ("Expect", "100-continue")]))
        r = c.read_response(interim=True)
        assert r.status == 200, "no 100 Continue for an app that never reads"
        assert r.body == b"did not read"


def test_expect_100_continue_waits_for_the_first_read(srv):
    # The app sleeps 2 s before its first receive(): no 100 before that.
    with raw(srv) as c:
        c.send(request("POST", "/late-read?s=2", body=b"", headers=[
            ("Content-Length", "4"), ("Expect", "100-continue")]))
        r, _, _ = select.select([c.sock], [], [], 1.0)
        assert not r, "100 Continue sent before the app read the body"
        r = c.read_response(interim=True)
        assert r.status == 100
        c.send(b"data")
        import json
        d = json.loads(c.read_response().body)
        assert d["size"] == 4


def test_expect_100_continue_then_pipelined(srv):
    with raw(srv) as c:
        c.send(request("POST", "/echo", headers=[
            ("Content-Length", "3"), ("Expect", "100-continue")]))
        assert c.read_response(interim=True).status == 100
        c.send(b"xyz")
        assert c.read_response().body == b"xyz"
        assert get(c, "/").body == b"hello"


# ------------------------------------------------------------ HEAD, 204, 304


def test_head_same_headers_no_body(srv):
    with raw(srv) as c:
        g = get(c, "/")
        h = get(c, "/", method="HEAD")
        assert h.status == g.status
        assert h.header("content-length") == g.header("content-length") \
            == "5"
        assert h.header("content-type") == g.header("content-type")
        # No body bytes were sent: the next response parses cleanly.
        r = get(c, "/")
        assert r.status == 200 and r.body == b"hello"


def test_head_on_streamed_response(srv):
    with raw(srv) as c:
        h = get(c, "/nolength", method="HEAD")
        assert h.status == 200
        r = get(c, "/")
        assert r.status == 200 and r.body == b"hello"


@pytest.mark.parametrize("code", [204, 304])
def test_bodiless_status(srv, code):
    with raw(srv) as c:
        r = get(c, f"/status?code={code}")
        assert r.status == code
        # RFC 9112 6.1: no Transfer-Encoding in 204/304; RFC 9110 8.6:
        # no Content-Length in 204.
        assert r.header("transfer-encoding") is None
        if code == 204:
            assert r.header("content-length") is None
        r = get(c, "/")
        assert r.status == 200 and r.body == b"hello"


@pytest.mark.parametrize("code", [204, 304])
def test_bodiless_status_drops_app_body(srv, code):
    # RFC 9110 15.3.5/15.4.5: 204 and 304 have no content, even when the
    # app passes one.
    with raw(srv) as c:
        r = get(c, f"/status?code={code}&body=oops")
        assert r.status == code
        r = get(c, "/")
        assert r.status == 200 and r.body == b"hello"


def test_empty_response_without_length_keeps_connection(srv):
    with raw(srv) as c:
        r = get(c, "/status?code=200")
        assert r.status == 200 and r.body == b""
        assert get(c, "/").body == b"hello"


def test_head_on_empty_response(srv):
    with raw(srv) as c:
        r = get(c, "/status?code=200&body=abc", method="HEAD")
        assert r.status == 200
        assert get(c, "/").body == b"hello"


# ------------------------------------------------------------ Date, Server


def test_date_and_server_headers(srv):
    with raw(srv) as c:
        r = get(c, "/")
        date = r.header("date")
        assert date, r.headers
        assert re.fullmatch(
            r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
            r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
            r"\d{4} \d\d:\d\d:\d\d GMT", date), date
        ts = email.utils.parsedate_to_datetime(date).timestamp()
        assert abs(ts - time.time()) < 300
        assert r.header("server", "").startswith("asgimaster")
        assert len(r.header_all("date")) == 1
        assert len(r.header_all("server")) == 1


def test_server_header_off(server):
    s = server({"server_header": False})
    with raw(s) as c:
        r = get(c, "/")
        assert r.status == 200
        assert r.header("server") is None
        assert r.header("date")


# ------------------------------------------------------------ framing


def test_response_with_content_length(srv):
    with raw(srv) as c:
        r = get(c, "/")
        assert r.header("content-length") == "5"
        assert r.header("transfer-encoding") is None


def test_response_without_length_is_chunked(srv):
    with raw(srv) as c:
        r = get(c, "/nolength?n=3")
        assert r.chunked
        assert r.header("content-length") is None
        assert r.body == b"aaabbbccc"
        assert get(c, "/").body == b"hello"


def test_empty_body_sends_do_not_end_a_chunked_body(srv):
    # An empty http.response.body with more_body must not be written as
    # the last-chunk "0\r\n\r\n".
    with raw(srv) as c:
        r = get(c, "/empty-chunks")
        assert r.body == b"ab"
        assert get(c, "/").body == b"hello"


@pytest.mark.parametrize("code", [201, 299, 418, 451, 599])
def test_unusual_status_codes(srv, code):
    with raw(srv) as c:
        r = get(c, f"/status?code={code}&body=x")
        assert r.status == code
        assert r.body == b"x"
        assert get(c, "/").body == b"hello"


def test_duplicate_response_headers_kept_in_order(srv):
    with raw(srv) as c:
        r = get(c, "/headers")
        assert r.header_all("set-cookie") == ["a=1", "b=2"]
        assert r.header("x-custom") == "Value With Case"


def test_large_response(srv):
    n = 5_000_000
    with raw(srv) as c:
        r = get(c, f"/big?n={n}")
        assert len(r.body) == n
        piece = bytes(range(256)) * 256
        expect = (piece * (n // len(piece) + 1))[:n]
        assert r.body == expect


def test_large_response_slow_reader(srv):
    # Backpressure: the worker must keep the data until the client reads.
    n = 3_000_000
    with raw(srv) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        c.send(request("GET", f"/big?n={n}"))
        time.sleep(1.0)
        r = c.read_response()
        assert len(r.body) == n


# ------------------------------------------------------------ refusals


def test_garbage_gets_400(srv):
    # A broken request line that still names HTTP/1.x is an HTTP/1 client's.
    with raw(srv) as c:
        c.send(b"GARB@GE!!\x01\x02 / HTTP/1.1\r\n\r\n")
        r = c.read_response()
        assert r.status == 400
        assert c.is_closed()


def test_garbage_without_http2_gets_400(server):
    # With http2 off the listener is HTTP/1 only: any garbage gets 400. (With
    # it on, too: only a first line "PRI * HTTP/2.0" is HTTP/2, see
    # test_50_hostile_h1.test_08.)
    port = free_port()
    s = server({"listen": [{"address": f"127.0.0.1:{port}", "http2": False}]})
    with raw(s) as c:
        c.send(b"GARBAGE!!\x01\x02 \r\n\r\n")
        r = c.read_response()
        assert r.status == 400
        assert c.is_closed()


def test_bad_header_name_gets_400(srv):
    with raw(srv) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nBad\x01Name: v\r\n\r\n")
        assert c.read_response().status == 400
        assert c.is_closed()


def test_space_before_colon_gets_400(srv):
    # RFC 9112 5.1: whitespace between field name and colon MUST get 400.
    with raw(srv) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad : v\r\n\r\n")
        assert c.read_response().status == 400
        assert c.is_closed()


def test_missing_host_gets_400(srv):
    # RFC 9112 3.2: a 1.1 request without Host MUST get 400.
    with raw(srv) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        assert c.read_response().status == 400
        assert c.is_closed()


def test_duplicate_content_length_gets_400(srv):
    # RFC 9112 6.3 (5): differing Content-Length values are an error.
    with raw(srv) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
               b"Content-Length: 4\r\n\r\nabcd")
        assert c.read_response().status == 400
        assert c.is_closed()


def test_content_length_and_chunked_closes(srv):
    # RFC 9112 6.1: reject, or use chunked; either way close afterwards.
    with raw(srv) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunk("hey")
               + LAST_CHUNK)
        r = c.read_response()
        assert r.status in (400, 200)
        if r.status == 200:
            assert r.body == b"hey"
        assert c.is_closed()


def test_bad_chunk_size(srv):
    with raw(srv) as c:
        c.send(request("POST", "/read-record?id=badchunk",
                       headers=[("Transfer-Encoding", "chunked")])
               + b"zz\r\nhello\r\n0\r\n\r\n")
        try:
            r = c.read_response()
        except IncompleteResponse:
            return  # closed without a response: acceptable
        assert r.status == 400


def test_http3_version_gets_505(srv):
    with raw(srv) as c:
        c.send(b"GET / HTTP/3.0\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 505
        assert c.is_closed()


def test_long_request_line_gets_414(limited):
    with raw(limited) as c:
        c.send(request("GET", "/" + "a" * 2000))
        assert c.read_response().status == 414
        assert c.is_closed()


def test_request_line_within_limit(limited):
    with raw(limited) as c:
        r = get(c, "/tag?tag=" + "b" * 900)
        assert r.status == 200


def test_too_many_headers_gets_431(limited):
    with raw(limited) as c:
        c.send(request("GET", "/", headers=[
            (f"X-H{i}", "v") for i in range(30)]))
        assert c.read_response().status == 431
        assert c.is_closed()


def test_headers_too_big_gets_431(limited):
    with raw(limited) as c:
        c.send(request("GET", "/", headers=[("X-Big", "v" * 5000)]))
        assert c.read_response().status == 431
        assert c.is_closed()


def test_headers_within_limits(limited):
    with raw(limited) as c:
        r = get(c, "/", headers=[(f"X-H{i}", "v" * 50) for i in range(15)])
        assert r.status == 200


def test_body_over_limit_content_length_413(limited):
    # Refused from the Content-Length alone: the body is never sent.
    with raw(limited) as c:
        c.send(request("POST", "/echo", body=b"",
                       headers=[("Content-Length", str(2 * 1024 * 1024))]))
        r = c.read_response()
        assert r.status == 413
        assert c.is_closed()


def test_body_over_limit_expect_gets_413_not_100(limited):
    with raw(limited) as c:
        c.send(request("POST", "/echo", body=b"", headers=[
            ("Content-Length", str(2 * 1024 * 1024)),
            ("Expect", "100-continue")]))
        r = c.read_response(interim=True)
        assert r.status == 413


def test_body_over_limit_chunked(limited):
    # asgimaster.yaml(5): a chunked body that grows past body_size is cut
    # off and the client gets 413 when no response has started.
    data = b"x" * 65536
    key = f"chunked413-{time.monotonic_ns()}"
    with raw(limited) as c:
        c.send(request("POST", f"/read-record?id={key}",
                       headers=[("Transfer-Encoding", "chunked")]))
        try:
            for _ in range(20):  # 1.25 MiB > 1 MiB
                r, _, _ = select.select([c.sock], [], [], 0)
                if r:
                    break  # the server answered already
                c.send(chunk(data))
            else:
                c.send(LAST_CHUNK)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response()
        assert r.status == 413
        assert c.is_closed()
    # ...and the application receives http.disconnect.
    import httpx
    import json

    def recorded():
        r = httpx.get(f"{limited.url}/result?id={key}", timeout=10)
        return json.loads(r.text) if r.status_code == 200 else None

    types = wait_until(recorded, 10, 0.1)
    assert types and types[-1] == "http.disconnect", types


def test_body_at_limit_accepted(limited):
    body = b"y" * (1024 * 1024)
    with raw(limited) as c:
        r = get(c, "/echo", method="POST", body=body)
        assert r.status == 200
        assert len(r.body) == len(body)


# ------------------------------------------------------------ RFC MUSTs


def refused(c, statuses=(400,)):
    """The request is refused with one of statuses and the connection is
    closed (or closed at once without a response)."""
    try:
        r = c.read_response()
    except IncompleteResponse:
        return True
    assert r.status in statuses, r
    assert c.is_closed()
    return True


def test_two_host_headers_get_400(srv):
    # RFC 9112 3.2: more than one Host field line MUST get 400.
    with raw(srv) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        assert c.read_response().status == 400


def test_invalid_host_gets_400(srv):
    # RFC 9112 3.2: a Host field with an invalid value MUST get 400.
    with raw(srv) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: a b/c\r\n\r\n")
        assert c.read_response().status == 400


def test_transfer_coding_not_ending_in_chunked_gets_400(srv):
    # RFC 9112 6.1: chunked not final in a request MUST get 400 + close.
    with raw(srv) as c:
        c.send(b"POST /read-record?id=te1 HTTP/1.1\r\nHost: x\r\n"
               b"Transfer-Encoding: chunked, gzip\r\n\r\n"
               + chunk("abc") + LAST_CHUNK)
        assert refused(c)


def test_unknown_transfer_coding_refused(srv):
    # RFC 9112 6.1: a coding the server does not understand: 501 (SHOULD),
    # or 400; never a 200.
    with raw(srv) as c:
        c.send(b"POST /read-record?id=te2 HTTP/1.1\r\nHost: x\r\n"
               b"Transfer-Encoding: bogus, chunked\r\n\r\n"
               + chunk("abc") + LAST_CHUNK)
        assert refused(c, (400, 501))


@pytest.mark.parametrize("value", ["5a", "-5", "+5", "0x5", "5 5",
                                   "99999999999999999999999"])
def test_invalid_content_length_gets_400(srv, value):
    # RFC 9112 6.3 (5): an invalid Content-Length is an unrecoverable
    # error: 400 and close (413 is fine for a huge one).
    with raw(srv) as c:
        c.send(f"POST /echo HTTP/1.1\r\nHost: x\r\n"
               f"Content-Length: {value}\r\n\r\nabcde".encode())
        assert refused(c, (400, 413))


def test_header_line_without_colon_gets_400(srv):
    with raw(srv) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n")
        assert refused(c)


def test_obs_fold_rejected_or_unfolded(srv):
    # RFC 9112 5.2: reject with 400, or replace each obs-fold with SP.
    import json
    with raw(srv) as c:
        c.send(b"GET /scope HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n")
        r = c.read_response()
        if r.status == 400:
            return
        assert r.status == 200
        hs = [(bytes(n["$b"], "latin-1"), bytes(v["$b"], "latin-1"))
              for n, v in json.loads(r.body)["headers"]]
        value = dict(hs)[b"x-fold"]
        assert b"\r" not in value and b"\n" not in value, value
        assert value.replace(b" ", b"") == b"ab", value


def test_nul_in_header_value_rejected_or_replaced(srv):
    # RFC 9110 5.5: CR, LF or NUL in a value: reject, or replace with SP.
    import json
    with raw(srv) as c:
        c.send(b"GET /scope HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n")
        try:
            r = c.read_response()
        except IncompleteResponse:
            return
        if r.status == 400:
            return
        hs = dict((bytes(n["$b"], "latin-1"), bytes(v["$b"], "latin-1"))
                  for n, v in json.loads(r.body)["headers"])
        assert b"\x00" not in hs[b"x-nul"]


def test_huge_chunk_size_refused(srv):
    with raw(srv) as c:
        c.send(request("POST", "/read-record?id=hugechunk",
                       headers=[("Transfer-Encoding", "chunked")])
               + b"FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n")
        assert refused(c, (400, 413))


def test_expect_100_ignored_for_http10(srv):
    # RFC 9110 10.1.1: a 100-continue expectation in an HTTP/1.0 request
    # MUST be ignored: no interim response.
    with raw(srv) as c:
        c.send(b"POST /echo HTTP/1.0\r\nExpect: 100-continue\r\n"
               b"Content-Length: 3\r\n\r\n")
        r, _, _ = select.select([c.sock], [], [], 1.0)
        if r:
            head = c.read_some()
            assert not head.startswith(b"HTTP/1.1 100"), head
            c.buf = head
        c.send(b"abc")
        r = c.read_response(interim=True)
        assert r.status == 200 and r.body == b"abc"


def test_app_server_and_date_headers_not_duplicated(srv):
    with raw(srv) as c:
        r = get(c, "/app-server-date")
        assert r.status == 200
        assert len(r.header_all("server")) == 1, r.headers
        assert len(r.header_all("date")) == 1, r.headers


# ------------------------------------------------------------ timeouts


def test_keepalive_idle_timeout_closes(limited):
    with raw(limited) as c:
        assert get(c, "/").status == 200
        assert c.is_closed(timeout=10)


def test_idle_connection_without_request_closes(limited):
    with raw(limited) as c:
        assert c.is_closed(timeout=10)


def test_header_read_timeout(limited):
    # asgimaster.yaml(5): an incomplete head after header_read gets 408,
    # then the connection closes.
    with raw(limited) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        r = c.read_response()
        assert r.status == 408
        assert c.is_closed(timeout=10)


def test_header_read_timeout_after_keepalive_request(limited):
    with raw(limited) as c:
        assert get(c, "/").status == 200
        c.send(b"GET / HTTP/1.1\r\n")
        assert c.read_response().status == 408
        assert c.is_closed(timeout=10)


def test_body_read_timeout_closes_and_app_sees_disconnect(limited):
    key = f"bodystall-{time.monotonic_ns()}"
    with raw(limited) as c:
        c.send(request("POST", f"/read-record?id={key}", body=b"",
                       headers=[("Content-Length", "100")]) + b"0123456789")
        # The worker gives up on the stalled body and closes.
        try:
            r = c.read_response()
            assert r.status in (408, 400), r
        except IncompleteResponse:
            pass
        assert c.is_closed(timeout=10)
    import httpx
    import json

    def recorded():
        r = httpx.get(f"{limited.url}/result?id={key}", timeout=10)
        return json.loads(r.text) if r.status_code == 200 else None

    types = wait_until(recorded, 10, 0.1)
    assert types and types[-1] == "http.disconnect", types


def test_write_timeout_closes_a_client_that_does_not_read(limited):
    line = r"client timed out reading the response"
    seen = len(re.findall(line, limited.log_text()))
    with raw(limited) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        c.send(request("GET", f"/big?n={64 * 1024 * 1024}"))
        # the write timeout (1 s) fires: wait for it, not for a sleep
        limited.wait_log(line, count=seen + 1, timeout=30)
        with pytest.raises((IncompleteResponse, ConnectionResetError)):
            c.read_response()


# ------------------------------------------------------------ robustness


def test_request_sent_byte_by_byte(srv):
    data = request("POST", "/echo", body=b"slow body",
                   headers=[("X-A", "1")])
    with raw(srv) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.002)
        r = c.read_response()
        assert r.status == 200 and r.body == b"slow body"


def test_unread_body_is_not_parsed_as_a_request(srv):
    # The app answers without reading the body; the body bytes must be
    # skipped (or the connection closed), never parsed as a request.
    smuggled = request("GET", "/tag?tag=smuggled")
    with raw(srv) as c:
        c.send(request("POST", "/noread", body=smuggled)
               + request("GET", "/tag?tag=next"))
        r = c.read_response()
        assert r.body == b"did not read"
        try:
            r2 = c.read_response()
        except IncompleteResponse:
            return  # closed instead: acceptable
        assert r2.body == b"next", r2


def test_unread_chunked_body_is_not_parsed_as_a_request(srv):
    smuggled = request("GET", "/tag?tag=smuggled")
    with raw(srv) as c:
        c.send(request("POST", "/noread",
                       headers=[("Transfer-Encoding", "chunked")])
               + chunk(smuggled) + LAST_CHUNK
               + request("GET", "/tag?tag=next"))
        assert c.read_response().body == b"did not read"
        try:
            r2 = c.read_response()
        except IncompleteResponse:
            return
        assert r2.body == b"next", r2


def test_large_unread_body_does_not_hang(srv):
    body = b"u" * (8 * 1024 * 1024)
    with raw(srv) as c:
        c.send(request("POST", "/noread", body=b"",
                       headers=[("Content-Length", str(len(body)))]))
        sender = threading.Thread(target=_send_quietly, args=(c, body))
        sender.start()
        r = c.read_response()
        assert r.status == 200 and r.body == b"did not read"
        sender.join(15)
        assert not sender.is_alive()


def _send_quietly(c, data):
    try:
        c.sock.sendall(data)
    except OSError:
        pass


def test_keepalive_after_500(server):
    srv = server()
    srv.allow_errors = True
    with raw(srv) as c:
        assert get(c, "/raise-before").status == 500
        try:
            r = get(c, "/")
        except IncompleteResponse:
            return  # the server may close after a 500
        assert r.status == 200 and r.body == b"hello"


def test_app_transfer_encoding_header_is_ignored(srv):
    # www.rst: the server must ignore a Transfer-Encoding from the app.
    with raw(srv) as c:
        r = get(c, "/app-te")
        assert r.body == b"abcdef"
        assert len(r.header_all("transfer-encoding")) <= 1
        assert get(c, "/").body == b"hello"
    with raw(srv) as c:
        c.send(b"GET /app-te HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert not r.chunked
        assert r.body == b"abcdef"


def test_http11_higher_minor_version_served_as_11(srv):
    # RFC 9110 2.5: a higher minor version SHOULD be processed as 1.1.
    with raw(srv) as c:
        c.send(b"GET / HTTP/1.2\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status in (200, 505)
        if r.status == 200:
            assert r.body == b"hello"


def test_many_concurrent_connections(srv):
    conns = [raw(srv) for _ in range(200)]
    try:
        for c in conns:
            c.send(request("GET", "/"))
        for c in conns:
            assert c.read_response().body == b"hello"
    finally:
        for c in conns:
            c.close()


# ------------------------------------------------------------ memory bounds


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_request_body_reading_pauses_while_app_does_not_read(server):
    # ISSUE3: reading the socket pauses while the app does not consume.
    s = server({"limits": {"body_size": 0}})
    (pid,) = s.worker_pids().values()
    body = memoryview(os.urandom(1024 * 1024) * 100)
    before = rss_kib(pid)
    with raw(s, timeout=30) as c:
        c.send(request("POST", "/late-read?s=3", body=b"",
                       headers=[("Content-Length", str(len(body)))]))
        c.sock.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                sent += c.sock.send(body[sent:sent + 65536])
            except BlockingIOError:
                time.sleep(0.01)
        paused_growth = rss_kib(pid) - before
        # The app sleeps: only socket buffers and body_buffer hold data.
        assert sent < 40 * 1024 * 1024, sent
        assert paused_growth < 32 * 1024, f"worker grew {paused_growth} KiB"
        c.sock.settimeout(30)
        c.sock.sendall(body[sent:])
        r = c.read_response()
        import json
        d = json.loads(r.body)
        assert d["size"] == len(body)
        assert d["sha256"] == hashlib.sha256(body).hexdigest()


def test_response_memory_bounded_for_slow_reader(server):
    s = server()
    (pid,) = s.worker_pids().values()
    n = 200 * 1024 * 1024
    with raw(s, timeout=30) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        before = rss_kib(pid)
        c.send(request("GET", f"/big?n={n}"))
        time.sleep(1.5)
        grown = rss_kib(pid) - before
        # write_buffer (256 KiB) plus slack, never the 200 MiB response.
        assert grown < 64 * 1024, f"worker grew {grown} KiB"
        got = 0
        head = c.read_head()
        assert head.status == 200
        while True:
            line = c.read_until(b"\r\n")
            size = int(line.split(b";")[0], 16)
            if size == 0:
                c.read_until(b"\r\n")
                break
            c.read_exact(size + 2)
            got += size
        assert got == n


def test_connection_limit_pauses_accept(server):
    s = server({"limits": {"connections": 2}})
    c1, c2 = raw(s), raw(s)
    try:
        for c in (c1, c2):
            assert get(c, "/").status == 200
        with raw(s) as c3:
            c3.send(request("GET", "/tag?tag=third"))
            r, _, _ = select.select([c3.sock], [], [], 1.0)
            assert not r, "a third connection was served at the limit of 2"
            c1.close()
            assert c3.read_response().body == b"third"
    finally:
        c1.close()
        c2.close()


def test_app_reading_late_is_not_a_client_timeout(server):
    # timeouts.body_read is about a client that stops sending; while the
    # app does not read (and the server stops reading), the client is not
    # late. 1 MB > limits.body_buffer, the app waits 2 s > body_read.
    s = server({"timeouts": {"body_read": "1s"}})
    body = b"x" * 1_000_000
    with raw(s) as c:
        c.send(request("POST", "/late-read?s=2", body=body))
        r = c.read_response()
        assert r.status == 200, r
        import json
        assert json.loads(r.body)["size"] == len(body)


def test_pipelined_responses_unread_memory_bounded(server):
    # A client that pipelines many requests and reads none of the answers
    # must not make the worker queue them all: the next request waits while
    # limits.write_buffer of responses is unwritten.
    s = server()
    (pid,) = s.worker_pids().values()
    n, each = 3000, 64 * 1024  # ~190 MiB of responses
    with raw(s, timeout=60) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        before = rss_kib(pid)
        reqs = b"".join(request("GET", f"/big?n={each}") for _ in range(n))
        t = threading.Thread(target=c.sock.sendall, args=(reqs,), daemon=True)
        t.start()
        time.sleep(2)
        grown = rss_kib(pid) - before
        assert grown < 64 * 1024, f"worker grew {grown} KiB"
        for _ in range(n):
            r = c.read_response()
            assert r.status == 200 and len(r.body) == each
        t.join(10)
