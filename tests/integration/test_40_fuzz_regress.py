"""Fuzzer crashers against the real binary (STYLE.md section 11: each
crasher becomes a test).

tests/fuzz/regress/ holds inputs that crashed, hung or leaked in
tests/fuzz/fuzz_http1.c. Each file is a fuzzer input: its first byte is the
harness's seed (how the writes were split), the rest is what the client
sent. Here the rest goes to a worker over a socket, in one write and then
split as the seed says; the worker must survive it: same worker PID before
and after, and it still answers a plain request. The server runs with the
small limits the fuzzer used, so the same limit paths are reached.
SPDX-License-Identifier: BSD-2-Clause
"""

import socket
import time

import pytest

from conftest import ROOT, wait_until

REGRESS = ROOT / "tests" / "fuzz" / "regress"
FILES = sorted(p for p in REGRESS.glob("*") if p.is_file()
               and not p.name.startswith(".") and p.suffix != ".md")

# tests/fuzz/fuzz_http1.c: LLVMFuzzerInitialize().
FUZZ_LIMITS = {
    "limits": {
        "request_line": 1024,
        "header_size": 4096,
        "header_count": 16,
        "body_size": 16384,
        "body_buffer": 4096,
        "write_buffer": 4096,
    },
    "http2": {
        "max_concurrent_streams": 8,
        "initial_window_size": 16384,
        "connection_window": 65535,
        "max_header_list_size": 4096,
    },
    "forwarded_allow_ips": "*",
}


def chunks(data, seed):
    """The harness's split of data for seed (fuzz_http1.c)."""
    size = seed & 0x0F
    if size == 0:
        return [data]
    prng = (0x9E3779B9 ^ seed) & 0xFFFFFFFF
    out, off = [], 0
    while off < len(data):
        prng = (prng * 1103515245 + 12345) & 0xFFFFFFFF
        n = 1 + (prng >> 16) % (size * size * 4)
        out.append(data[off:off + n])
        off += n
    return out


def send_and_drain(srv, parts, timeout=3.0):
    s = srv.connect(timeout)
    s.settimeout(0.2)
    try:
        for part in parts:
            try:
                s.sendall(part)
            except OSError:
                break  # the worker closed: fine, it must only survive
            time.sleep(0.002)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not s.recv(65536):
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    finally:
        s.close()


def plain_get(srv):
    s = srv.connect(5.0)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        return data
    finally:
        s.close()


@pytest.mark.skipif(not FILES, reason="no regression inputs yet")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_worker_survives_fuzz_input(server, path, tmp_path):
    # The fuzzer formats every access log line: so does the server here.
    srv = server(dict(FUZZ_LIMITS,
                      log={"access_log": str(tmp_path / "access.log")}))
    before = srv.worker_pids()
    assert before, srv.log_text()
    raw = path.read_bytes()
    seed, data = (raw[0], raw[1:]) if raw else (0, b"")
    send_and_drain(srv, [data])
    send_and_drain(srv, chunks(data, seed))
    assert plain_get(srv).startswith(b"HTTP/1.1 200 "), srv.log_text()
    # A crash shows up as an exit line and a new PID for the slot.
    time.sleep(0.2)
    assert srv.worker_pids() == before, srv.log_text()
    assert not wait_until(lambda: srv.started_count() > len(before), 0.5), \
        srv.log_text()
