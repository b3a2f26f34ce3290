"""TLS records that arrive together (worker/tls.c reads ahead: one recv(2)
takes every record the socket holds, and the records wait inside OpenSSL
where epoll does not see them). Several requests, each in its own record,
sent in one TCP write must all be answered: pipelined HTTP/1.1 requests,
HTTP/2 frames, and HTTP/2 frames beyond the 64 KiB the connection reads
at a time (the rest is then inside OpenSSL with the socket empty).
SPDX-License-Identifier: BSD-2-Clause
"""

import socket
import ssl
import time

import pytest

from conftest import APPS, free_port, running
from h2util import (
    PREFACE, hpack_block, headers_frame, settings_frame, window_update_frame,
    tls_listen)

APP = {"app": "h2_app:app", "chdir": str(APPS)}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tlsrec")
    with running(tmp, dict(APP, listen=[tls_listen(tmp, free_port())])) as s:
        yield s


class Records:
    """A TLS client over a raw socket whose every write() is one record,
    the records of several writes leaving in one send()."""

    def __init__(self, port, alpn, flush=True):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols([alpn])
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out)
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._pump()
        if flush:  # else the client's Finished leaves with the first write
            self._flush()
        assert self.tls.selected_alpn_protocol() == alpn

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _pump(self):
        self._flush()
        d = self.sock.recv(65536)
        if not d:
            raise ConnectionError("closed by the server")
        self.inc.write(d)

    def send_records(self, chunks):
        for c in chunks:
            self.tls.write(c)
        self._flush()  # one sendall(): every record at once

    def recv_until(self, done, timeout=10):
        """Plaintext until done(bytes) is true."""
        buf = b""
        end = time.monotonic() + timeout
        while not done(buf):
            assert time.monotonic() < end, f"stalled after {buf[-200:]!r}"
            try:
                buf += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._pump()
        return buf

    def close(self):
        self.sock.close()


def h2_ended(buf):
    """{stream id: body} of the streams whose END_STREAM came in buf."""
    ended, bodies, i = {}, {}, 0
    while i + 9 <= len(buf):
        n = int.from_bytes(buf[i:i + 3], "big")
        if i + 9 + n > len(buf):
            break
        ftype, flags = buf[i + 3], buf[i + 4]
        sid = int.from_bytes(buf[i + 5:i + 9], "big") & 0x7fffffff
        if ftype == 0:
            bodies[sid] = bodies.get(sid, b"") + buf[i + 9:i + 9 + n]
        if ftype in (0, 1) and flags & 1:
            ended[sid] = bodies.get(sid, b"")
        i += 9 + n
    return ended


def get_block(path="/"):
    return hpack_block([(":method", "GET"), (":scheme", "https"),
                        (":path", path), (":authority", "127.0.0.1")])


def test_h1_pipelined_requests_in_one_write(srv):
    c = Records(srv.port, "http/1.1")
    try:
        req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        c.send_records([req] * 5)
        buf = c.recv_until(lambda b: b.count(b"hello") == 5)
        assert buf.count(b"HTTP/1.1 200 ") == 5, buf
    finally:
        c.close()


def test_h1_request_with_the_client_finished(srv):
    """TLS 1.3: the client's last handshake flight and its first request
    in one TCP write; the request is read ahead by the handshake."""
    c = Records(srv.port, "http/1.1", flush=False)
    try:
        c.send_records([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"] * 2)
        buf = c.recv_until(lambda b: b.count(b"hello") == 2)
        assert buf.count(b"HTTP/1.1 200 ") == 2, buf
    finally:
        c.close()


def test_h2_frames_in_one_write(srv):
    c = Records(srv.port, "h2")
    try:
        ids = [1, 3, 5, 7]
        c.send_records([PREFACE, settings_frame()] +
                       [headers_frame(i, get_block()) for i in ids])
        got = h2_ended(c.recv_until(lambda b: len(h2_ended(b)) == len(ids)))
        assert got == {i: b"hello" for i in ids}, got
    finally:
        c.close()


def test_h2_request_read_ahead_behind_64k(srv):
    """The connection reads 64 KiB at a time. While the worker is blocked
    (/block on another connection), 64 KiB of WINDOW_UPDATEs and then a
    request arrive in one write: the reads stop at 64 KiB with the
    request's record read ahead into OpenSSL and the socket empty, so
    epoll says nothing more: the worker must read on by itself."""
    blocker = Records(srv.port, "http/1.1")
    c = Records(srv.port, "h2")
    try:
        wu = window_update_frame(0, 1)
        record = wu * (4095 // len(wu))
        blocker.send_records([b"GET /block?s=1 HTTP/1.1\r\nHost: x\r\n\r\n"])
        blocker.recv_until(lambda b: b.endswith(b"x\r\n"))  # chunk "x"
        c.send_records([PREFACE + settings_frame()] + [record] * 17 +
                       [headers_frame(1, get_block())])
        got = h2_ended(c.recv_until(lambda b: 1 in h2_ended(b)))
        assert got[1] == b"hello", got
        blocker.recv_until(lambda b: b.endswith(b"0\r\n\r\n"))
    finally:
        c.close()
        blocker.close()
