"""Any Python, stated clearly (issue 12, item 4).

A virtualenv of another Python version, or of another build of the same
version, is refused with one line naming both and the rebuild command.
`make PYTHON=...` builds against another interpreter that has a shared
libpython, and changing PYTHON rebuilds what depends on it (no `make clean`
needed). The build test needs a second such interpreter (set
AM_TEST_SECOND_PYTHON, or have one under ~/.pyenv/versions); without one it
says so and is skipped, and the refusal tests still run.
SPDX-License-Identifier: BSD-2-Clause
"""

import glob
import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from conftest import APPS, BIN, ROOT, free_port, run_bin, wait_until


def built_python():
    """(version, exe) of the interpreter BIN embeds, from `-v`."""
    out = run_bin(["-v"]).stdout
    m = re.search(r"Python (\S+) \((\S+)\)", out)
    assert m, out
    return m.group(1), m.group(2)


def minor(v):
    return ".".join(v.split(".")[:2])


def fake_venv(d, version, home):
    d.mkdir()
    (d / "bin").mkdir()
    (d / "bin" / "python3").write_text("")
    (d / "pyvenv.cfg").write_text(
        f"home = {home}\ninclude-system-site-packages = false\n"
        f"version = {version}\n")
    return d


def test_version_shows_the_embedded_python():
    version, exe = built_python()
    assert re.fullmatch(r"3\.\d+\.\d+\S*", version)
    assert os.path.isabs(exe)


def test_venv_of_another_version_is_refused(tmp_path):
    v = fake_venv(tmp_path / "venv", "3.99.1", "/opt/py399/bin")
    r = run_bin(["-t", "--virtualenv", v, "main:app"])
    assert r.returncode == 1, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    version, exe = built_python()
    assert "made by Python 3.99.1" in lines[0]
    assert f"embeds Python {version} ({exe})" in lines[0]
    assert 'make PYTHON=/opt/py399/bin/python3.99' in lines[0]


def test_activated_venv_of_another_version_is_refused(tmp_path):
    v = fake_venv(tmp_path / "venv", "3.99.0", "/opt/py399/bin")
    r = run_bin(["-t", "main:app"], env={"VIRTUAL_ENV": str(v)})
    assert r.returncode == 1 and "3.99.0" in r.stderr, r


def test_venv_of_another_build_same_version_is_refused(tmp_path):
    version, exe = built_python()
    other = tmp_path / "otherpy" / "bin"
    other.mkdir(parents=True)
    v = fake_venv(tmp_path / "venv", version, other)
    r = run_bin(["-t", "--virtualenv", v, "main:app"])
    assert r.returncode == 1, r
    assert f"made by the Python in {other}" in r.stderr
    assert f"make PYTHON={other}/python3" in r.stderr


def test_venv_of_the_embedded_python_is_taken(tmp_path):
    version, exe = built_python()
    v = tmp_path / "venv"
    r = subprocess.run([exe, "-m", "venv", "--without-pip", str(v)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        pytest.skip(f"{exe} -m venv failed: {r.stderr.strip()}")
    r = run_bin(["-t", "--virtualenv", v, "basic:app"], cwd=APPS)
    assert r.returncode == 0, r


def second_python():
    """Another interpreter (other major.minor) with a shared libpython."""
    version, _ = built_python()
    cands = [os.environ.get("AM_TEST_SECOND_PYTHON", "")]
    cands += sorted(glob.glob(os.path.expanduser(
        "~/.pyenv/versions/3.*/bin/python3")), reverse=True)
    for c in cands:
        if not c or not os.access(c, os.X_OK):
            continue
        r = subprocess.run(
            [c, "-c", "import platform, sysconfig, sys; print("
             "platform.python_version(), "
             "sysconfig.get_config_var('Py_ENABLE_SHARED'), "
             "sys.version_info >= (3, 8))"],
            capture_output=True, text=True, timeout=30)
        f = r.stdout.split()
        if (r.returncode == 0 and len(f) == 3 and f[1] == "1"
                and f[2] == "True" and minor(f[0]) != minor(version)
                and os.path.exists(c + "-config")):
            return c, f[0]
    return None, None


def serve_version(binary, appdir):
    port = free_port()
    log = open(appdir / "log", "w")
    p = subprocess.Popen([str(binary), "main:app", "--port", str(port),
                          "-w", "1"], cwd=appdir, stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: "all 1 workers ready" in
                          (appdir / "log").read_text(), 30), \
            (appdir / "log").read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/",
                                    timeout=10) as r:
            return r.read().decode()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(15)
        log.close()


@pytest.mark.am_timeout(900)
def test_build_against_a_second_python_and_back(tmp_path):
    py, pyversion = second_python()
    if py is None:
        pytest.skip("needs a second Python (another 3.X) built with "
                    "--enable-shared and its python3-config "
                    "(AM_TEST_SECOND_PYTHON=/path/to/python3)")
    version, exe = built_python()
    appdir = tmp_path / "app"
    appdir.mkdir()
    (appdir / "main.py").write_text(
        "import sys\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 200,\n"
        "                'headers': []})\n"
        "    await send({'type': 'http.response.body',\n"
        "                'body': sys.version.split()[0].encode()})\n")
    build, binary = tmp_path / "build", tmp_path / "asgimaster"

    def make(python):
        r = subprocess.run(["make", "-j2", "-C", str(ROOT), f"BUILD={build}",
                            f"BIN={binary}", f"PYTHON={python}", str(binary)],
                           capture_output=True, text=True, timeout=800)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        return r.stdout

    make(py)
    assert serve_version(binary, appdir) == pyversion
    assert pyversion in subprocess.run([str(binary), "-v"],
                                       capture_output=True,
                                       text=True).stdout

    # The same build directory, PYTHON changed back, no `make clean`.
    out = make(exe)
    assert "pyembed.o" in out, "PYTHON changed: the bridge is rebuilt"
    assert serve_version(binary, appdir) == version
    # Nothing changed: nothing rebuilt.
    out = make(exe)
    assert ".o" not in out, out
