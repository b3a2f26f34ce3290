#!/usr/bin/env bash
# scripts/install-deps.sh: install the Debian 12 packages asgimaster needs,
# only those that are missing. Quiet when nothing is missing; one line per
# install action otherwise. Idempotent.
#
#   scripts/install-deps.sh           build dependencies (make run, make)
#   scripts/install-deps.sh --test    build + test dependencies (make test)
#   scripts/install-deps.sh --bench   build + benchmark dependencies (make bench)
#
# Flags combine (--test --bench). `apt-get update` runs only when something
# must be installed. Not root: sudo is used when it exists.
# SPDX-License-Identifier: BSD-2-Clause

set -euo pipefail

BUILD_PKGS=(gcc make pkg-config libnghttp2-dev libssl-dev
    libyaml-dev python3-dev zlib1g-dev)
TEST_PKGS=(python3-pytest python3-httpx python3-h2 python3-hpack
    python3-hyperframe python3-starlette python3-fastapi python3-pydantic
    python3-anyio python3-multipart python3-django curl mandoc openssl
    binutils python3-yaml clang-tidy clang-format python3-websockets
    nghttp2-client haproxy caddy nginx-light chromium)
BENCH_PKGS=(wrk python3-uvicorn python3-httptools python3-hypercorn
    nghttp2-client openssl h2o python3-websockets python3-wsproto)
# The proxies the tests start themselves; their packages must not start a
# system service on install (a policy-rc.d forbids it meanwhile).
SERVICE_PKGS=" haproxy caddy nginx-light h2o "


usage() {
    echo "usage: $0 [--test] [--bench]" >&2
    exit 2
}

want=("${BUILD_PKGS[@]}")
for arg in "$@"; do
    case "$arg" in
    --test) want+=("${TEST_PKGS[@]}") ;;
    --bench) want+=("${BENCH_PKGS[@]}") ;;
    -h | --help) usage ;;
    *)
        echo "$0: unknown argument: $arg" >&2
        usage
        ;;
    esac
done

is_installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [ "$status" = "install ok installed" ]
}

missing=()
for p in "${want[@]}"; do
    if ! is_installed "$p"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "$0: apt-get not found; install these packages by hand:" \
        "${missing[*]}" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "$0: not root and no sudo; install these packages as root:" \
            "${missing[*]}" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
policy=
for p in "${missing[@]}"; do
    case "$SERVICE_PKGS" in
    *" $p "*) policy=1 ;;
    esac
done
if [ -n "$policy" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d \
        >/dev/null
    "${SUDO[@]}" chmod 0755 /usr/sbin/policy-rc.d
    trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
echo "install-deps: apt-get update"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
for p in "${missing[@]}"; do
    echo "install-deps: installing $p"
done
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
