"""tests/integration/test_30_reload.py: zero-downtime operations (issue 5).

SIGHUP reload under HTTP/1.1 keep-alive and h2c load with zero failed
requests, changed app code served after a reload, broken configs and apps
that do not import keep the old generation serving, a 10 s stream survives a
reload, SIGKILL and stuck workers are replaced, SIGTTIN/SIGTTOU, SIGUSR1
with a rotated log, the pidfile and `-s`, SIGUSR2 binary upgrade under load.
SPDX-License-Identifier: BSD-2-Clause
"""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN, pid_alive, wait_until

APP = '''
import os, time, asyncio
VERSION = {version!r}

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({{"type": "lifespan.startup.complete"}})
            elif m["type"] == "lifespan.shutdown":
                await send({{"type": "lifespan.shutdown.complete"}})
                return
    path = scope["path"]
    if path == "/stream":
        await send({{"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]}})
        for i in range(10):
            await send({{"type": "http.response.body",
                        "body": b"chunk %d\\n" % i, "more_body": True}})
            await asyncio.sleep(1)
        await send({{"type": "http.response.body", "body": b"done\\n"}})
        return
    if path == "/block":
        time.sleep(1000)
    body = ("%s %d" % (VERSION, os.getpid())).encode()
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]}})
    await send({{"type": "http.response.body", "body": body}})
'''


def write_app(tmp_path, version, broken=False):
    text = APP.format(version=version)
    if broken:
        text = "import no_such_module_for_reload_test\n" + text
    (tmp_path / "opsapp.py").write_text(text)


def make(server, tmp_path, version="v1", config=None, **kw):
    write_app(tmp_path, version)
    cfg = {"app": "opsapp:app", "chdir": str(tmp_path), "workers": 2}
    cfg.update(config or {})
    s = server(cfg, **kw)
    s.allow_respawn = True  # every reload starts new workers
    return s


def get(port, path="/", timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def reload_and_wait(s, count):
    """SIGHUP, then wait for the count-th "generation N ready" line."""
    s.send_signal(signal.SIGHUP)
    s.wait_log(r"\[notice\] \d+#0: generation \d+ ready, retiring "
               r"generation \d+", timeout=30, count=count)


class Load:
    """Threads doing keep-alive GETs until stopped; every failure kept."""

    def __init__(self, port, threads=4):
        self.port = port
        self.stop = threading.Event()
        self.ok = 0
        self.failures = []
        self.retries = 0  # idle keep-alive closed under the request
        self.bodies = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True)
                        for _ in range(threads)]

    def run(self):
        conn = None
        used = False
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                      timeout=10)
                    used = False
                conn.request("GET", "/")
                r = conn.getresponse()
                body = r.read().decode()
                used = True
                with self.lock:
                    if r.status == 200:
                        self.ok += 1
                        self.bodies.append(body)
                    else:
                        self.failures.append(f"status {r.status}")
                if r.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError) as e:
                # A keep-alive connection closed by the server between two
                # requests is allowed (RFC 9112 9.3.1): the client retries
                # idempotent requests on a fresh connection. A reset or
                # refusal of a NEW connection is a failure.
                if conn is not None:
                    conn.close()
                conn = None
                with self.lock:
                    if used:
                        self.retries += 1
                    else:
                        self.failures.append(repr(e))
            except Exception as e:  # noqa: BLE001
                with self.lock:
                    self.failures.append(repr(e))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)


@pytest.mark.am_timeout(120)
def test_ten_reloads_under_keepalive_load(server, tmp_path):
    s = make(server, tmp_path)
    # Synchronised on the load's progress, not on sleeps: it is served
    # before the first reload and again after each one (a count bounded
    # by time, "more than 100 requests", failed on slow machines).
    with Load(s.port) as load:
        assert wait_until(lambda: load.ok >= 20, 30), load.failures[:10]
        for i in range(1, 11):
            write_app(tmp_path, f"v{i + 1}")
            reload_and_wait(s, i)
            n = load.ok
            assert wait_until(lambda: load.ok >= n + 10, 30), \
                load.failures[:10]
    assert not load.failures, load.failures[:10]
    # Issue 5: not one request reset either. A draining worker answers what
    # arrives on an idle keep-alive connection with Connection: close.
    assert load.retries == 0, f"{load.retries} keep-alive requests reset"
    print(f"{load.ok} requests, {load.retries} keep-alive retries")
    status, body = get(s.port)
    assert status == 200 and body.startswith("v11 "), body
    assert "reload failed" not in s.log_text()


@pytest.mark.am_timeout(120)
def test_reloads_under_h2c_load(server, tmp_path):
    if not shutil.which("h2load"):
        pytest.skip("h2load is not installed")
    s = make(server, tmp_path)
    h2 = subprocess.Popen(
        ["h2load", "-n", "20000", "-c", "4", "-m", "4", "-D", "8",
         f"http://127.0.0.1:{s.port}/"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1)
        for i in range(1, 4):
            reload_and_wait(s, i)
            time.sleep(0.5)
        out, _ = h2.communicate(timeout=60)
    finally:
        if h2.poll() is None:
            h2.kill()
            h2.wait()
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, "
                  r"(\d+) succeeded, (\d+) failed, (\d+) errored", out)
    assert m, out
    total, started, done, ok, failed, errored = map(int, m.groups())
    # h2load counts the requests it had queued when a GOAWAY arrived as
    # failed, though the server never saw them (RFC 9113 §6.8: streams above
    # the GOAWAY's last id are unprocessed and safe to retry; browsers and
    # proxies do). At most one pipeline (-m 4) per connection (-c 4) per
    # reload: anything more is a request the server lost.
    assert failed <= 4 * 4 * 3, out
    assert ok > 0 and ok + failed == done, out


def test_reload_serves_new_code_and_config(server, tmp_path):
    s = make(server, tmp_path)
    _, body = get(s.port)
    assert body.startswith("v1 ")
    old_pids = set(s.worker_pids().values())
    write_app(tmp_path, "v2")
    s.config["workers"] = 3
    s.write_config()
    reload_and_wait(s, 1)
    _, body = get(s.port)
    assert body.startswith("v2 ")
    s.wait_log(r"generation 2 serving", timeout=5)
    # the old workers drain and exit
    assert wait_until(lambda: not any(pid_alive(p) for p in old_pids), 15)
    assert len(s.log_lines("notice")) > 0
    s.wait_log(r"worker \d+ \(slot 3\) ready", timeout=5)


def test_reload_with_broken_config_keeps_serving(server, tmp_path):
    s = make(server, tmp_path)
    pids = set(s.worker_pids().values())
    good = s.conf_path.read_text()
    s.conf_path.write_text(good + "workrs: 3\n")
    s.send_signal(signal.SIGHUP)
    ms = s.wait_log(r"\[error\] \d+#0: reload failed: (.*)", timeout=10)
    assert re.search(r"\.yaml:\d+:\d+: unknown key", ms[0].group(1))
    status, body = get(s.port)
    assert status == 200 and body.startswith("v1 ")
    assert set(s.worker_pids().values()) == pids
    assert all(pid_alive(p) for p in pids)
    s.conf_path.write_text(good)


def test_reload_with_broken_app_keeps_serving(server, tmp_path):
    s = make(server, tmp_path)
    pids = set(s.worker_pids().values())
    write_app(tmp_path, "v2", broken=True)
    s.send_signal(signal.SIGHUP)
    s.wait_log(r"\[error\] \d+#0: reload failed: worker \d+ \(slot \d+\) "
               r"failed to boot: .*no_such_module_for_reload_test",
               timeout=20)
    s.expect_log(r"failed to boot|exited")
    time.sleep(0.5)
    status, body = get(s.port)
    assert status == 200 and body.startswith("v1 ")
    assert all(pid_alive(p) for p in pids)
    assert s.proc.poll() is None
    # and a fixed app reloads fine afterwards
    write_app(tmp_path, "v3")
    reload_and_wait(s, 1)
    assert get(s.port)[1].startswith("v3 ")


@pytest.mark.am_timeout(60)
def test_stream_survives_reload(server, tmp_path):
    s = make(server, tmp_path, config={"workers": 1})
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=20)
    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"chunk 0\n" not in data:   # the stream is under way
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    reload_and_wait(s, 1)
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if data.endswith(b"0\r\n\r\n"):
            break
    sock.close()
    text = data.decode()
    for i in range(10):
        assert f"chunk {i}\n" in text, text
    assert "done\n" in text and text.endswith("0\r\n\r\n"), text


def test_sigkill_worker_is_replaced(server, tmp_path):
    s = make(server, tmp_path)
    victim = s.worker_pids()[1]
    s.expect_log(rf"worker {victim} \(slot 1\) exited on signal 9")
    os.kill(victim, signal.SIGKILL)
    s.wait_log(r"worker \d+ \(slot 1\) started", count=2)
    s.wait_log(r"worker \d+ \(slot 1\) ready", count=2)
    assert get(s.port)[0] == 200


@pytest.mark.am_timeout(60)
def test_stuck_worker_is_aborted_and_replaced(server, tmp_path):
    s = make(server, tmp_path, config={"workers": 1,
                                       "timeouts": {"worker": "2s"}})
    s.expect_log(r"stuck for|still running|Fatal Python|exited on signal")
    victim = s.worker_pids()[1]
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    c.request("GET", "/block")
    ms = s.wait_log(rf"\[crit\] \d+#0: worker {victim} \(slot 1\) stuck for "
                    r"(\d+\.\d)s, aborting", timeout=15)
    assert float(ms[0].group(1)) >= 2.0
    with pytest.raises(Exception):
        c.getresponse().read()
    c.close()
    s.wait_log(r"worker \d+ \(slot 1\) ready", count=2, timeout=15)
    assert wait_until(lambda: not pid_alive(victim), 10)
    assert get(s.port)[0] == 200
    # faulthandler (worker side) writes the Python stack into the log
    text = s.log_text()
    assert "time.sleep" in text or "opsapp.py" in text, \
        "no Python stack of the stuck worker in the log:\n" + text


def test_ttin_ttou(server, tmp_path):
    s = make(server, tmp_path, config={"workers": 1})
    s.send_signal(signal.SIGTTIN)
    s.wait_log(r"worker \d+ \(slot 2\) ready")
    s.send_signal(signal.SIGTTOU)
    s.wait_log(r"SIGTTOU received: 1 workers")
    s.wait_log(r"worker \d+ \(slot 2\) exited with code 0")
    assert get(s.port)[0] == 200


def test_usr1_reopens_a_rotated_log(server, tmp_path):
    log = tmp_path / "error.log"
    s = make(server, tmp_path, config={"log": {"error_log": str(log)}})
    rotated = tmp_path / "error.log.1"
    os.rename(log, rotated)
    s.send_signal(signal.SIGUSR1)
    assert wait_until(lambda: log.exists(), 10)
    s.send_signal(signal.SIGHUP)
    assert wait_until(lambda: "reloading configuration" in log.read_text(),
                      10)
    assert "reopening logs" in rotated.read_text()


def test_pidfile_and_signal_flag(server, tmp_path):
    pidfile = tmp_path / "am.pid"
    s = make(server, tmp_path, config={"pidfile": str(pidfile)})
    assert pidfile.read_text().strip() == str(s.master_pid)

    # a second master with the same pidfile refuses to start
    other = subprocess.run(
        [str(BIN), "-c", str(s.conf_path), "-b", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=20)
    assert other.returncode == 1
    assert "names the running process" in other.stderr

    write_app(tmp_path, "v2")
    r = subprocess.run([str(BIN), "-s", "reload", "-c", str(s.conf_path)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    s.wait_log(r"generation 2 ready, retiring generation 1", timeout=20)
    assert get(s.port)[1].startswith("v2 ")

    r = subprocess.run([str(BIN), "-s", "stop", "-c", str(s.conf_path)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert s.wait_exit(20) == 0
    assert not pidfile.exists()

    r = subprocess.run([str(BIN), "-s", "reload", "-c", str(s.conf_path)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "pidfile" in r.stderr


def test_signal_flag_without_pidfile(server, tmp_path):
    conf = tmp_path / "x.yaml"
    conf.write_text("app: a:b\n")
    r = subprocess.run([str(BIN), "-s", "reload", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "pidfile" in r.stderr
    r = subprocess.run([str(BIN), "-s", "bogus", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2


@pytest.mark.am_timeout(120)
def test_binary_upgrade_under_load(server, tmp_path):
    pidfile = tmp_path / "am.pid"
    s = make(server, tmp_path, config={"pidfile": str(pidfile)})
    old = s.master_pid
    new = None
    try:
        with Load(s.port) as load:
            assert wait_until(lambda: load.ok >= 20, 30), load.failures[:10]
            write_app(tmp_path, "v2")
            s.send_signal(signal.SIGUSR2)
            s.wait_log(r"binary upgrade: new master (\d+) started")
            # the old master exits once the new one's workers are ready
            assert s.wait_exit(40) == 0, s.log_text()
            assert wait_until(lambda: pidfile.exists(), 10)
            new = int(pidfile.read_text())
            assert new != old and pid_alive(new)
            assert not Path(str(pidfile) + ".oldbin").exists()
            # served by the new master's workers too (an event, where a
            # count bounded by time, "more than 50", was asserted before)
            assert wait_until(lambda: any(b.startswith("v2 ")
                                          for b in load.bodies), 30)
        assert not load.failures, load.failures[:10]
        assert get(s.port)[1].startswith("v2 ")
        assert "using the inherited socket" in s.log_text()
    finally:
        if new is not None and pid_alive(new):
            os.kill(new, signal.SIGTERM)
            assert wait_until(lambda: not pid_alive(new), 20)
    assert not pidfile.exists()


def parse_prometheus(text):
    """{(name, frozenset(labels.items())): value}; checks the format."""
    samples, types = {}, {}
    line_re = re.compile(
        r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary",
                            "untyped"), line
            types[name] = kind
            continue
        assert not line.startswith("#"), line
        m = line_re.match(line)
        assert m, f"bad sample line {line!r}"
        labels = {}
        if m.group(3):
            labels = dict(label_re.findall(m.group(3)))
        value = float(m.group(4))
        key = (m.group(1), frozenset(labels.items()))
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = value
    for (name, _) in samples:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or base in types, f"{name} has no TYPE"
    return samples


def metric(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def test_metrics_endpoint(server, tmp_path):
    mport = socket.socket()
    mport.bind(("127.0.0.1", 0))
    port = mport.getsockname()[1]
    mport.close()
    s = make(server, tmp_path, config={
        "metrics": {"address": f"127.0.0.1:{port}"}})
    status, text = get(port, "/metrics")
    assert status == 200, text
    # Only metrics there: no app path, and no HTTP/2 that would reach it.
    assert get(port, "/")[0] == 404
    h2 = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                         "--http2-prior-knowledge", "--max-time", "5",
                         f"http://127.0.0.1:{port}/"],
                        capture_output=True, text=True, timeout=20)
    assert h2.stdout != "200", h2
    before = parse_prometheus(text)
    base = metric(before, "asgimaster_requests_total", protocol="h1",
                  status="2xx") or 0
    for _ in range(25):
        assert get(s.port)[0] == 200
    assert get(s.port, "/nope")[0] == 200  # the app answers 200 anyway
    # The workers report to the master asynchronously: wait until the
    # count arrives (it must then be exact, checked below).
    wait_until(lambda: metric(parse_prometheus(get(port, "/metrics")[1]),
                              "asgimaster_requests_total", protocol="h1",
                              status="2xx") == base + 26, 15)
    samples = parse_prometheus(get(port, "/metrics")[1])
    assert metric(samples, "asgimaster_requests_total", protocol="h1",
                  status="2xx") == base + 26
    assert metric(samples, "asgimaster_request_duration_seconds_count") \
        >= 26
    assert metric(samples, "asgimaster_request_duration_seconds_bucket",
                  le="+Inf") == metric(
        samples, "asgimaster_request_duration_seconds_count")
    assert metric(samples, "asgimaster_worker_starts_total") == 2
    assert metric(samples, "asgimaster_generation") == 1
    rss = [k for k in samples if k[0] == "asgimaster_worker_rss_bytes"]
    assert len(rss) == 2 and all(samples[k] > 0 for k in rss)
    assert get(port, "/other")[0] == 404

    # a reload: the counters carry over, the generation moves on
    reload_and_wait(s, 1)
    wait_until(lambda: metric(parse_prometheus(get(port, "/metrics")[1]),
                              "asgimaster_generation") == 2, 15)
    samples = parse_prometheus(get(port, "/metrics")[1])
    assert metric(samples, "asgimaster_generation") == 2
    assert metric(samples, "asgimaster_reloads_total", outcome="ok") == 1
    assert metric(samples, "asgimaster_requests_total", protocol="h1",
                  status="2xx") >= base + 26
