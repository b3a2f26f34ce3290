#!/usr/bin/python3
"""scripts/bench.py: `make bench` (run by scripts/bench.sh).

Serves the same apps with asgimaster (one worker), uvicorn (httptools),
hypercorn, and h2o serving static files as the ceiling, one server at a
time, and loads each scenario it supports:

  hello-h1          GET of conf/bench_app.py, wrk -c64
  hello-h2c/-h2tls  the same, h2load -c64 -m16 (h2c prior knowledge / ALPN)
  stream-{h1,h2c,h2tls}-cN
                    1 MiB in 16 x 64 KiB sends (conf/bench_stream_app.py)
                    at N = 1, 8, 64 connections (h2load -m4 on HTTP/2)
  upload-{h1,h2c}   1 MiB POSTs read by conf/bench_upload_app.py, -c8
  ws-echo           WebSocket echo (conf/bench_ws_app.py): BENCH_WS_CONNECTIONS
                    (32) connections sending 1 KiB text messages and awaiting
                    each echo (build/bench/ws_load); uvicorn runs it with
                    --ws websockets and --ws wsproto; req_s is messages/s,
                    server_us_req CPU per message
  idle-{h1,h1tls,h2c,h2tls}
                    BENCH_IDLE_CONNS idle connections, each after one
                    answered request: RSS growth of the server per connection

The server runs on core BENCH_SERVER_CPU (0), the client on
BENCH_CLIENT_CPU (1). For every scenario and server: requests/s, p99
latency (wrk --latency; h2load --log-file), server CPU per request
(utime+stime of every process in the server's tree, master and workers,
from /proc/PID/stat before and after the run, divided by requests),
client CPU (% of one core), failed requests and peak RSS of the tree
(VmHWM summed over its processes). One table at the end, also written as
TSV to bench-results/<UTC timestamp>.tsv; compare two runs with
scripts/bench-compare A.tsv B.tsv.

Environment: ASGIMASTER_BIN (./asgimaster), BENCH_DURATION (5, seconds
per scenario), BENCH_IDLE_CONNS (2000), BENCH_PORT (18080),
BENCH_SERVER_CPU (0), BENCH_CLIENT_CPU (1), BENCH_SERVERS (comma list,
default all), BENCH_SCENARIOS (comma list of prefixes, default all).
Every step is bounded in time; servers are stopped by PID.
SPDX-License-Identifier: BSD-2-Clause
"""

import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONF = os.path.join(ROOT, "conf")
PY = "/usr/bin/python3"
BIN = os.path.abspath(os.environ.get("ASGIMASTER_BIN",
                                     os.path.join(ROOT, "asgimaster")))
DURATION = int(os.environ.get("BENCH_DURATION", "5").rstrip("s"))
IDLE = int(os.environ.get("BENCH_IDLE_CONNS", "2000"))
PORT = int(os.environ.get("BENCH_PORT", "18080"))
SCPU = os.environ.get("BENCH_SERVER_CPU", "0")
CCPU = os.environ.get("BENCH_CLIENT_CPU", "1")
ONLY_SERVERS = [s for s in os.environ.get("BENCH_SERVERS", "").split(",")
                if s]
ONLY_SCEN = [s for s in os.environ.get("BENCH_SCENARIOS", "").split(",")
             if s]
MIB = 1024 * 1024
WS_CONNS = int(os.environ.get("BENCH_WS_CONNECTIONS", "32"))
WS_LOAD = os.environ.get("WS_LOAD",
                         os.path.join(ROOT, "build", "bench", "ws_load"))
COLS = ["scenario", "server", "req_s", "p99_ms", "server_us_req",
        "client_cpu_pct", "failed", "peak_rss_kib", "idle_kib_conn"]


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------ processes

def tree(pid):
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for c in f.read().split():
                    out += tree(int(c))
    except OSError:
        pass
    return out


def tree_cpu(pid):
    """Clock ticks of user+system time of every process in the tree."""
    t = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                a = f.read().rsplit(")", 1)[1].split()
            t += int(a[11]) + int(a[12])
        except OSError:
            pass
    return t


def tree_status(pid, key):
    """Sum of a /proc/PID/status field (kB) over the tree."""
    t = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        t += int(line.split()[1])
        except OSError:
            pass
    return t


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Server:
    def __init__(self, name, argv, ports, tmp, env=None):
        self.name, self.argv, self.ports = name, argv, ports
        self.log = open(os.path.join(tmp, f"{name}.log"), "w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SCPU] + argv, stdout=self.log,
            stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 20
        while not all(port_open(p) for p in ports):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start; see {self.log.name}")
            time.sleep(0.2)
        time.sleep(1.0)  # the master listens before its worker is ready

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ------------------------------------------------------------ clients

def run_client(argv, timeout):
    """Run the load generator on the client core; returns (output, CPU s)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run(["taskset", "-c", CCPU] + argv, timeout=timeout,
                           capture_output=True, text=True)
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def wrk_parse(out):
    n = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out)
    failed = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        failed += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        failed += sum(int(x) for x in m.groups())
    if not n or not rps:
        return None
    lat = None
    if p99:
        lat = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[
            p99.group(2)]
    return int(n.group(1)), float(rps.group(1)), lat, failed


def h2load_parse(out, logfile):
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, "
                  r"(\d+) succeeded, (\d+) failed, (\d+) errored, "
                  r"(\d+) timeout", out)
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    if not m or not rps:
        return None
    failed = int(m.group(5)) + int(m.group(6)) + int(m.group(7))
    lat = None
    try:
        with open(logfile) as f:
            times = sorted(int(line.split("\t")[2]) for line in f
                           if line.count("\t") >= 2)
        if times:
            lat = times[min(len(times) - 1, int(len(times) * 0.99))] / 1000
    except OSError:
        pass
    return int(m.group(4)), float(rps.group(1)), lat, failed


def load(srv, kind, url, conns, streams, tmp, body=None):
    """Warm up, then one measured run; returns a result dict."""
    if kind == "wrk":
        base = ["wrk", "-t1", f"-c{conns}", "--latency"]
        if body:
            base += ["-s", body]
        run_client(base + ["-d1s", url], 20)
        c0, t0 = tree_cpu(srv.pid), time.monotonic()
        out, ccpu = run_client(base + [f"-d{DURATION}s", url], DURATION + 30)
        parsed = wrk_parse(out)
    else:
        lf = os.path.join(tmp, "h2load.log")
        base = ["h2load", f"-c{conns}", f"-m{streams}", "-t1"]
        if kind == "h1":
            base.append("--h1")
        if body:
            base += ["-d", body]
        run_client(base + ["-n", str(max(conns * streams, 100)), url], 30)
        if os.path.exists(lf):
            os.unlink(lf)
        c0, t0 = tree_cpu(srv.pid), time.monotonic()
        out, ccpu = run_client(base + [f"-D{DURATION}", f"--log-file={lf}",
                                       url], DURATION + 30)
        parsed = h2load_parse(out, lf)
    wall = time.monotonic() - t0
    c1 = tree_cpu(srv.pid)
    if parsed is None:
        log(f"{srv.name} {url}: no result; client said:\n{out[-800:]}")
        return {"failed": "error"}
    n, rps, lat, failed = parsed
    tick = os.sysconf("SC_CLK_TCK")
    return {
        "req_s": f"{rps:.0f}",
        "p99_ms": f"{lat:.2f}" if lat is not None else "",
        "server_us_req": f"{(c1 - c0) / tick * 1e6 / n:.1f}" if n else "",
        "client_cpu_pct": f"{ccpu / wall * 100:.0f}",
        "failed": str(failed),
    }


# ------------------------------------------------------------ idle conns

def h2_frames(data):
    out = []
    while len(data) >= 9:
        ln = int.from_bytes(data[:3], "big")
        if len(data) < 9 + ln:
            break
        out.append((data[3], data[4], int.from_bytes(data[5:9], "big")
                    & 0x7FFFFFFF))
        data = data[9 + ln:]
    return out, data


def idle_one(port, tls, h2):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"] if h2 else ["http/1.1"])
        s = ctx.wrap_socket(s)
    if not h2:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                raise OSError("closed")
            buf += d
            head, sep, rest = buf.partition(b"\r\n\r\n")
            m = re.search(rb"(?i)content-length: *(\d+)", head)
            if sep and m and len(rest) >= int(m.group(1)):
                return s
    # RFC 9113 §3.4 preface, empty SETTINGS; HEADERS (HPACK static
    # indexes: GET, /, scheme; :authority as a literal) with END_STREAM.
    block = bytes([0x82, 0x84, 0x87 if tls else 0x86, 0x01, 9]) + \
        b"127.0.0.1"
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
              b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" +
              len(block).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x01" +
              block)
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            raise OSError("closed")
        frames, buf = h2_frames(buf + d)
        done = False
        for ftype, flags, sid in frames:
            if ftype == 4 and not flags & 1:
                s.sendall(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00")
            if sid == 1 and ftype in (0, 1) and flags & 1:
                done = True
        if done:
            return s


def idle_measure(srv, port, tls, h2, n):
    before = tree_status(srv.pid, "VmRSS")
    socks = []
    try:
        deadline = time.monotonic() + 120
        for _ in range(n):
            socks.append(idle_one(port, tls, h2))
            if time.monotonic() > deadline:
                break
        time.sleep(1.0)
        after = tree_status(srv.pid, "VmRSS")
        return {"idle_kib_conn": f"{(after - before) / len(socks):.1f}",
                "failed": str(n - len(socks))}
    except OSError as e:
        log(f"{srv.name} idle: {e} after {len(socks)} connections")
        return {"failed": str(n - len(socks))}
    finally:
        for s in socks:
            s.close()
        time.sleep(0.5)


# ------------------------------------------------------------ WebSocket

def ws_load(srv, port):
    """WebSocket echo with build/bench/ws_load: warm up, one measured run;
    a result dict (req_s is messages/s)."""
    argv = [WS_LOAD, str(port), "/", str(WS_CONNS), "1024"]
    run_client(argv + ["1"], 30)
    c0, t0 = tree_cpu(srv.pid), time.monotonic()
    out, ccpu = run_client(argv + [str(DURATION)], DURATION + 30)
    wall = time.monotonic() - t0
    c1 = tree_cpu(srv.pid)
    try:
        mps = float(out.split()[-1])
    except (IndexError, ValueError):
        log(f"{srv.name} ws-echo: no result; client said:\n{out[-800:]}")
        return {"failed": "error"}
    n = mps * DURATION
    tick = os.sysconf("SC_CLK_TCK")
    return {
        "req_s": f"{mps:.0f}",
        "server_us_req": f"{(c1 - c0) / tick * 1e6 / n:.1f}" if n else "",
        "client_cpu_pct": f"{ccpu / wall * 100:.0f}",
        "failed": "0",
    }


def ws_servers(tmp, port):
    """(server name, argv) for the WebSocket echo."""
    out = [("asgimaster", asgimaster("bench_ws_app", tmp, port, port + 1) +
            ["--ws-ping-interval", "0"])]
    for impl in ("websockets", "wsproto"):
        out.append((f"uvicorn-{impl}",
                    [PY, "-m", "uvicorn", "--app-dir", CONF, "--host",
                     "127.0.0.1", "--port", str(port), "--ws", impl,
                     "--workers", "1", "--no-access-log", "--log-level",
                     "warning", "--lifespan", "off", "bench_ws_app:app"]))
    out.append(("hypercorn", ["env", f"PYTHONPATH={CONF}", PY, "-m",
                              "hypercorn", "--workers", "1", "-b",
                              f"127.0.0.1:{port}", "--log-level", "warning",
                              "bench_ws_app:app"]))
    return out


def ws_bench(tmp, port, rows):
    if not wanted("ws-echo"):
        return
    if not os.access(WS_LOAD, os.X_OK):
        log(f"no ws_load at {WS_LOAD}: make {os.path.relpath(WS_LOAD, ROOT)}")
        return
    for sname, argv in ws_servers(tmp, port):
        base = sname.split("-")[0]
        if ONLY_SERVERS and base not in ONLY_SERVERS:
            continue
        try:
            srv = Server(sname, argv, [port], tmp)
        except RuntimeError as e:
            log(str(e))
            continue
        try:
            log(f"{sname}: ws-echo")
            r = ws_load(srv, port)
            r["peak_rss_kib"] = str(tree_status(srv.pid, "VmHWM"))
            rows.append(dict(scenario="ws-echo", server=sname, **r))
        finally:
            srv.stop()


# ------------------------------------------------------------ servers

def asgimaster(app, tmp, port, tls_port):
    cfg = os.path.join(tmp, f"am-{app}.yaml")
    with open(cfg, "w") as f:
        f.write(f"""app: "{app}:app"
chdir: {CONF}
workers: 1
lifespan: "off"
log:
  level: warn
  access_log: "off"
timeouts:  # idle connections must outlive a slow idle-* run
  keepalive: 600s
  h2_idle: 600s
listen:
  - 127.0.0.1:{port}
  - address: 127.0.0.1:{tls_port}
    tls:
      certificate: {tmp}/certs/server.pem
      key: {tmp}/certs/server.key
""")
    return [BIN, "-c", cfg]


def uvicorn(app, tmp, port, tls_port):
    return [PY, "-m", "uvicorn", "--app-dir", CONF, "--host", "127.0.0.1",
            "--port", str(port), "--http", "httptools", "--loop", "asyncio",
            "--workers", "1", "--no-access-log", "--log-level", "warning",
            "--lifespan", "off", "--timeout-keep-alive", "600", f"{app}:app"]


def hypercorn(app, tmp, port, tls_port):
    return ["env", f"PYTHONPATH={CONF}", PY, "-m", "hypercorn",
            "--workers", "1", "--insecure-bind", f"127.0.0.1:{port}",
            "-b", f"127.0.0.1:{tls_port}",
            "--certfile", f"{tmp}/certs/server.pem",
            "--keyfile", f"{tmp}/certs/server.key",
            "--log-level", "warning", "--keep-alive", "600", f"{app}:app"]


def h2o(app, tmp, port, tls_port):
    root = os.path.join(tmp, "static")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "hello"), "w") as f:
        f.write("Hello, world!")
    with open(os.path.join(root, "stream"), "wb") as f:
        f.write(b"x" * MIB)
    cfg = os.path.join(tmp, "h2o.conf")
    with open(cfg, "w") as f:
        if os.geteuid() == 0:  # h2o would switch to nobody
            f.write("user: root\n")
        f.write(f"""num-threads: 1
http1-request-timeout: 600
http2-idle-timeout: 600
listen:
  host: 127.0.0.1
  port: {port}
listen:
  host: 127.0.0.1
  port: {tls_port}
  ssl:
    certificate-file: {tmp}/certs/server.pem
    key-file: {tmp}/certs/server.key
hosts:
  default:
    paths:
      /:
        file.dir: {root}
""")
    return ["h2o", "-c", cfg]


# server -> (argv builder, path per app, protocols it speaks)
SERVERS = {
    "asgimaster": (asgimaster, {"h1", "h2c", "h2tls", "h1tls"}),
    "uvicorn": (uvicorn, {"h1"}),
    "hypercorn": (hypercorn, {"h2c", "h2tls"}),
    "h2o-static": (h2o, {"h1", "h2c", "h2tls"}),
}
APPS = {"hello": "bench_app", "stream": "bench_stream_app",
        "upload": "bench_upload_app"}


def scenarios(upload_body, lua):
    """(name, app, proto, client kind, conns, streams, body)."""
    out = [("hello-h1", "hello", "h1", "wrk", 64, 1, None),
           ("hello-h2c", "hello", "h2c", "h2", 64, 16, None),
           ("hello-h2tls", "hello", "h2tls", "h2", 64, 16, None)]
    for proto in ("h1", "h2c", "h2tls"):
        for c in (1, 8, 64):
            out.append((f"stream-{proto}-c{c}", "stream", proto,
                        "wrk" if proto == "h1" else "h2", c, 4, None))
    out += [("upload-h1", "upload", "h1", "wrk", 8, 1, lua),
            ("upload-h2c", "upload", "h2c", "h2", 8, 4, upload_body)]
    return out


def wanted(name):
    return not ONLY_SCEN or any(name.startswith(p) for p in ONLY_SCEN)


def main():
    global IDLE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, IDLE * 2 + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    IDLE = min(IDLE, want // 2 - 512)
    for tool in ("wrk", "h2load", "taskset"):
        if not shutil.which(tool):
            log(f"{tool} is missing: scripts/install-deps.sh --bench")
            return 1
    tmp = tempfile.mkdtemp(prefix="asgimaster-bench.")
    subprocess.run([os.path.join(ROOT, "scripts", "gen-cert.sh"),
                    os.path.join(tmp, "certs")], check=True,
                   capture_output=True)
    body = os.path.join(tmp, "upload.bin")
    with open(body, "wb") as f:
        f.write(b"u" * MIB)
    lua = os.path.join(tmp, "upload.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = string.rep("u", %d)\n'
                'wrk.headers["Content-Type"] = "application/octet-stream"\n'
                % MIB)
    rows = []
    port = PORT
    for sname, (build, protos) in SERVERS.items():
        if ONLY_SERVERS and sname not in ONLY_SERVERS:
            continue
        if sname == "asgimaster" and not os.access(BIN, os.X_OK):
            log(f"no asgimaster binary at {BIN}")
            return 1
        if sname == "h2o-static" and not shutil.which("h2o"):
            log("h2o is missing: scripts/install-deps.sh --bench")
            continue
        # A fresh server for each idle kind: memory freed by an earlier
        # run would otherwise be reused and hide the growth.
        for app in ("hello", "stream", "upload", "idle-h1", "idle-h1tls",
                    "idle-h2c", "idle-h2tls"):
            todo = [s for s in scenarios(body, lua)
                    if s[1] == app and s[2] in protos and wanted(s[0])]
            if sname == "h2o-static" and app == "upload":
                todo = []
            idle = []
            k = app[5:]
            if app.startswith("idle-") and k in protos and \
                    sname != "h2o-static" and wanted(app):
                idle = [k]
            if not todo and not idle:
                continue
            port += 2
            try:
                srv = Server(sname, build(APPS.get(app, "bench_app"), tmp,
                                          port, port + 1),
                             [port] if sname == "uvicorn"
                             else [port, port + 1], tmp)
            except RuntimeError as e:
                log(str(e))
                continue
            try:
                for (name, _, proto, kind, conns, streams, b) in todo:
                    path = "/" if sname != "h2o-static" else \
                        "/" + ("hello" if app == "hello" else "stream")
                    tls = proto == "h2tls"
                    url = (f"https://127.0.0.1:{port + 1}" if tls else
                           f"http://127.0.0.1:{port}") + path
                    k = kind if kind == "wrk" else (
                        "h1" if proto == "h1" else "h2")
                    log(f"{sname}: {name}")
                    r = load(srv, k, url, conns, streams, tmp, b)
                    rows.append(dict(scenario=name, server=sname, **r))
                for k in idle:
                    log(f"{sname}: idle-{k} x {IDLE}")
                    tls = k.endswith("tls")
                    r = idle_measure(srv, port + 1 if tls else port, tls,
                                     k.startswith("h2"), IDLE)
                    rows.append(dict(scenario=f"idle-{k}", server=sname,
                                     **r))
                peak = tree_status(srv.pid, "VmHWM")
                for r in rows:
                    if r["server"] == sname and "peak_rss_kib" not in r:
                        r["peak_rss_kib"] = str(peak)
            finally:
                srv.stop()
    ws_bench(tmp, port + 2, rows)
    shutil.rmtree(tmp, ignore_errors=True)
    rows.sort(key=lambda r: (r["scenario"], r["server"]))
    width = {c: max([len(c)] + [len(r.get(c, "")) for r in rows])
             for c in COLS}
    print()
    print("  ".join(c.ljust(width[c]) for c in COLS))
    for r in rows:
        print("  ".join(r.get(c, "").ljust(width[c]) for c in COLS))
    os.makedirs(os.path.join(ROOT, "bench-results"), exist_ok=True)
    out = os.path.join(ROOT, "bench-results",
                       time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) +
                       ".tsv")
    with open(out, "w") as f:
        f.write("\t".join(COLS) + "\n")
        for r in rows:
            f.write("\t".join(r.get(c, "") for c in COLS) + "\n")
    print(f"\nbench: table written to {out}")
    return 1 if any(r.get("failed") not in ("0", "", None) for r in rows) \
        else 0


if __name__ == "__main__":
    sys.exit(main())
