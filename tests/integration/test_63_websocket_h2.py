"""WebSocket over HTTP/2 (RFC 8441) with python3-h2 as the client, over
h2c (prior knowledge) and TLS (ALPN h2): SETTINGS_ENABLE_CONNECT_PROTOCOL
advertised, extended CONNECT answered 200, frames in DATA both ways,
several WebSocket streams and GETs multiplexed on one connection, the
scope's http_version "2", the close handshake ending the stream, a stream
reset by the client ending that session only (issue 9).
"""

import json
import socket
import struct

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest

from conftest import free_port, running, wait_until
from h2util import h2_tls_context, tls_listen
from wsraw import OP_CLOSE, OP_TEXT, close_payload, frame

AM_STRICT_ERRORS = True


@pytest.fixture(scope="module")
def h2c_srv(tmp_path_factory):
    with running(tmp_path_factory.mktemp("wsh2c"),
                 {"app": "ws_ops:app"}) as s:
        yield s


@pytest.fixture(scope="module")
def tls_srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wsh2tls")
    with running(tmp, {"app": "ws_ops:app",
                       "listen": [tls_listen(tmp, free_port())]}) as s:
        yield s


class H2Ws:
    """An h2 client connection with WebSocket streams."""

    def __init__(self, srv, tls):
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        if tls:
            sock = h2_tls_context().wrap_socket(sock,
                                                server_hostname="localhost")
            assert sock.selected_alpn_protocol() == "h2"
        self.sock = sock
        self.scheme = "https" if tls else "http"
        self.authority = f"127.0.0.1:{srv.port}"
        self.c = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True))
        self.c.initiate_connection()
        self.flush()
        self.data = {}      # stream -> bytes received
        self.headers = {}   # stream -> response headers
        self.ended = set()  # streams the server ended
        self.reset = set()
        self.settings = None
        self.pump_until(lambda: self.settings is not None)

    def flush(self):
        out = self.c.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        for e in self.c.receive_data(d):
            if isinstance(e, h2.events.RemoteSettingsChanged):
                self.settings = {int(k): v.new_value
                                 for k, v in e.changed_settings.items()}
            elif isinstance(e, h2.events.ResponseReceived):
                self.headers[e.stream_id] = dict(e.headers)
            elif isinstance(e, h2.events.DataReceived):
                self.data[e.stream_id] = self.data.get(e.stream_id, b"") \
                    + e.data
                self.c.acknowledge_received_data(
                    e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamEnded):
                self.ended.add(e.stream_id)
            elif isinstance(e, h2.events.StreamReset):
                self.reset.add(e.stream_id)
        self.flush()

    def pump_until(self, pred):
        while not pred():
            self.pump()

    def connect(self, path):
        sid = self.c.get_next_available_stream_id()
        self.c.send_headers(sid, [
            (":method", "CONNECT"), (":protocol", "websocket"),
            (":scheme", self.scheme), (":path", path),
            (":authority", self.authority),
            ("sec-websocket-version", "13")])
        self.flush()
        return sid

    def get(self, path):
        sid = self.c.get_next_available_stream_id()
        self.c.send_headers(sid, [
            (":method", "GET"), (":scheme", self.scheme), (":path", path),
            (":authority", self.authority)], end_stream=True)
        self.flush()
        return sid

    def status(self, sid):
        self.pump_until(lambda: sid in self.headers)
        return int(self.headers[sid][b":status"])

    def send(self, sid, data):
        """Send within the flow-control windows (RFC 9113 §6.9)."""
        while data:
            n = min(len(data), self.c.local_flow_control_window(sid),
                    self.c.max_outbound_frame_size)
            if n == 0:
                self.pump()  # wait for WINDOW_UPDATE
                continue
            self.c.send_data(sid, data[:n])
            self.flush()
            data = data[n:]

    def recv_frame(self, sid):
        """(opcode, payload) of the next WebSocket frame on sid."""
        def whole():
            b = self.data.get(sid, b"")
            if len(b) < 2:
                return None
            n, off = b[1] & 0x7F, 2
            if n == 126:
                n, off = struct.unpack(">H", b[2:4])[0], 4
            elif n == 127:
                n, off = struct.unpack(">Q", b[2:10])[0], 10
            if len(b) < off + n:
                return None
            self.data[sid] = b[off + n:]
            return b[0] & 0x0F, b[off:off + n]
        while True:
            f = whole()
            if f is not None:
                return f
            self.pump()

    def close(self):
        self.sock.close()


@pytest.fixture(params=["h2c", "tls"])
def conn(request, h2c_srv, tls_srv):
    srv = h2c_srv if request.param == "h2c" else tls_srv
    c = H2Ws(srv, request.param == "tls")
    c.tls = request.param == "tls"
    yield c
    c.close()


def test_enable_connect_protocol_advertised(conn):
    # RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8) = 1.
    assert conn.settings.get(8) == 1


def test_echo_and_scope(conn):
    sid = conn.connect("/echo")
    assert conn.status(sid) == 200
    conn.send(sid, frame(OP_TEXT, b"over h2"))
    assert conn.recv_frame(sid) == (OP_TEXT, b"over h2")
    big = b"y" * 300000  # more than a stream window: flow control both ways
    conn.send(sid, frame(2, big))
    assert conn.recv_frame(sid) == (2, big)
    sid2 = conn.connect("/scope")
    assert conn.status(sid2) == 200
    op, payload = conn.recv_frame(sid2)
    assert json.loads(payload) == {
        "scheme": "wss" if conn.tls else "ws", "http_version": "2",
        "tls": conn.tls}


def test_streams_and_gets_multiplexed(conn):
    ws = [conn.connect("/echo") for _ in range(3)]
    gets = [conn.get("/plain") for _ in range(2)]
    for sid in ws:
        assert conn.status(sid) == 200
    for i, sid in enumerate(ws):
        conn.send(sid, frame(OP_TEXT, f"stream {i}".encode()))
    for sid in gets:
        assert conn.status(sid) == 404  # the app's HTTP answer
    for i, sid in reversed(list(enumerate(ws))):
        assert conn.recv_frame(sid) == (OP_TEXT, f"stream {i}".encode())
    # The close handshake ends the stream (END_STREAM both ways).
    sid = ws[0]
    conn.send(sid, frame(OP_CLOSE, close_payload(1000)))
    op, payload = conn.recv_frame(sid)
    assert op == OP_CLOSE and payload[:2] == b"\x03\xe8"
    conn.c.end_stream(sid)
    conn.flush()
    conn.pump_until(lambda: sid in conn.ended or sid in conn.reset)
    conn.send(ws[1], frame(OP_TEXT, b"still here"))
    assert conn.recv_frame(ws[1]) == (OP_TEXT, b"still here")


def test_stream_reset_ends_that_session_only(conn, tmp_path):
    out = tmp_path / "code"
    hold = conn.connect(f"/hold?out={out}")
    other = conn.connect("/echo")
    assert conn.status(hold) == 200
    assert conn.status(other) == 200
    conn.c.reset_stream(hold, error_code=8)  # CANCEL
    conn.flush()
    wait_until(lambda: out.exists(), 30)
    assert out.read_text() == "1006"  # RFC 6455 §7.1.5: no close frame
    conn.send(other, frame(OP_TEXT, b"unaffected"))
    assert conn.recv_frame(other) == (OP_TEXT, b"unaffected")


def test_bad_protocol_and_version(conn):
    sid = conn.c.get_next_available_stream_id()
    conn.c.send_headers(sid, [
        (":method", "CONNECT"), (":protocol", "not-websocket"),
        (":scheme", conn.scheme), (":path", "/echo"),
        (":authority", conn.authority)])
    conn.flush()
    assert conn.status(sid) == 501
    sid = conn.c.get_next_available_stream_id()
    conn.c.send_headers(sid, [
        (":method", "CONNECT"), (":protocol", "websocket"),
        (":scheme", conn.scheme), (":path", "/echo"),
        (":authority", conn.authority), ("sec-websocket-version", "8")])
    conn.flush()
    assert conn.status(sid) == 426


def test_sigterm_closes_h2_streams_1001(server, tmp_path):
    """Graceful stop with a WebSocket stream open: GOAWAY, then the
    session's close frame with 1001 on its stream (raw frames: python3-h2
    treats a GOAWAY as the end of everything)."""
    import signal
    from h2util import H2Conn, data_frame
    s = server({"app": "ws_ops:app", "timeouts": {"graceful": "2s"}})
    out = tmp_path / "code"
    c = H2Conn.open(s, timeout=10)
    with c:
        c.handshake()
        sid = c.request("CONNECT", f"/hold?out={out}", end_stream=False,
                        headers=[(":protocol", "websocket")])
        c.send(data_frame(sid, frame(OP_TEXT, b"hi")))
        r = None
        while r is None or r.status is None:
            c.next_frame()
            r = c.responses.get(sid)
        assert r.status == 200
        s.send_signal(signal.SIGTERM)
        while len(r.data) < 4:
            c.next_frame()
        assert r.data[0] & 0x0F == OP_CLOSE
        assert struct.unpack(">H", r.data[2:4])[0] == 1001
        c.send(data_frame(sid, frame(OP_CLOSE, close_payload(1001)),
                          end_stream=True))
        wait_until(lambda: out.exists(), 30)
        assert out.read_text() == "1001"
    s.wait_exit(30)
