"""tests/integration/h2util.py: HTTP/2 over a raw socket, frame by frame.

The HTTP/2 tests (test_10_http2.py, test_11_h2_conformance.py,
test_12_proxies.py) speak HTTP/2 themselves so they can send what a real
client never would (RFC 9113 section by section, like h2spec) and see every
frame the server answers with.

- frame(type, flags, stream_id, payload) builds any frame, valid or not.
- hpack_block([(name, value)]) encodes a field block with literals only
  (RFC 7541 §6.2.2 "without indexing", no Huffman), so a deliberately bad
  field is sent byte for byte as written; responses are decoded with the
  `hpack` package's Decoder (which keeps the dynamic table in step).
- H2Conn: one connection (cleartext prior knowledge, h2c after an Upgrade,
  or TLS with ALPN h2). handshake() sends the preface and SETTINGS and reads
  the server's SETTINGS; request()/read_response() do ordinary exchanges,
  with WINDOW_UPDATE sent for received DATA when auto_window is on and
  request bodies sent within the peer's flow-control windows.
- expect_goaway()/expect_stream_error() read until the server reacts the
  way RFC 9113 §5.4 requires and return what it sent.
SPDX-License-Identifier: BSD-2-Clause
"""

import base64
import socket
import ssl
import struct
import time

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 §6 frame types
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, \
    GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
FRAME_NAMES = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM",
               4: "SETTINGS", 5: "PUSH_PROMISE", 6: "PING", 7: "GOAWAY",
               8: "WINDOW_UPDATE", 9: "CONTINUATION"}

# flags
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# RFC 9113 §7 error codes
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
SETTINGS_TIMEOUT = 0x4
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
CONNECT_ERROR = 0xa
ENHANCE_YOUR_CALM = 0xb
INADEQUATE_SECURITY = 0xc
HTTP_1_1_REQUIRED = 0xd
ERROR_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR",
               3: "FLOW_CONTROL_ERROR", 4: "SETTINGS_TIMEOUT",
               5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR",
               7: "REFUSED_STREAM", 8: "CANCEL", 9: "COMPRESSION_ERROR",
               10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM",
               12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}

# RFC 9113 §6.5.2 settings
HEADER_TABLE_SIZE = 0x1
ENABLE_PUSH = 0x2
MAX_CONCURRENT_STREAMS = 0x3
INITIAL_WINDOW_SIZE = 0x4
MAX_FRAME_SIZE = 0x5
MAX_HEADER_LIST_SIZE = 0x6
SETTING_NAMES = {1: "HEADER_TABLE_SIZE", 2: "ENABLE_PUSH",
                 3: "MAX_CONCURRENT_STREAMS", 4: "INITIAL_WINDOW_SIZE",
                 5: "MAX_FRAME_SIZE", 6: "MAX_HEADER_LIST_SIZE"}

MAX_WINDOW = 2**31 - 1
DEFAULT_WINDOW = 65535
DEFAULT_MAX_FRAME = 16384


def ename(code):
    return ERROR_NAMES.get(code, f"0x{code:x}")


# ------------------------------------------------------------ building


def frame(ftype, flags=0, stream_id=0, payload=b"", length=None):
    """Any frame; length overrides the length field (for lying frames)."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream_id & 0xffffffff) + payload


def settings_payload(settings):
    """settings: dict or list of (id, value) pairs, sent in order."""
    items = settings.items() if isinstance(settings, dict) else settings
    return b"".join(struct.pack(">HI", k, v) for k, v in items)


def settings_frame(settings=(), ack=False, stream_id=0):
    return frame(SETTINGS, ACK if ack else 0, stream_id,
                 settings_payload(settings))


def ping_frame(data=b"h2test!!", ack=False, stream_id=0):
    return frame(PING, ACK if ack else 0, stream_id, data)


def rst_frame(stream_id, code=CANCEL):
    return frame(RST_STREAM, 0, stream_id, struct.pack(">I", code))


def window_update_frame(stream_id, increment):
    return frame(WINDOW_UPDATE, 0, stream_id,
                 struct.pack(">I", increment & 0xffffffff))


def goaway_frame(last_stream_id=0, code=NO_ERROR, debug=b"", stream_id=0):
    return frame(GOAWAY, 0, stream_id,
                 struct.pack(">II", last_stream_id, code) + debug)


def priority_payload(depends_on=0, weight=16, exclusive=False):
    dep = depends_on | (0x80000000 if exclusive else 0)
    return struct.pack(">IB", dep, weight - 1)


def headers_frame(stream_id, block, end_stream=True, end_headers=True,
                  pad=None, priority=None):
    """HEADERS; pad: padding length (PADDED flag, §6.2); priority: a
    priority_payload() (PRIORITY flag)."""
    flags = (END_STREAM if end_stream else 0) | \
        (END_HEADERS if end_headers else 0)
    payload = block
    if priority is not None:
        flags |= PRIORITY_FLAG
        payload = priority + payload
    if pad is not None:
        flags |= PADDED
        payload = bytes([pad]) + payload + b"\0" * pad
    return frame(HEADERS, flags, stream_id, payload)


def data_frame(stream_id, data, end_stream=False, pad=None):
    flags = END_STREAM if end_stream else 0
    payload = data
    if pad is not None:
        flags |= PADDED
        payload = bytes([pad]) + data + b"\0" * pad
    return frame(DATA, flags, stream_id, payload)


def continuation_frame(stream_id, block, end_headers=True):
    return frame(CONTINUATION, END_HEADERS if end_headers else 0,
                 stream_id, block)


# ------------------------------------------------------------ HPACK


def hpack_int(value, prefix_bits, first=0):
    """RFC 7541 §5.1 integer with an N-bit prefix; first holds the bits
    above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_str(s):
    """RFC 7541 §5.2 string literal, no Huffman."""
    if isinstance(s, str):
        s = s.encode("latin-1")
    return hpack_int(len(s), 7) + s


def hpack_literal(name, value):
    """§6.2.2 Literal Header Field without Indexing, new name."""
    return b"\x00" + hpack_str(name) + hpack_str(value)


def hpack_block(headers):
    return b"".join(hpack_literal(n, v) for n, v in headers)


def hpack_table_size_update(size):
    """§6.3 Dynamic Table Size Update."""
    return hpack_int(size, 5, 0x20)


def b64url_settings(settings=()):
    """An HTTP2-Settings header value (RFC 7540 §3.2.1)."""
    return base64.urlsafe_b64encode(
        settings_payload(settings)).rstrip(b"=").decode()


# ------------------------------------------------------------ parsing


class Frame:
    __slots__ = ("type", "flags", "stream_id", "payload")

    def __init__(self, ftype, flags, stream_id, payload):
        self.type = ftype
        self.flags = flags
        self.stream_id = stream_id
        self.payload = payload

    @property
    def name(self):
        return FRAME_NAMES.get(self.type, f"type=0x{self.type:x}")

    def has(self, flag):
        return bool(self.flags & flag)

    # GOAWAY
    @property
    def last_stream_id(self):
        return struct.unpack(">I", self.payload[:4])[0] & 0x7fffffff

    @property
    def error_code(self):
        """GOAWAY or RST_STREAM error code."""
        if self.type == GOAWAY:
            return struct.unpack(">I", self.payload[4:8])[0]
        return struct.unpack(">I", self.payload[:4])[0]

    @property
    def debug_data(self):
        return self.payload[8:]

    @property
    def increment(self):
        return struct.unpack(">I", self.payload[:4])[0] & 0x7fffffff

    @property
    def settings(self):
        """SETTINGS as a list of (id, value)."""
        p = self.payload
        return [struct.unpack(">HI", p[i:i + 6])
                for i in range(0, len(p) - len(p) % 6, 6)]

    def data(self):
        """DATA/HEADERS payload without padding and priority fields."""
        p = self.payload
        if self.flags & PADDED and self.type in (DATA, HEADERS):
            padlen = p[0]
            p = p[1:len(p) - padlen]
        if self.type == HEADERS and self.flags & PRIORITY_FLAG:
            p = p[5:]
        return p

    def __repr__(self):
        extra = ""
        if self.type in (GOAWAY, RST_STREAM) and len(self.payload) >= 4:
            try:
                extra = f" {ename(self.error_code)}"
            except struct.error:
                pass
        if self.type == GOAWAY and len(self.payload) >= 8:
            extra += f" last={self.last_stream_id} debug={self.debug_data!r}"
        if self.type == WINDOW_UPDATE and len(self.payload) == 4:
            extra = f" +{self.increment}"
        if self.type == SETTINGS:
            extra = " " + ",".join(
                f"{SETTING_NAMES.get(k, k)}={v}" for k, v in self.settings)
        return (f"<{self.name} flags=0x{self.flags:x} "
                f"stream={self.stream_id} len={len(self.payload)}{extra}>")


class ConnectionClosed(Exception):
    pass


class Response:
    def __init__(self, stream_id):
        self.stream_id = stream_id
        self.headers = []   # [(name, value)] as str, pseudo-headers too
        self.trailers = None
        self.data = b""
        self.data_frames = []   # sizes of the DATA frames
        self.ended = False
        self.reset = None       # RST_STREAM error code
        self.informational = []

    @property
    def status(self):
        for k, v in self.headers:
            if k == ":status":
                return int(v)
        return None

    def header(self, name, default=None):
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def __repr__(self):
        return (f"<Response stream={self.stream_id} status={self.status} "
                f"ended={self.ended} reset={self.reset} "
                f"len={len(self.data)} data={self.data[:60]!r}>")


def h2_tls_context(alpn=("h2",)):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


class H2Conn:
    """A raw HTTP/2 client connection.

    frames: every frame read so far, in order (a test can inspect what
    came before a GOAWAY). Responses are kept per stream in .responses.
    """

    def __init__(self, sock, timeout=5.0, authority="127.0.0.1",
                 scheme="http"):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.frames = []
        self.authority = authority
        self.scheme = scheme
        self.server_settings = {}
        self.server_settings_seen = False
        self.settings_acked = 0
        self.decoder = hpack.Decoder()
        self.decoder.max_allowed_table_size = 65536
        self.responses = {}
        self.pending_headers = None   # (stream_id, flags, [blocks])
        self.next_stream_id = 1
        self.auto_window = True
        self.auto_ping = True
        self.pings = []               # payloads of PING ACKs received
        self.goaway = None
        # flow control for what WE send (RFC 9113 §6.9)
        self.send_conn_window = DEFAULT_WINDOW
        self.send_stream_window = {}
        self.peer_initial_window = DEFAULT_WINDOW
        self.window_updates = []      # (stream_id, increment) received

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, srv=None, addr=None, tls=False, timeout=5.0,
             alpn=("h2",), family=socket.AF_INET):
        """Connect to srv (a conftest.Server; its first TCP listener, or
        addr=(host, port) given explicitly). tls: wrap with ALPN."""
        if addr is None:
            family, addr = srv.addr()
        s = socket.create_connection(addr, timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        scheme = "http"
        if tls:
            s = h2_tls_context(alpn).wrap_socket(s,
                                                 server_hostname="localhost")
            scheme = "https"
        host, port = addr[0], addr[1]
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return cls(s, timeout, authority=authority, scheme=scheme)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # ------------------------------------------------------------ raw I/O

    def send(self, data):
        self.sock.sendall(data)

    def send_frames(self, *frames):
        self.send(b"".join(frames))

    def _fill(self, timeout):
        if self.eof:
            raise ConnectionClosed("connection closed by the server")
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError) as e:
            self.eof = True
            raise ConnectionClosed(f"connection reset: {e}") from None
        except ssl.SSLEOFError:
            chunk = b""
        if not chunk:
            self.eof = True
            raise ConnectionClosed("connection closed by the server")
        self.buf += chunk

    def read_frame(self, timeout=None):
        """The next frame (a Frame), handling nothing. Raises
        socket.timeout when none came in time, ConnectionClosed on EOF."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while len(self.buf) < 9:
            self._fill(max(0.001, deadline - time.monotonic()))
        n = int.from_bytes(self.buf[:3], "big")
        if n > 16777215 + 9:
            raise AssertionError(f"not a frame: {self.buf[:40]!r}")
        while len(self.buf) < 9 + n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out in the middle of a frame")
            self._fill(left)
        ftype, flags = self.buf[3], self.buf[4]
        sid = int.from_bytes(self.buf[5:9], "big") & 0x7fffffff
        f = Frame(ftype, flags, sid, self.buf[9:9 + n])
        self.buf = self.buf[9 + n:]
        self.frames.append(f)
        return f

    def next_frame(self, timeout=None):
        """The next frame after the bookkeeping of process(): SETTINGS
        are applied and acknowledged, PINGs answered, DATA credited back
        (auto_window), headers decoded into .responses."""
        f = self.read_frame(timeout)
        self.process(f)
        return f

    # ------------------------------------------------------------ state

    def process(self, f):
        if f.type == SETTINGS and not f.has(ACK):
            for k, v in f.settings:
                if k == INITIAL_WINDOW_SIZE:
                    delta = v - self.peer_initial_window
                    self.peer_initial_window = v
                    for sid in self.send_stream_window:
                        self.send_stream_window[sid] += delta
                self.server_settings[k] = v
            self.server_settings_seen = True
            if not self.eof:
                try:
                    self.send(settings_frame(ack=True))
                except OSError:
                    pass
        elif f.type == SETTINGS:
            self.settings_acked += 1
        elif f.type == PING and not f.has(ACK):
            if self.auto_ping:
                try:
                    self.send(ping_frame(f.payload, ack=True))
                except OSError:
                    pass
        elif f.type == PING:
            self.pings.append(f.payload)
        elif f.type == GOAWAY:
            self.goaway = f
        elif f.type == WINDOW_UPDATE:
            self.window_updates.append((f.stream_id, f.increment))
            if f.stream_id == 0:
                self.send_conn_window += f.increment
            elif f.stream_id in self.send_stream_window:
                self.send_stream_window[f.stream_id] += f.increment
        elif f.type == RST_STREAM:
            r = self.responses.setdefault(f.stream_id, Response(f.stream_id))
            r.reset = f.error_code
        elif f.type in (HEADERS, PUSH_PROMISE):
            if f.has(END_HEADERS):
                self._headers_done(f.stream_id, f.flags, [f.data()])
            else:
                self.pending_headers = (f.stream_id, f.flags, [f.data()])
        elif f.type == CONTINUATION and self.pending_headers:
            sid, flags, blocks = self.pending_headers
            blocks.append(f.payload)
            if f.has(END_HEADERS):
                self.pending_headers = None
                self._headers_done(sid, flags, blocks)
        elif f.type == DATA:
            r = self.responses.setdefault(f.stream_id, Response(f.stream_id))
            d = f.data()
            r.data += d
            r.data_frames.append(len(d))
            if f.has(END_STREAM):
                r.ended = True
            if self.auto_window and len(f.payload):
                try:
                    self.send(window_update_frame(0, len(f.payload))
                              + (window_update_frame(f.stream_id,
                                                     len(f.payload))
                                 if not f.has(END_STREAM) else b""))
                except OSError:
                    pass

    def _headers_done(self, sid, flags, blocks):
        hs = self.decoder.decode(b"".join(blocks), raw=True)
        hs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in hs]
        r = self.responses.setdefault(sid, Response(sid))
        status = next((v for k, v in hs if k == ":status"), None)
        if status is not None and status.startswith("1") and status != "101":
            r.informational.append(hs)
        elif r.headers:
            r.trailers = hs
        else:
            r.headers = hs
        if flags & END_STREAM:
            r.ended = True

    # ------------------------------------------------------------ handshake

    def handshake(self, settings=None, preface=True, timeout=None):
        """Send the preface and our SETTINGS (default: push off, a large
        window so responses flow), read the server's SETTINGS, which RFC
        9113 §3.4 says must be its first frame. Returns it."""
        if settings is None:
            settings = {ENABLE_PUSH: 0}
        out = (PREFACE if preface else b"") + settings_frame(settings)
        self.send(out)
        f = self.read_frame(timeout)
        assert f.type == SETTINGS and not f.has(ACK), \
            f"server's first frame is {f!r}, not SETTINGS (RFC 9113 §3.4)"
        self.process(f)
        return f

    def server_max_frame(self):
        return self.server_settings.get(MAX_FRAME_SIZE, DEFAULT_MAX_FRAME)

    def alloc_stream(self):
        sid = self.next_stream_id
        self.next_stream_id += 2
        return sid

    def request_headers(self, method="GET", path="/", extra=(),
                        authority=True):
        hs = [(":method", method), (":scheme", self.scheme),
              (":path", path)]
        if authority:
            hs.append((":authority", self.authority))
        return hs + list(extra)

    def request(self, method="GET", path="/", headers=(), body=None,
                end_stream=None, stream_id=None, authority=True):
        """Open a stream: HEADERS (one frame, literals), then body when
        given (within flow-control windows). Returns the stream id."""
        sid = stream_id or self.alloc_stream()
        if stream_id and stream_id >= self.next_stream_id:
            self.next_stream_id = stream_id + 2
        self.send_stream_window[sid] = self.peer_initial_window
        block = hpack_block(self.request_headers(method, path, headers,
                                                 authority))
        if end_stream is None:
            end_stream = body is None
        self.send(headers_frame(sid, block, end_stream=end_stream))
        if body is not None:
            self.send_body(sid, body, end_stream=True)
        return sid

    def send_body(self, sid, data, end_stream=True, timeout=30.0):
        """DATA frames within the server's windows and frame size; reads
        frames (WINDOW_UPDATE) while blocked."""
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while True:
            room = min(self.send_conn_window,
                       self.send_stream_window.get(sid, 0),
                       self.server_max_frame())
            if len(view) and room <= 0:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"flow control: no window for stream {sid} after "
                        f"{timeout}s ({len(view)} bytes left)")
                try:
                    self.next_frame(max(0.01, deadline - time.monotonic()))
                except socket.timeout:
                    pass
                r = self.responses.get(sid)
                if r and r.reset is not None:
                    raise AssertionError(
                        f"stream {sid} reset ({ename(r.reset)}) while "
                        f"sending its body")
                continue
            n = min(room, len(view))
            last = n == len(view)
            self.send(data_frame(sid, bytes(view[:n]),
                                 end_stream=end_stream and last))
            self.send_conn_window -= n
            self.send_stream_window[sid] = \
                self.send_stream_window.get(sid, 0) - n
            view = view[n:]
            if last:
                return

    def read_response(self, sid, timeout=10.0, allow_reset=False):
        """Read frames until stream sid ends (END_STREAM or RST_STREAM);
        returns its Response."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.responses.get(sid)
            if r and r.ended:
                return r
            if r and r.reset is not None:
                if allow_reset:
                    return r
                raise AssertionError(
                    f"stream {sid} reset with {ename(r.reset)}: {r!r}")
            if self.goaway is not None and \
                    self.goaway.last_stream_id < sid:
                raise AssertionError(
                    f"GOAWAY before stream {sid} was answered: "
                    f"{self.goaway!r}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no complete response on stream {sid} in {timeout}s; "
                    f"got {r!r}; last frames {self.frames[-5:]!r}")
            try:
                self.next_frame(left)
            except socket.timeout:
                pass
            except ConnectionClosed:
                r = self.responses.get(sid)
                if r and (r.ended or (allow_reset and r.reset is not None)):
                    return r
                raise AssertionError(
                    f"connection closed before stream {sid} ended: {r!r}; "
                    f"last frames {self.frames[-5:]!r}") from None

    def get(self, path="/", **kw):
        timeout = kw.pop("timeout", 10.0)
        return self.read_response(self.request("GET", path, **kw), timeout)

    def ping_roundtrip(self, data=b"alive?!!", timeout=5.0):
        """True when a PING is answered (the connection is still usable)."""
        self.send(ping_frame(data))
        deadline = time.monotonic() + timeout
        while data not in self.pings:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self.next_frame(left)
            except socket.timeout:
                return False
            except ConnectionClosed:
                return False
        self.pings.remove(data)
        return True

    # ------------------------------------------------------------ errors

    def expect_goaway(self, codes, timeout=5.0):
        """RFC 9113 §5.4.1: read until a GOAWAY; assert its error code is
        one of codes. A close or reset without GOAWAY fails."""
        if isinstance(codes, int):
            codes = (codes,)
        deadline = time.monotonic() + timeout
        while True:
            if self.goaway is not None:
                g = self.goaway
                assert g.error_code in codes, (
                    f"GOAWAY with {ename(g.error_code)}, expected "
                    f"{'/'.join(ename(c) for c in codes)}: {g!r}")
                return g
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no GOAWAY ({'/'.join(ename(c) for c in codes)}) in "
                    f"{timeout}s; frames: {self.frames[-8:]!r}")
            try:
                self.next_frame(left)
            except socket.timeout:
                pass
            except ConnectionClosed as e:
                raise AssertionError(
                    f"connection closed without GOAWAY "
                    f"({'/'.join(ename(c) for c in codes)}) ({e}); "
                    f"frames: {self.frames[-8:]!r}") from None

    def expect_stream_error(self, sid, codes, timeout=5.0,
                            allow_connection_error=True):
        """RFC 9113 §5.4.2: read until RST_STREAM on sid with one of codes.
        A GOAWAY with one of codes also passes (§5.4: an endpoint MAY treat
        a stream error as a connection error) unless
        allow_connection_error is False. A response on the stream before
        the reset is tolerated (§8.1.1 lets a server answer a malformed
        request before resetting it); a stream that simply ends fails.
        Returns the RST_STREAM or GOAWAY frame."""
        if isinstance(codes, int):
            codes = (codes,)
        want = "/".join(ename(c) for c in codes)
        deadline = time.monotonic() + timeout
        seen = len(self.frames)
        while True:
            for f in self.frames[seen:]:
                if f.type == RST_STREAM and f.stream_id == sid:
                    assert f.error_code in codes, (
                        f"RST_STREAM on stream {sid} with "
                        f"{ename(f.error_code)}, expected {want}")
                    return f
                if f.type == GOAWAY:
                    assert allow_connection_error, (
                        f"GOAWAY {f!r}, expected RST_STREAM {want} on "
                        f"stream {sid} only")
                    assert f.error_code in codes, (
                        f"GOAWAY with {ename(f.error_code)}, expected "
                        f"RST_STREAM {want} on stream {sid}: {f!r}")
                    return f
                if f.type in (HEADERS, DATA) and f.stream_id == sid and \
                        f.has(END_STREAM):
                    raise AssertionError(
                        f"stream {sid} was answered and ended normally "
                        f"instead of a stream error {want}: "
                        f"{self.responses.get(sid)!r}")
            seen = len(self.frames)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no RST_STREAM ({want}) on stream {sid} in {timeout}s;"
                    f" frames: {self.frames[-8:]!r}")
            try:
                self.next_frame(left)
            except socket.timeout:
                pass
            except ConnectionClosed as e:
                raise AssertionError(
                    f"connection closed without RST_STREAM/GOAWAY {want} "
                    f"({e}); frames: {self.frames[-8:]!r}") from None

    def expect_no_error(self, timeout=1.0):
        """Nothing bad comes within timeout and a PING is still answered:
        no GOAWAY, no RST_STREAM, no close."""
        start = len(self.frames)
        ok = self.ping_roundtrip(timeout=max(timeout, 2.0))
        bad = [f for f in self.frames[start:]
               if f.type in (GOAWAY, RST_STREAM)]
        assert not bad, f"unexpected error frames: {bad!r}"
        assert ok, ("PING not answered: connection unusable; frames: "
                    f"{self.frames[-8:]!r}")

    def drain(self, timeout=0.3):
        """Read and process whatever arrives within timeout."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            try:
                self.next_frame(left)
            except socket.timeout:
                return
            except ConnectionClosed:
                return


def read_h1_head(sock, timeout=5.0):
    """Read an HTTP/1.x response head from sock; returns (head bytes,
    the bytes after it)."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


# ------------------------------------------------------------ servers


def make_cert(directory):
    """A self-signed EC certificate for localhost/127.0.0.1; returns
    (certificate path, key path)."""
    import subprocess
    from pathlib import Path
    d = Path(directory)
    crt, key = d / "h2test.crt", d / "h2test.key"
    if not crt.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(crt), "-days", "2",
             "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True, timeout=30)
    return str(crt), str(key)


def tls_listen(directory, port):
    """A listen[] entry with TLS on 127.0.0.1:port."""
    crt, key = make_cert(directory)
    return {"address": f"127.0.0.1:{port}",
            "tls": {"certificate": crt, "key": key}}


def config_rejected(srv):
    """Run `asgimaster -t -c` on srv's config; the error text when the
    binary rejects it, else None (for skipping tests of keys that are not
    implemented yet)."""
    from conftest import run_bin
    srv.write_config()
    r = run_bin(["-t", "-c", srv.conf_path])
    if r.returncode != 0:
        return (r.stderr + r.stdout).strip() or f"exit {r.returncode}"
    return None
