"""tests/integration/httpraw.py: HTTP/1.x over a raw socket, for edge cases.

RawConn wraps a connected socket with a read buffer and reads one response
at a time: status line, headers, then the body by the rules of RFC 9112
section 6.3 (no body for HEAD, 1xx, 204, 304; chunked; Content-Length;
else until close). Every read has the socket timeout (10 s by default).
SPDX-License-Identifier: BSD-2-Clause
"""

import socket


class IncompleteResponse(Exception):
    """The peer closed before the message was complete."""

    def __init__(self, msg, partial=None):
        super().__init__(msg)
        self.partial = partial


class Response:
    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.headers = []  # [(lowercased name, value)] as str, in order
        self.raw_head = b""
        self.body = b""
        self.chunks = []   # body pieces as framed by chunked encoding
        self.trailers = []
        self.chunked = False
        self.close_delimited = False

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def has(self, name):
        return self.header(name) is not None

    def __repr__(self):
        return (f"<Response {self.version} {self.status} {self.headers} "
                f"body={self.body[:80]!r}>")


class RawConn:
    def __init__(self, sock, timeout=10.0):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""
        self.eof = False

    @classmethod
    def to(cls, addr, family=socket.AF_INET, timeout=10.0):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr)
        return cls(s, timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_until(self, marker):
        while marker not in self.buf:
            if not self._fill():
                raise IncompleteResponse(
                    f"closed before {marker!r}", self.buf)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise IncompleteResponse(
                    f"closed after {len(self.buf)} of {n} bytes", self.buf)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_close(self):
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def read_some(self, timeout=None):
        """Whatever is buffered or arrives next (b"" on EOF)."""
        if self.buf:
            out, self.buf = self.buf, b""
            return out
        if timeout is not None:
            self.sock.settimeout(timeout)
        self._fill()
        out, self.buf = self.buf, b""
        return out

    def is_closed(self, timeout=10.0):
        """True when the peer closes (EOF/reset) within timeout with no more
        data, False if data arrives; raises socket.timeout otherwise."""
        if self.buf:
            return False
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(old)
        if data:
            self.buf += data
            return False
        self.eof = True
        return True

    def read_head(self):
        head = self.read_until(b"\r\n\r\n")
        r = Response()
        r.raw_head = head
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ", 2)
        r.version = parts[0]
        r.status = int(parts[1])
        r.reason = parts[2] if len(parts) > 2 else ""
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            r.headers.append((name.strip().lower(), value.strip()))
        return r

    def read_response(self, method="GET", interim=False):
        """One response. 1xx responses are skipped unless interim=True, in
        which case a 1xx is returned as it is (no body)."""
        while True:
            r = self.read_head()
            if 100 <= r.status < 200 and r.status != 101:
                if interim:
                    return r
                continue
            break
        if method == "HEAD" or r.status in (204, 304) \
                or 100 <= r.status < 200:
            return r
        te = (r.header("transfer-encoding") or "").lower()
        cl = r.header("content-length")
        if "chunked" in te:
            r.chunked = True
            self._read_chunked(r)
        elif cl is not None:
            r.body = self.read_exact(int(cl))
        else:
            r.close_delimited = True
            r.body = self.read_to_close()
        return r

    def _read_chunked(self, r):
        body = []
        while True:
            try:
                line = self.read_until(b"\r\n")
            except IncompleteResponse as e:
                r.body = b"".join(body)
                raise IncompleteResponse(
                    "closed inside a chunked body", r) from e
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                break
            try:
                data = self.read_exact(size)
                self.read_exact(2)
            except IncompleteResponse as e:
                r.body = b"".join(body)
                raise IncompleteResponse(
                    "closed inside a chunk", r) from e
            body.append(data)
            r.chunks.append(data)
        while True:
            line = self.read_until(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            r.trailers.append((name.strip().lower(), value.strip()))
        r.body = b"".join(body)


def request(method, path, host="test", headers=(), body=None,
            version="HTTP/1.1"):
    """Serialise a request. headers: [(name, value)]. A bytes body gets a
    Content-Length unless one is given in headers."""
    lines = [f"{method} {path} {version}"]
    names = {n.lower() for n, _ in headers}
    if host is not None and "host" not in names:
        lines.append(f"Host: {host}")
    for n, v in headers:
        lines.append(f"{n}: {v}")
    if body is not None and "content-length" not in names \
            and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if body is not None:
        data += body
    return data


def chunk(data):
    if isinstance(data, str):
        data = data.encode()
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"
