"""asgimaster.run() and `python3 -m asgimaster` (issue 12, item 2), and
`make install` / `make uninstall` with PREFIX and DESTDIR.

The package execs the binary: the process we started is the master (same
pid), its signals and exit status are the binary's.
SPDX-License-Identifier: BSD-2-Clause
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, ROOT, free_port, wait_until

PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else \
    sys.executable
PKG = ROOT / "python"

APP = '''
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": []})
    await send({"type": "http.response.body",
                "body": scope["http_version"].encode()})
'''


@pytest.fixture
def appdir(tmp_path):
    (tmp_path / "main.py").write_text(APP)
    return tmp_path


def env(**kw):
    e = dict(os.environ, PYTHONPATH=str(PKG), PYTHONDONTWRITEBYTECODE="1",
             ASGIMASTER_BIN=str(BIN))
    e.pop("WEB_CONCURRENCY", None)
    for k, v in kw.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def curl_version(port):
    r = subprocess.run(["curl", "-sS", "--max-time", "10",
                        "--http2-prior-knowledge",
                        f"http://127.0.0.1:{port}/"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def serve(argv, cwd, pidfile, e):
    log = open(cwd / "py.log", "w")
    p = subprocess.Popen(argv, cwd=cwd, env=e, stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL)

    def up():
        assert p.poll() is None, (cwd / "py.log").read_text()
        return pidfile.exists() and pidfile.read_text().strip() and \
            "ready" in (cwd / "py.log").read_text()
    try:
        assert wait_until(up, 20), (cwd / "py.log").read_text()
    except BaseException:
        p.kill()
        p.wait(5)
        log.close()
        raise
    return p, log


def stop(p, log):
    p.send_signal(signal.SIGTERM)
    rc = p.wait(15)
    log.close()
    return rc


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_python_m_asgimaster_is_the_master(appdir):
    port = free_port()
    pid = appdir / "m.pid"
    p, log = serve([PY, "-m", "asgimaster", "main:app", "--port", str(port),
                    "-w", "1", "--pid", str(pid)], appdir, pid, env())
    assert int(pid.read_text()) == p.pid, "exec: same process id"
    assert os.readlink(f"/proc/{p.pid}/exe") == os.path.realpath(BIN)
    assert curl_version(port) == "2"
    assert stop(p, log) == 0, "SIGTERM reaches the master: graceful, rc 0"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_run_with_uvicorn_keywords(appdir):
    port = free_port()
    pid = appdir / "r.pid"
    code = ("import asgimaster; asgimaster.run('main:app', host='127.0.0.1',"
            f" port={port}, workers=1, http2=True, access_log=False,"
            f" timeout_keep_alive=5, pid={str(pid)!r})")
    p, log = serve([PY, "-c", code], appdir, pid, env())
    assert int(pid.read_text()) == p.pid
    assert curl_version(port) == "2"
    assert stop(p, log) == 0


def test_run_with_an_app_object_says_why(appdir):
    code = "import asgimaster; from main import app; asgimaster.run(app)"
    r = subprocess.run([PY, "-c", code], cwd=appdir, env=env(),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("TypeError: asgimaster.run() takes the "
                           "application as an import string"), last
    assert "each worker imports it" in last
    assert "asgimaster.run('main:app')" in last, "names the string to use"


def test_run_refuses_a_keyword_with_the_reason(appdir):
    code = "import asgimaster; asgimaster.run('main:app', use_colors=True)"
    r = subprocess.run([PY, "-c", code], cwd=appdir, env=env(),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "use_colors" in r.stderr


def test_bad_keyword_value_is_the_binarys_usage_error(appdir):
    code = "import asgimaster; asgimaster.run('main:app', workrs=2)"
    r = subprocess.run([PY, "-c", code], cwd=appdir, env=env(),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, "the binary's exit status, unchanged"
    assert 'did you mean "--workers"' in r.stderr


def test_binary_found_in_the_checkout_without_asgimaster_bin(appdir):
    if not (ROOT / "asgimaster").exists():
        pytest.skip("no ./asgimaster in the checkout")
    code = "import asgimaster; print(asgimaster.find_binary())"
    r = subprocess.run([PY, "-c", code], cwd=appdir,
                       env=env(ASGIMASTER_BIN=None, PATH="/usr/bin:/bin"),
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == str(ROOT / "asgimaster"), r


def test_make_install_and_uninstall(tmp_path, appdir):
    if not (ROOT / "asgimaster").exists() or shutil.which("make") is None:
        pytest.skip("needs make and a built ./asgimaster")
    prefix = tmp_path / "prefix"
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-s", "-C", str(ROOT), "install",
                        f"PREFIX={prefix}", f"DESTDIR={dest}",
                        f"PYTHON={PY}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    root = Path(str(dest) + str(prefix))
    files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    site = [f for f in files if f.endswith("asgimaster/__init__.py")]
    assert "bin/asgimaster" in files
    assert "share/man/man8/asgimaster.8" in files
    assert "share/man/man5/asgimaster.yaml.5" in files
    assert "lib/systemd/system/asgimaster.service" in files
    assert len(site) == 1 and site[0].startswith("lib/python3"), files
    unit = (root / "lib/systemd/system/asgimaster.service").read_text()
    assert f"ExecStart={prefix}/bin/asgimaster " in unit
    installed = (root / site[0]).parent / "_installed.py"
    assert f'BIN = "{prefix}/bin/asgimaster"' in installed.read_text()

    # Installed without DESTDIR, the package execs that binary.
    r = subprocess.run(["make", "-s", "-C", str(ROOT), "install",
                        f"PREFIX={prefix}", f"PYTHON={PY}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    sitedir = prefix / Path(site[0]).parent.parent
    r = subprocess.run([PY, "-m", "asgimaster", "--version"], cwd=appdir,
                       env=env(ASGIMASTER_BIN=None, PATH="/usr/bin:/bin",
                               PYTHONPATH=str(sitedir)),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "asgimaster" in r.stdout, r
    code = "import asgimaster; print(asgimaster.find_binary())"
    r = subprocess.run([PY, "-c", code], cwd=appdir,
                       env=env(ASGIMASTER_BIN=None, PYTHONPATH=str(sitedir)),
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == f"{prefix}/bin/asgimaster", r

    for d in (dest, None):
        args = ["make", "-s", "-C", str(ROOT), "uninstall",
                f"PREFIX={prefix}", f"PYTHON={PY}"]
        if d:
            args.append(f"DESTDIR={d}")
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
    left = [p for p in list(root.rglob("*")) + list(prefix.rglob("*"))
            if p.is_file()]
    assert left == [], left


def test_keywords_map_onto_flags():
    code = ("import asgimaster, json; print(json.dumps(asgimaster."
            "command_line('main:app', reload=True, reload_dirs=['a', 'b'], "
            "reload_includes='*.py', access_log=False, ssl_cert_reqs=2, "
            "log_config='l.json', port=9000)))")
    r = subprocess.run([PY, "-c", code], env=env(), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    import json
    assert json.loads(r.stdout) == [
        "main:app", "--reload", "--reload-dir", "a", "--reload-dir", "b",
        "--reload-include", "*.py", "--no-access-log", "--ssl-cert-reqs",
        "2", "--log-config", "l.json", "--port", "9000"]
    # each of those is a flag the binary takes
    r = subprocess.run([str(BIN), "--help"], capture_output=True, text=True)
    for flag in ("--reload", "--reload-dir", "--reload-include",
                 "--access-log", "--ssl-cert-reqs", "--log-config",
                 "--port"):
        assert flag in r.stdout, flag
