"""tests/integration/test_31_recycle.py: max_requests (issue 5).

A worker that served max_requests (plus its jitter) asks the master for a
replacement; the replacement is ready before the old worker stops
accepting, so a client making requests one after another never sees a
failure, and the requests are served by more than one worker.
SPDX-License-Identifier: BSD-2-Clause
"""

import http.client
import time

from conftest import wait_until


def get_pid(srv):
    # A new connection each time: a recycled worker closes its own.
    host, port = srv.addr()[1]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/pid")
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body)
        return int(body)
    finally:
        conn.close()


def test_max_requests_recycles_without_failures(server):
    s = server({"workers": 1, "max_requests": 5, "max_requests_jitter": 0})
    s.allow_respawn = True
    pids = []
    for _ in range(30):
        pids.append(get_pid(s))
        time.sleep(0.02)
    # The replacement boots while the old worker still serves, so more
    # than one worker answered and none of the 30 requests failed.
    assert len(set(pids)) >= 2, pids
    s.wait_log(r"reached max_requests, starting its replacement", timeout=10)
    assert wait_until(
        lambda: "replaced, stopping" in s.log_text(), 10), s.log_text()
    # No worker served many more than its limit: each recycles in turn.
    for pid in set(pids):
        assert pids.count(pid) <= 5 + 10, (pid, pids)


def test_max_requests_counted_on_http2(server):
    from h2util import H2Conn

    s = server({"workers": 1, "max_requests": 3, "max_requests_jitter": 0})
    s.allow_respawn = True
    pids = set()
    for _ in range(12):
        c = H2Conn.open(s, timeout=10)
        try:
            c.handshake()
            r = c.get("/pid")
            assert r.status == 200
            pids.add(int(r.data))
        finally:
            c.close()
        time.sleep(0.05)
    assert len(pids) >= 2, pids
