#!/usr/bin/env bash
# scripts/bench.sh: `make bench`. Serves conf/bench_app.py with asgimaster
# (one worker) and, in the same run, with other servers from Debian, one
# worker each, and loads each one:
#   - HTTP/1.1 with wrk: asgimaster and uvicorn (httptools, asyncio loop;
#     uvloop too when it is installed);
#   - HTTP/2 with h2load -c 64 -m 16: asgimaster and hypercorn, over h2c
#     with prior knowledge (http://) and over TLS with ALPN h2 (https://,
#     a test certificate from scripts/gen-cert.sh);
#   - WebSocket echo (conf/bench_ws_app.py): 32 connections sending 1 KiB
#     text messages and awaiting each echo (tests/bench/ws_load.c), from
#     asgimaster, uvicorn (--ws websockets and --ws wsproto) and hypercorn;
#   - a 1 MiB response streamed in 64 KiB chunks (conf/bench_stream_app.py)
#     from asgimaster, with h2load over HTTP/1.1 and over h2c, the same
#     number of connections and one request in flight on each.
# The server is pinned to core 0 and the client to core 1. Prints
# requests/s, latency (wrk: p99; h2load: mean time for request), MiB/s
# where it matters, the client's own CPU use (a saturated client caps what
# can be measured) and the asgimaster/uvicorn, asgimaster/hypercorn and
# HTTP/2 / HTTP/1.1 ratios.
#
# Environment: ASGIMASTER_BIN (default ./asgimaster), BENCH_DURATION (10s),
# BENCH_WARMUP (2s), BENCH_CONNECTIONS (64), BENCH_STREAMS (16, h2load -m),
# BENCH_STREAM_CONNECTIONS (16, for the 1 MiB response), BENCH_PORT (first
# of the ports used, default 18080), BENCH_SERVER_CPU (0),
# BENCH_CLIENT_CPU (1).
#
# Every step is bounded in time; servers are stopped by PID. Sections are
# functions, one per server and protocol.
# SPDX-License-Identifier: BSD-2-Clause

set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD

BIN=${ASGIMASTER_BIN:-./asgimaster}
PYTHON=/usr/bin/python3
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
STREAMS=${BENCH_STREAMS:-16}
STREAM_CONNECTIONS=${BENCH_STREAM_CONNECTIONS:-16}
WS_CONNECTIONS=${BENCH_WS_CONNECTIONS:-32}
WS_LOAD=${WS_LOAD:-build/bench/ws_load}
PORT=${BENCH_PORT:-18080}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
START_TIMEOUT=20 # seconds for a server to listen
STOP_TIMEOUT=15  # seconds for a server to exit and free its port

TMP=$(mktemp -d /tmp/asgimaster-bench.XXXXXX)
SERVER_PID=
RESULTS=() # "name|rps|latency|client_cpu|MiB/s"
FAILED=0

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() {
    echo "bench: $*" >&2
}

# Pinning needs two CPUs; on one, run unpinned and say so.
if [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c "$SERVER_CPU")
    PIN_CLIENT=(taskset -c "$CLIENT_CPU")
else
    log "one CPU only: server and client are not pinned"
    PIN_SERVER=()
    PIN_CLIENT=()
fi

port_is_listening() {
    [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
}

port_is_busy() {
    # Listening, or connections still in TIME_WAIT etc. do not matter: only
    # a listener would make the next bind fail (servers set SO_REUSEADDR).
    port_is_listening "$1"
}

wait_port_open() { # port pid
    local i
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        if ! kill -0 "$2" 2>/dev/null; then
            return 1
        fi
        if port_is_listening "$1"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

wait_port_free() { # port
    local i
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        if ! port_is_busy "$1"; then
            return 0
        fi
        sleep 0.1
    done
    log "port $1 still busy after ${STOP_TIMEOUT}s"
    return 1
}

# Start a server in the background, pinned; sets SERVER_PID. $1 is the
# port (or several, comma-separated: all must listen), the rest the
# command. Output goes to $TMP/server.log.
server_start() {
    local ports=$1 port
    shift
    for port in ${ports//,/ }; do
        if port_is_busy "$port"; then
            log "port $port is already in use"
            return 1
        fi
    done
    "${PIN_SERVER[@]}" "$@" >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for port in ${ports//,/ }; do
        if ! wait_port_open "$port" "$SERVER_PID"; then
            log "server did not start listening on $port; its output:"
            sed 's/^/    /' "$TMP/server.log" >&2
            server_stop "$ports"
            return 1
        fi
    done
    # The master listens before its worker is ready: give it a moment.
    sleep 0.5
}

# Stop the server started last: SIGTERM by PID, SIGKILL after
# STOP_TIMEOUT, then wait for its port(s) to be free.
server_stop() { # port[,port...]
    local i port rc=0
    if [ -z "$SERVER_PID" ]; then
        return 0
    fi
    kill "$SERVER_PID" 2>/dev/null
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        log "server $SERVER_PID still running after ${STOP_TIMEOUT}s: SIGKILL"
        kill -KILL "$SERVER_PID" 2>/dev/null
    fi
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
    for port in ${1//,/ }; do
        wait_port_free "$port" || rc=1
    done
    return $rc
}

# Seconds in a wrk duration ("10s", "2m", "30") for the time bound.
duration_seconds() {
    local d=$1
    case "$d" in
    *m) echo $((${d%m} * 60)) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
    esac
}

# HTTP/1.1 load with wrk: warm up, then measure. Appends to RESULTS.
h1_load() { # name url
    local name=$1 url=$2 out="$TMP/wrk.out" tm="$TMP/wrk.time"
    local limit rps p99 cpu user sys elapsed non2xx errors
    limit=$(($(duration_seconds "$DURATION") + 30))

    timeout 60 "${PIN_CLIENT[@]}" wrk -t 1 -c "$CONNECTIONS" -d "$WARMUP" \
        "$url" >/dev/null 2>&1
    if ! timeout "$limit" /usr/bin/time -f '%U %S %e' -o "$tm" \
        "${PIN_CLIENT[@]}" wrk -t 1 -c "$CONNECTIONS" -d "$DURATION" \
        --latency "$url" >"$out" 2>&1; then
        log "$name: wrk failed:"
        sed 's/^/    /' "$out" >&2
        return 1
    fi
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    p99=$(awk '$1 == "99%" { print $2 }' "$out")
    read -r user sys elapsed <"$tm"
    cpu=$(awk -v u="$user" -v s="$sys" -v e="$elapsed" \
        'BEGIN { if (e > 0) printf "%.0f%%", (u + s) / e * 100; else print "?" }')
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    errors=$(awk '/Socket errors:/ { sub(/.*Socket errors: /, ""); print }' "$out")
    if [ -n "$non2xx" ]; then
        log "$name: $non2xx non-2xx/3xx responses"
    fi
    if [ -n "$errors" ]; then
        log "$name: socket errors: $errors"
    fi
    if [ -z "$rps" ]; then
        log "$name: could not read wrk's output:"
        sed 's/^/    /' "$out" >&2
        return 1
    fi
    RESULTS+=("$name|$rps|p99 ${p99:-?}|$cpu|")
    printf '%-34s %10s req/s   p99 %9s   wrk CPU %5s\n' \
        "$name" "$rps" "${p99:-?}" "$cpu"
}

# One server on one port under HTTP/1.1 load. $1 name, $2 port, rest the
# server command.
h1_bench() {
    local name=$1 port=$2
    shift 2
    if ! server_start "$port" "$@"; then
        log "$name: could not start"
        FAILED=1
        return 1
    fi
    h1_load "$name" "http://127.0.0.1:$port/" || FAILED=1
    server_stop "$port" || FAILED=1
}

bench_asgimaster_h1() {
    local port=$PORT conf="$TMP/bench.yaml"
    if [ ! -x "$BIN" ]; then
        log "no asgimaster binary at $BIN (set ASGIMASTER_BIN or run make)"
        FAILED=1
        return 1
    fi
    cat >"$conf" <<YAML
app: "bench_app:app"
chdir: $ROOT/conf
workers: 1
listen:
  - 127.0.0.1:$port
lifespan: "off"
log:
  level: warn
  access_log: "off"
YAML
    h1_bench "asgimaster (1 worker)" "$port" "$BIN" -c "$conf"
}

bench_uvicorn_h1() { # loop
    local port=$((PORT + 1))
    h1_bench "uvicorn (httptools, $1)" "$port" \
        "$PYTHON" -m uvicorn --app-dir "$ROOT/conf" --host 127.0.0.1 \
        --port "$port" --http httptools --loop "$1" --workers 1 \
        --no-access-log --log-level warning --lifespan off bench_app:app
}

# Load with h2load (HTTP/2, or HTTP/1.1 with --h1): warm-up and
# measurement in one bounded run (--warm-up-time, then -D). Checks that the
# protocol h2load negotiated is the one wanted (h2c, h2 or http/1.1) and
# that every request succeeded. Appends to RESULTS. $1 name, $2 expected
# protocol, $3 URL, the rest extra h2load arguments (-c, -m, --h1).
h2_load() {
    local name=$1 proto=$2 url=$3 out="$TMP/h2load.out" tm="$TMP/h2load.time"
    local limit rps mibs mean cpu user sys elapsed got failed non2xx
    shift 3
    limit=$(($(duration_seconds "$DURATION") + $(duration_seconds "$WARMUP") + 30))

    if ! timeout "$limit" /usr/bin/time -f '%U %S %e' -o "$tm" \
        "${PIN_CLIENT[@]}" h2load -t 1 "$@" -D "$DURATION" \
        --warm-up-time "$WARMUP" "$url" >"$out" 2>&1; then
        log "$name: h2load failed:"
        grep -v '^progress:' "$out" | sed 's/^/    /' >&2
        return 1
    fi
    got=$(awk '/^Application protocol:/ { print $3 }' "$out")
    if [ "$got" != "$proto" ]; then
        log "$name: h2load negotiated '${got:-nothing}', not $proto:"
        grep -v '^progress:' "$out" | sed 's/^/    /' >&2
        return 1
    fi
    # finished in 12.00s, 40602.67 req/s, 1.55MB/s (h2load's units are
    # powers of 1024); req/s and bytes/s count the measurement only.
    rps=$(awk '/^finished in/ { printf "%.0f", $4 }' "$out")
    mibs=$(awk '/^finished in/ {
        v = $6; sub(/\/s$/, "", v); n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "GB") n *= 1024; else if (u == "KB") n /= 1024;
        else if (u == "B") n /= 1048576;
        printf "%.0f", n }' "$out")
    mean=$(awk '/^time for request:/ { print $6 }' "$out")
    failed=$(awk '/^requests:/ {
        for (i = 1; i <= NF; i++) if ($i ~ /^(failed|errored|timeout),?$/) s += $(i - 1)
        print s + 0 }' "$out")
    non2xx=$(awk '/^status codes:/ { print $5 + $7 + $9 }' "$out")
    read -r user sys elapsed <"$tm"
    cpu=$(awk -v u="$user" -v s="$sys" -v e="$elapsed" \
        'BEGIN { if (e > 0) printf "%.0f%%", (u + s) / e * 100; else print "?" }')
    if [ "${failed:-0}" -gt 0 ]; then
        log "$name: $failed requests failed, errored or timed out"
    fi
    if [ "${non2xx:-0}" -gt 0 ]; then
        log "$name: $non2xx non-2xx responses"
    fi
    if [ -z "$rps" ]; then
        log "$name: could not read h2load's output:"
        grep -v '^progress:' "$out" | sed 's/^/    /' >&2
        return 1
    fi
    RESULTS+=("$name|$rps|mean ${mean:-?}|$cpu|$mibs")
    printf '%-34s %10s req/s  mean %9s  h2load CPU %5s  %6s MiB/s\n' \
        "$name" "$rps" "${mean:-?}" "$cpu" "${mibs:-?}"
}

# The test certificate for TLS listeners, made once per run.
make_cert() {
    if [ ! -s "$TMP/certs/server.pem" ]; then
        scripts/gen-cert.sh "$TMP/certs" >/dev/null || return 1
    fi
}

# One config for asgimaster, one worker: $1 app module, $2 cleartext
# port, $3 TLS port (none when empty). Prints the file's path.
asgimaster_conf() {
    local conf="$TMP/$1.yaml"
    {
        cat <<YAML
app: "$1:app"
chdir: $ROOT/conf
workers: 1
lifespan: "off"
log:
  level: warn
  access_log: "off"
listen:
  - 127.0.0.1:$2
YAML
        if [ -n "$3" ]; then
            cat <<YAML
  - address: 127.0.0.1:$3
    tls:
      certificate: $TMP/certs/server.pem
      key: $TMP/certs/server.key
YAML
        fi
    } >"$conf"
    echo "$conf"
}

# HTTP/2 on one server: h2c with prior knowledge on $2, h2 over TLS on $3.
# $1 is the name, the rest the server command.
h2_bench() {
    local name=$1 port=$2 tls_port=$3
    shift 3
    if ! server_start "$port,$tls_port" "$@"; then
        log "$name: could not start"
        FAILED=1
        return 1
    fi
    h2_load "$name h2c" h2c "http://127.0.0.1:$port/" \
        -c "$CONNECTIONS" -m "$STREAMS" || FAILED=1
    h2_load "$name h2 TLS" h2 "https://127.0.0.1:$tls_port/" \
        -c "$CONNECTIONS" -m "$STREAMS" || FAILED=1
    server_stop "$port,$tls_port" || FAILED=1
}

bench_asgimaster_h2() {
    local port=$((PORT + 10)) tls_port=$((PORT + 11)) conf
    if [ ! -x "$BIN" ]; then
        log "no asgimaster binary at $BIN (set ASGIMASTER_BIN or run make)"
        FAILED=1
        return 1
    fi
    conf=$(asgimaster_conf bench_app "$port" "$tls_port")
    h2_bench "asgimaster" "$port" "$tls_port" "$BIN" -c "$conf"
}

# hypercorn 0.13: -b is the TLS bind (with --certfile/--keyfile), and
# --insecure-bind the cleartext one (h2c by prior knowledge or Upgrade).
bench_hypercorn_h2() {
    local port=$((PORT + 12)) tls_port=$((PORT + 13))
    h2_bench "hypercorn" "$port" "$tls_port" \
        env PYTHONPATH="$ROOT/conf" "$PYTHON" -m hypercorn --workers 1 \
        --insecure-bind "127.0.0.1:$port" -b "127.0.0.1:$tls_port" \
        --certfile "$TMP/certs/server.pem" --keyfile "$TMP/certs/server.key" \
        --log-level warning bench_app:app
}

# WebSocket echo: WS_CONNECTIONS connections, 1 KiB text messages, one in
# flight on each, for DURATION (warm-up WARMUP). $1: the run's name, $2
# the port, the rest the server's command.
ws_bench() {
    local name=$1 port=$2 mps secs warm
    shift 2
    if ! server_start "$port" "$@"; then
        log "$name: could not start"
        FAILED=1
        return 1
    fi
    secs=$(duration_seconds "$DURATION")
    warm=$(duration_seconds "$WARMUP")
    timeout $((warm + 30)) "${PIN_CLIENT[@]}" "$WS_LOAD" "$port" / \
        "$WS_CONNECTIONS" 1024 "$warm" >/dev/null 2>&1
    mps=$(timeout $((secs + 30)) "${PIN_CLIENT[@]}" "$WS_LOAD" "$port" / \
        "$WS_CONNECTIONS" 1024 "$secs" 2>"$TMP/ws_load.err")
    if [ -z "$mps" ]; then
        log "$name: ws_load failed: $(cat "$TMP/ws_load.err")"
        FAILED=1
    fi
    echo "  $name: ${mps:-?} messages/s"
    RESULTS+=("$name|${mps:-}|-|-|")
    server_stop "$port" || FAILED=1
}

bench_ws() {
    local port=$((PORT + 30)) conf
    conf=$(asgimaster_conf bench_ws_app "$port" "")
    ws_bench "asgimaster WebSocket" "$port" "$BIN" -c "$conf" \
        --ws-ping-interval 0
    for impl in websockets wsproto; do
        port=$((port + 1))
        ws_bench "uvicorn WebSocket ($impl)" "$port" \
            env PYTHONPATH="$ROOT/conf" "$PYTHON" -m uvicorn --workers 1 \
            --port "$port" --ws "$impl" --log-level warning \
            bench_ws_app:app
    done
    port=$((port + 1))
    ws_bench "hypercorn WebSocket" "$port" \
        env PYTHONPATH="$ROOT/conf" "$PYTHON" -m hypercorn --workers 1 \
        -b "127.0.0.1:$port" --log-level warning bench_ws_app:app
}

# The 1 MiB streamed response over HTTP/1.1 (chunked) and over h2c, the
# same connections, one request in flight on each.
bench_asgimaster_stream() {
    local port=$((PORT + 20)) conf
    if [ ! -x "$BIN" ]; then
        log "no asgimaster binary at $BIN (set ASGIMASTER_BIN or run make)"
        FAILED=1
        return 1
    fi
    conf=$(asgimaster_conf bench_stream_app "$port" "")
    if ! server_start "$port" "$BIN" -c "$conf"; then
        log "asgimaster (1 MiB): could not start"
        FAILED=1
        return 1
    fi
    h2_load "asgimaster 1 MiB HTTP/1.1" http/1.1 "http://127.0.0.1:$port/" \
        --h1 -c "$STREAM_CONNECTIONS" || FAILED=1
    h2_load "asgimaster 1 MiB h2c" h2c "http://127.0.0.1:$port/" \
        -c "$STREAM_CONNECTIONS" -m 1 || FAILED=1
    server_stop "$port" || FAILED=1
}

rps_of() { # name -> requests/s from RESULTS, empty if absent
    local r
    for r in "${RESULTS[@]}"; do
        if [ "${r%%|*}" = "$1" ]; then
            r=${r#*|}
            echo "${r%%|*}"
            return
        fi
    done
}

# shellcheck disable=SC2317 # called by ratio() through a variable
mibs_of() { # name -> MiB/s from RESULTS, empty if absent
    local r
    for r in "${RESULTS[@]}"; do
        if [ "${r%%|*}" = "$1" ]; then
            echo "${r##*|}"
            return
        fi
    done
}

ratio() { # name_a name_b [rps_of|mibs_of]
    local a b of=${3:-rps_of}
    a=$($of "$1")
    b=$($of "$2")
    if [ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt 0 ]; then
        awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }'
    else
        echo "n/a"
    fi
}

main() {
    local missing=() t
    for t in wrk h2load openssl taskset ss timeout /usr/bin/time; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    if ! "$PYTHON" -c 'import uvicorn, httptools' 2>/dev/null; then
        missing+=(python3-uvicorn/python3-httptools)
    fi
    if ! "$PYTHON" -c 'import hypercorn' 2>/dev/null; then
        missing+=(python3-hypercorn)
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        log "missing: ${missing[*]} (run scripts/install-deps.sh --bench)"
        exit 1
    fi

    echo "HTTP/1.1, wrk -t 1 -c $CONNECTIONS -d $DURATION --latency" \
        "(warm-up $WARMUP), server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
    bench_asgimaster_h1
    bench_uvicorn_h1 asyncio
    if "$PYTHON" -c 'import uvloop' 2>/dev/null; then
        bench_uvicorn_h1 uvloop
    fi

    echo
    echo "HTTP/2, h2load -t 1 -c $CONNECTIONS -m $STREAMS -D $DURATION" \
        "(warm-up $WARMUP), one worker each"
    if make_cert; then
        bench_asgimaster_h2
        bench_hypercorn_h2
    else
        log "scripts/gen-cert.sh failed: no HTTP/2 runs"
        FAILED=1
    fi

    echo
    echo "1 MiB streamed response (16 x 64 KiB), h2load -t 1" \
        "-c $STREAM_CONNECTIONS -m 1 -D $DURATION (warm-up $WARMUP)"
    bench_asgimaster_stream

    echo
    echo "WebSocket echo, $WS_CONNECTIONS connections, 1 KiB text, one" \
        "message in flight each, $DURATION (warm-up $WARMUP)"
    bench_ws

    echo
    echo "Summary"
    local r name rps lat cpu mibs
    printf '  %-32s %10s  %-16s %10s %8s\n' "run" "req/s" "latency" \
        "client CPU" "MiB/s"
    for r in "${RESULTS[@]}"; do
        IFS='|' read -r name rps lat cpu mibs <<<"$r"
        printf '  %-32s %10s  %-16s %10s %8s\n' "$name" "$rps" "$lat" \
            "$cpu" "${mibs:--}"
    done
    echo
    echo "asgimaster / uvicorn (httptools, asyncio), HTTP/1.1: $(ratio \
        "asgimaster (1 worker)" "uvicorn (httptools, asyncio)")"
    if [ -n "$(rps_of "uvicorn (httptools, uvloop)")" ]; then
        echo "asgimaster / uvicorn (httptools, uvloop), HTTP/1.1:  $(ratio \
            "asgimaster (1 worker)" "uvicorn (httptools, uvloop)")"
    fi
    echo "asgimaster / hypercorn, h2c (req/s):                $(ratio \
        "asgimaster h2c" "hypercorn h2c")"
    echo "asgimaster / hypercorn, h2 TLS (req/s):             $(ratio \
        "asgimaster h2 TLS" "hypercorn h2 TLS")"
    echo "asgimaster / uvicorn (websockets), WebSocket:       $(ratio \
        "asgimaster WebSocket" "uvicorn WebSocket (websockets)")"
    echo "asgimaster / uvicorn (wsproto), WebSocket:          $(ratio \
        "asgimaster WebSocket" "uvicorn WebSocket (wsproto)")"
    echo "asgimaster / hypercorn, WebSocket:                  $(ratio \
        "asgimaster WebSocket" "hypercorn WebSocket")"
    echo "1 MiB response, h2c / HTTP/1.1 (MiB/s):             $(ratio \
        "asgimaster 1 MiB h2c" "asgimaster 1 MiB HTTP/1.1" mibs_of)"
    exit "$FAILED"
}

main "$@"
