"""tests/integration/test_31_recycle.py: max_requests (issue 5).

A worker that served max_requests (plus its jitter) asks the master for a
replacement; the replacement is ready before the old worker stops
accepting, so a client making requests one after another never sees a
failure, and the requests are served by more than one worker.
SPDX-License-Identifier: BSD-2-Clause
"""

import http.client


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


# A bound on the load a test generates, not on how fast a worker boots: a
# replacement that takes 20 s to boot under the sanitizers sees a few
# thousand requests served by the old worker meanwhile.
MAX_REQUESTS_SENT = 20000


def recycle_watch(srv, limit):
    """Checks, after each response, of what the log says about recycling
    (no timing involved): a worker reports "reached max_requests" only
    once it has answered at least `limit` requests, and a worker that has
    exited never answers again. Returns a callback taking the PID that
    answered the last request."""
    served = {}
    reached = {}

    def seen(pid):
        events = srv.worker_events()
        exited = {p for p, _, ev in events if ev in ("exited", "failed")}
        assert pid not in exited, (
            f"worker {pid} answered after it exited", served)
        served[pid] = served.get(pid, 0) + 1
        text = srv.log_text()
        for p, n in served.items():
            if p not in reached and \
                    f"worker {p} (slot 1) reached max_requests" in text:
                reached[p] = n
                assert n >= limit, (
                    f"worker {p} recycled after {n} of {limit} requests")
        return served, reached

    return seen


def test_max_requests_recycles_without_failures(server):
    """Requests one after another while workers recycle: none fails. The
    loop ends on events (the third worker answering: the first two each
    reached max_requests and were replaced), not after a count that the
    replacement's boot time would bound, so a slow boot (sanitizers) only
    makes the old worker serve longer, which is allowed: it keeps serving
    until its replacement is ready. What is bounded instead is what the
    log shows: no worker asks to be recycled before its 5th request, and
    an exited worker never answers."""
    s = server({"workers": 1, "max_requests": 5, "max_requests_jitter": 0})
    s.allow_respawn = True
    seen = recycle_watch(s, 5)
    order = []
    for _ in range(MAX_REQUESTS_SENT):   # and by the test's timeout
        pid = get_pid(s)
        served, reached = seen(pid)
        if pid not in order:
            order.append(pid)
        if len(order) == 3:
            break
    assert len(order) == 3, (order, served)
    first, second = order[0], order[1]
    assert served[first] >= 5 and served[second] >= 5, served
    s.wait_log(rf"worker {first} \(slot 1\) reached max_requests, "
               r"starting its replacement", timeout=10)
    s.wait_log(rf"worker {first} \(slot 1\) replaced, stopping",
               timeout=10)
    s.wait_log(rf"worker {second} \(slot 1\) reached max_requests",
               timeout=10)


def test_max_requests_counted_on_http2(server):
    """HTTP/2 requests count toward max_requests: the first worker is
    recycled after its 3rd request (each on its own connection) and a
    second worker answers. The loop ends when it does, however long the
    replacement takes to boot."""
    from h2util import H2Conn

    s = server({"workers": 1, "max_requests": 3, "max_requests_jitter": 0})
    s.allow_respawn = True
    seen = recycle_watch(s, 3)
    order = []
    for _ in range(MAX_REQUESTS_SENT):   # and by the test's timeout
        if len(order) == 2:
            break
        c = H2Conn.open(s, timeout=10)
        try:
            c.handshake()
            r = c.get("/pid")
            assert r.status == 200
            pid = int(r.data)
        finally:
            c.close()
        served, reached = seen(pid)
        if pid not in order:
            order.append(pid)
    assert len(order) == 2, (order, served)
    assert served[order[0]] >= 3, served
    s.wait_log(rf"worker {order[0]} \(slot 1\) reached max_requests",
               timeout=10)
