"""Headless Chromium (Debian chromium) loads a page over TLS that opens a
wss:// socket and exchanges messages; the result is written into the DOM
and printed by --dump-dom. The app reports the scope's http_version, so
the test sees which HTTP version carried the socket (issue 9).
"""

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import free_port, running
from h2util import tls_listen

CHROMIUM = shutil.which("chromium")


def dump_dom(url, tmp_path):
    args = [CHROMIUM, "--headless=new", "--ignore-certificate-errors",
            "--disable-gpu", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium refuses root otherwise
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return r.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
@pytest.mark.parametrize("http2", [True, False], ids=["h2", "http1.1"])
def test_chromium_wss_exchange(tmp_path, http2):
    listen = tls_listen(tmp_path, free_port())
    listen["http2"] = http2
    with running(tmp_path, {"app": "ws_browser:app",
                            "listen": [listen]}) as s:
        dom = dump_dom(f"https://127.0.0.1:{s.port}/", tmp_path)
    m = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert m, dom
    got = json.loads(m.group(1).replace("&quot;", '"'))
    assert got["echo"] == "hello"
    assert got["scheme"] == "wss"
    print("Chromium carried the WebSocket over HTTP/" + got["http_version"])
    # Chromium opens WebSocket over HTTP/2 (RFC 8441) when the server
    # advertises SETTINGS_ENABLE_CONNECT_PROTOCOL on its h2 connection.
    assert got["http_version"] == ("2" if http2 else "1.1")
