"""Uvicorn's commands, verbatim with `asgimaster` for `uvicorn` (issue 12).

The seed commands run exactly as a newcomer types them; the port comes from
ASGIMASTER_PORT (the environment form of --port) so that tests running side
by side never fight over 8000. curl says which HTTP version it spoke, and
the app says what its scope's http_version was.
SPDX-License-Identifier: BSD-2-Clause
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import APPS, BIN, free_port, run_bin, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("openssl") is None,
    reason="needs curl and openssl")

SCOPE_APP = '''
import json

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps({"http_version": scope["http_version"],
                       "scheme": scope["scheme"],
                       "root_path": scope.get("root_path", ""),
                       "client": scope.get("client"),
                       "env": __import__("os").environ.get("AM_TEST_ENV"),
                       }).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
'''


@pytest.fixture
def appdir(tmp_path):
    (tmp_path / "main.py").write_text(SCOPE_APP)
    (tmp_path / "app.py").write_text(SCOPE_APP)
    return tmp_path


def make_cert(d, password=None):
    cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:prime256v1", "-keyout", str(d / "key.pem"),
           "-out", str(d / "cert.pem"), "-days", "2", "-subj",
           "/CN=localhost", "-addext",
           "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    cmd += ["-passout", f"pass:{password}"] if password else ["-nodes"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


class Run:
    """One asgimaster started with a verbatim argv."""

    def __init__(self, args, cwd, env=None, port=None):
        self.port = port
        e = dict(os.environ)
        e.pop("WEB_CONCURRENCY", None)
        e["PYTHONDONTWRITEBYTECODE"] = "1"
        e.update(env or {})
        self.log = Path(cwd) / "run.log"
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen([str(BIN)] + args, cwd=cwd, env=e,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)

    def text(self):
        return self.log.read_text()

    def wait_ready(self, workers=None):
        def ready():
            assert self.proc.poll() is None, self.text()
            n = len(re.findall(r"worker \d+ \(slot \d+\) ready", self.text()))
            return n >= (workers or 1)
        assert wait_until(ready, 20), self.text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.logf.close()
        return self.proc.returncode


@pytest.fixture
def runs():
    made = []

    def start(*a, **kw):
        r = Run(*a, **kw)
        made.append(r)
        return r

    yield start
    for r in made:
        r.stop()
        assert "[alert]" not in r.text(), r.text()


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "-w",
                        "\n%{http_version}"] + list(args),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    body, _, version = r.stdout.rpartition("\n")
    return version, json.loads(body)


# ------------------------------------------------------------ seed commands


def test_seed_main_app_http2(appdir, runs):
    port = free_port()
    s = runs(["main:app", "--http2"], cwd=appdir,
             env={"ASGIMASTER_PORT": str(port)})
    s.wait_ready()
    version, scope = curl("--http2", f"http://127.0.0.1:{port}/")
    assert version == "2", "curl --http2 upgrades to h2c"
    assert scope["http_version"] == "2"
    version, scope = curl("--http2-prior-knowledge",
                          f"http://127.0.0.1:{port}/")
    assert (version, scope["http_version"]) == ("2", "2")


def test_seed_tls_http2(appdir, runs):
    make_cert(appdir)
    port = free_port()
    s = runs(["app:app", "--http2", "--ssl-keyfile", "key.pem",
              "--ssl-certfile", "cert.pem"], cwd=appdir,
             env={"ASGIMASTER_PORT": str(port)})
    s.wait_ready()
    version, scope = curl("--http2", "-k", f"https://127.0.0.1:{port}/")
    assert version == "2", "ALPN h2"
    assert scope["http_version"] == "2"
    assert scope["scheme"] == "https"


def test_no_http2_serves_http11_only(appdir, runs):
    port = free_port()
    s = runs(["main:app", "--no-http2", "--port", str(port)], cwd=appdir)
    s.wait_ready()
    version, scope = curl("--http2", f"http://127.0.0.1:{port}/")
    assert (version, scope["http_version"]) == ("1.1", "1.1")


def test_host_port_uds_fd(appdir, runs, tmp_path):
    port = free_port()
    sock = tmp_path / "s.sock"
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    fdport = lsock.getsockname()[1]
    fd = lsock.fileno()
    e = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    log = open(tmp_path / "fd.log", "w")
    proc = subprocess.Popen(
        [str(BIN), "main:app", "--host", "127.0.0.1", "--port", str(port),
         "--uds", str(sock), "--fd", str(fd), "-w", "1"],
        cwd=appdir, env=e, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        pass_fds=[fd])
    lsock.close()
    try:
        def up():
            assert proc.poll() is None, (tmp_path / "fd.log").read_text()
            return "ready" in (tmp_path / "fd.log").read_text()
        assert wait_until(up, 20)
        assert curl(f"http://127.0.0.1:{port}/")[1]["http_version"] == "1.1"
        assert curl("--unix-socket", str(sock), "http://x/")[0] == "1.1"
        assert curl("--http2-prior-knowledge",
                    f"http://127.0.0.1:{fdport}/")[0] == "2"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        log.close()


def test_fd_that_is_not_a_listener():
    r = run_bin(["--fd", "0", "basic:app"], cwd=APPS)
    assert r.returncode == 2, r
    assert "--fd 0: not a listening socket" in r.stderr


def test_uvicorn_flags_map_onto_keys(appdir, runs, tmp_path):
    port = free_port()
    envf = tmp_path / ".env"
    envf.write_text("# comment\nexport AM_TEST_ENV='from-file'\n")
    pid = tmp_path / "m.pid"
    s = runs(["main:app", "--port", str(port), "--workers", "1",
              "--timeout-keep-alive", "7", "--timeout-graceful-shutdown",
              "3", "--limit-concurrency", "50", "--limit-max-requests",
              "1000", "--root-path", "/api", "--env-file", str(envf),
              "--app-dir", str(appdir), "--no-access-log", "--pid",
              str(pid), "--proxy-headers", "--forwarded-allow-ips",
              "127.0.0.1", "--log-level", "info", "--lifespan", "auto",
              "--interface", "asgi3", "--loop", "auto"], cwd=tmp_path)
    s.wait_ready()
    _, scope = curl(f"http://127.0.0.1:{port}/")
    assert scope["root_path"] == "/api"
    assert scope["env"] == "from-file"
    assert int(pid.read_text()) == s.proc.pid


def test_access_log_flag_bare_and_with_dest(appdir, runs, tmp_path):
    port = free_port()
    s = runs(["--access-log", "main:app", "--port", str(port), "-w", "1"],
             cwd=appdir)
    s.wait_ready()
    curl(f"http://127.0.0.1:{port}/bare-access")
    assert wait_until(lambda: "/bare-access" in s.text(), 10), s.text()


def test_proxy_headers_off_and_forwarded_allow_ips(appdir, runs):
    port = free_port()
    s = runs(["main:app", "--port", str(port), "-w", "1",
              "--no-proxy-headers"], cwd=appdir)
    s.wait_ready()
    _, scope = curl("-H", "X-Forwarded-For: 203.0.113.9",
                    f"http://127.0.0.1:{port}/")
    assert scope["client"][0] == "127.0.0.1"


# ------------------------------------------------------------ environment


def test_environment_precedence_flag_env_file(appdir, runs, tmp_path):
    cfg = tmp_path / "s.yaml"
    port = free_port()
    cfg.write_text(f"app: main:app\nchdir: {appdir}\nworkers: 1\n"
                   f"listen: [127.0.0.1:{port}]\nroot_path: /file\n")
    s = runs(["-c", str(cfg)], cwd=tmp_path)
    s.wait_ready()
    assert curl(f"http://127.0.0.1:{port}/")[1]["root_path"] == "/file"
    s.stop()
    s = runs(["-c", str(cfg)], cwd=tmp_path,
             env={"ASGIMASTER_ROOT_PATH": "/env"})
    s.wait_ready()
    assert curl(f"http://127.0.0.1:{port}/")[1]["root_path"] == "/env"
    s.stop()
    s = runs(["-c", str(cfg), "--root-path", "/flag"], cwd=tmp_path,
             env={"ASGIMASTER_ROOT_PATH": "/env"})
    s.wait_ready()
    assert curl(f"http://127.0.0.1:{port}/")[1]["root_path"] == "/flag"


def test_web_concurrency(appdir, runs):
    port = free_port()
    s = runs(["main:app", "--port", str(port)], cwd=appdir,
             env={"WEB_CONCURRENCY": "3"})
    s.wait_ready(workers=3)
    s.stop()
    assert len(set(re.findall(r"worker (\d+) \(slot \d+\) ready",
                              s.text()))) == 3


def test_asgimaster_workers_beats_web_concurrency_and_flag_beats_both(
        appdir, runs):
    port = free_port()
    s = runs(["main:app", "--port", str(port), "-w", "1"], cwd=appdir,
             env={"WEB_CONCURRENCY": "3", "ASGIMASTER_WORKERS": "2"})
    s.wait_ready()
    s.stop()
    assert len(re.findall(r"worker \d+ \(slot \d+\) ready", s.text())) == 1


def test_forwarded_allow_ips_env(appdir, runs):
    port = free_port()
    s = runs(["main:app", "--port", str(port), "-w", "1"], cwd=appdir,
             env={"FORWARDED_ALLOW_IPS": "10.1.2.3"})
    s.wait_ready()
    _, scope = curl("-H", "X-Forwarded-For: 203.0.113.9",
                    f"http://127.0.0.1:{port}/")
    assert scope["client"][0] == "127.0.0.1", "127.0.0.1 is not trusted"
    s.stop()
    s = runs(["main:app", "--port", str(port), "-w", "1"], cwd=appdir,
             env={"FORWARDED_ALLOW_IPS": "127.0.0.1"})
    s.wait_ready()
    _, scope = curl("-H", "X-Forwarded-For: 203.0.113.9",
                    f"http://127.0.0.1:{port}/")
    assert scope["client"][0] == "203.0.113.9"


@pytest.mark.parametrize("name,value,words", [
    ("WEB_CONCURRENCY", "many", ["WEB_CONCURRENCY", "workers"]),
    ("FORWARDED_ALLOW_IPS", "not-an-ip", ["FORWARDED_ALLOW_IPS"]),
    ("ASGIMASTER_TIMEOUT_KEEP_ALIVE", "soon",
     ["ASGIMASTER_TIMEOUT_KEEP_ALIVE"]),
    ("ASGIMASTER_HTTP2", "maybe", ["ASGIMASTER_HTTP2", "true or false"]),
])
def test_bad_environment_names_the_variable(name, value, words):
    r = run_bin(["basic:app"], cwd=APPS, env={name: value})
    assert r.returncode == 2, r
    for w in words:
        assert w in r.stderr, r.stderr


# ------------------------------------------------------------ peers


@pytest.mark.parametrize("args", [
    ["--certfile", "cert.pem", "--keyfile", "key.pem"],
    ["--graceful-timeout", "5", "--keep-alive", "3", "--timeout", "20"],
    ["-p", "x.pid", "--max-requests", "10"],
])
def test_gunicorn_spellings_accepted(appdir, args):
    make_cert(appdir)
    r = run_bin(["-t", "main:app"] + args, cwd=appdir)
    assert r.returncode == 0, r


@pytest.mark.parametrize("args,words", [
    (["-k", "uvicorn.workers.UvicornWorker"], ['"-k"', "worker class"]),
    (["--worker-class", "asyncio"], ["worker class"]),
    (["-D"], ["foreground", "systemd"]),
    (["--preload"], ["asgimaster -t"]),
    (["--workrs", "2"], ['did you mean "--workers"']),
    (["--certfle", "x"], ['did you mean "--certfile"']),
    (["-t", "30"], ["--timeout-worker 30"]),
    (["--loop", "uvloop"], ["--loop"]),
    (["--ssl-certfile", "cert.pem"], ["--ssl-keyfile"]),
])
def test_peer_spellings_refused_with_the_way(args, words):
    r = run_bin(args + ["basic:app"], cwd=APPS)
    assert r.returncode == 2, r
    line = r.stderr.splitlines()[0]
    for w in words:
        assert w in line, line


def test_bind_port_only_says_host_missing():
    r = run_bin(["-b", "8000", "basic:app"], cwd=APPS)
    assert r.returncode == 2, r
    assert "the host is missing" in r.stderr
    assert "127.0.0.1:8000" in r.stderr


# ------------------------------------------------------------ TLS key


def test_encrypted_key_never_prompts(appdir, tmp_path):
    make_cert(appdir, password="s3cret")
    # A terminal would make OpenSSL prompt: run under `script` when present
    # so a prompt would hang (and time out) instead of reading stdin.
    r = run_bin(["-t", "main:app", "--ssl-keyfile", "key.pem",
                 "--ssl-certfile", "cert.pem"], cwd=appdir, timeout=20)
    assert r.returncode == 1, r
    line = r.stderr.strip().splitlines()[-1]
    assert "is encrypted and no password is set" in line
    assert "key_password" in line and "--ssl-keyfile-password" in line
    r = run_bin(["-t", "main:app", "--ssl-keyfile", "key.pem",
                 "--ssl-certfile", "cert.pem", "--ssl-keyfile-password",
                 "wrong"], cwd=appdir)
    assert r.returncode == 1 and "password is wrong" in r.stderr, r


def test_encrypted_key_with_password_serves(appdir, runs, tmp_path):
    make_cert(appdir, password="s3cret")
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    port = free_port()
    s = runs(["app:app", "--ssl-keyfile", "key.pem", "--ssl-certfile",
              "cert.pem", "--ssl-keyfile-password", "s3cret", "--port",
              str(port), "-w", "1"], cwd=appdir)
    s.wait_ready()
    assert curl("-k", "--http2", f"https://127.0.0.1:{port}/")[0] == "2"
    s.stop()
    cfg = tmp_path / "tls.yaml"
    cfg.write_text(
        f"app: app:app\nchdir: {appdir}\nworkers: 1\nlisten:\n"
        f"  - address: 127.0.0.1:{port}\n    tls:\n"
        f"      certificate: {appdir}/cert.pem\n"
        f"      key: {appdir}/key.pem\n"
        f"      key_password_file: {pw}\n")
    s = runs(["-c", str(cfg)], cwd=tmp_path)
    s.wait_ready()
    assert curl("-k", f"https://127.0.0.1:{port}/")[1]["scheme"] == "https"


# ------------------------------------------------------------ workers: auto


def test_workers_auto_counts_the_affinity_mask(appdir, runs):
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        pytest.skip("needs taskset and two CPUs")
    port = free_port()
    log = appdir / "aff.log"
    with open(log, "w") as f:
        p = subprocess.Popen(["taskset", "-c", "0", str(BIN), "main:app",
                              "--port", str(port), "-w", "auto"],
                             cwd=appdir, stdout=f, stderr=f,
                             stdin=subprocess.DEVNULL)
        try:
            assert wait_until(lambda: "ready" in log.read_text(), 20)
            assert curl(f"http://127.0.0.1:{port}/")[0] == "1.1"
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(15)
    started = re.findall(r"worker \d+ \(slot (\d+)\) started",
                         log.read_text())
    assert started == ["1"], log.read_text()


def test_workers_auto_counts_the_cgroup_quota(appdir, tmp_path):
    base = Path("/sys/fs/cgroup/cpu")
    if not (base / "cpu.cfs_quota_us").exists() or os.geteuid() != 0:
        pytest.skip("needs a writable cgroup v1 cpu hierarchy (root)")
    cg = base / f"asgimaster-test-{os.getpid()}"
    try:
        cg.mkdir()
        (cg / "cpu.cfs_period_us").write_text("100000")
        (cg / "cpu.cfs_quota_us").write_text("100000")
    except OSError as e:
        pytest.skip(f"cannot make a cgroup: {e}")
    port = free_port()
    log = tmp_path / "cg.log"
    try:
        with open(log, "w") as f:
            p = subprocess.Popen(
                ["sh", "-c", f'echo $$ > {cg}/cgroup.procs && exec "$@"',
                 "sh", str(BIN), "main:app", "--port", str(port)],
                cwd=appdir, stdout=f, stderr=f, stdin=subprocess.DEVNULL)
            try:
                assert wait_until(lambda: "ready" in log.read_text(), 20)
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait(15)
        started = re.findall(r"worker \d+ \(slot (\d+)\) started",
                             log.read_text())
        assert started == ["1"], log.read_text()
    finally:
        try:
            cg.rmdir()
        except OSError:
            pass
