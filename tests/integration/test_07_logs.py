"""Logs: the error log line format, log levels and files, the access log
(off by default, combined with a request time when on)."""

import re

import httpx

from conftest import LOG_LINE_RE, wait_until

# Any [error] line fails a test unless it sets allow_errors.
AM_STRICT_ERRORS = True


COMBINED_RE = re.compile(
    r'^(?P<addr>\S+) - (?P<user>\S+) \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:'
    r'\d\d [+-]\d{4})\] "(?P<request>[^"]*)" (?P<status>\d{3}) '
    r'(?P<bytes>\d+|-) "(?P<referer>[^"]*)" "(?P<ua>[^"]*)"(?P<rest>.*)$'
)


def test_every_error_log_line_has_the_prefix(server):
    s = server({"workers": 2, "log": {"level": "info"}})
    s.allow_errors = True
    httpx.get(f"{s.url}/", timeout=10)
    httpx.get(f"{s.url}/raise-before", timeout=10)
    s.wait_log(r"boom-before-start")
    assert s.stop() == 0
    lines = s.log_text().splitlines()
    assert lines
    for line in lines:
        assert LOG_LINE_RE.match(line), f"bad log line: {line!r}"


def test_master_and_worker_pid_slot(server):
    s = server({"workers": 2})
    master = s.master_pid
    assert s.log_lines()
    for line in s.log_lines():
        m = LOG_LINE_RE.match(line)
        pid, slot = int(m.group(2)), int(m.group(3))
        if slot == 0:
            assert pid == master, line
        else:
            assert s.worker_pids().get(slot) == pid or \
                pid in s.worker_pids_all(), line


def test_access_log_off_by_default(server):
    s = server()
    httpx.get(f"{s.url}/access-probe", timeout=10)
    assert s.stop() == 0
    assert "/access-probe" not in s.log_text()
    assert "/access-probe" not in s.stdout_text()


def test_access_log_combined_with_request_time(server, tmp_path):
    access = tmp_path / "access.log"
    s = server({"log": {"access_log": str(access)}})
    n = 5
    for i in range(n):
        httpx.get(f"{s.url}/tag?tag={i}&x=y",
                  headers={"User-Agent": "am-test/1.0",
                           "Referer": "http://ref.example/"}, timeout=10)
    httpx.post(f"{s.url}/echo", content=b"abc", timeout=10)
    httpx.get(f"{s.url}/nope", timeout=10)
    assert wait_until(
        lambda: access.exists() and
        len(access.read_text().splitlines()) >= n + 2, 5)
    lines = access.read_text().splitlines()
    assert len(lines) == n + 2, lines
    for i, line in enumerate(lines[:n]):
        m = COMBINED_RE.match(line)
        assert m, line
        assert m["addr"] == "127.0.0.1"
        assert m["request"] == f"GET /tag?tag={i}&x=y HTTP/1.1"
        assert m["status"] == "200"
        assert m["bytes"] == str(len(str(i)))
        assert m["referer"] == "http://ref.example/"
        assert m["ua"] == "am-test/1.0"
        # The request time follows, in seconds with milliseconds.
        assert re.fullmatch(r" \d+\.\d{3}", m["rest"]), line
    assert COMBINED_RE.match(lines[n])["request"].startswith("POST /echo")
    assert COMBINED_RE.match(lines[n + 1])["status"] == "404"
    # The access log does not go to the error log.
    assert "/tag?tag=0" not in s.log_text()


def test_access_log_stdout(server):
    s = server({"log": {"access_log": "stdout"}})
    httpx.get(f"{s.url}/to-stdout", timeout=10)
    assert wait_until(lambda: "/to-stdout" in s.stdout_text(), 5)
    assert "/to-stdout" not in s.log_text()


def test_access_log_common_format(server, tmp_path):
    access = tmp_path / "common.log"
    s = server({"log": {"access_log": str(access),
                        "access_format": "common"}})
    httpx.get(f"{s.url}/c", timeout=10)
    assert wait_until(lambda: access.exists() and access.read_text(), 5)
    line = access.read_text().splitlines()[0]
    assert re.match(r'^127\.0\.0\.1 - \S+ \[[^\]]+\] "GET /c HTTP/1\.1" '
                    r'404 \d+$', line), line


def test_access_log_failed_request_logged(server, tmp_path):
    access = tmp_path / "access.log"
    s = server({"log": {"access_log": str(access)}})
    s.allow_errors = True
    httpx.get(f"{s.url}/raise-before", timeout=10)
    assert wait_until(lambda: access.exists() and access.read_text(), 5)
    m = COMBINED_RE.match(access.read_text().splitlines()[0])
    assert m and m["status"] == "500"


def test_error_log_to_file(server, tmp_path):
    path = tmp_path / "error.log"
    s = server({"log": {"error_log": str(path), "level": "notice"}})
    assert path.exists()
    assert "started" in path.read_text()
    assert "started" not in s.stderr_path.read_text()


def test_log_level_warn_hides_notice(server):
    s = server({"log": {"level": "warn"}}, start=False)
    s.start(wait=False)

    def ok():
        try:
            return httpx.get(f"{s.url}/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_until(ok, 15, 0.2)
    assert s.stop() == 0
    assert not s.log_lines("notice")


def test_log_level_debug_shows_more(server):
    s = server({"log": {"level": "debug"}})
    httpx.get(f"{s.url}/", timeout=10)
    assert wait_until(lambda: s.log_lines("debug"), 10), s.log_text()


def test_client_errors_logged_at_info(server):
    s = server({"log": {"level": "info"}})
    from conftest import raw
    with raw(s) as c:
        c.send(b"GARB@GE!!\x01\x02 / HTTP/1.1\r\n\r\n")
        assert c.read_response().status == 400
    # The line about it is written (an event to wait for, not a sleep) ...
    s.wait_log(r"\[info\] .*bad request")
    # ... and 400s are the client's fault: at most [info], never [error].
    assert not s.log_lines("error"), s.log_text()


def test_app_traceback_has_error_level(server):
    s = server()
    s.allow_errors = True
    httpx.get(f"{s.url}/raise-before", timeout=10)
    s.wait_log(r"\[error\] \d+#1: .*boom-before-start")


def test_access_log_custom_format(server, tmp_path):
    access = tmp_path / "custom.log"
    s = server({"log": {"access_log": str(access),
                        "access_format":
                            "$method|$uri|$status|$pid|${protocol}X|"
                            "$body_bytes_sent|$request_time|$ 5"}})
    httpx.get(f"{s.url}/tag?tag=abc&z=1", timeout=10)
    assert wait_until(lambda: access.exists() and access.read_text(), 5)
    line = access.read_text().splitlines()[0]
    pid = s.worker_pids()[1]
    assert re.fullmatch(rf"GET\|/tag\?tag=abc&z=1\|200\|{pid}\|"
                        r"HTTP/1\.1X\|3\|\d+\.\d{3}\|\$ 5", line), line


def test_access_log_escapes_request_values(server, tmp_path):
    access = tmp_path / "esc.log"
    s = server({"log": {"access_log": str(access)}})
    from conftest import raw
    from httpraw import request
    with raw(s) as c:
        c.send(request("GET", "/", headers=[
            ("User-Agent", 'evil" agent\\caf\xe9')]))
        c.read_response()
    assert wait_until(lambda: access.exists() and access.read_text(), 5)
    line = access.read_text().splitlines()[0]
    m = COMBINED_RE.match(line)
    assert m, line
    assert m["ua"].lower() == "evil\\x22 agent\\x5ccaf\\xe9", line


def test_access_log_unknown_variable_is_a_config_error(tmp_path):
    from conftest import APPS, run_bin, yaml_dump
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_dump({"app": "basic:app", "chdir": str(APPS),
                              "log": {"access_format": "$nosuchvar"}}))
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 1
    assert re.search(re.escape(str(cfg)) + r":\d+:\d+: ", r.stderr)
    assert "nosuchvar" in r.stderr


def test_access_log_unix_client(server, tmp_path):
    access = tmp_path / "unix.log"
    path = tmp_path / "a.sock"
    s = server({"listen": [f"unix:{path}"],
                "log": {"access_log": str(access)}})
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport, timeout=10) as c:
        c.get("http://localhost/u")
    assert wait_until(lambda: access.exists() and access.read_text(), 5)
    assert access.read_text().startswith("unix: - ")
    assert s.running()
