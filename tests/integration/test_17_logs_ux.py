"""Logs a person can read (issue 12, item 5): the app's logging records in
the error log, --log-config, the access log on a terminal, JSON access
lines, one traceback per boot failure, `-t` importing the app, and errors
that name the way out.
SPDX-License-Identifier: BSD-2-Clause
"""

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

from conftest import APPS, BIN, free_port, run_bin, wait_until

APP = '''
import logging
log = logging.getLogger("myapp")

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        m = await receive()
        if m["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        m = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    log.warning("warned %s", scope["path"])
    log.info("informed %s", scope["path"])
    if scope["path"] == "/exc":
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("it broke")
    await send({"type": "http.response.start", "status": 200,
                "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
'''


class Srv:
    def __init__(self, cwd, args, stderr=None):
        self.cwd = Path(cwd)
        self.port = free_port()
        self.log = self.cwd / f"err-{self.port}.log"
        e = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        e.pop("WEB_CONCURRENCY", None)
        self.f = open(self.log, "w")
        self.p = subprocess.Popen(
            [str(BIN)] + args + ["--port", str(self.port)], cwd=cwd, env=e,
            stdin=subprocess.DEVNULL, stdout=self.f,
            stderr=stderr if stderr is not None else self.f)

    def text(self):
        return self.log.read_text()

    def ready(self):
        assert wait_until(lambda: self.p.poll() is not None or
                          "all 1 workers ready" in self.text(), 20)
        assert self.p.poll() is None, self.text()
        return self

    def get(self, path="/", **headers):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers=headers)
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(15)
        self.f.close()
        return self.p.returncode


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "main.py").write_text(APP)
    return tmp_path


def test_app_logging_reaches_the_error_log(app_dir):
    s = Srv(app_dir, ["main:app", "-w", "1"]).ready()
    try:
        s.get("/one")
        s.get("/exc")
        assert wait_until(lambda: "it broke" in s.text(), 10)
    finally:
        s.stop()
    t = s.text()
    assert re.search(r"\[warn\] \d+#1: myapp: warned /one$", t, re.M), t
    assert "informed" not in t, "info is below the default level (notice)"
    assert re.search(r"\[error\] \d+#1: myapp: it broke$", t, re.M), t
    assert re.search(r"\[error\] \d+#1:   ZeroDivisionError: division by "
                     r"zero$", t, re.M), t


def test_app_logging_follows_the_log_level(app_dir):
    s = Srv(app_dir, ["main:app", "-w", "1", "--log-level", "info"]).ready()
    try:
        s.get("/two")
        assert wait_until(lambda: "informed /two" in s.text(), 10)
    finally:
        s.stop()
    assert re.search(r"\[info\] \d+#1: myapp: informed /two$", s.text(),
                     re.M)


@pytest.mark.parametrize("kind", ["json", "ini", "yaml"])
def test_log_config_takes_over(app_dir, kind):
    out = app_dir / "app.log"
    if kind == "json":
        cfg = app_dir / "logging.json"
        cfg.write_text(json.dumps({
            "version": 1,
            "handlers": {"f": {"class": "logging.FileHandler",
                               "filename": str(out)}},
            "root": {"handlers": ["f"], "level": "INFO"}}))
    elif kind == "yaml":
        pytest.importorskip("yaml")
        cfg = app_dir / "logging.yaml"
        cfg.write_text(
            "version: 1\nhandlers:\n  f:\n    class: logging.FileHandler\n"
            f"    filename: {out}\nroot:\n  handlers: [f]\n  level: INFO\n")
    else:
        cfg = app_dir / "logging.ini"
        cfg.write_text(
            "[loggers]\nkeys=root\n[handlers]\nkeys=f\n[formatters]\n"
            "keys=\n[logger_root]\nlevel=INFO\nhandlers=f\n"
            f"[handler_f]\nclass=FileHandler\nargs=({str(out)!r},)\n")
    s = Srv(app_dir, ["main:app", "-w", "1", "--log-config", cfg.name])
    s.ready()
    try:
        s.get("/three")
        assert wait_until(lambda: out.exists() and
                          "informed /three" in out.read_text(), 10)
    finally:
        s.stop()
    assert "warned /three" in out.read_text()
    assert "myapp" not in s.text(), "the app's config replaces ours"


def test_bad_log_config_is_one_line(app_dir):
    bad = app_dir / "bad.json"
    bad.write_text("{not json")
    r = run_bin(["-t", "main:app", "--log-config", "bad.json"], cwd=app_dir)
    assert r.returncode == 1, r
    assert 'log.config "' in r.stderr and "JSONDecodeError" in r.stderr


def test_access_log_on_when_stderr_is_a_terminal(app_dir):
    master, slave = pty.openpty()
    s = Srv(app_dir, ["main:app", "-w", "1"], stderr=slave)
    os.close(slave)
    buf = b""
    try:
        def read_until(word):
            nonlocal buf
            while word not in buf:
                r, _, _ = select.select([master], [], [], 10)
                if not r:
                    return False
                try:
                    buf += os.read(master, 65536)
                except OSError:
                    return False
            return True
        assert read_until(b"all 1 workers ready"), buf
        s.get("/on-a-tty")
        assert read_until(b'"GET /on-a-tty HTTP/1.1" 200'), buf
    finally:
        s.stop()
        os.close(master)


def test_access_log_off_when_stderr_is_not_a_terminal(app_dir):
    s = Srv(app_dir, ["main:app", "-w", "1"]).ready()
    try:
        s.get("/in-a-file")
    finally:
        s.stop()
    assert "GET /in-a-file" not in s.text()


def test_access_format_json(app_dir):
    access = app_dir / "access.log"
    s = Srv(app_dir, ["main:app", "-w", "1", "--access-log", str(access),
                      "--access-format", "json"]).ready()
    try:
        s.get("/j?q=1", **{"User-Agent": 'evil "agent" \\ \t \xe9',
                           "Referer": "http://r/"})
        s.get("/k")
        assert wait_until(lambda: access.exists() and
                          access.read_text().count("\n") == 2, 10)
    finally:
        s.stop()
    lines = access.read_bytes().splitlines()
    recs = [json.loads(line) for line in lines]
    a = recs[0]
    assert a["method"] == "GET" and a["uri"] == "/j?q=1"
    assert a["status"] == 200 and a["body_bytes_sent"] == 2
    assert a["protocol"] == "HTTP/1.1" and a["remote_addr"] == "127.0.0.1"
    assert a["http_user_agent"] == 'evil "agent" \\ \t \u00e9'
    assert a["http_referer"] == "http://r/"
    assert recs[1]["http_referer"] is None
    assert isinstance(a["request_time"], float) and a["pid"] > 0
    assert re.match(r"\d{4}-\d\d-\d\dT", a["time_iso8601"])
    assert re.match(r"\d\d/\w{3}/\d{4}:", a["time_local"])
    assert a["request"] == "GET /j?q=1 HTTP/1.1"


LIFESPAN_FAILS = '''
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        raise RuntimeError("database unreachable")
'''


@pytest.mark.parametrize("lifespan", ["auto", "on"])
def test_lifespan_startup_failure_once(tmp_path, lifespan):
    (tmp_path / "main.py").write_text(LIFESPAN_FAILS)
    r = run_bin(["main:app", "-w", "2", "--lifespan", lifespan, "--port",
                 str(free_port())], cwd=tmp_path, timeout=30)
    assert r.returncode == 1, r
    t = r.stderr
    assert t.count("Traceback (most recent call last)") == 1, t
    assert t.count("[emerg]") == 1, t
    assert re.search(r"\[emerg\] \d+#0: worker \d+ \(slot \d\) failed to "
                     r"boot: lifespan startup failed: RuntimeError: "
                     r"database unreachable", t), t
    assert "shutdown" not in t
    assert "[error] " in t and "lifespan startup failed" in t


def test_import_failure_once_by_the_master(tmp_path):
    r = run_bin(["broken_import:app", "-w", "2", "--port",
                 str(free_port())], cwd=APPS, timeout=30)
    assert r.returncode == 1, r
    t = r.stderr
    assert t.count("Traceback (most recent call last)") == 1, t
    assert t.count("[emerg]") == 1 and "#0: worker" in t, t
    assert "importlib" not in t, "the app's frames, not the machinery"
    assert "broken_import.py" in t


def test_check_imports_the_app(tmp_path):
    r = run_bin(["-t", "broken_import:app"], cwd=APPS)
    assert r.returncode == 1, r
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith('asgimaster: cannot import the app '
                           '"broken_import:app": ModuleNotFoundError'), last
    assert r.stderr.count("Traceback") == 1
    r = run_bin(["-t", "nosuch_module:app"], cwd=tmp_path)
    assert r.returncode == 1 and 'could not import module "nosuch_module"' \
        in r.stderr, r
    r = run_bin(["-t", "basic:app"], cwd=APPS)
    assert r.returncode == 0 and "successful" in r.stdout, r


def test_check_does_not_run_lifespan_or_bind(tmp_path):
    (tmp_path / "main.py").write_text(LIFESPAN_FAILS)
    port = free_port()
    r = run_bin(["-t", "main:app", "--port", str(port)], cwd=tmp_path)
    assert r.returncode == 0, r


def test_privileged_port_names_the_way_out(tmp_path):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as nobody")
    if int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
           .read_text()) <= 999:
        pytest.skip("unprivileged ports start below 1000 here")
    d = Path(tempfile.mkdtemp(prefix="am-eacces-"))
    try:
        os.chmod(d, 0o755)
        shutil.copy2(BIN, d / "asgimaster")
        shutil.copy2(APPS / "basic.py", d / "basic.py")
        r = subprocess.run(
            ["setpriv", "--reuid", "nobody", "--regid", "nogroup",
             "--clear-groups", str(d / "asgimaster"), "-b",
             "127.0.0.1:999", "basic:app"], cwd=d, capture_output=True,
            text=True, timeout=20)
    finally:
        shutil.rmtree(d)
    assert r.returncode == 1, r
    assert "ports below 1024 need root" in r.stderr
    assert 'set "user:"' in r.stderr


def test_check_imports_as_the_workers_user(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to change user")
    d = Path(tempfile.mkdtemp(prefix="am-check-"))
    try:
        os.chmod(d, 0o700)  # only root may enter
        shutil.copy2(APPS / "basic.py", d / "basic.py")
        r = run_bin(["-t", "basic:app"], cwd=d)
        assert r.returncode == 0, r
        r = run_bin(["-t", "basic:app", "--user", "nobody", "--group",
                     "nogroup"], cwd=d)
        assert r.returncode == 1, r
        assert 'cannot import the app "basic:app"' in r.stderr
    finally:
        shutil.rmtree(d)
