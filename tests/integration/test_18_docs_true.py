"""What the docs promise, true (issue 12, item 6).
SPDX-License-Identifier: BSD-2-Clause
"""

import re
import shutil
import subprocess
import urllib.request

import pytest

from conftest import ROOT, free_port, wait_until

MAN5 = ROOT / "man" / "asgimaster.yaml.5"
MAN8 = ROOT / "man" / "asgimaster.8"


def man5_items():
    """(item line, its text up to the next item) for every `.It Ic`."""
    lines = MAN5.read_text().splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.startswith(".It Ic "):
            continue
        body = []
        for nxt in lines[i + 1:]:
            if nxt.startswith((".It ", ".Sh ", ".El", ".Bl ")):
                break
            body.append(nxt)
        out.append((line, "\n".join(body)))
    return out


def test_every_key_says_reloadable_or_restart_only():
    missing = [item for item, body in man5_items()
               if "Reloadable." not in body and "Restart-only." not in body]
    assert not missing, missing


def test_pidfile_of_the_unit_and_the_example_agree():
    unit = (ROOT / "conf" / "asgimaster.service").read_text()
    conf = (ROOT / "conf" / "server.yaml").read_text()
    pidfile = re.search(r"^PIDFile=(\S+)", unit, re.M).group(1)
    example = re.search(r"^#?\s*pidfile:\s*(\S+)", conf, re.M).group(1)
    assert pidfile == example


def test_protocol_variable_documents_http2():
    text = MAN5.read_text()
    entry = text.split(".It Va protocol", 1)[1].split(".It ", 1)[0]
    assert "HTTP/2.0" in entry


def test_second_ctrl_c_documented():
    text = MAN8.read_text()
    assert re.search(r"A second\n\.Dv SIGINT", text)


def test_no_an_before_module():
    for page in (MAN5, MAN8):
        assert not re.search(r"\ban\n\.Ar module", page.read_text()), page


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_h2_access_protocol_is_http20(server, tmp_path):
    access = tmp_path / "access.log"
    s = server({"log": {"access_log": str(access),
                        "access_format": "$protocol $status"}})
    r = subprocess.run(["curl", "-sS", "--http2-prior-knowledge",
                        "-o", "/dev/null", f"{s.url}/"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0
    assert wait_until(lambda: access.exists() and access.read_text(), 10)
    assert access.read_text().splitlines()[0] == "HTTP/2.0 200"


def test_metrics_slot_label_is_the_log_slot(server):
    port = free_port()
    s = server({"workers": 2,
                "metrics": {"address": f"127.0.0.1:{port}"}})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                timeout=10) as r:
        text = r.read().decode()
    labels = dict(re.findall(
        r'^asgimaster_worker_rss_bytes\{slot="(\d+)",pid="(\d+)"\}', text,
        re.M))
    logged = {slot: pid for pid, slot in re.findall(
        r"worker (\d+) \(slot (\d+)\) ready", s.log_text())}
    assert labels == logged and set(labels) == {"1", "2"}, (labels, logged)
