#!/usr/bin/env bash
# icount.sh -- instructions icproxy executes per request under fixed workloads (valgrind's callgrind), to compare builds on a noisy machine.
#
# Usage: bench/icount.sh BUILD_DIR [BUILD_DIR...]
# For each build: icproxy (with its embedded platform) runs under callgrind; its counters are
# zeroed once the pool is warm, then each workload runs and the proxy's instruction count (Ir)
# is dumped and divided by the workload's requests:
#   small-set  redis-benchmark SET, 1 KiB values, 20,000 requests (-P 16 -c 10)
#   small-get  redis-benchmark GET of the same keys, 20,000 requests
#   resp-10m   10 MiB SET+GET through the Redis protocol (bench_objects --only proxy_resp), RUNS
#   lib-10m    10 MiB SET+GET through libinfinicache (bench_objects --only library), RUNS
# Unlike wall-clock figures these counts barely move with load on the machine, so a change to the
# data path can be checked while other work runs. Knobs: REQUESTS (20000), RUNS (5), KEEP (a
# directory: each workload's callgrind dump is copied there, for callgrind_annotate).
# Talks only to 127.0.0.1 and stops what it started by pid.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [BUILD_DIR...]" >&2; exit 2; }
REQUESTS=${REQUESTS:-20000}
RUNS=${RUNS:-5}
for tool in valgrind callgrind_control redis-benchmark; do
    command -v $tool >/dev/null || { echo "icount.sh: $tool not installed" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/icount.XXXXXX)
. "$ROOT/bench/lib.sh"
trap stop_all EXIT
trap 'exit 130' INT TERM

# The instructions counted since the last zeroing: dump, read the newest dump's totals, zero.
take_count() {
    local before
    before=$(ls "$WORK"/callgrind.out.* 2>/dev/null | wc -l)
    callgrind_control -d "$IC_PID" >/dev/null 2>&1
    for ((i = 0; i < 600; i++)); do
        [ "$(ls "$WORK"/callgrind.out.* 2>/dev/null | wc -l)" -gt "$before" ] && break
        sleep 0.1
    done
    sleep 0.2 # the dump is written before its totals line is flushed on a busy machine
    local f
    f=$(ls -t "$WORK"/callgrind.out.* | head -1)
    awk '/^(summary|totals):/ {print $2; exit}' "$f"
    [ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$f" "$KEEP/$(basename "$f")"
    callgrind_control -z "$IC_PID" >/dev/null 2>&1
}

printf '%-28s %-10s %14s %10s %14s\n' build workload instructions requests per_request
for build in "$@"; do
    case $build in /*) ;; *) build=$ROOT/$build ;; esac
    [ -x "$build/bin/icproxy" ] || { echo "icount.sh: $build/bin/icproxy not found" >&2; exit 1; }
    objects=$build/bin/bench_objects
    [ -x "$objects" ] || objects=$build/bench/bench_objects
    rm -f "$WORK"/callgrind.out.*
    (cd "$WORK" && exec valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out.%p" \
        "$build/bin/icproxy" --client-port 0 --node-port 0 --relay-port 0 --pool-size 24 \
        --node-memory 1024 --log-level warn >"$WORK/icproxy.out" 2>"$WORK/icproxy.err") &
    IC_PID=$!
    PIDS=("$IC_PID")
    port=
    for ((i = 0; i < 1200; i++)); do
        port=$(grep -o 'clients on 127.0.0.1:[0-9]*' "$WORK/icproxy.out" 2>/dev/null | cut -d: -f2)
        [ -n "$port" ] && break
        kill -0 "$IC_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "icount.sh: icproxy did not start" >&2; cat "$WORK/icproxy.err" >&2; exit 1; }
    take_count >/dev/null # start-up and warm-up are not counted
    name=$(basename "$(dirname "$build")")/$(basename "$build")
    redis-benchmark -p "$port" -t set -d 1024 -P 16 -c 10 -n "$REQUESTS" -r 1000 -q >/dev/null 2>&1
    n=$(take_count)
    printf '%-28s %-10s %14s %10s %14.0f\n' "$name" small-set "$n" "$REQUESTS" "$(echo "$n / $REQUESTS" | bc -l)"
    redis-benchmark -p "$port" -t get -d 1024 -P 16 -c 10 -n "$REQUESTS" -r 1000 -q >/dev/null 2>&1
    n=$(take_count)
    printf '%-28s %-10s %14s %10s %14.0f\n' "$name" small-get "$n" "$REQUESTS" "$(echo "$n / $REQUESTS" | bc -l)"
    if [ -x "$objects" ]; then
        for series in proxy_resp library; do
            "$objects" --ic "127.0.0.1:$port" --only "$series" --runs "$RUNS" --warmup 0 >/dev/null 2>&1
            n=$(take_count)
            label=resp-10m; [ $series = library ] && label=lib-10m
            # each run is one SET and one GET
            printf '%-28s %-10s %14s %10s %14.0f\n' "$name" "$label" "$n" $((2 * RUNS)) "$(echo "$n / (2 * $RUNS)" | bc -l)"
        done
    fi
    kill -TERM "$IC_PID" 2>/dev/null
    wait "$IC_PID" 2>/dev/null
    PIDS=()
done
