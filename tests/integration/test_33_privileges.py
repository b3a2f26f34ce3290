"""tests/integration/test_33_privileges.py: user/group (issue 5).

The master binds as root and stays root (to bind again on reload); the
workers drop to `user`/`group` before Python starts, so the app never runs
as root.
SPDX-License-Identifier: BSD-2-Clause
"""

import os
import shutil
import tempfile

import httpx
import pytest

from conftest import APPS


@pytest.fixture
def readable_apps():
    """The test apps where the unprivileged user can read them: the
    checkout may sit in a directory only root can enter (a clone in root's
    home, mode 700), and pytest's tmp_path is mode 700 too."""
    d = tempfile.mkdtemp(prefix="asgimaster-apps-")
    try:
        apps = os.path.join(d, "apps")
        shutil.copytree(APPS, apps,
                        ignore=shutil.ignore_patterns("__pycache__"))
        for root, dirs, files in os.walk(d):
            os.chmod(root, 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        yield apps
    finally:
        shutil.rmtree(d, ignore_errors=True)


def ids(pid):
    """(real uid, effective uid, real gid, effective gid) of pid."""
    uid = gid = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                uid = [int(x) for x in line.split()[1:3]]
            elif line.startswith("Gid:"):
                gid = [int(x) for x in line.split()[1:3]]
    return uid + gid


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to change user")
def test_workers_run_as_the_configured_user(server, readable_apps):
    s = server({"workers": 2, "user": "nobody", "group": "nogroup",
                "chdir": readable_apps})
    r = httpx.get(f"{s.url}/pid", timeout=10)
    assert r.status_code == 200
    for pid in s.worker_pids().values():
        assert ids(pid) == [65534, 65534, 65534, 65534], pid
    assert ids(s.master_pid)[:2] == [0, 0]
    # The app process answered as nobody too: the pid it reports is one of
    # the workers checked above.
    assert int(r.text) in s.worker_pids().values()
