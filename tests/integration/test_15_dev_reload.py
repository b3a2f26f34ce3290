"""--reload (issue 12, item 3): a saved source file is served by a new
generation with no failed request under a small load; a save that does not
import leaves the old generation serving and logs one traceback; fixing it
reloads again.
SPDX-License-Identifier: BSD-2-Clause
"""

import http.client
import os
import re
import signal
import subprocess
import threading

import pytest

from conftest import APPS, BIN, free_port, run_bin, wait_until

APP = '''
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": []})
    await send({"type": "http.response.body", "body": BODY})

BODY = b"%s"
'''


class Load(threading.Thread):
    """Sequential GETs on fresh connections, at most `limit` of them, until
    stopped; records every body and every failure."""

    def __init__(self, port, limit=3000):
        super().__init__(daemon=True)
        self.port = port
        self.limit = limit
        self.stop_flag = threading.Event()
        self.bodies = []
        self.failures = []

    def run(self):
        for _ in range(self.limit):
            if self.stop_flag.is_set():
                return
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=10)
                c.request("GET", "/")
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status != 200:
                    self.failures.append(r.status)
                self.bodies.append(body)
            except OSError as e:
                self.failures.append(repr(e))

    def finish(self):
        self.stop_flag.set()
        self.join(30)
        return self.failures


def get(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/")
    body = c.getresponse().read()
    c.close()
    return body


def save(path, text):
    """Write as an editor does: a new file renamed over the old one."""
    tmp = path.with_name("." + path.name + ".swp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.mark.am_timeout(120)
def test_reload_edit_syntax_error_fix(tmp_path):
    src = tmp_path / "main.py"
    src.write_text(APP % "one")
    port = free_port()
    log = tmp_path / "log"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("WEB_CONCURRENCY", None)
    with open(log, "w") as f:
        p = subprocess.Popen([str(BIN), "main:app", "--reload", "--port",
                              str(port), "-w", "1", "--reload-delay",
                              "100ms"], cwd=tmp_path, env=env, stdout=f,
                             stderr=f, stdin=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: "all 1 workers ready" in log.read_text(),
                          20), log.read_text()
        assert "reload: watching 1 directories" in log.read_text()
        assert get(port) == b"one"

        load = Load(port)
        load.start()
        save(src, APP % "version-two")
        assert wait_until(lambda: get(port) == b"version-two", 30), \
            log.read_text()
        assert wait_until(lambda: load.bodies[-3:] == [b"version-two"] * 3,
                          30)
        assert load.finish() == [], "no request failed during the reload"
        assert set(load.bodies) <= {b"one", b"version-two"}

        # A save that does not import: the old generation keeps serving.
        load = Load(port)
        load.start()
        save(src, (APP % "three") + "\ndef broken(:\n")
        assert wait_until(
            lambda: "generation 2 keeps serving" in log.read_text(), 30), \
            log.read_text()
        assert get(port) == b"version-two"
        assert load.finish() == []
        assert set(load.bodies) == {b"version-two"}
        text = log.read_text()
        assert text.count("Traceback (most recent call last)") == 1, text
        assert text.count("SyntaxError: invalid syntax") >= 1

        # Fixed: served again.
        save(src, APP % "version-four")
        assert wait_until(lambda: get(port) == b"version-four", 30), \
            log.read_text()
        # Files that are not sources do not reload.
        n = log.read_text().count("changed, reloading")
        (tmp_path / "notes.txt").write_text("x")
        (tmp_path / "main.pyc").write_text("x")
        save(src, APP % "version-four")  # a .py save: one more
        assert wait_until(
            lambda: log.read_text().count("changed, reloading") == n + 1, 30)
        assert "notes.txt" not in log.read_text()
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(20) == 0, log.read_text()
    assert "[alert]" not in log.read_text()


def test_reload_includes_excludes_and_dirs(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "main.py").write_text(APP % "one")
    port = free_port()
    log = tmp_path / "log"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    with open(log, "w") as f:
        p = subprocess.Popen(
            [str(BIN), "main:app", "--reload", "--port", str(port), "-w",
             "1", "--reload-dir", str(tmp_path / "pkg"), "--reload-include",
             "*.html", "--reload-include", "*.py", "--reload-exclude",
             "skip_*.py", "--reload-delay", "0"], cwd=tmp_path, env=env,
            stdout=f, stderr=f, stdin=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: "all 1 workers ready" in log.read_text(),
                          20), log.read_text()
        # Outside reload_dirs: no reload.
        (tmp_path / "other.py").write_text("x = 1\n")
        (tmp_path / "pkg" / "skip_me.py").write_text("x = 1\n")
        (tmp_path / "pkg" / "page.html").write_text("<p>")
        assert wait_until(lambda: "page.html changed" in log.read_text(), 20)
        # A directory made later is watched too.
        (tmp_path / "pkg" / "sub").mkdir()
        assert wait_until(lambda: "generation 2 ready" in log.read_text(),
                          20), log.read_text()
        (tmp_path / "pkg" / "sub" / "m.py").write_text("x = 1\n")
        assert wait_until(lambda: "sub/m.py changed" in log.read_text(), 20)
        text = log.read_text()
        assert "other.py" not in text and "skip_me.py" not in text
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(20) == 0


def test_reload_keys_in_the_file(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"app: basic:app\nchdir: {APPS}\nreload: true\n"
                   "reload_dirs: a, b\n"
                   "reload_includes: \"*.py, *.html\"\n"
                   "reload_excludes: \"test_*.py\"\nreload_delay: 500ms\n")
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 0, r
    cfg.write_text("app: main:app\nreload_delay: soon\n")
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 1 and "reload_delay" in r.stderr, r
    assert re.search(r"s\.yaml:2:\d+:", r.stderr), r.stderr
