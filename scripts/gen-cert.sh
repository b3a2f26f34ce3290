#!/bin/sh
# scripts/gen-cert.sh: test certificates for asgimaster's TLS listeners.
# SPDX-License-Identifier: BSD-2-Clause
#
#   scripts/gen-cert.sh DIR
#
# Makes, in DIR (created if needed), with the openssl command:
#   ca.pem, ca.key          a private CA (for client_ca, and for clients
#                           to trust: curl --cacert DIR/ca.pem)
#   server.pem, server.key  a server certificate for localhost, 127.0.0.1
#                           and ::1, signed by the CA; server.pem holds the
#                           chain (leaf, then the CA) for listen[].tls
#   client.pem, client.key  a client certificate (CN=asgimaster test
#                           client) signed by the CA, for mutual TLS
#                           (curl --cert DIR/client.pem --key DIR/client.key)
# Idempotent: files that exist are kept, so running it again changes
# nothing. Keys are EC P-256, certificates valid for ten years. For tests
# and trying things out only: use real certificates in production.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
days=3650
mkdir -p "$dir"
cd "$dir"
umask 077

key() {
    [ -s "$1" ] || openssl genpkey -algorithm EC \
        -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# sign NAME SUBJECT EXTENSIONS: NAME.pem from NAME.key, signed by the CA.
sign() {
    [ -s "$1.cert.pem" ] && return 0
    key "$1.key"
    printf '%s\n' "$3" > "$1.ext"
    openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
        -CAcreateserial -days "$days" -sha256 -extfile "$1.ext" \
        -out "$1.cert.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

key ca.key
if [ ! -s ca.pem ]; then
    openssl req -x509 -new -key ca.key -sha256 -days "$days" \
        -subj "/O=asgimaster/CN=asgimaster test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out ca.pem
fi

sign server "/O=asgimaster/CN=localhost" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
[ -s server.pem ] || cat server.cert.pem ca.pem > server.pem

sign client "/O=asgimaster/CN=asgimaster test client" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
[ -s client.pem ] || cp client.cert.pem client.pem

chmod 0644 ca.pem server.pem client.pem server.cert.pem client.cert.pem
echo "$dir: ca.pem server.pem server.key client.pem client.key"
