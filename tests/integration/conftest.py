"""tests/integration/conftest.py: run the real asgimaster binary.

Each test gets a `server` factory fixture. It writes a YAML config into
tmp_path, starts $ASGIMASTER_BIN (default: <repo>/asgimaster) with `-c`,
sends stdout and stderr to files in tmp_path and waits until the workers are
ready. On teardown it stops the server and checks what every run must
satisfy (STYLE.md section 11): the exit code, no unexpected [alert] or [crit]
line, no sanitizer report.

Apps live in tests/integration/apps/*.py; the config's chdir points there.
Protocol edge cases use the raw-socket helpers of `httpraw.py`.
SPDX-License-Identifier: BSD-2-Clause
"""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
APPS = HERE / "apps"
BIN = Path(os.environ.get("ASGIMASTER_BIN", str(ROOT / "asgimaster")))
# An ASan build (make asan-test): redzones and the quarantine of freed
# memory make RSS no measure of the worker's own, so memory bounds are
# asserted on the normal build only (the traffic is tested on both).
SANITIZED = BIN.exists() and b"__asan_init" in BIN.read_bytes()

sys.path.insert(0, str(HERE))

# The error log line prefix (common/log.c, STYLE.md section 6).
LOG_LINE_RE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
    r"\[(emerg|alert|crit|error|warn|notice|info|debug)\] (\d+)#(\d+): "
)
WORKER_EVENT_RE = re.compile(
    r"worker (\d+) \(slot (\d+)\) (started|ready|exited|failed)"
)
SANITIZER_RE = re.compile(
    r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
    r"runtime error:"
)

READY_TIMEOUT = 15.0
DEFAULT_TEST_TIMEOUT = 90


# ---------------------------------------------------------------- timeouts


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "am_timeout(seconds): per-test SIGALRM timeout"
    )


class AmTimeout(Exception):
    pass


@pytest.fixture(autouse=True)
def _per_test_timeout(request):
    """No test may hang: SIGALRM raises in the test after a limit.

    pytest-timeout may be absent, so this is a plain alarm. Teardown of
    the server fixture runs after this fixture's alarm is cancelled and
    has its own bounded waits.
    """
    marker = request.node.get_closest_marker("am_timeout")
    seconds = marker.args[0] if marker else DEFAULT_TEST_TIMEOUT

    def on_alarm(signum, frame):
        raise AmTimeout(f"test exceeded {seconds}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------- yaml


_PLAIN_RE = re.compile(r"[A-Za-z0-9_/.][A-Za-z0-9_./:@+-]*")


def yaml_scalar(v):
    """One YAML scalar. Strings are plain when obviously safe, else
    double-quoted (a JSON string is a valid YAML double-quoted scalar)."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if s and _PLAIN_RE.fullmatch(s) and not s.endswith(":") and ": " not in s:
        return s
    return json.dumps(s)


def yaml_dump(obj, indent=0):
    """A small block-style YAML emitter for dicts, lists and scalars (the
    tests must not depend on PyYAML)."""
    pad = " " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                out.append(f"{pad}{k}:")
                out.append(yaml_dump(v, indent + 2))
            elif isinstance(v, list) and v:
                out.append(f"{pad}{k}:")
                out.append(yaml_dump(v, indent + 2))
            elif isinstance(v, dict):
                out.append(f"{pad}{k}: {{}}")
            elif isinstance(v, list):
                out.append(f"{pad}{k}: []")
            else:
                out.append(f"{pad}{k}: {yaml_scalar(v)}")
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, dict):
                inner = yaml_dump(v, indent + 2).split("\n")
                out.append(f"{pad}- {inner[0].lstrip()}")
                out.extend(inner[1:])
            else:
                out.append(f"{pad}- {yaml_scalar(v)}")
    else:
        out.append(pad + yaml_scalar(obj))
    return "\n".join(out)


# ---------------------------------------------------------------- helpers


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A port that was free a moment ago (bind to 0, read it, close)."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, 0))
        return s.getsockname()[1]


def have_ipv6():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def wait_until(pred, timeout, interval=0.05):
    """Poll pred() until it is true or timeout passes; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def wait_app_started(srv, name, timeout=30.0):
    """Wait until a request sent with ?started=NAME reached the app
    (apps/basic.py creates srv.tmp/NAME then): synchronise on the event,
    not on a sleep. timeout only bounds a server that never gets there."""
    path = srv.tmp / name
    if not wait_until(path.exists, timeout):
        raise AssertionError(f"request {name} never reached the app in "
                             f"{timeout}s:\n{srv.log_text()}")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def children_of(pid):
    """PIDs whose parent is pid (from /proc)."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(d))
    return sorted(kids)


def run_bin(args, cwd=None, timeout=20, env=None):
    """Run the binary to completion (CLI tests)."""
    e = dict(os.environ)
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    if env:
        e.update(env)
    return subprocess.run(
        [str(BIN)] + [str(a) for a in args],
        cwd=cwd,
        env=e,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class ServerError(Exception):
    pass


class Server:
    """One asgimaster process with its config and logs in tmp_path.

    config: dict merged over the defaults (app, chdir, workers: 1, one TCP
    listener on a free port). `listen` replaces the listener list; .port
    is the first TCP listener's port.
    """

    def __init__(self, tmp_path, config=None, args=None, name="server",
                 env=None, use_config=True, cwd=None):
        self.tmp = Path(tmp_path)
        self.name = name
        self.port = free_port()
        self.use_config = use_config
        self.cwd = Path(cwd) if cwd else self.tmp
        self.args = [str(a) for a in (args or [])]
        if use_config:
            base = {
                "app": "basic:app",
                "chdir": str(APPS),
                "workers": 1,
                "listen": [f"127.0.0.1:{self.port}"],
            }
            for k, v in dict(config or {}).items():
                if v is None:
                    base.pop(k, None)
                else:
                    base[k] = v
        else:
            # No file: addresses and worker count come from the flags.
            base = {"listen": [], "workers": 1}
            it = iter(self.args)
            for a in it:
                if a in ("-b", "--bind"):
                    base["listen"].append(next(it))
                elif a.startswith("--bind="):
                    base["listen"].append(a.split("=", 1)[1])
                elif a in ("-w", "--workers"):
                    base["workers"] = int(next(it))
            if not base["listen"]:
                base["listen"] = ["127.0.0.1:8000"]
        # Flags override the file: mirror -b/-w for our own bookkeeping.
        if use_config:
            binds, it = [], iter(self.args)
            for a in it:
                if a in ("-b", "--bind"):
                    binds.append(next(it))
                elif a in ("-w", "--workers"):
                    self._workers_flag = int(next(it))
            self._binds_flag = binds
        self.config = base
        self.workers = getattr(self, "_workers_flag", None) \
            or base.get("workers", 1)
        self.env = env or {}
        self.conf_path = self.tmp / f"{name}.yaml"
        self.stdout_path = self.tmp / f"{name}.stdout"
        self.stderr_path = self.tmp / f"{name}.stderr"
        self.proc = None
        self.returncode = None
        self.expected_exit = 0
        self.allowed_log = []  # regexes for expected [alert]/[crit] lines
        self.allow_respawn = False
        # [error] means a request failed on our or the app's side. A test
        # module that sets AM_STRICT_ERRORS = True fails on any [error]
        # line unless the test sets allow_errors (it provokes them).
        self.allow_errors = True  # see strict_errors below
        self._checked = 0  # log offset already checked (shared servers)
        self._allow_errors_once = False
        self._set_addresses()

    def _set_addresses(self):
        self.tcp = []   # (family, host, port)
        self.unix = []  # paths
        listen = getattr(self, "_binds_flag", None) \
            or self.config.get("listen") or []
        for item in listen:
            addr = item["address"] if isinstance(item, dict) else item
            if addr.startswith("unix:"):
                self.unix.append(addr[5:])
                continue
            m = re.fullmatch(r"\[(.*)\]:(\d+)", addr)
            if m:
                self.tcp.append((socket.AF_INET6, m.group(1),
                                 int(m.group(2))))
                continue
            host, _, port = addr.rpartition(":")
            self.tcp.append((socket.AF_INET, host or "127.0.0.1", int(port)))
        if self.tcp:
            self.port = self.tcp[0][2]
            self.host = self.tcp[0][1]

    # ------------------------------------------------------------ addresses

    @property
    def url(self):
        family, host, port = self.tcp[0]
        if family == socket.AF_INET6:
            return f"http://[{host}]:{port}"
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    def addr(self):
        family, host, port = self.tcp[0]
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        return family, (host, port)

    def connect(self, timeout=10.0):
        """A raw TCP socket to the first listener."""
        family, sa = self.addr()
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(sa)
        return s

    # ------------------------------------------------------------ lifecycle

    def write_config(self):
        self.conf_path.write_text(yaml_dump(self.config) + "\n")

    def start(self, wait=True):
        if not BIN.exists():
            pytest.fail(f"asgimaster binary not found: {BIN} "
                        "(set ASGIMASTER_BIN)")
        if self.use_config:
            self.write_config()
            cmd = [str(BIN), "-c", str(self.conf_path)] + self.args
        else:
            cmd = [str(BIN)] + self.args
        env = dict(os.environ)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["AM_TEST_DIR"] = str(self.tmp)
        env.update(self.env)
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=str(self.cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            start_new_session=True,
        )
        if wait:
            self.wait_ready()
        return self

    @property
    def master_pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _port_accepts(self):
        try:
            if self.tcp:
                with self.connect(timeout=1.0):
                    return True
            for path in self.unix:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(1.0)
                    s.connect(path)
                    return True
        except OSError:
            return False
        return not self.tcp and not self.unix

    def ready_count(self):
        text = self.log_text()
        m = re.search(r"all (\d+) workers ready", text)
        if m:
            return int(m.group(1))
        slots = {int(s) for _, s, ev in WORKER_EVENT_RE.findall(text)
                 if ev == "ready"}
        return len(slots)

    def wait_ready(self, timeout=READY_TIMEOUT, workers=None):
        """Wait until the workers said ready and the port accepts. If the log
        never says so (older binary, quiet log level), fall back to the port
        after `timeout`."""
        workers = self.workers if workers is None else workers
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise ServerError(
                    f"asgimaster exited with {self.proc.returncode} while "
                    f"starting:\n{self.log_text()}{self.stdout_text()}"
                )
            if (isinstance(workers, int) and workers > 0
                    and self.ready_count() >= workers
                    and self._port_accepts()):
                return self
            time.sleep(0.05)
        if self._port_accepts():
            return self
        raise ServerError(f"asgimaster not ready after {timeout}s:\n"
                          f"{self.log_text()}")

    def wait_exit(self, timeout=10.0):
        """Wait for the master to exit by itself; returns its code or
        None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def send_signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Send sig to the master (by PID) and wait; returns the exit code.
        On timeout the whole process group gets SIGKILL and the test fails."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill_all()
                raise ServerError(
                    f"asgimaster did not exit {timeout}s after signal "
                    f"{sig}:\n{self.log_text()}")
        self.returncode = self.proc.returncode
        self._close_files()
        return self.returncode

    def kill_all(self):
        """Last resort: SIGKILL the master and the workers we know of, by
        PID (workers from the log and /proc)."""
        pids = set(self.worker_pids_all())
        if self.proc and self.proc.poll() is None:
            pids |= set(children_of(self.proc.pid))
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.proc:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def _close_files(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f and not f.closed:
                f.close()

    # ------------------------------------------------------------ logs

    def log_text(self):
        """The error log (stderr unless log.error_log names a file)."""
        path = self.stderr_path
        el = (self.config.get("log") or {}).get("error_log")
        if el and el != "stderr":
            path = Path(el)
        try:
            return path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stdout_text(self):
        try:
            return self.stdout_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_lines(self, level=None):
        out = []
        for line in self.log_text().splitlines():
            m = LOG_LINE_RE.match(line)
            if level is None or (m and m.group(1) == level):
                out.append(line)
        return out

    def wait_log(self, pattern, timeout=10.0, count=1):
        """Wait until pattern (regex) matches at least count times in the
        log; returns the matches (list of re.Match)."""
        rx = re.compile(pattern, re.M)

        def found():
            ms = list(rx.finditer(self.log_text()))
            return ms if len(ms) >= count else None

        ms = wait_until(found, timeout)
        if not ms:
            raise AssertionError(
                f"log never matched {pattern!r} x{count} in {timeout}s:\n"
                f"{self.log_text()}")
        return ms

    def expect_log(self, pattern):
        """Declare an [alert]/[crit] line (regex) this test expects."""
        self.allowed_log.append(re.compile(pattern))

    # ------------------------------------------------------------ workers

    def worker_events(self):
        return [(int(p), int(s), ev)
                for p, s, ev in WORKER_EVENT_RE.findall(self.log_text())]

    def worker_pids(self):
        """Current worker PIDs by slot: the newest started/ready PID of each
        slot that has not exited since."""
        slots = {}
        for pid, slot, ev in self.worker_events():
            if ev in ("started", "ready"):
                slots[slot] = pid
            elif slots.get(slot) == pid:
                del slots[slot]
        return slots

    def worker_pids_all(self):
        return sorted({pid for pid, _, _ in self.worker_events()})

    def started_count(self):
        return sum(1 for _, _, ev in self.worker_events() if ev == "started")

    # ------------------------------------------------------------ checks

    def log_problems(self, text):
        """Unexpected lines in text: sanitizer reports, [alert] and [crit]
        not declared with expect_log(), [error] unless allowed."""
        problems = []
        for line in text.splitlines():
            if SANITIZER_RE.search(line):
                problems.append(f"sanitizer: {line}")
            m = LOG_LINE_RE.match(line)
            if m and m.group(1) in ("alert", "crit"):
                if not any(rx.search(line) for rx in self.allowed_log):
                    problems.append(f"unexpected: {line}")
            elif m and m.group(1) == "error" and not self.allow_errors:
                problems.append(f"unexpected: {line}")
        return problems

    def check_new_log(self):
        """For a server shared by several tests: check what the log gained
        since the last call, so a problem is blamed on the test that made
        it."""
        text = self.log_text()
        new, self._checked = text[self._checked:], len(text)
        saved = self.allow_errors
        self.allow_errors = saved or self._allow_errors_once
        self._allow_errors_once = False
        try:
            problems = self.log_problems(new)
        finally:
            self.allow_errors = saved
        if problems:
            raise AssertionError(
                "unexpected log lines during this test:\n  "
                + "\n  ".join(problems))

    def allow_errors_in_this_test(self):
        """On a shared server: [error] lines are expected during the
        current test only."""
        self._allow_errors_once = True

    def check_clean(self):
        """Teardown checks: exit code, no unexpected alert/crit lines, no
        sanitizer reports, no unexpected respawn."""
        problems = []
        if self.expected_exit is not None \
                and self.returncode != self.expected_exit:
            problems.append(f"exit code {self.returncode}, expected "
                            f"{self.expected_exit}")
        problems += self.log_problems(self.log_text()[self._checked:])
        problems += self.log_problems(
            "\n".join(line for line in self.stdout_text().splitlines()
                      if SANITIZER_RE.search(line)))
        if not self.allow_respawn and isinstance(self.workers, int) \
                and self.workers > 0:
            n = self.started_count()
            if n > self.workers:
                problems.append(f"{n} workers started for {self.workers} "
                                "slots: unexpected respawn")
        if problems:
            raise AssertionError(
                "server teardown checks failed:\n  " + "\n  ".join(problems)
                + "\n--- log ---\n" + self.log_text())


@pytest.fixture
def server(tmp_path, request):
    """Factory: server(config_dict, args=[...], start=True, name=...).

    Every server made here is stopped (SIGTERM) at teardown and checked with
    Server.check_clean()."""
    made = []

    def make(config=None, args=None, start=True, name=None, env=None,
             use_config=True, cwd=None):
        s = Server(tmp_path, config, args=args,
                   name=name or f"server{len(made)}", env=env,
                   use_config=use_config, cwd=cwd)
        s.allow_errors = not getattr(request.module, "AM_STRICT_ERRORS",
                                     False)
        made.append(s)
        if start:
            s.start()
        return s

    yield make

    errors = []
    for s in made:
        if s.proc is None:
            continue
        try:
            s.stop(timeout=15)
        except ServerError as e:
            errors.append(str(e))
            continue
        try:
            s.check_clean()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def test_dir(tmp_path):
    return tmp_path


SHARED = []  # module-scoped servers alive now


@pytest.fixture(autouse=True)
def _shared_server_log_check():
    """Blame unexpected log lines of a shared (module-scoped) server on the
    test during which they appeared."""
    for s in SHARED:
        s._checked = len(s.log_text())
    yield
    if SHARED:
        time.sleep(0.05)  # lines logged just after the last response
    errors = []
    for s in list(SHARED):
        try:
            s.check_new_log()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


@contextlib.contextmanager
def running(tmp, config=None, strict_errors=False, **kw):
    """A started Server for a module-scoped fixture; stopped and checked
    on exit like the function-scoped `server` fixture. strict_errors:
    fail on any [error] line."""
    s = Server(tmp, config, **kw)
    s.allow_errors = not strict_errors
    try:
        s.start()
        SHARED.append(s)
        yield s
    finally:
        if s in SHARED:
            SHARED.remove(s)
        try:
            if s.proc is not None:
                s.stop(timeout=15)
        finally:
            s._close_files()
    s.check_clean()


def raw(srv, timeout=10.0):
    """A RawConn to srv's first TCP listener."""
    from httpraw import RawConn
    return RawConn(srv.connect(timeout), timeout)
