"""asgimaster behind real proxies (issue 4, "Behind real proxies").

Each proxy from Debian is started by the test on loopback with a config in
tmp_path and stopped by PID:
- HAProxy: `server s1 ... proto h2` (h2c by prior knowledge upstream);
- Caddy: `reverse_proxy h2c://...`;
- nginx: `proxy_http_version 1.1` with a keepalive upstream.
Through each: many concurrent requests (over one upstream connection for
the HTTP/2 proxies), a streamed response, a 5 MB upload, and the client
address from X-Forwarded-For with forwarded_allow_ips trusting the proxy.
The test client binds 127.0.0.2 so the proxy (127.0.0.1) and the client
differ. A proxy that is not installed is skipped (scripts/install-deps.sh
installs haproxy, caddy and nginx-light).
SPDX-License-Identifier: BSD-2-Clause
"""

import concurrent.futures
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import httpx
import pytest

from conftest import APPS, free_port, running, wait_until

pytestmark = pytest.mark.am_timeout(120)

CLIENT_IP = "127.0.0.2"
PROXIES = ["haproxy", "caddy", "nginx"]
H2_UPSTREAM = {"haproxy", "caddy"}


def can_bind(ip):
    try:
        with socket.socket() as s:
            s.bind((ip, 0))
        return True
    except OSError:
        return False


# ------------------------------------------------------------ proxy configs


def haproxy_conf(d, port, up):
    return f"""
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option forwardfor
    http-reuse always
frontend fe
    bind 127.0.0.1:{port}
    # HAProxy 2.6 sends ":scheme: https" to an h2 server even for a
    # cleartext frontend; X-Forwarded-Proto from a trusted proxy says what
    # the client really used (README's HAProxy snippet does the same).
    http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]
    default_backend be
backend be
    server s1 127.0.0.1:{up} proto h2
""", ["haproxy", "-db", "-f"]


def caddy_conf(d, port, up):
    return f"""{{
    admin off
    auto_https off
    storage file_system {d}/caddy-data
}}
http://127.0.0.1:{port} {{
    reverse_proxy h2c://127.0.0.1:{up} {{
        flush_interval -1
    }}
}}
""", ["caddy", "run", "--adapter", "caddyfile", "--config"]


def nginx_conf(d, port, up):
    return f"""
worker_processes 1;
error_log {d}/nginx-error.log warn;
pid {d}/nginx.pid;
user root;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream app {{
        server 127.0.0.1:{up};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 50m;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}
}}
""", ["nginx", "-e", f"{d}/nginx-error.log", "-g", "daemon off;", "-c"]


CONFS = {"haproxy": haproxy_conf, "caddy": caddy_conf, "nginx": nginx_conf}


class Proxy:
    def __init__(self, name, d, upstream_port):
        self.name = name
        self.dir = d
        self.port = free_port()
        self.upstream = upstream_port
        text, cmd = CONFS[name](d, self.port, upstream_port)
        self.conf = d / f"{name}.conf"
        self.conf.write_text(text)
        self.log = d / f"{name}.log"
        env = dict(os.environ, HOME=str(d), XDG_DATA_HOME=str(d / "xdg"),
                   XDG_CONFIG_HOME=str(d / "xdgc"))
        self._log = open(self.log, "wb")
        self.proc = subprocess.Popen(
            cmd + [str(self.conf)], cwd=str(d), env=env,
            stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_until(self._accepts, 15):
            self.stop()
            raise AssertionError(f"{name} did not start:\n{self.log_text()}")

    def _accepts(self):
        if self.proc.poll() is not None:
            return True
        try:
            with socket.create_connection(("127.0.0.1", self.port), 1):
                return True
        except OSError:
            return False

    def log_text(self):
        t = self.log.read_text(errors="replace")
        ng = self.dir / "nginx-error.log"
        if ng.exists():
            t += ng.read_text(errors="replace")
        return t

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # nginx's worker is the master's child: SIGTERM to the master
        # stops it; nothing else to reap.
        self._log.close()


# ------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def app_srv(tmp_path_factory):
    cfg = {"app": "h2_app:app", "chdir": str(APPS),
           "forwarded_allow_ips": ["127.0.0.1"]}
    with running(tmp_path_factory.mktemp("proxied"), cfg) as s:
        yield s


@pytest.fixture(scope="module", params=PROXIES)
def proxy(request, app_srv, tmp_path_factory):
    name = request.param
    if not shutil.which(name):
        pytest.skip(f"{name} not installed (Debian package "
                    f"{'nginx-light' if name == 'nginx' else name}; "
                    "scripts/install-deps.sh installs it)")
    d = tmp_path_factory.mktemp(name)
    p = Proxy(name, d, app_srv.port)
    try:
        yield p
    finally:
        p.stop()


def client(**kw):
    """An HTTP/1.1 client that connects from CLIENT_IP."""
    transport = httpx.HTTPTransport(local_address=CLIENT_IP) \
        if can_bind(CLIENT_IP) else None
    return httpx.Client(transport=transport, timeout=30, **kw)


def upstream_connections(port):
    """ESTABLISHED TCP connections whose local port is `port` (the
    server side of connections to asgimaster), from /proc/net/tcp."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local, state = parts[1], parts[3]
            if state == "01" and int(local.split(":")[1], 16) == port:
                n += 1
    return n


# ------------------------------------------------------------ tests


def test_simple_request(proxy):
    with client() as c:
        r = c.get(f"{proxy.url}/")
    assert r.status_code == 200 and r.text == "hello", proxy.log_text()


def test_upstream_protocol(proxy):
    """HAProxy and Caddy speak HTTP/2 (h2c prior knowledge) upstream;
    nginx HTTP/1.1."""
    with client() as c:
        r = c.get(f"{proxy.url}/inflight?s=0")
    assert r.status_code == 200, proxy.log_text()
    want = "2" if proxy.name in H2_UPSTREAM else "1.1"
    assert r.json()["http_version"] == want


def test_concurrent_requests(proxy, app_srv):
    """50 concurrent requests through the proxy, each held in the app until
    10 are in it at once (not for a fixed time, which a loaded machine may
    not fill): they run concurrently in asgimaster; for the HTTP/2 proxies
    they share one (or very few) upstream connection(s)."""
    with client() as c:
        assert c.get(f"{proxy.url}/inflight-reset").status_code == 200
    n = 50
    peak_conns = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak_conns[0] = max(peak_conns[0],
                                upstream_connections(app_srv.port))
            time.sleep(0.02)

    def one(_):
        with client() as c:
            return c.get(f"{proxy.url}/inflight?until=10")

    t = threading.Thread(target=sample)
    t.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(n) as ex:
            rs = list(ex.map(one, range(n)))
    finally:
        stop.set()
        t.join()
    assert all(r.status_code == 200 for r in rs), \
        [r.status_code for r in rs]
    peak = max(r.json()["peak"] for r in rs)
    assert peak >= 10, f"at most {peak} requests in the app at once"
    if proxy.name in H2_UPSTREAM:
        assert peak_conns[0] <= 4, (
            f"{peak_conns[0]} upstream connections for {n} concurrent "
            "requests: streams not multiplexed")


def test_streamed_response(proxy):
    with client() as c:
        with c.stream("GET", f"{proxy.url}/stream?n=1048576&chunk=65536") \
                as r:
            assert r.status_code == 200
            data = b"".join(r.iter_bytes())
    assert len(data) == 1 << 20
    for i in range(16):
        assert data[i * 65536:(i + 1) * 65536] == bytes([65 + i]) * 65536


def test_upload_5mb(proxy):
    body = os.urandom(5 * 1000 * 1000)
    with client() as c:
        r = c.post(f"{proxy.url}/sha256", content=body)
    assert r.status_code == 200, proxy.log_text()
    got = r.json()
    assert got["len"] == len(body)
    assert got["sha256"] == hashlib.sha256(body).hexdigest()


def test_forwarded_for_trusted_proxy(proxy):
    """With forwarded_allow_ips: [127.0.0.1] the app sees the client's
    address (127.0.0.2) from X-Forwarded-For, not the proxy's."""
    if not can_bind(CLIENT_IP):
        pytest.skip(f"cannot bind {CLIENT_IP}")
    with client() as c:
        r = c.get(f"{proxy.url}/inflight?s=0")
    info = r.json()
    assert info["client"] and info["client"][0] == CLIENT_IP, info
    assert info["scheme"] == "http"


def test_forwarded_for_untrusted_peer_ignored(app_srv):
    """A direct client that is not in forwarded_allow_ips cannot claim
    another address with X-Forwarded-For."""
    if not can_bind(CLIENT_IP):
        pytest.skip(f"cannot bind {CLIENT_IP}")
    with client() as c:
        r = c.get(f"{app_srv.url}/inflight?s=0",
                  headers={"X-Forwarded-For": "203.0.113.9",
                           "X-Forwarded-Proto": "https"})
    info = r.json()
    assert info["client"][0] == CLIENT_IP, info
    assert info["scheme"] == "http", info


def test_forwarded_for_trusted_direct(app_srv):
    """A trusted peer (127.0.0.1) sets the client and scheme with
    X-Forwarded-For / X-Forwarded-Proto."""
    with httpx.Client(timeout=10) as c:
        r = c.get(f"{app_srv.url}/inflight?s=0",
                  headers={"X-Forwarded-For": "203.0.113.9",
                           "X-Forwarded-Proto": "https"})
    info = r.json()
    assert info["client"][0] == "203.0.113.9", info
    assert info["scheme"] == "https", info


def test_forwarded_for_trusted_mapped_network(tmp_path):
    """forwarded_allow_ips: ["::ffff:127.0.0.0/104"] (an IPv4-mapped IPv6
    network) trusts the IPv4 peer 127.0.0.1 (issue 8: the config's CIDR
    parser kept it as an IPv6 network that no IPv4 peer matched)."""
    cfg = {"app": "h2_app:app", "chdir": str(APPS),
           "forwarded_allow_ips": ["::ffff:127.0.0.0/104"]}
    with running(tmp_path, cfg) as s:
        with httpx.Client(timeout=10) as c:
            r = c.get(f"{s.url}/inflight?s=0",
                      headers={"X-Forwarded-For": "203.0.113.9"})
    info = r.json()
    assert info["client"][0] == "203.0.113.9", info


def test_upstream_h2_json_parse(proxy):
    """Sanity: JSON through the proxy is intact (no truncation)."""
    with client() as c:
        r = c.get(f"{proxy.url}/scope")
    s = json.loads(r.content)
    assert s["path"] == "/scope"
