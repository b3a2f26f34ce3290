"""tests/integration/test_33_privileges.py: user/group (issue 5).

The master binds as root and stays root (to bind again on reload); the
workers drop to `user`/`group` before Python starts, so the app never runs
as root.
SPDX-License-Identifier: BSD-2-Clause
"""

import os

import httpx
import pytest


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
def test_workers_run_as_the_configured_user(server):
    s = server({"workers": 2, "user": "nobody", "group": "nogroup"})
    r = httpx.get(f"{s.url}/pid", timeout=10)
    assert r.status_code == 200
    for pid in s.worker_pids().values():
        assert ids(pid) == [65534, 65534, 65534, 65534], pid
    assert ids(s.master_pid)[:2] == [0, 0]
    # The app process answered as nobody too: the pid it reports is one of
    # the workers checked above.
    assert int(r.text) in s.worker_pids().values()
