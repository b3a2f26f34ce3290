"""tests/integration/test_32_systemd.py: systemd integration (issue 5).

Type=notify through $NOTIFY_SOCKET (READY=1 once the workers are ready,
RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on stop) and socket
activation (LISTEN_PID/LISTEN_FDS): an inherited listening socket is
served instead of a new bind. No systemd is needed: the test plays it.
SPDX-License-Identifier: BSD-2-Clause
"""

import http.client
import os
import signal
import socket
import subprocess
import time

from conftest import BIN, free_port, wait_until

APPS = os.path.join(os.path.dirname(__file__), "apps")


def write_config(tmp_path, port):
    cfg = tmp_path / "server.yaml"
    cfg.write_text(f'app: "basic:app"\nchdir: {APPS}\nworkers: 1\n'
                   f'listen: ["127.0.0.1:{port}"]\n')
    return cfg


def get(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/")
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def recv_all(sock, until, timeout):
    """Datagrams read until one contains `until` (or the time is up)."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            break
        if until in got[-1]:
            break
    return got


def test_notify_ready_reloading_stopping(tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, port)
    path = str(tmp_path / "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    log = open(tmp_path / "log", "w")
    p = subprocess.Popen([BIN, "-c", str(cfg)], env=env, stdout=log,
                         stderr=subprocess.STDOUT)
    try:
        msgs = recv_all(ns, "READY=1", 20)
        assert any("READY=1" in m for m in msgs), msgs
        assert get(port)[0] == 200
        p.send_signal(signal.SIGHUP)
        msgs = recv_all(ns, "READY=1", 20)
        joined = "\n".join(msgs)
        assert "RELOADING=1" in joined, msgs
        assert joined.index("RELOADING=1") < joined.rindex("READY=1"), msgs
        p.send_signal(signal.SIGTERM)
        msgs = recv_all(ns, "STOPPING=1", 20)
        assert any("STOPPING=1" in m for m in msgs), msgs
        assert p.wait(timeout=20) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        ns.close()
        log.close()


def test_socket_activation_uses_the_inherited_socket(tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, port)
    # systemd binds; asgimaster must not (a second bind would fail: no
    # SO_REUSEPORT here).
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    # Move it to fd 3, as systemd passes it, and set LISTEN_PID to the
    # pid that execs asgimaster.
    log = open(tmp_path / "log", "w")
    fd = ls.fileno()
    p = subprocess.Popen(
        ["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -c "$1"',
         BIN, str(cfg)],
        # fd 3 is kept too: preexec_fn runs before close_fds.
        pass_fds=sorted({fd, 3}), preexec_fn=lambda: os.dup2(fd, 3),
        stdout=log, stderr=subprocess.STDOUT)
    ls.close()
    try:
        assert wait_until(lambda: "all 1 workers ready" in
                          (tmp_path / "log").read_text(), 20), \
            (tmp_path / "log").read_text()
        assert get(port) == (200, b"hello")
        text = (tmp_path / "log").read_text()
        assert "bind() to" not in text, text
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            assert p.wait(timeout=20) == 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            log.close()
