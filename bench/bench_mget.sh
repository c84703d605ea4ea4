#!/usr/bin/env bash
# bench_mget.sh -- MGET of 100 keys of 1 KiB through icproxy beside redis-server in the same run:
# redis-benchmark -P 16 sends "MGET k1 ... k100" against each, ROUNDS times alternating, and the
# median keys/s of each and their ratio are printed (target: icproxy >= 0.5x redis-server).
#
# Usage: bench/bench_mget.sh [BUILD_DIR]   (default build; needs BUILD_DIR/bin/icproxy).
# Knobs: ROUNDS (3), REQUESTS (20000 MGETs per round), CLIENTS (50), PIPELINE (16).
# REDIS_PORT and IC_PORT: measure servers already running there (run-all.sh) instead of starting
# them. Talks only to 127.0.0.1; what it starts it stops by pid.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/bin
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-20000}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-16}
NKEYS=100
REDIS_PORT=${REDIS_PORT:-}
IC_PORT=${IC_PORT:-}

die() { echo "bench_mget.sh: $*" >&2; exit 1; }
for tool in redis-server redis-cli redis-benchmark python3; do
    command -v $tool >/dev/null || die "$tool not installed (scripts/install-deps.sh)"
done

WORK=$(mktemp -d /tmp/bench_mget.XXXXXX)
. "$ROOT/bench/lib.sh"
trap stop_all EXIT
trap 'exit 130' INT TERM

if [ -z "$REDIS_PORT" ]; then
    REDIS_PORT=$(free_port)
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize no \
        --logfile "$WORK/redis.log" --dir "$WORK" &
    PIDS+=("$!")
    wait_for 10 redis-cli -p "$REDIS_PORT" ping || die "redis-server did not start"
fi
if [ -z "$IC_PORT" ]; then
    [ -x "$BIN/icproxy" ] || die "$BIN/icproxy not found: build first (make)"
    "$BIN/icproxy" --client-port 0 --node-port 0 --relay-port 0 --pool-size 16 --log-level warn \
        >"$WORK/icproxy.out" 2>"$WORK/icproxy.err" &
    PIDS+=("$!")
    wait_for 30 grep -q 'platform: http' "$WORK/icproxy.out" || die "icproxy did not start"
    IC_PORT=$(grep -o 'clients on 127.0.0.1:[0-9]*' "$WORK/icproxy.out" | cut -d: -f2)
fi

# The keys mget:1 .. mget:100, 1 KiB each, in both servers.
value=$(head -c 1024 /dev/zero | tr '\0' v)
keys=()
for ((i = 1; i <= NKEYS; i++)); do keys+=("mget:$i"); done
for port in "$REDIS_PORT" "$IC_PORT"; do
    for k in "${keys[@]}"; do printf 'SET %s %s\n' "$k" "$value"; done |
        redis-cli -p "$port" >/dev/null || die "cannot load the keys on port $port"
    [ "$(redis-cli -p "$port" mget "${keys[@]}" | grep -c "^$value$")" = $NKEYS ] ||
        die "port $port does not answer every key"
done

mget_rps() { # mget_rps PORT: MGET requests per second
    timeout 300 redis-benchmark -h 127.0.0.1 -p "$1" -n "$REQUESTS" -c "$CLIENTS" -P "$PIPELINE" -q \
        MGET "${keys[@]}" 2>&1 | tr '\r' '\n' | grep 'requests per second' | tail -1 |
        sed 's/.*: \([0-9.]*\) requests per second.*/\1/'
}

echo "# machine: $(nproc) cpus, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# MGET of $NKEYS keys of 1 KiB: redis-benchmark -n $REQUESTS -c $CLIENTS -P $PIPELINE, $ROUNDS rounds alternating"
: >"$WORK/redis.rps"
: >"$WORK/proxy.rps"
for ((r = 0; r < ROUNDS; r++)); do
    mget_rps "$REDIS_PORT" >>"$WORK/redis.rps"
    mget_rps "$IC_PORT" >>"$WORK/proxy.rps"
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
redis_rps=$(median "$WORK/redis.rps")
proxy_rps=$(median "$WORK/proxy.rps")
awk -v r="$redis_rps" -v p="$proxy_rps" -v n=$NKEYS 'BEGIN {
    printf "figure=mget100_redis rps=%.0f keys_per_s=%.0f\n", r, r * n
    printf "figure=mget100_proxy rps=%.0f keys_per_s=%.0f\n", p, p * n
    printf "ratio=mget100 value=%.2f target=0.50\n", (r > 0 ? p / r : 0) }'
