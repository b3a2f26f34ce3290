"""The master: worker count, crash and respawn, graceful and immediate
stop, boot failures, bind failures, listeners (UNIX with mode, IPv6), and
that the master's objects carry no Python symbols (ISSUE3 "Master")."""

import glob
import os
import re
import signal
import socket
import stat
import subprocess
import threading
import time

import httpx
import pytest

from conftest import (BIN, ROOT, children_of, free_port, have_ipv6,
                      pid_alive, raw, wait_app_started, wait_until)
from httpraw import IncompleteResponse, request


# Any [error] line fails a test unless it sets allow_errors.
AM_STRICT_ERRORS = True


def get(s, path="/", timeout=10):
    return httpx.get(f"{s.url}{path}", timeout=timeout)


# ------------------------------------------------------------ workers


def test_worker_count_and_start_line(server):
    s = server({"workers": 3})
    kids = children_of(s.master_pid)
    assert len(kids) == 3, kids
    pids = s.worker_pids()
    assert sorted(pids) == [1, 2, 3]
    assert sorted(pids.values()) == kids
    s.wait_log(rf"\[notice\] {s.master_pid}#0: asgimaster 0\.1\.0 started, "
               rf"3 workers, listening on 127\.0\.0\.1:{s.port}")
    for pid, slot in ((p, sl) for sl, p in pids.items()):
        s.wait_log(rf"\[notice\] \d+#0: worker {pid} \(slot {slot}\) ready")
        s.wait_log(rf"\[notice\] {pid}#{slot}: worker ready")


def test_workers_auto_is_cpu_count(server):
    s = server({"workers": "auto"}, start=False)
    ncpu = os.cpu_count()
    s.workers = ncpu
    s.start()
    n = len(children_of(s.master_pid))
    assert n in (ncpu, len(os.sched_getaffinity(0))), n


def test_sigkill_worker_is_logged_and_replaced(server):
    s = server({"workers": 2})
    s.allow_respawn = True
    s.expect_log(r"\[crit\] .*exited on signal 9")
    pids = s.worker_pids()
    victim_slot, victim = sorted(pids.items())[0]
    os.kill(victim, signal.SIGKILL)
    # The other worker serves meanwhile.
    for _ in range(20):
        assert get(s).text == "hello"
    s.wait_log(rf"\[crit\] \d+#0: worker {victim} \(slot {victim_slot}\) "
               r"exited on signal 9")
    ms = s.wait_log(rf"worker (\d+) \(slot {victim_slot}\) ready", count=2)
    new = int(ms[-1].group(1))
    assert new != victim
    assert wait_until(lambda: len(children_of(s.master_pid)) == 2, 10)
    assert new in children_of(s.master_pid)
    assert get(s).text == "hello"


def test_worker_exit_code_is_logged_and_replaced(server):
    s = server({"workers": 1})
    s.allow_respawn = True
    s.expect_log(r"\[crit\] .*exited with code 7")
    (old,) = s.worker_pids().values()
    with pytest.raises(httpx.HTTPError):
        get(s, "/exit?code=7")
    s.wait_log(rf"\[crit\] \d+#0: worker {old} \(slot 1\) exited with "
               r"code 7")
    s.wait_log(r"worker \d+ \(slot 1\) ready", count=2)
    assert wait_until(lambda: _get_ok(s), 10)


def _get_ok(s):
    try:
        return get(s, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_requests_during_respawn_all_answered(server):
    s = server({"workers": 2})
    s.allow_respawn = True
    s.expect_log(r"\[crit\] .*exited on signal 9")
    failures = []
    ok = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                if get(s).status_code != 200:
                    failures.append("status")
                else:
                    ok.append(1)
            except httpx.HTTPError as e:
                failures.append(e)

    # Synchronised on events, not sleeps: the client is being served, the
    # kill, the replacement ready, the client served again after it.
    t = threading.Thread(target=client)
    t.start()
    try:
        assert wait_until(lambda: len(ok) >= 5, 30), (ok, failures)
        victim = sorted(s.worker_pids().items())[0][1]
        os.kill(victim, signal.SIGKILL)
        s.wait_log(r"worker \d+ \(slot \d+\) ready", count=3, timeout=30)
        after = len(ok)
        assert wait_until(lambda: len(ok) >= after + 5, 30), (ok, failures)
    finally:
        stop.set()
        t.join(15)
    # A request in flight on the killed worker may fail; not many more.
    assert len(failures) <= 1, failures


# ------------------------------------------------------------ stopping


def test_graceful_stop_finishes_inflight_request(server):
    s = server({"workers": 1})
    with raw(s) as c:
        c.send(request("GET", "/slow?s=2&started=slow"))
        wait_app_started(s, "slow")
        t0 = time.monotonic()
        s.send_signal(signal.SIGTERM)
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"slow done"
        # Draining: the response says the connection will not be reused.
        assert r.header("connection", "").lower() == "close"
        assert c.is_closed()
    assert s.wait_exit(10) == 0, s.log_text()
    assert time.monotonic() - t0 < 10
    s.wait_log(r"\[notice\] \d+#0: graceful stop")
    s.wait_log(r"\[notice\] \d+#0: exiting")
    s.wait_log(r"worker \d+ \(slot 1\) exited with code 0")


def test_graceful_stop_idle_keepalive_connection(server):
    s = server({"workers": 1})
    with raw(s) as c:
        c.send(request("GET", "/"))
        assert c.read_response().status == 200
        s.send_signal(signal.SIGTERM)
        # An idle keep-alive connection does not hold the stop up.
        assert s.wait_exit(10) == 0, s.log_text()


def test_sigint_is_graceful(server):
    s = server({"workers": 2})
    assert get(s).status_code == 200
    assert s.stop(signal.SIGINT) == 0
    s.wait_log(r"graceful stop")


def test_graceful_stop_refuses_new_connections(server):
    # log level info: the worker says when it stops accepting.
    s = server({"workers": 1, "log": {"level": "info"}})
    with raw(s) as c:
        c.send(request("GET", "/slow?s=2&started=slow"))
        wait_app_started(s, "slow")
        s.send_signal(signal.SIGTERM)
        s.wait_log(r"graceful stop: \d+ connections open")
        # New connections are not served once stopping began (refused, or
        # closed without a response).
        try:
            with raw(s, timeout=3) as c2:
                c2.send(request("GET", "/"))
                try:
                    r = c2.read_response()
                    assert r.status == 503 or \
                        "close" in r.header("connection", "")
                except (IncompleteResponse, socket.timeout):
                    pass
        except OSError:
            pass
        assert c.read_response().body == b"slow done"
    assert s.wait_exit(10) == 0


def test_graceful_timeout_forces_exit(server):
    s = server({"workers": 1, "timeouts": {"graceful": "1s"}})
    s.expected_exit = None  # forced: the code is not this test's point
    s.expect_log(r"\[crit\] .*exited on signal")
    with raw(s) as c:
        c.send(request("GET", "/slow?s=60&started=slow"))
        wait_app_started(s, "slow")
        t0 = time.monotonic()
        s.send_signal(signal.SIGTERM)
        assert s.wait_exit(10) is not None, "graceful timeout not enforced"
        assert time.monotonic() - t0 < 10
    assert not any(pid_alive(p) for p in s.worker_pids_all())


def test_sigquit_is_immediate(server):
    s = server({"workers": 2})
    s.expect_log(r"\[crit\] .*exited on signal")
    with raw(s) as c:
        c.send(request("GET", "/slow?s=60&started=slow"))
        wait_app_started(s, "slow")
        t0 = time.monotonic()
        s.send_signal(signal.SIGQUIT)
        assert s.wait_exit(10) == 0, s.log_text()
        assert time.monotonic() - t0 < 10
        with pytest.raises((IncompleteResponse, ConnectionError)):
            c.read_response()
    s.wait_log(r"\[notice\] \d+#0: immediate stop")
    assert not any(pid_alive(p) for p in s.worker_pids_all())


def test_sigquit_after_sigterm_cuts_the_graceful_stop_short(server):
    s = server({"workers": 1})
    s.expect_log(r"\[crit\] .*exited on signal")
    with raw(s) as c:
        c.send(request("GET", "/slow?s=60&started=slow"))
        wait_app_started(s, "slow")
        s.send_signal(signal.SIGTERM)
        s.wait_log(r"\[notice\] \d+#\d+: graceful stop")
        assert s.running()
        t0 = time.monotonic()
        s.send_signal(signal.SIGQUIT)
        assert s.wait_exit(10) is not None
        assert time.monotonic() - t0 < 10
    s.expected_exit = None
    assert s.returncode == 0, s.log_text()


def test_stop_while_booting(server):
    s = server({"app": "lifespan_hang:app", "lifespan": "on",
                "timeouts": {"graceful": "2s"}}, start=False)
    s.expect_log(r"\[crit\] .*exited on signal")
    s.expected_exit = None
    s.allow_respawn = True
    s.start(wait=False)
    s.wait_log(r"worker \d+ \(slot 1\) started")
    # In the middle of its boot: lifespan startup began and hangs.
    assert wait_until(lambda: list(s.tmp.glob("lifespan-started-*")), 30)
    t0 = time.monotonic()
    s.send_signal(signal.SIGTERM)
    assert s.wait_exit(10) is not None, "stuck stopping a booting worker"
    assert time.monotonic() - t0 < 10
    assert s.returncode in (0, 1)
    assert not any(pid_alive(p) for p in s.worker_pids_all())


def test_worker_killed_mid_request_closes_the_connection(server):
    s = server({"workers": 1})
    s.allow_respawn = True
    s.expect_log(r"\[crit\] .*exited on signal 9")
    (pid,) = s.worker_pids().values()
    with raw(s) as c:
        c.send(request("GET", "/slow?s=30&started=slow"))
        wait_app_started(s, "slow")
        os.kill(pid, signal.SIGKILL)
        with pytest.raises((IncompleteResponse, ConnectionError)):
            c.read_response()
    s.wait_log(r"worker \d+ \(slot 1\) ready", count=2)
    assert wait_until(lambda: _get_ok(s), 10)


def test_stop_leaves_no_worker_behind(server):
    s = server({"workers": 3})
    pids = list(s.worker_pids().values())
    assert len(pids) == 3
    assert s.stop() == 0
    assert wait_until(lambda: not any(pid_alive(p) for p in pids), 5)


# ------------------------------------------------------------ boot failures


@pytest.mark.parametrize("app,needle", [
    ("broken_import:app", "ModuleNotFoundError"),
    ("no_such_module_asgimaster:app", "ModuleNotFoundError"),
    ("basic:no_such_attr", "no_such_attr"),
])
def test_boot_failure_exits_1(server, app, needle):
    s = server({"app": app, "workers": 2}, start=False)
    s.allow_errors = True  # the import traceback
    s.expected_exit = 1
    s.allow_respawn = True
    s.expect_log(r"\[crit\] .*worker \d+ \(slot \d+\) exited")
    t0 = time.monotonic()
    s.start(wait=False)
    assert s.wait_exit(15) == 1, s.log_text()
    assert time.monotonic() - t0 < 15
    m = s.wait_log(r"\[emerg\] \d+#0: worker \d+ \(slot \d+\) failed to "
                   r"boot: (.*)$")
    assert needle in m[0].group(1), s.log_text()
    # No respawn storm.
    assert s.started_count() <= 6, s.log_text()
    assert not children_of(s.master_pid)


def test_boot_failure_traceback_names_the_module(server):
    s = server({"app": "broken_import:app"}, start=False)
    s.allow_errors = True
    s.expected_exit = 1
    s.allow_respawn = True
    s.expect_log(r"\[crit\] .*exited")
    s.start(wait=False)
    assert s.wait_exit(15) == 1
    assert "does_not_exist_asgimaster_test" in s.log_text()


def test_bind_failure_exits_1(server):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        s = server({"listen": [f"127.0.0.1:{port}"]}, start=False)
        s.expected_exit = 1
        s.start(wait=False)
        assert s.wait_exit(10) == 1, s.log_text()
    assert s.log_lines("emerg"), s.log_text()
    assert f"127.0.0.1:{port}" in s.log_text()
    assert s.started_count() == 0


def test_invalid_config_binds_nothing(server, tmp_path):
    sock = tmp_path / "never.sock"
    port = free_port()
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        f"app: basic:app\n"
        f"listen:\n"
        f"  - address: \"unix:{sock}\"\n"
        f"  - \"127.0.0.1:{port}\"\n"
        f"workers: 1\n"
        f"timeouts:\n"
        f"  keepalive: 5 fortnights\n")
    p = subprocess.Popen([str(BIN), "-c", str(cfg)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    assert p.returncode == 1, err
    assert re.search(re.escape(str(cfg)) + r":7:\d+: ", err), err
    assert not sock.exists()
    assert "started" not in err


# ------------------------------------------------------------ listeners


@pytest.mark.parametrize("mode", ["0660", "0600"])
def test_unix_socket_with_mode(server, tmp_path, mode):
    path = tmp_path / f"app-{mode}.sock"
    s = server({"listen": [{"address": f"unix:{path}", "mode": mode}]})
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == int(mode, 8)
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport, timeout=10) as c:
        assert c.get("http://localhost/").text == "hello"
    assert s.running()


def test_tcp_and_unix_together(server, tmp_path):
    path = tmp_path / "both.sock"
    port = free_port()
    s = server({"listen": [f"127.0.0.1:{port}",
                           {"address": f"unix:{path}", "backlog": 64}]})
    assert get(s).text == "hello"
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport, timeout=10) as c:
        assert c.get("http://localhost/").text == "hello"
    s.wait_log(rf"listening on .*127\.0\.0\.1:{port}.*unix:{re.escape(str(path))}"
               rf"|listening on .*unix:{re.escape(str(path))}.*127\.0\.0\.1:{port}")


@pytest.mark.skipif(not have_ipv6(), reason="no IPv6 loopback")
def test_ipv6_listener(server):
    port = free_port(socket.AF_INET6, "::1")
    s = server({"listen": [f"[::1]:{port}"]})
    r = httpx.get(f"http://[::1]:{port}/scope", timeout=10)
    d = r.json()
    assert d["client"][0] == "::1"
    assert d["server"] == ["::1", port]
    assert s.running()


def test_listen_all_ipv4(server):
    port = free_port(host="0.0.0.0")
    server({"listen": [f":{port}"]})
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello"


def test_listen_mapping_with_backlog(server):
    port = free_port()
    server({"listen": [{"address": f"127.0.0.1:{port}", "backlog": 16}]})
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello"


# ------------------------------------------------------------ resources


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_no_fd_growth_in_worker(server):
    s = server({"workers": 1})
    s.allow_errors = True  # /raise-before
    (pid,) = s.worker_pids().values()
    for _ in range(5):
        get(s)
    time.sleep(0.3)
    base = fd_count(pid)
    for i in range(60):
        get(s, "/")
        get(s, "/raise-before")
        with raw(s) as c:  # a client that leaves mid-request
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        with raw(s) as c:  # and one that leaves mid-body
            c.send(request("POST", "/echo", body=b"",
                           headers=[("Content-Length", "100")]) + b"abc")
    assert wait_until(lambda: fd_count(pid) <= base, 10), \
        (base, fd_count(pid))


def test_no_fd_leak_in_master(server):
    s = server({"workers": 1})
    s.allow_respawn = True
    s.expect_log(r"\[crit\] .*exited on signal 9")
    base = fd_count(s.master_pid)
    for n in range(3):
        victim = list(s.worker_pids().values())[0]
        os.kill(victim, signal.SIGKILL)
        s.wait_log(r"worker \d+ \(slot 1\) ready", count=n + 2)
    assert wait_until(lambda: fd_count(s.master_pid) <= base, 5), \
        (base, fd_count(s.master_pid))


# ------------------------------------------------------------ no Python


def build_dirs():
    cands = []
    if os.environ.get("ASGIMASTER_BUILD"):
        cands.append(os.environ["ASGIMASTER_BUILD"])
    cands += [str(BIN.parent), str(ROOT / "build")]
    return [d for d in cands if glob.glob(os.path.join(d, "master", "*.o"))]


def test_master_objects_have_no_python_symbols():
    dirs = build_dirs()
    if not dirs:
        pytest.skip("no build dir with master/*.o (set ASGIMASTER_BUILD)")
    objs = glob.glob(os.path.join(dirs[0], "master", "*.o")) + \
        glob.glob(os.path.join(dirs[0], "common", "*.o"))
    r = subprocess.run(["nm", "-u"] + objs, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    py = [line for line in r.stdout.splitlines()
          if re.search(r"\s_?Py\w*$", line)]
    assert not py, py


def test_unix_socket_file_removed_on_stop(server, tmp_path):
    # asgimaster(8): only a binary upgrade's old master leaves the socket
    # files behind; a plain stop removes them.
    path = tmp_path / "gone.sock"
    s = server({"listen": [f"unix:{path}"]})
    assert path.exists()
    assert s.stop() == 0
    assert not path.exists()


def test_stale_unix_socket_file_does_not_block_start(server, tmp_path):
    # A master that was SIGKILLed leaves its socket file; nobody listens
    # on it any more, so the next start must not fail on it.
    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    assert path.exists()
    s = server({"listen": [f"unix:{path}"]})
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport, timeout=10) as c:
        assert c.get("http://localhost/").text == "hello"
    assert s.running()
