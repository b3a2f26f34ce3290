#!/usr/bin/env bash
# scripts/bench.sh: `make bench`. Serves conf/bench_app.py with asgimaster
# (one worker) and, in the same run, with uvicorn from Debian (httptools,
# asyncio loop; uvloop too when it is installed), and loads each with wrk.
# The server is pinned to core 0 and wrk to core 1. Prints requests/s, p99
# latency, wrk's own CPU use (a saturated client caps what can be measured)
# and the asgimaster/uvicorn ratio.
#
# Environment: ASGIMASTER_BIN (default ./asgimaster), BENCH_DURATION (10s),
# BENCH_WARMUP (2s), BENCH_CONNECTIONS (64), BENCH_PORT (first of the ports
# used, default 18080), BENCH_SERVER_CPU (0), BENCH_CLIENT_CPU (1).
#
# Every step is bounded in time; servers are stopped by PID. Sections are
# functions so HTTP/2 (h2load) runs can be added beside the HTTP/1.1 ones.
# SPDX-License-Identifier: BSD-2-Clause

set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD

BIN=${ASGIMASTER_BIN:-./asgimaster}
PYTHON=/usr/bin/python3
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
PORT=${BENCH_PORT:-18080}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
START_TIMEOUT=20 # seconds for a server to listen
STOP_TIMEOUT=15  # seconds for a server to exit and free its port

TMP=$(mktemp -d /tmp/asgimaster-bench.XXXXXX)
SERVER_PID=
RESULTS=() # "name|rps|p99|client_cpu"
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
# port, the rest the command. Output goes to $TMP/server.log.
server_start() {
    local port=$1
    shift
    if port_is_busy "$port"; then
        log "port $port is already in use"
        return 1
    fi
    "${PIN_SERVER[@]}" "$@" >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_port_open "$port" "$SERVER_PID"; then
        log "server did not start listening on $port; its output:"
        sed 's/^/    /' "$TMP/server.log" >&2
        server_stop "$port"
        return 1
    fi
    # The master listens before its worker is ready: give it a moment.
    sleep 0.5
}

# Stop the server started last: SIGTERM by PID, SIGKILL after
# STOP_TIMEOUT, then wait for its port to be free.
server_stop() { # port
    local i
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
    wait_port_free "$1"
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
    RESULTS+=("$name|$rps|${p99:-?}|$cpu")
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

# HTTP/2 sections (h2load against h2c prior knowledge) go here once the
# worker speaks HTTP/2: bench_asgimaster_h2, bench_hypercorn_h2, each
# calling an h2_load() that parses h2load's "finished in ... req/s" line.

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

ratio() { # name_a name_b
    local a b
    a=$(rps_of "$1")
    b=$(rps_of "$2")
    if [ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt 0 ]; then
        awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }'
    else
        echo "n/a"
    fi
}

main() {
    local missing=() t
    for t in wrk taskset ss timeout /usr/bin/time; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    if ! "$PYTHON" -c 'import uvicorn, httptools' 2>/dev/null; then
        missing+=(python3-uvicorn/python3-httptools)
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
    echo "asgimaster / uvicorn (httptools, asyncio): $(ratio \
        "asgimaster (1 worker)" "uvicorn (httptools, asyncio)")"
    if [ -n "$(rps_of "uvicorn (httptools, uvloop)")" ]; then
        echo "asgimaster / uvicorn (httptools, uvloop):  $(ratio \
            "asgimaster (1 worker)" "uvicorn (httptools, uvloop)")"
    fi
    exit "$FAILED"
}

main "$@"
