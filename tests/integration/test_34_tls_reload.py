"""tests/integration/test_34_tls_reload.py: TLS session tickets survive a
SIGHUP reload (issue 4: ticket keys shared by all workers; issue 5: a
reload loses nothing), so a returning client resumes instead of a full
handshake.
SPDX-License-Identifier: BSD-2-Clause
"""

import shutil
import signal
import subprocess

import pytest

from conftest import free_port
from h2util import make_cert


def handshake(port, sess_opt, sess_file):
    r = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2",
         sess_opt, str(sess_file)],
        input=b"", capture_output=True, timeout=20)
    return r.stdout.decode(errors="replace")


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl missing")
def test_session_resumes_across_reload(server, tmp_path):
    cert, key = make_cert(tmp_path)
    port = free_port()
    s = server({"workers": 2, "listen": [
        {"address": f"127.0.0.1:{port}", "tls": {"certificate": str(cert),
                                                 "key": str(key)}}]},
        start=False)
    s.allow_respawn = True
    s.start()
    sess = tmp_path / "session.pem"
    out = handshake(port, "-sess_out", sess)
    assert "New, TLSv1.2" in out, out
    s.send_signal(signal.SIGHUP)
    s.wait_log(r"generation 2 ready", timeout=20)
    out = handshake(port, "-sess_in", sess)
    assert "Reused, TLSv1.2" in out, out
