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

import socket
import threading

from h2util import H2Conn

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
    return sock


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
                head, _, chunked = bytes(buf).partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head
                body = bytearray()
                while True:
                    size, _, chunked = chunked.partition(b"\r\n")
                    size = int(size, 16)
                    if size == 0:
                        break
                    body += chunked[:size]
                    chunked = chunked[size + 2:]
                assert body == want, "body damaged"
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
