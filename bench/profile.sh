#!/usr/bin/env bash
# profile.sh -- perf profile of icproxy (and the client) under one benchmark workload, for finding where a missed target loses its time.
#
# Usage: bench/profile.sh BUILD_DIR WORKLOAD [OUT_DIR]
#   WORKLOAD: library   10 MiB SET+GET through libinfinicache (bench_objects --only library)
#             resp      10 MiB SET+GET through the Redis protocol (bench_objects --only proxy_resp)
#             rb-get    redis-benchmark -t get -d 1024 -P 16 -c 50 -n 200000
#             rb-set    redis-benchmark -t set -d 1024 -P 16 -c 50 -n 200000
# Needs perf, and bench_objects built by run-all.sh. Writes OUT_DIR/{proxy,client}.data and prints
# the top symbols of each (flat, self time) and the proxy's syscall counts.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:?BUILD_DIR}
WORKLOAD=${2:?WORKLOAD}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
OUT=${3:-$(mktemp -d /tmp/icprofile.XXXXXX)}
mkdir -p "$OUT"
OBJECTS=$BUILD/bin/bench_objects
[ -x "$OBJECTS" ] || OBJECTS=$BUILD/bench/bench_objects
IC_PID=
PERF_PID=
cleanup() {
    [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null
    [ -n "$IC_PID" ] && kill -TERM "$IC_PID" 2>/dev/null
    wait 2>/dev/null
}
trap cleanup EXIT

"$BUILD/bin/icproxy" --client-port 0 --node-port 0 --relay-port 0 --pool-size 32 --node-memory 1024 --log-level warn \
    >"$OUT/icproxy.out" 2>"$OUT/icproxy.err" &
IC_PID=$!
for ((i = 0; i < 300; i++)); do grep -q 'platform: http' "$OUT/icproxy.out" && break; sleep 0.1; done
PORT=$(grep -o 'clients on 127.0.0.1:[0-9]*' "$OUT/icproxy.out" | cut -d: -f2)
[ -n "$PORT" ] || { echo "icproxy did not start" >&2; exit 1; }

perf record -F 499 --call-graph dwarf,16384 -o "$OUT/proxy.data" -p "$IC_PID" 2>/dev/null &
PERF_PID=$!
perf stat -e 'syscalls:sys_enter_*' -p "$IC_PID" -o "$OUT/proxy.syscalls" 2>/dev/null &
STAT_PID=$!
sleep 0.5
case $WORKLOAD in
library | resp)
    series=library; [ "$WORKLOAD" = resp ] && series=proxy_resp
    timeout 300 perf record -g -o "$OUT/client.data" -- \
        "$OBJECTS" --ic "127.0.0.1:$PORT" --only "$series" --runs 30 2>&1 | grep figure ;;
rb-get | rb-set)
    timeout 300 redis-benchmark -p "$PORT" -t "${WORKLOAD#rb-}" -d 1024 -P 16 -c 50 -n 200000 -q 2>&1 |
        tr '\r' '\n' | grep 'per second' ;;
*) echo "unknown workload $WORKLOAD" >&2; exit 2 ;;
esac
kill -INT "$PERF_PID" "$STAT_PID" 2>/dev/null
wait "$PERF_PID" "$STAT_PID" 2>/dev/null
PERF_PID=

echo "== icproxy: self time by symbol"
perf report -i "$OUT/proxy.data" --stdio --no-children --sort sym -g none 2>/dev/null | grep '%' | head -25
echo "== icproxy: syscalls"
grep 'syscalls:' "$OUT/proxy.syscalls" | sort -rn | awk '$1 > 0' | head -15
if [ -f "$OUT/client.data" ]; then
    echo "== client: self time by symbol"
    perf report -i "$OUT/client.data" --stdio --no-children --sort sym -g none 2>/dev/null | grep '%' | head -20
fi
echo "profiles in $OUT"
