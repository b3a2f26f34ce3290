"""tests/integration/test_13_large_responses.py: large responses streamed
to several slow readers at once (issue 11, part 1).

The app sends 1 MiB as 16 x 64 KiB; eight clients with small receive
buffers read it, so the worker's writes are short again and again while
output is queued up to limits.write_buffer. The bytes must arrive intact
and in order, and the worker must not touch fresh memory for every
response: the pending output used to be compacted and re-grown by copying
on each short write, and the buffer freed once drained, so every response
page-faulted new heap (minor faults counted from /proc/PID/stat, no
timing involved). Pending output now lives in recycled fixed-size chunks.
SPDX-License-Identifier: BSD-2-Clause
"""

import re
import socket
import ssl
import threading

import pytest

from conftest import APPS, free_port
from h2util import (ENABLE_PUSH, INITIAL_WINDOW_SIZE, ConnectionClosed,
                    H2Conn, headers_frame, hpack_block, tls_listen,
                    window_update_frame)

CLIENTS = 8
WARMUP = 3
ROUNDS = 4
BODY_LEN = 1024 * 1024
# Fresh pages the worker may touch per 1 MiB response once warm. The old
# write path took 64-183 here (HTTP/2 and HTTP/1.1); the chunk queue takes
# 0-11 (Python's own arenas come and go), so the bound sits well between.
MAX_FAULTS_PER_RESPONSE = 32


def expected_body():
    return b"".join(bytes([ord("A") + i]) * 65536 for i in range(16))


def minflt(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def slow_socket(s):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", s.port))
    if getattr(s, "alpn", None):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols([s.alpn])
        sock = ctx.wrap_socket(sock)
    return sock


def h1_body(buf):
    """The body of one chunked HTTP/1.1 200 response in buf."""
    head, _, chunked = bytes(buf).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    body = bytearray()
    while True:
        size, _, chunked = chunked.partition(b"\r\n")
        size = int(size, 16)
        if size == 0:
            return body
        body += chunked[:size]
        chunked = chunked[size + 2:]


def h1_client(s, n, errors):
    want = expected_body()
    try:
        with slow_socket(s) as sock:
            for _ in range(n):
                sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                buf = bytearray()
                while not buf.endswith(b"\r\n0\r\n\r\n"):
                    d = sock.recv(8192)
                    assert d, "connection closed mid-response"
                    buf += d
                assert h1_body(buf) == want, "body damaged"
    except Exception as e:  # reported by the main thread
        errors.append(repr(e))


def h2_client(s, n, errors):
    want = expected_body()
    try:
        with slow_socket(s) as sock:
            c = H2Conn(sock, timeout=30)
            c.handshake()
            for _ in range(n):
                sids = [c.request("GET", "/") for _ in range(2)]
                for sid in sids:
                    r = c.read_response(sid, timeout=30)
                    assert r.status == 200, r
                    assert r.data == want, "body damaged"
    except Exception as e:
        errors.append(repr(e))


def run_clients(s, client, n):
    errors = []
    threads = [threading.Thread(target=client, args=(s, n, errors))
               for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_h1_large_responses_intact_and_no_fresh_memory(server):
    s = server({"app": "stream_app:app"})
    (pid,) = s.worker_pids().values()
    run_clients(s, h1_client, WARMUP)  # Python, the heap, the chunks
    before = minflt(pid)
    run_clients(s, h1_client, ROUNDS)
    faults = (minflt(pid) - before) / (CLIENTS * ROUNDS)
    assert faults <= MAX_FAULTS_PER_RESPONSE, faults


def test_h2c_large_responses_intact_and_no_fresh_memory(server):
    s = server({"app": "stream_app:app"})
    (pid,) = s.worker_pids().values()
    run_clients(s, h2_client, WARMUP)
    before = minflt(pid)
    run_clients(s, h2_client, ROUNDS)
    faults = (minflt(pid) - before) / (CLIENTS * ROUNDS * 2)
    assert faults <= MAX_FAULTS_PER_RESPONSE, faults


def tls_server(server, tmp_path, alpn):
    s = server({"app": "stream_app:app",
                "listen": [tls_listen(tmp_path, free_port())]})
    s.alpn = alpn
    return s


def test_tls_h1_large_responses_intact(server, tmp_path):
    """Large bodies go straight to SSL_write() record by record; a record
    that meets a full socket is retried from the queue (worker/conn.c)."""
    run_clients(tls_server(server, tmp_path, "http/1.1"), h1_client, ROUNDS)


def test_tls_h2_large_responses_intact(server, tmp_path):
    run_clients(tls_server(server, tmp_path, "h2"), h2_client, ROUNDS)


def tls_client_socket(port, alpn, rcvbuf=16384):
    """A TLS client socket that reports a missing close_notify as an error
    (suppress_ragged_eofs=False) instead of a clean end."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols([alpn])
    return ctx.wrap_socket(sock, suppress_ragged_eofs=False)


def test_tls_close_notify_follows_every_sealed_record(server, tmp_path):
    """Records are sealed ahead and written in batches (worker/tls.c); a
    slow reader leaves some queued. The connection must end with all of
    them, then close_notify: an EOF without it raises here."""
    port = free_port()
    server({"listen": [tls_listen(tmp_path, port)]})
    n = 8 * 1024 * 1024
    with tls_client_socket(port, "http/1.1") as sock:
        sock.sendall(b"GET /big?n=%d HTTP/1.1\r\nHost: t\r\n"
                     b"Connection: close\r\n\r\n" % n)
        buf = bytearray()
        while True:
            d = sock.recv(4096)  # small reads: the server's writes are short
            if not d:
                break  # close_notify
            buf += d
    body = h1_body(buf)
    assert len(body) == n
    assert body == bytes(range(256)) * (n // 256), "body damaged"


def read_until_closed(sock):
    """Read until the server ends the connection; False on a timeout."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except (OSError, ssl.SSLError):
        pass  # reset, or EOF without close_notify: closed all the same
    return True


def test_tls_write_timeout_closes_a_client_that_does_not_read(server,
                                                              tmp_path):
    """Records sealed and queued behind a full socket still count as
    unwritten output: timeouts.write ends the connection (HTTP/1.1) or the
    stream (HTTP/2, whose windows the client opened wide)."""
    port = free_port()
    s = server({"listen": [tls_listen(tmp_path, port)],
                "timeouts": {"write": "1s"}, "log": {"level": "info"}})
    line = r"client timed out reading the response"
    big = 64 * 1024 * 1024
    for alpn in ("http/1.1", "h2"):
        seen = len(re.findall(line, s.log_text()))
        with tls_client_socket(port, alpn) as sock:
            if alpn == "h2":
                c = H2Conn(sock, timeout=30)
                c.handshake({ENABLE_PUSH: 0, INITIAL_WINDOW_SIZE: 2**31 - 1})
                c.send(window_update_frame(0, 2**31 - 1 - 65535))
                c.request("GET", f"/big?n={big}")
            else:
                sock.sendall(b"GET /big?n=%d HTTP/1.1\r\nHost: t\r\n\r\n"
                             % big)
            # the write timeout (1 s) fires: wait for it, not for a sleep
            s.wait_log(line, count=seen + 1, timeout=30)
            if alpn == "http/1.1":
                assert read_until_closed(sock)


@pytest.mark.parametrize("tls", [False, True])
def test_h2_body_intact_across_windows_and_app_sends(server, tmp_path, tls):
    """A DATA frame ends where a chunk of the stream's buffer does and then
    leaves without a copy, its header written in the room kept before the
    chunk; a frame cut short by the client's window is copied. Windows and
    app sends that fall across chunks in every way keep the body intact."""
    port = free_port()
    listen = tls_listen(tmp_path, port) if tls else f"127.0.0.1:{port}"
    server({"app": "h2_app:app", "chdir": str(APPS), "listen": [listen]})
    n = 300007
    for window, chunk in ((16383, 65536), (1000, 9999), (65535, 16375),
                          (16376, 1), (40000, 16376)):
        if tls:
            sock = tls_client_socket(port, "h2", rcvbuf=1 << 20)
        else:
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        c = H2Conn(sock, timeout=30)
        try:
            c.handshake({ENABLE_PUSH: 0, INITIAL_WINDOW_SIZE: window})
            r = c.get(f"/stream?n={n}&chunk={chunk}", timeout=60)
            want = b"".join(bytes([65 + i % 26]) * min(chunk, n - off)
                            for i, off in enumerate(range(0, n, chunk)))
            assert r.status == 200
            assert r.data == want, (window, chunk)
            assert max(r.data_frames) <= min(window, 16384)
        finally:
            c.close()


class RecordCountingTLS:
    """A TLS client socket for H2Conn (an SSLObject over memory BIOs) that
    counts the records the server sends after the handshake."""

    def __init__(self, port, alpn):
        self.raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols([alpn])
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out)
        self.raw_in = b""
        self.records = 0
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._push()
                self._pull()
        self._push()

    def _push(self):
        data = self.out.read()
        if data:
            self.raw.sendall(data)

    def _pull(self):
        data = self.raw.recv(65536)
        if not data:
            raise ConnectionClosed("closed by the server")
        self.raw_in += data
        while len(self.raw_in) >= 5:  # RFC 8446 §5.1 record headers
            end = 5 + int.from_bytes(self.raw_in[3:5], "big")
            if len(self.raw_in) < end:
                break
            self.records += 1
            self.raw_in = self.raw_in[end:]
        self.inc.write(data)

    def sendall(self, data):
        self.tls.write(data)
        self._push()

    def recv(self, n):
        while True:
            try:
                return self.tls.read(n)
            except ssl.SSLWantReadError:
                self._pull()

    def settimeout(self, t):
        self.raw.settimeout(t)

    def close(self):
        self.raw.close()


def test_tls_small_h2_responses_of_a_turn_share_records(server, tmp_path):
    """Small responses produced together leave in few TLS records, not one
    or two per response: a DATA frame of a few bytes is copied into the
    connection's queue beside the others, and only a chunk of 4 KiB or
    more is handed on whole (a queue chunk is sealed as one record)."""
    port = free_port()
    server({"app": "h2_app:app", "chdir": str(APPS),
            "listen": [tls_listen(tmp_path, port)]})
    sock = RecordCountingTLS(port, "h2")
    c = H2Conn(sock, timeout=30)
    try:
        c.handshake()
        c.get("/")  # settled: SETTINGS ACKs, session tickets
        n = 32
        sids = [c.alloc_stream() for _ in range(n)]
        before = sock.records
        # All requests in one record, so one read of the worker sees them.
        c.send(b"".join(headers_frame(sid, hpack_block(c.request_headers()))
                        for sid in sids))
        for sid in sids:
            r = c.read_response(sid, timeout=30)
            assert r.status == 200
        # Two records per response (HEADERS, DATA) before the fix.
        assert sock.records - before <= n // 2, sock.records - before
    finally:
        c.close()
