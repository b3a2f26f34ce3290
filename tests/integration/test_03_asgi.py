"""ASGI 3.0 HTTP (asgiref specs/www.rst): scope keys, receive (http.request
chunks, http.disconnect), send (errors after the client left), and what a
broken app gets: 500, a traceback at [error], a closed connection, and a
worker that keeps serving."""

import json
import socket
import time

import httpx
import pytest

from conftest import (LOG_LINE_RE, raw, running, wait_app_started,
                      wait_until)
from httpraw import LAST_CHUNK, IncompleteResponse, chunk, request


# Any [error] line fails a test unless it sets allow_errors.
AM_STRICT_ERRORS = True


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with running(tmp_path_factory.mktemp("asgi"),
                 {"root_path": "/api"}, strict_errors=True) as s:
        yield s


def unb(v):
    """Undo apps/basic.py's jsonable() for bytes."""
    if isinstance(v, dict) and set(v) == {"$b"}:
        return v["$b"].encode("latin-1")
    if isinstance(v, list):
        return [unb(x) for x in v]
    if isinstance(v, dict):
        return {k: unb(x) for k, x in v.items()}
    return v


def scope_of(c, target="/scope", method="GET", headers=(), body=None,
             version="HTTP/1.1"):
    c.send(request(method, target, headers=headers, body=body,
                   version=version))
    r = c.read_response(method)
    assert r.status == 200, r
    return unb(json.loads(r.body))


def result(srv, key, timeout=10):
    """Poll /result?id=key (a value recorded by the app)."""
    def get():
        r = httpx.get(f"{srv.url}/result?id={key}", timeout=10)
        return r.json() if r.status_code == 200 else None
    v = wait_until(get, timeout, 0.1)
    assert v is not None, f"app never recorded {key}"
    return v


def worker_pid(srv):
    return int(httpx.get(f"{srv.url}/pid", timeout=10).text)


# ------------------------------------------------------------ scope


def test_scope_keys(srv):
    with raw(srv) as c:
        local = c.sock.getsockname()
        s = scope_of(c, "/scope/a%20b/%C3%A9t%C3%A9?x=1&y=%20z",
                     headers=[("X-Dup", "1"), ("X-Mixed-Case", "VaLuE"),
                              ("X-Dup", "2")])
    assert s["type"] == "http"
    assert s["asgi"]["version"] == "3.0"
    assert s["asgi"].get("spec_version") in ("2.3", "2.4", "2.5")
    assert s["http_version"] == "1.1"
    assert s["method"] == "GET"
    assert s["scheme"] == "http"
    assert s["path"] == "/scope/a b/été"
    assert s["raw_path"] == b"/scope/a%20b/%C3%A9t%C3%A9"
    assert s["query_string"] == b"x=1&y=%20z"
    assert s["root_path"] == "/api"
    assert s["client"] == ["127.0.0.1", local[1]]
    assert s["_client_type"] in ("list", "tuple")
    assert s["server"] == ["127.0.0.1", srv.port]
    assert isinstance(s["state"], dict)


def test_scope_headers_lowercased_in_order_with_duplicates(srv):
    with raw(srv) as c:
        s = scope_of(c, "/scope", headers=[
            ("X-Dup", "1"), ("X-Mixed-Case", "VaLuE"), ("X-Dup", "2"),
            ("Accept", "*/*")])
    hs = s["headers"]
    assert all(isinstance(n, bytes) and isinstance(v, bytes) for n, v in hs)
    assert all(n == n.lower() for n, _ in hs)
    assert [b"host", b"test"] in hs
    ours = [[n, v] for n, v in hs if n.startswith(b"x-") or n == b"accept"]
    assert ours == [[b"x-dup", b"1"], [b"x-mixed-case", b"VaLuE"],
                    [b"x-dup", b"2"], [b"accept", b"*/*"]]


def test_scope_header_values_trimmed_and_bytes_kept(srv):
    # RFC 9112 5.1: optional whitespace around a value is not part of it;
    # obs-text bytes (0x80-0xff) reach the app unchanged.
    with raw(srv) as c:
        c.send(b"GET /scope HTTP/1.1\r\nHost: t\r\nX-Space:   v w  \r\n"
               b"X-Bin: caf\xe9\r\nX-Empty:\r\n\r\n")
        s = unb(json.loads(c.read_response().body))
    hs = dict((n, v) for n, v in s["headers"])
    assert hs[b"x-space"] == b"v w"
    assert hs[b"x-bin"] == b"caf\xe9"
    assert hs[b"x-empty"] == b""


def test_scope_invalid_utf8_path_does_not_break_the_worker(srv):
    pid = worker_pid(srv)
    with raw(srv) as c:
        c.send(request("GET", "/scope/%FF%FE"))
        r = c.read_response()
        assert r.status in (200, 400)
        if r.status == 200:
            d = unb(json.loads(r.body))
            assert d["raw_path"] == b"/scope/%FF%FE"
    assert worker_pid(srv) == pid


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH",
                                    "OPTIONS"])
def test_scope_method(srv, method):
    with raw(srv) as c:
        s = scope_of(c, "/scope", method=method, body=b"abc")
    assert s["method"] == method
    assert s["_body_len"] == 3


def test_scope_http10(srv):
    with raw(srv) as c:
        s = scope_of(c, "/scope", version="HTTP/1.0")
    assert s["http_version"] == "1.0"


def test_scope_empty_query(srv):
    with raw(srv) as c:
        s = scope_of(c, "/scope")
    assert s["query_string"] == b""
    assert s["path"] == "/scope"
    assert s["raw_path"] == b"/scope"


def test_scope_percent_encoded_slash_and_query(srv):
    with raw(srv) as c:
        s = scope_of(c, "/scope/x%2Fy?q=%2F%26")
    assert s["path"] == "/scope/x/y"
    assert s["raw_path"] == b"/scope/x%2Fy"
    assert s["query_string"] == b"q=%2F%26"


def test_scope_absolute_form_target(srv):
    # RFC 9112 3.2.2: a server MUST accept the absolute form.
    with raw(srv) as c:
        s = scope_of(c, "http://example.com/scope/abs?k=v")
    assert s["path"] == "/scope/abs"
    assert s["query_string"] == b"k=v"


def test_scope_root_path_default_empty(server):
    s = server()
    r = httpx.get(f"{s.url}/scope", timeout=10)
    assert r.json()["root_path"] == ""


def test_scope_state_from_lifespan(srv):
    r = httpx.get(f"{srv.url}/scope", timeout=10)
    assert r.json()["state"].get("from_lifespan") == "yes"


def test_scope_unix_socket(server, tmp_path):
    path = str(tmp_path / "asgi.sock")
    s = server({"listen": [{"address": f"unix:{path}"}]})
    transport = httpx.HTTPTransport(uds=path)
    with httpx.Client(transport=transport, timeout=10) as c:
        d = unb(c.get("http://localhost/scope").json())
    assert d["server"] == [path, None]
    # No IP peer on a UNIX socket: client is None (optional key).
    assert d.get("client") is None
    assert s.running()


# ------------------------------------------------------------ receive


def test_receive_get_has_one_empty_request_message(srv):
    r = httpx.get(f"{srv.url}/messages", timeout=10)
    assert r.json() == [{"type": "http.request", "len": 0,
                         "more_body": False, "keys": r.json()[0]["keys"]}]
    assert "type" in r.json()[0]["keys"]


def test_receive_content_length_body(srv):
    body = b"z" * 300_000
    r = httpx.post(f"{srv.url}/messages", content=body, timeout=10)
    msgs = r.json()
    assert all(m["type"] == "http.request" for m in msgs)
    assert sum(m["len"] for m in msgs) == len(body)
    assert msgs[-1]["more_body"] is False
    assert all(m["more_body"] for m in msgs[:-1])


def test_receive_chunked_upload_is_streamed(srv):
    """Each chunk reaches the app before the client sends the next one:
    /stream-echo answers every http.request message at once."""
    with raw(srv) as c:
        c.send(request("POST", "/stream-echo",
                       headers=[("Transfer-Encoding", "chunked")]))
        c.send(chunk("first"))
        r = c.read_head()
        assert r.status == 200
        seen = b""
        deadline = time.monotonic() + 10
        while b"<first>" not in seen and time.monotonic() < deadline:
            seen += c.read_some()
        assert b"<first>" in seen, "chunk not delivered before the next"
        c.send(chunk("second"))
        while b"<second>" not in seen and time.monotonic() < deadline:
            seen += c.read_some()
        assert b"<second>" in seen
        c.send(LAST_CHUNK)
        while not seen.endswith(b"0\r\n\r\n") \
                and time.monotonic() < deadline:
            part = c.read_some()
            if not part:
                break
            seen += part
        assert seen.endswith(b"0\r\n\r\n")


def test_receive_chunked_messages_more_body(srv):
    key = f"msgs-{time.monotonic_ns()}"

    def received():
        r = httpx.get(f"{srv.url}/result?id={key}", timeout=10)
        return r.json() if r.status_code == 200 else 0

    with raw(srv) as c:
        c.send(request("POST", f"/messages?id={key}",
                       headers=[("Transfer-Encoding", "chunked")]))
        total = 0
        for part in ("aa", "bbb", "cccc"):
            c.send(chunk(part))
            total += len(part)
            # the app has received this chunk before the next is sent
            # (an event, where a sleep between them used to be)
            assert wait_until(lambda: received() >= total, 30), total
        c.send(LAST_CHUNK)
        msgs = json.loads(c.read_response().body)
    assert sum(m["len"] for m in msgs) == 9
    assert len(msgs) >= 2, "chunks sent apart arrive as several messages"
    assert msgs[-1]["more_body"] is False
    assert all(m["more_body"] is True for m in msgs[:-1])


def test_http_disconnect_when_client_goes_away(srv):
    key = f"disc-{time.monotonic_ns()}"
    with raw(srv) as c:
        c.send(request("POST", f"/disconnect?id={key}&started={key}",
                       body=b"data"))
        wait_app_started(srv, key)  # in the app before the client leaves
    assert result(srv, key) == "http.disconnect"


def test_http_disconnect_after_response(srv):
    # www.rst: receive() after the response was sent gives http.disconnect.
    key = f"after-{time.monotonic_ns()}"
    with raw(srv) as c:
        c.send(request("GET", f"/after-response?id={key}"))
        assert c.read_response().body == b"done"
        assert result(srv, key) == "http.disconnect"


def test_send_after_client_gone_raises_oserror(srv):
    key = f"send-{time.monotonic_ns()}"
    with raw(srv) as c:
        c.send(request("GET", f"/send-forever?id={key}"))
        c.read_head()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          b"\x01\x00\x00\x00\x00\x00\x00\x00")
    v = result(srv, key, timeout=30)
    assert v != "no exception"
    assert v["oserror"] is True, v


def test_send_error_reraised_is_not_logged_as_error(srv):
    # www.rst: servers should not log their own send() exception as an
    # error when the app lets it propagate.
    key = f"reraise-{time.monotonic_ns()}"
    before = len(srv.log_lines("error"))
    with raw(srv) as c:
        c.send(request("GET", f"/send-forever?id={key}&reraise=1"))
        c.read_head()
    v = result(srv, key, timeout=30)
    assert v["oserror"] is True
    time.sleep(0.3)
    assert len(srv.log_lines("error")) == before, srv.log_text()


def test_loop_get_debug_follows_set_debug(srv):
    # The worker's loop answers get_debug() from C (runtime.new_loop()).
    r = httpx.get(f"{srv.url}/loop-debug", timeout=10)
    assert r.json() == [False, True, False]


# ------------------------------------------------------------ broken apps


def test_exception_before_start_gives_500_and_traceback(srv):
    srv.allow_errors_in_this_test()
    pid = worker_pid(srv)
    r = httpx.get(f"{srv.url}/raise-before", timeout=10)
    assert r.status_code == 500
    srv.wait_log(r"\[error\] .*RuntimeError: boom-before-start")
    # The traceback is in the log, every line with the [error] prefix.
    lines = srv.log_text().splitlines()
    end = max(i for i, line in enumerate(lines)
              if "RuntimeError: boom-before-start" in line)
    start = max(i for i, line in enumerate(lines[:end])
                if "Traceback (most recent call last)" in line)
    for line in lines[start:end + 1]:
        m = LOG_LINE_RE.match(line)
        assert m and m.group(1) == "error", line
    assert any("raise RuntimeError" in line
               for line in lines[start:end]), lines[start:end + 1]
    assert httpx.get(f"{srv.url}/", timeout=10).text == "hello"
    assert worker_pid(srv) == pid


def test_exception_after_start_closes_without_last_chunk(srv):
    srv.allow_errors_in_this_test()
    pid = worker_pid(srv)
    with raw(srv) as c:
        c.send(request("GET", "/raise-after"))
        with pytest.raises(IncompleteResponse) as e:
            c.read_response()
        partial = e.value.partial
        assert partial.status == 200
        assert partial.chunked
        assert partial.body == b"partial"
    srv.wait_log(r"\[error\] .*RuntimeError: boom-after-start")
    assert worker_pid(srv) == pid


def app_traceback(srv, last):
    """The log lines of the traceback that ends with last."""
    lines = srv.log_text().splitlines()
    end = max(i for i, line in enumerate(lines) if last in line)
    start = max(i for i, line in enumerate(lines[:end])
                if "Traceback (most recent call last)" in line)
    return lines[start:end + 1]


def test_exception_after_an_await_gives_500_and_app_frames(srv):
    # The app's task is a coroutine in C (worker/asgi_call.c): an exception
    # after a suspension is still the app's, with the app's own frames.
    srv.allow_errors_in_this_test()
    pid = worker_pid(srv)
    r = httpx.get(f"{srv.url}/raise-after-await", timeout=10)
    assert r.status_code == 500
    srv.wait_log(r"\[error\] .*RuntimeError: boom-after-await")
    tb = "\n".join(app_traceback(srv, "RuntimeError: boom-after-await"))
    assert "in app" in tb and "in fail_in_helper" in tb, tb
    assert "exception in ASGI application" in srv.log_text()
    assert httpx.get(f"{srv.url}/", timeout=10).text == "hello"
    assert worker_pid(srv) == pid


def test_exception_in_awaited_object_gives_500(srv):
    srv.allow_errors_in_this_test()
    pid = worker_pid(srv)
    r = httpx.get(f"{srv.url}/raise-in-await", timeout=10)
    assert r.status_code == 500
    srv.wait_log(r"\[error\] .*ValueError: boom-in-awaitable")
    tb = "\n".join(app_traceback(srv, "ValueError: boom-in-awaitable"))
    assert "in __await__" in tb, tb
    assert worker_pid(srv) == pid


def test_return_without_response_gives_500(srv):
    srv.allow_errors_in_this_test()
    pid = worker_pid(srv)
    r = httpx.get(f"{srv.url}/return-early", timeout=10)
    assert r.status_code == 500
    assert worker_pid(srv) == pid


def test_short_body_closes_connection(srv):
    srv.allow_errors_in_this_test()
    # Content-Length 10 but 5 bytes: the client must not wait forever.
    with raw(srv) as c:
        c.send(request("GET", "/short-body"))
        with pytest.raises(IncompleteResponse):
            c.read_response()


@pytest.mark.parametrize("kind", [
    "type", "body-first", "status-str", "status-range", "header-str",
    "header-name-str", "header-shape", "header-crlf", "not-dict",
])
def test_invalid_message_gives_500(srv, kind):
    srv.allow_errors_in_this_test()
    pid = worker_pid(srv)
    before = len(srv.log_lines("error"))
    with raw(srv) as c:
        c.send(request("GET", f"/bad/{kind}"))
        r = c.read_response()
        assert r.status == 500, r
        assert b"x-injected" not in r.raw_head.lower()
    wait_until(lambda: len(srv.log_lines("error")) > before, 5)
    assert len(srv.log_lines("error")) > before, \
        f"invalid message {kind} not logged at [error]"
    assert httpx.get(f"{srv.url}/", timeout=10).text == "hello"
    assert worker_pid(srv) == pid


def test_invalid_body_type_after_start(srv):
    srv.allow_errors_in_this_test()
    # start was valid, the body is a str: nothing was sent yet, so 500,
    # or the connection closes; never a 200 with a body.
    pid = worker_pid(srv)
    with raw(srv) as c:
        c.send(request("GET", "/bad/body-str"))
        try:
            r = c.read_response()
        except IncompleteResponse:
            r = None
        assert r is None or r.status == 500
    assert worker_pid(srv) == pid


def test_many_failures_then_still_serving(srv):
    srv.allow_errors_in_this_test()
    pid = worker_pid(srv)
    for _ in range(20):
        assert httpx.get(f"{srv.url}/raise-before",
                         timeout=10).status_code == 500
    assert httpx.get(f"{srv.url}/", timeout=10).text == "hello"
    assert worker_pid(srv) == pid


def test_keyboard_interrupt_in_app_stops_the_worker_loop(srv):
    # KeyboardInterrupt is no app failure to survive: it is logged as the
    # app's exception, then stops the worker's loop; the master starts
    # another worker, which serves. (Last in this module: it replaces the
    # worker.)
    srv.allow_errors_in_this_test()
    srv.allow_respawn = True
    srv.expect_log(r"\[alert\] .*the event loop stopped with an exception")
    srv.expect_log(r"\[crit\] .*worker \d+ \(slot \d+\) exited with code")
    pid = worker_pid(srv)
    try:
        httpx.get(f"{srv.url}/keyboard-interrupt", timeout=10)
    except httpx.HTTPError:
        pass
    srv.wait_log(r"\[alert\] .*the event loop stopped with an exception")
    tb = "\n".join(app_traceback(srv, "KeyboardInterrupt"))
    assert "in app" in tb, tb
    assert wait_until(lambda: _pid_or_none(srv) not in (None, pid), 30)
    assert httpx.get(f"{srv.url}/", timeout=10).text == "hello"


def _pid_or_none(srv):
    try:
        return worker_pid(srv)
    except httpx.HTTPError:
        return None
