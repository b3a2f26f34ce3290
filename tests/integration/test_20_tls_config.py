"""TLS listener config checked before start (issue 4, "TLS"): `asgimaster
-t` refuses a missing or unreadable certificate or key, a key that is not
the certificate's, files OpenSSL cannot parse, cipher lists it refuses and
client_auth without client_ca, with exit status 1 and FILE:line:col of the
listener's `tls` key; a good TLS config passes. Certificates come from
scripts/gen-cert.sh.
SPDX-License-Identifier: BSD-2-Clause
"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import APPS, ROOT, run_bin

GEN_CERT = ROOT / "scripts" / "gen-cert.sh"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="the openssl command is not installed")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    subprocess.run([str(GEN_CERT), str(d)], check=True, capture_output=True,
                   timeout=60)
    return d


def write_config(tmp_path, tls_lines):
    """A config whose one listener's `tls` key is on line 5, column 5."""
    cfg = tmp_path / "server.yaml"
    cfg.write_text(
        "app: basic:app\n"
        "workers: 1\n"
        "listen:\n"
        "  - address: 127.0.0.1:0\n"
        "    tls:\n"
        + "".join(f"      {line}\n" for line in tls_lines)
        # last, so the tls key stays at 5:5; -t imports the app from here
        + f"chdir: {APPS}\n"
    )
    return cfg


def check_error(tmp_path, tls_lines, *words):
    cfg = write_config(tmp_path, tls_lines)
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 1, r.stdout + r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith(f"{cfg}:5:5: listen[0].tls: "), line
    for w in words:
        assert w in line, line
    return line


def test_good_tls_config_passes(tmp_path, certs):
    cfg = write_config(tmp_path, [
        f"certificate: {certs}/server.pem",
        f"key: {certs}/server.key",
        f"client_ca: {certs}/ca.pem",
        "client_auth: optional",
        'min_version: "1.3"',
        "ciphers: ECDHE+AESGCM",
        "ciphersuites: TLS_AES_128_GCM_SHA256",
    ])
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 0, r.stderr
    assert f"{cfg}: ok" in r.stdout


def test_relative_paths_are_from_the_start_directory(tmp_path, certs):
    shutil.copytree(certs, tmp_path / "c")
    cfg = write_config(tmp_path, ["certificate: c/server.pem",
                                  "key: c/server.key"])
    r = run_bin(["-t", "-c", cfg.name], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_bin(["-t", "-c", cfg], cwd="/")
    assert r.returncode == 1
    assert "cannot read certificate" in r.stderr


def test_missing_certificate_file(tmp_path, certs):
    check_error(tmp_path, [f"certificate: {tmp_path}/nope.pem",
                           f"key: {certs}/server.key"],
                "cannot read certificate", "nope.pem",
                "No such file or directory")


def test_missing_key_file(tmp_path, certs):
    check_error(tmp_path, [f"certificate: {certs}/server.pem",
                           f"key: {tmp_path}/nope.key"],
                "cannot read key", "No such file or directory")


def test_unreadable_key(tmp_path, certs):
    key = tmp_path / "unreadable.key"
    if os.geteuid() == 0:
        key.mkdir()  # root reads any file: a directory cannot be read
        why = "Is a directory"
    else:
        shutil.copy(certs / "server.key", key)
        key.chmod(0)
        why = "Permission denied"
    check_error(tmp_path, [f"certificate: {certs}/server.pem",
                           f"key: {key}"], "cannot read key", why)


def test_key_does_not_match_certificate(tmp_path, certs):
    check_error(tmp_path, [f"certificate: {certs}/server.pem",
                           f"key: {certs}/client.key"],
                "does not match the certificate")


def test_certificate_is_not_pem(tmp_path, certs):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    check_error(tmp_path, [f"certificate: {bad}", f"key: {certs}/server.key"],
                f'certificate "{bad}"')


def test_client_ca_without_certificates(tmp_path, certs):
    check_error(tmp_path, [f"certificate: {certs}/server.pem",
                           f"key: {certs}/server.key",
                           f"client_ca: {certs}/server.key",
                           "client_auth: require"], "client_ca")


def test_bad_cipher_list(tmp_path, certs):
    check_error(tmp_path, [f"certificate: {certs}/server.pem",
                           f"key: {certs}/server.key", "ciphers: NOPE"],
                'ciphers "NOPE"')


def test_client_auth_require_needs_client_ca(tmp_path, certs):
    cfg = write_config(tmp_path, [f"certificate: {certs}/server.pem",
                                  f"key: {certs}/server.key",
                                  "client_auth: require"])
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 1
    assert re.match(re.escape(f"{cfg}:8:20: ") +
                    r'"listen\[0\]\.tls\.client_auth": "require" needs '
                    r'"client_ca"', r.stderr), r.stderr


def test_missing_key_entry(tmp_path, certs):
    cfg = write_config(tmp_path, [f"certificate: {certs}/server.pem"])
    r = run_bin(["-t", "-c", cfg])
    assert r.returncode == 1
    assert r.stderr.startswith(
        f'{cfg}:5:5: "listen[0].tls": missing "key"'), r.stderr


def test_bad_tls_stops_the_start_too(tmp_path, certs):
    cfg = write_config(tmp_path, [f"certificate: {certs}/server.pem",
                                  f"key: {certs}/client.key"])
    r = run_bin(["-c", cfg], timeout=30)
    assert r.returncode == 1
    assert "does not match the certificate" in r.stderr


# ------------------------------------------- serving (worker/tls.c via conn.c)


def tls_listener(s, certs, **tls):
    t = {"certificate": f"{certs}/server.pem", "key": f"{certs}/server.key"}
    t.update(tls)
    return {"listen": [{"address": f"127.0.0.1:{s}", "tls": t}]}


def test_https_scope_and_tls_extension(server, certs):
    import httpx
    from conftest import free_port

    port = free_port()
    server(tls_listener(port, certs))
    with httpx.Client(verify=str(certs / "ca.pem"), timeout=10) as c:
        d = c.get(f"https://localhost:{port}/scope").json()
    assert d["scheme"] == "https"
    tls = d["extensions"]["tls"]
    assert tls["server_cert"].startswith("-----BEGIN CERTIFICATE-----")
    assert tls["client_cert_chain"] == []
    assert tls["client_cert_name"] is None
    assert tls["client_cert_error"] is None
    assert tls["tls_version"] in (0x0303, 0x0304)
    assert isinstance(tls["cipher_suite"], int) and tls["cipher_suite"] > 0


def test_tls_extension_server_cert_per_listener(server, certs):
    """The PEM of a listener's certificate is decoded once and shared by
    its requests (worker/asgi_scope.c): requests alternating between two
    listeners each get their own listener's certificate."""
    import ssl

    import httpx
    from conftest import free_port

    a, b = free_port(), free_port()
    server({"listen": [
        {"address": f"127.0.0.1:{a}",
         "tls": {"certificate": f"{certs}/server.pem",
                 "key": f"{certs}/server.key"}},
        {"address": f"127.0.0.1:{b}",
         "tls": {"certificate": f"{certs}/client.pem",
                 "key": f"{certs}/client.key"}}]})
    want = {p: "".join(ssl.get_server_certificate(("127.0.0.1", p)).split())
            for p in (a, b)}
    assert want[a] != want[b]
    with httpx.Client(verify=False, timeout=10) as c:
        for p in (a, b, a, b, a):
            d = c.get(f"https://127.0.0.1:{p}/scope").json()
            pem = d["extensions"]["tls"]["server_cert"]
            assert "".join(pem.split()) == want[p], p


def test_tls13_prefers_aes_128_gcm_unless_configured(server, certs):
    """Our default TLS 1.3 order puts TLS_AES_128_GCM_SHA256 first (OpenSSL
    puts AES-256-GCM first); listen.tls.ciphersuites still decides."""
    import socket
    import ssl

    from conftest import free_port

    def negotiated(port):
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                return t.cipher()[0]

    port = free_port()
    server(tls_listener(port, certs))
    assert negotiated(port) == "TLS_AES_128_GCM_SHA256"
    port = free_port()
    server(tls_listener(port, certs, ciphersuites="TLS_AES_256_GCM_SHA384"))
    assert negotiated(port) == "TLS_AES_256_GCM_SHA384"


def test_https_client_certificate(server, certs):
    import httpx
    from conftest import free_port

    port = free_port()
    server(tls_listener(port, certs, client_ca=f"{certs}/ca.pem",
                        client_auth="optional"))
    cert = (str(certs / "client.pem"), str(certs / "client.key"))
    with httpx.Client(verify=str(certs / "ca.pem"), cert=cert,
                      timeout=10) as c:
        tls = c.get(f"https://localhost:{port}/scope").json()[
            "extensions"]["tls"]
    assert tls["client_cert_name"] == \
        "CN=asgimaster test client,O=asgimaster"
    assert tls["client_cert_error"] is None
    assert tls["client_cert_chain"][0].startswith("-----BEGIN CERTIFICATE")
