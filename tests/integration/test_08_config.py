"""Config keys that change what the app sees: chdir, pythonpath, env,
factory, dotted attributes, virtualenv, units (ISSUE3 "CLI and config")."""

import os
import subprocess
import sys

import httpx
import pytest

from conftest import APPS


# Any [error] line fails a test unless it sets allow_errors.
AM_STRICT_ERRORS = True


def test_chdir_is_the_cwd_of_the_app(server):
    s = server({"app": "pp_app:app", "chdir": str(APPS / "pp")})
    r = httpx.get(f"{s.url}/", timeout=10)
    assert r.text.split(":")[1] == str(APPS / "pp")


def test_pythonpath_relative_to_chdir(server):
    s = server({"app": "pp_app:app", "pythonpath": ["pp"]})
    r = httpx.get(f"{s.url}/", timeout=10)
    assert r.text.startswith("pp:")
    # chdir is still the apps directory.
    assert r.text.split(":")[1] == str(APPS)


def test_env_is_set_in_workers(server):
    s = server({"env": {"AM_TEST_VALUE": "hello env",
                        "AM_TEST_OTHER": "2"}})
    assert httpx.get(f"{s.url}/env?name=AM_TEST_VALUE",
                     timeout=10).json() == "hello env"
    assert httpx.get(f"{s.url}/env?name=AM_TEST_OTHER",
                     timeout=10).json() == "2"


def test_factory(server):
    s = server({"app": "factory_app:create_app", "factory": True})
    assert httpx.get(f"{s.url}/", timeout=10).text == "factory 1"
    # Called once per worker, not per request.
    assert httpx.get(f"{s.url}/", timeout=10).text == "factory 1"


def test_dotted_attribute(server):
    s = server({"app": "factory_app:Holder.inner.app"})
    assert httpx.get(f"{s.url}/", timeout=10).text == "dotted"


def test_units_accepted(server):
    s = server({
        "limits": {"request_line": "8KiB", "header_size": "64KB",
                   "header_count": 50, "body_size": "10MB",
                   "body_buffer": "64KiB", "write_buffer": 262144,
                   "connections": 100},
        "timeouts": {"keepalive": "5s", "header_read": "2500ms",
                     "body_read": "1m", "write": 60, "graceful": "1h",
                     "boot": "1m30s"},
    })
    assert httpx.get(f"{s.url}/", timeout=10).text == "hello"


def test_body_size_zero_is_unlimited(server):
    s = server({"limits": {"body_size": 0}})
    data = b"q" * (3 * 1024 * 1024)
    r = httpx.post(f"{s.url}/echo", content=data, timeout=30)
    assert r.status_code == 200 and len(r.content) == len(data)


def make_venv(venv):
    """A virtualenv as `python3 -m venv` makes it; by hand (pyvenv.cfg, a
    bin/python3 link, site-packages) where the venv module cannot."""
    r = subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip",
                        str(venv)], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        (venv / "bin").mkdir(parents=True, exist_ok=True)
        if not (venv / "bin" / "python3").exists():
            os.symlink("/usr/bin/python3", venv / "bin" / "python3")
        ver = "%d.%d" % sys.version_info[:2]
        (venv / "lib" / f"python{ver}" / "site-packages").mkdir(
            parents=True, exist_ok=True)
        (venv / "pyvenv.cfg").write_text(
            "home = /usr/bin\ninclude-system-site-packages = false\n")
    sp = list(venv.glob("lib/python3*/site-packages"))
    assert sp, r.stderr
    return sp[0]


def test_virtualenv_site_packages_visible(server, tmp_path):
    venv = tmp_path / "venv"
    sp = [make_venv(venv)]
    (sp[0] / "am_venv_only.py").write_text("VALUE = 'from venv'\n")
    app_dir = tmp_path / "vapp"
    app_dir.mkdir()
    (app_dir / "vapp.py").write_text(
        "import sys\n"
        "import am_venv_only\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    body = (am_venv_only.VALUE + '|' + sys.prefix).encode()\n"
        "    await send({'type': 'http.response.start', 'status': 200,\n"
        "                'headers': [(b'content-length',\n"
        "                             str(len(body)).encode())]})\n"
        "    await send({'type': 'http.response.body', 'body': body})\n")
    s = server({"app": "vapp:app", "chdir": str(app_dir),
                "virtualenv": str(venv)})
    value, prefix = httpx.get(f"{s.url}/", timeout=10).text.split("|")
    assert value == "from venv"
    assert os.path.realpath(prefix) == os.path.realpath(venv)


def test_virtual_env_variable(server, tmp_path):
    venv = tmp_path / "venv2"
    sp = [make_venv(venv)]
    (sp[0] / "am_venv_only2.py").write_text("VALUE = 'env var venv'\n")
    app_dir = tmp_path / "vapp2"
    app_dir.mkdir()
    (app_dir / "vapp2.py").write_text(
        "import am_venv_only2\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    body = am_venv_only2.VALUE.encode()\n"
        "    await send({'type': 'http.response.start', 'status': 200})\n"
        "    await send({'type': 'http.response.body', 'body': body})\n")
    s = server({"app": "vapp2:app", "chdir": str(app_dir)},
               env={"VIRTUAL_ENV": str(venv)})
    assert httpx.get(f"{s.url}/", timeout=10).text == "env var venv"


def test_site_packages_of_the_interpreter_visible(server):
    # Starlette comes from Debian's dist-packages.
    s = server({"app": "starlette_app:app"})
    assert httpx.get(f"{s.url}/", timeout=10).status_code == 200
