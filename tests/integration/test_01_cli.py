"""CLI: --version, --help, -t, usage errors, MODULE:ATTR without a config
file, flags overriding the file (BRIEF.md "CLI", ISSUE3 "CLI and config")."""

import re
import socket

import httpx
import pytest

from conftest import APPS, BIN, free_port, run_bin, yaml_dump


# Any [error] line fails a test unless it sets allow_errors.
AM_STRICT_ERRORS = True


def write(tmp_path, text, name="server.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def good_config(port):
    return yaml_dump({
        "app": "basic:app",
        "chdir": str(APPS),
        "workers": 1,
        "listen": [f"127.0.0.1:{port}"],
    }) + "\n"


# ------------------------------------------------------------ info flags


@pytest.mark.parametrize("flag", ["-v", "--version"])
def test_version(flag):
    r = run_bin([flag])
    assert r.returncode == 0, r
    out = r.stdout + r.stderr
    assert "asgimaster" in out
    assert "0.1.0" in out


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help(flag):
    r = run_bin([flag])
    assert r.returncode == 0, r
    out = r.stdout + r.stderr
    for word in ("-c", "-t", "--bind", "--workers", "--chdir",
                 "--log-level", "--access-log", "MODULE:ATTR"):
        assert word in out, f"--help does not mention {word}:\n{out}"


# ------------------------------------------------------------ -t


def test_check_ok(tmp_path):
    cfg = write(tmp_path, good_config(free_port()))
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 0, r
    assert f"{cfg}: ok" in r.stdout + r.stderr


def test_check_does_not_bind_or_fork(tmp_path):
    port = free_port()
    cfg = write(tmp_path, good_config(port))
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 0
    # Nothing was left listening.
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex(("127.0.0.1", port)) != 0
    assert "started" not in r.stderr


def pos_re(cfg, line, col=None):
    col = r"\d+" if col is None else str(col)
    return re.compile(re.escape(str(cfg)) + rf":{line}:{col}: ")


def test_check_unknown_key_did_you_mean(tmp_path):
    cfg = write(tmp_path, 'app: "basic:app"\n'
                          "chdir: /tmp\n"
                          "workrs: 2\n")
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 1, r
    assert pos_re(cfg, 3, 1).search(r.stderr), r.stderr
    assert "workrs" in r.stderr
    assert "did you mean" in r.stderr and "workers" in r.stderr


def test_check_unknown_nested_key(tmp_path):
    cfg = write(tmp_path, 'app: "basic:app"\n'
                          "limits:\n"
                          "  body_size: 1MiB\n"
                          "  header_cout: 10\n")
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 1, r
    assert pos_re(cfg, 4, 3).search(r.stderr), r.stderr
    assert "header_count" in r.stderr


@pytest.mark.parametrize("text,line,key", [
    ('app: "basic:app"\nworkers: many\n', 2, "workers"),
    ('app: "basic:app"\nlifespan: sometimes\n', 2, "lifespan"),
    ('app: "basic:app"\nlimits:\n  body_size: 10 parsecs\n', 3,
     "limits.body_size"),
    ('app: "basic:app"\ntimeouts:\n  keepalive: soon\n', 3,
     "timeouts.keepalive"),
    ('app: "basic:app"\nlisten:\n  - address: "nowhere"\n', 3, None),
    ('app: "basic:app"\nlog:\n  level: loud\n', 3, "log.level"),
    ('app: "basic:app"\nworkers: [1, 2\n', 2, None),  # YAML syntax error
])
def test_check_bad_value_names_position(tmp_path, text, line, key):
    cfg = write(tmp_path, text)
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 1, r
    m = re.search(re.escape(str(cfg)) + r":(\d+):(\d+): \S", r.stderr)
    assert m, f"no file:line:col in {r.stderr!r}"
    # libyaml may point at the next line for an unclosed flow sequence.
    assert int(m.group(1)) in (line, line + 1), r.stderr
    assert int(m.group(2)) >= 1
    if key:
        # asgimaster.yaml(5) DIAGNOSTICS: the dotted key, what was
        # expected and the value found.
        assert f'"{key}"' in r.stderr, r.stderr
        assert "expected" in r.stderr, r.stderr
        value = text.rstrip("\n").rsplit(": ", 1)[1].strip('"')
        assert value in r.stderr, r.stderr


def test_check_key_in_the_wrong_mapping(tmp_path):
    cfg = write(tmp_path, 'app: "basic:app"\nkeepalive: 5s\n')
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 1
    assert pos_re(cfg, 2, 1).search(r.stderr), r.stderr
    assert '"keepalive" in "timeouts"' in r.stderr, r.stderr


def test_check_missing_file(tmp_path):
    cfg = tmp_path / "nope.yaml"
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 1, r
    assert str(cfg) in r.stderr


def test_run_bad_config_exits_1(tmp_path):
    cfg = write(tmp_path, 'app: "basic:app"\nworkrs: 2\n')
    r = run_bin(["-c", cfg])
    assert r.returncode == 1, r
    assert pos_re(cfg, 2, 1).search(r.stderr), r.stderr


# ------------------------------------------------------------ usage


@pytest.mark.parametrize("args", [
    ["--no-such-flag"],
    ["-c"],
    [],
    ["--workers"],
    ["-t"],
])
def test_usage_error_exit_2(args):
    r = run_bin(args)
    assert r.returncode == 2, r
    assert r.stderr.strip(), "usage errors print a message on stderr"
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args", [
    ["-w", "abc", "basic:app"],
    ["--lifespan", "sometimes", "basic:app"],
    ["--log-level", "loud", "basic:app"],
    ["-b", "nowhere", "basic:app"],
])
def test_bad_flag_value_refused(args):
    r = run_bin(args, cwd=APPS)
    assert r.returncode in (1, 2), r
    assert r.stderr.strip()


# ------------------------------------------------------------ no config


def test_module_attr_from_cwd(server):
    port = free_port()
    s = server(use_config=False, cwd=APPS,
               args=["-b", f"127.0.0.1:{port}", "-w", "1", "basic:app"])
    r = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert r.status_code == 200
    assert r.text == "hello"
    assert s.running()


def test_module_attr_default_bind(server):
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", 8000))
        except OSError:
            pytest.skip("127.0.0.1:8000 is in use")
    server(use_config=False, cwd=APPS, args=["-w", "1", "basic:app"])
    r = httpx.get("http://127.0.0.1:8000/", timeout=10)
    assert r.text == "hello"


def test_chdir_flag(server, tmp_path):
    port = free_port()
    server(use_config=False, cwd=tmp_path,
           args=["--chdir", APPS, "-b", f"127.0.0.1:{port}", "-w", "1",
                 "basic:app"])
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello"


def test_bind_repeatable_tcp_and_unix(server, tmp_path):
    p1, p2 = free_port(), free_port()
    sock = tmp_path / "cli.sock"
    server(use_config=False, cwd=APPS,
           args=["-b", f"127.0.0.1:{p1}", "--bind", f"127.0.0.1:{p2}",
                 "-b", f"unix:{sock}", "-w", "1", "basic:app"])
    for p in (p1, p2):
        assert httpx.get(f"http://127.0.0.1:{p}/", timeout=10).text == "hello"
    transport = httpx.HTTPTransport(uds=str(sock))
    with httpx.Client(transport=transport, timeout=10) as c:
        assert c.get("http://localhost/").text == "hello"


def test_flags_override_config(server):
    port_flag = free_port()
    s = server({"workers": 3},
               args=["-b", f"127.0.0.1:{port_flag}", "-w", "1"])
    file_port = s.config["listen"][0].rsplit(":", 1)[1]
    r = httpx.get(f"http://127.0.0.1:{port_flag}/", timeout=10)
    assert r.text == "hello"
    # --bind replaces listen: the file's address is not bound.
    with socket.socket() as c:
        c.settimeout(2)
        assert c.connect_ex(("127.0.0.1", int(file_port))) != 0
    # --workers replaces workers.
    assert len(s.worker_pids()) == 1
    from conftest import children_of
    assert len(children_of(s.master_pid)) == 1


def test_flags_root_path_lifespan_factory(server):
    port = free_port()
    server(use_config=False, cwd=APPS,
           args=["-b", f"127.0.0.1:{port}", "-w", "1", "--factory",
                 "--lifespan", "off", "--root-path", "/mnt",
                 "factory_app:create_app"])
    r = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert r.text == "factory 1"


def test_root_path_flag_reaches_scope(server):
    port = free_port()
    server(use_config=False, cwd=APPS,
           args=["-b", f"127.0.0.1:{port}", "-w", "1", "--root-path",
                 "/mnt", "basic:app"])
    r = httpx.get(f"http://127.0.0.1:{port}/scope", timeout=10)
    assert r.json()["root_path"] == "/mnt"


def test_access_log_and_log_level_flags(server, tmp_path):
    port = free_port()
    access = tmp_path / "access.log"
    s = server(use_config=False, cwd=APPS,
               args=["-b", f"127.0.0.1:{port}", "-w", "1", "--access-log",
                     access, "--log-level", "debug", "basic:app"])
    httpx.get(f"http://127.0.0.1:{port}/flag-check", timeout=10)
    s.stop()
    text = access.read_text()
    assert "/flag-check" in text
    assert s.log_lines("debug"), "--log-level debug shows debug lines"


def test_log_level_flag_quiet(server, tmp_path):
    port = free_port()
    s = server(use_config=False, cwd=APPS, start=False,
               args=["-b", f"127.0.0.1:{port}", "-w", "1", "--log-level",
                     "warn", "basic:app"])
    s.start(wait=False)
    from conftest import wait_until

    def ok():
        try:
            return httpx.get(f"http://127.0.0.1:{port}/",
                             timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_until(ok, 15, 0.2)
    s.stop()
    assert not s.log_lines("notice"), s.log_text()
    assert not s.log_lines("info")


def test_binary_exists():
    assert BIN.exists(), f"{BIN} missing: build it or set ASGIMASTER_BIN"
