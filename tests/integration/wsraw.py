"""wsraw.py: a raw-socket WebSocket client for tests that send what a
real client never would (RFC 6455 MUSTs). Frames are built by hand.
SPDX-License-Identifier: BSD-2-Clause
"""

import base64
import hashlib
import os
import socket
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()) \
        .decode()


def frame(op, payload=b"", fin=True, rsv=0, mask=True, length=None,
          key=b"\x11\x22\x33\x44"):
    """A frame; rsv is the 3 RSV bits (4 = RSV1); length overrides the
    encoded length field choice: 'short', 16 or 64."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    m = 0x80 if mask else 0
    if length == 64 or (length is None and n > 0xFFFF):
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    elif length == 16 or (length is None and n > 125):
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | n])
    if mask:
        body = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
        return head + key + body
    return head + payload


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


class WsRaw:
    """A socket after a handshake; recv_frame() reads server frames."""

    def __init__(self, sock, timeout=10.0):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""

    @classmethod
    def handshake(cls, addr, path="/echo", headers=None, key=None,
                  version="13", timeout=10.0):
        """Returns (WsRaw or None, status, head bytes)."""
        sock = socket.create_connection(addr, timeout=timeout)
        key = key if key is not None else \
            base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {addr[0]}:{addr[1]}",
                 "Upgrade: websocket", "Connection: Upgrade"]
        if key:
            lines.append(f"Sec-WebSocket-Key: {key}")
        if version:
            lines.append(f"Sec-WebSocket-Version: {version}")
        lines += list(headers or [])
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        c = cls(sock, timeout)
        head = c._read_until(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        c.head = head
        return c, status, head

    def header(self, name):
        for line in self.head.split(b"\r\n")[1:]:
            n, _, v = line.partition(b":")
            if n.strip().lower() == name.lower().encode():
                return v.strip().decode()
        return None

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data):
        self.sock.sendall(data)

    def recv_frame(self):
        """(fin, rsv, opcode, payload); server frames are never masked."""
        b0, b1 = self._read_exact(2)
        assert not (b1 & 0x80), "a server frame was masked (RFC 6455 5.1)"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read_exact(8))[0]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, self._read_exact(n)

    def recv_close(self):
        """The close code the server sent (None: empty body), skipping
        other frames; then the server closes the TCP connection."""
        while True:
            fin, rsv, op, payload = self.recv_frame()
            if op == OP_CLOSE:
                if len(payload) >= 2:
                    return struct.unpack(">H", payload[:2])[0]
                return None

    def read_to_eof(self):
        try:
            while True:
                self._fill()
        except (EOFError, ConnectionResetError):
            return self.buf

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
