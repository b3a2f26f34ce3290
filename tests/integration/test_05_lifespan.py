"""Lifespan (asgiref specs/lifespan.rst): on/off/auto, state handed to
requests as a shallow copy, startup.failed as a boot failure, shutdown on a
graceful stop, boot timeout."""

import json
import time

import httpx
import pytest


# Any [error] line fails a test unless it sets allow_errors.
AM_STRICT_ERRORS = True


def read_shutdown(tmp_path):
    files = sorted(tmp_path.glob("shutdown-*.json"))
    return [json.loads(f.read_text()) for f in files]


def test_state_shallow_copy_per_request(server, tmp_path):
    s = server({"app": "lifespan_state:app", "lifespan": "on"})
    a = httpx.get(f"{s.url}/state", timeout=10).json()
    assert a["has_state"] is True
    assert a["name"] == "lifespan"
    assert a["items_is_shared"] is True
    # lifespan.rst: the lifespan scope carries asgi.version too.
    assert a["lifespan_asgi"]["version"] == "3.0"

    m = httpx.get(f"{s.url}/mutate", timeout=10).json()
    assert m["name"] == "changed-by-request"
    assert m["added"] == "by-request"

    b = httpx.get(f"{s.url}/state", timeout=10).json()
    # Top-level assignment in one request's copy does not leak...
    assert b["name"] == "lifespan"
    assert b["added"] is None
    # ...but the copy is shallow: the list object is the same one.
    assert b["items_is_shared"] is True
    assert b["items"] == ["x"]

    assert s.stop() == 0
    (d,) = read_shutdown(tmp_path)
    # The lifespan's own namespace never saw the request's assignment.
    assert d["had_state"] is True
    assert d["state"]["name"] == "lifespan"
    assert "added" not in d["state"]


@pytest.mark.parametrize("mode", ["on", "auto"])
def test_shutdown_runs_on_graceful_stop(server, tmp_path, mode):
    s = server({"app": "lifespan_state:app", "lifespan": mode,
                "workers": 2})
    assert httpx.get(f"{s.url}/state", timeout=10).status_code == 200
    pids = set(s.worker_pids().values())
    assert s.stop() == 0
    done = read_shutdown(tmp_path)
    assert len(done) == 2, "each worker runs lifespan shutdown"
    if pids:
        assert {f.name for f in tmp_path.glob("shutdown-*.json")} == \
            {f"shutdown-{p}.json" for p in pids}


def test_lifespan_off_never_calls_lifespan(server, tmp_path):
    s = server({"app": "lifespan_unsupported:app", "lifespan": "off"})
    r = httpx.get(f"{s.url}/", timeout=10)
    assert r.json() == {"lifespan": 0}
    assert s.stop() == 0
    assert not s.log_lines("error"), s.log_text()


def test_lifespan_off_state_app_gets_no_startup(server, tmp_path):
    s = server({"app": "lifespan_state:app", "lifespan": "off"})
    d = httpx.get(f"{s.url}/state", timeout=10).json()
    assert d["name"] is None
    assert s.stop() == 0
    assert not read_shutdown(tmp_path)


def test_lifespan_auto_tolerates_unsupported_app(server):
    s = server({"app": "lifespan_unsupported:app", "lifespan": "auto"})
    r = httpx.get(f"{s.url}/", timeout=10)
    assert r.status_code == 200
    assert r.json() == {"lifespan": 1}
    assert s.stop() == 0
    # No [error] or worse for an app that simply lacks lifespan.
    for level in ("emerg", "alert", "crit", "error"):
        assert not s.log_lines(level), s.log_text()


def test_lifespan_on_unsupported_app_fails_boot(server):
    s = server({"app": "lifespan_unsupported:app", "lifespan": "on"},
               start=False)
    s.allow_errors = True
    s.expected_exit = 1
    s.allow_respawn = True
    s.expect_log(r"\[crit\] .*worker \d+ \(slot \d+\) exited")
    s.start(wait=False)
    assert s.wait_exit(20) == 1, s.log_text()
    assert "failed to boot" in s.log_text()


def test_startup_failed_stops_master(server):
    s = server({"app": "lifespan_failed:app", "lifespan": "auto",
                "workers": 2}, start=False)
    s.expected_exit = 1
    s.allow_respawn = True
    s.expect_log(r"\[crit\] .*worker \d+ \(slot \d+\) exited")
    s.start(wait=False)
    t0 = time.monotonic()
    assert s.wait_exit(20) == 1, s.log_text()
    assert time.monotonic() - t0 < 20
    s.wait_log(r"\[emerg\] .*failed to boot: .*database unreachable \(test\)")


def test_boot_timeout(server):
    s = server({"app": "lifespan_hang:app", "lifespan": "on",
                "timeouts": {"boot": "2s"}}, start=False)
    s.expected_exit = 1
    s.allow_respawn = True
    s.expect_log(r"\[crit\] .*worker \d+ \(slot \d+\) exited")
    s.start(wait=False)
    assert s.wait_exit(30) == 1, s.log_text()
    assert s.log_lines("emerg"), s.log_text()


def test_lifespan_counts_once_per_worker(server):
    s = server({"lifespan": "on"})
    r = httpx.get(f"{s.url}/lifespan-count", timeout=10).json()
    assert r == {"startup": 1, "shutdown": 0}


def test_shutdown_after_inflight_requests(server, tmp_path):
    # lifespan.rst: lifespan.shutdown is sent once the server has stopped
    # accepting and closed all active connections.
    from conftest import raw, wait_until
    from httpraw import request
    import signal
    s = server({"app": "lifespan_state:app", "lifespan": "on"})
    with raw(s) as c:
        c.send(request("GET", "/slow"))
        # The request is in the app (not merely sent) before the stop.
        assert wait_until((tmp_path / "slow-started").exists, 30), \
            s.log_text()
        s.send_signal(signal.SIGTERM)
        assert c.read_response().status == 200
    assert s.wait_exit(10) == 0
    (d,) = read_shutdown(tmp_path)
    assert d["events"] == ["slow-done", "shutdown"]
