#!/usr/bin/env bash
# bench_icbench.sh -- is icbench fast enough not to be the bottleneck? Against one redis-server it
# runs redis-benchmark and icbench on the same 1 KiB GET workload, and a raw recv loop and icbench
# on 10 MiB GETs, alternating, and prints the ratios (goals: >= 0.90 and overhead < 5%).
#
# Usage: bench/bench_icbench.sh [BUILD_DIR]   (default build; needs BUILD_DIR/bin/icbench).
# Knobs: ROUNDS (5, the median is reported), CLIENTS (4), REQUESTS (200000), KEYS (10000),
# BIG_REQUESTS (100), BIG_SECONDS (30, a cap per 10 MiB series), ICBENCH (another binary),
# BACKING_NONE ("--backing none"; empty for an icbench older than --backing).
# Talks only to 127.0.0.1; starts its own redis-server on a free port and stops it by pid.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
ICBENCH=${ICBENCH:-$BUILD/bin/icbench}
ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-4}
REQUESTS=${REQUESTS:-200000}
KEYS=${KEYS:-10000}
BIG_REQUESTS=${BIG_REQUESTS:-100}
BIG_SECONDS=${BIG_SECONDS:-30}
CC=${CC:-cc}
BACKING_NONE=${BACKING_NONE-"--backing none"}

die() { echo "bench_icbench.sh: $*" >&2; exit 1; }
[ -x "$ICBENCH" ] || die "$ICBENCH not found: build first (make)"
for tool in redis-server redis-cli redis-benchmark python3; do
    command -v $tool >/dev/null || die "$tool not installed (scripts/install-deps.sh)"
done

WORK=$(mktemp -d /tmp/bench_icbench.XXXXXX)
. "$ROOT/bench/lib.sh"
trap stop_all EXIT
trap 'exit 130' INT TERM

$CC -std=gnu11 -O2 -Wall -Wextra -I"$ROOT/src/common" "$ROOT/bench/bench_rawget.c" -o "$WORK/bench_rawget" ||
    die "cannot build bench_rawget"

PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --daemonize no \
    --logfile "$WORK/redis.log" --dir "$WORK" &
PIDS+=("$!")
wait_for 10 redis-cli -p "$PORT" ping || die "redis-server did not start"

echo "# machine: $(nproc) cpus, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"

# timed OUT COMMAND...: runs COMMAND with stdout to OUT; its CPU seconds (user + sys) in OUT.cpu.
# CPU per request is the figure a loaded machine disturbs least; wall-clock rates are the goal.
timed() {
    local out=$1 TIMEFORMAT='%U %S'
    shift
    { time "$@" >"$out" 2>/dev/null; } 2>"$out.cpu"
    awk '{ print $1 + $2 }' "$out.cpu" >"$out.cpu2" && mv "$out.cpu2" "$out.cpu"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }
field() { sed -n "s/.*[ ]$1=\([0-9.]*\).*/\1/p" | head -1; } # field NAME < result line

# ---- 1 KiB GETs: redis-benchmark vs icbench, same value size, key space and connections ----
timeout 300 redis-benchmark -p "$PORT" -t set -d 1024 -r "$KEYS" -n $((KEYS * 4)) -c "$CLIENTS" -q >/dev/null 2>&1
timeout 300 "$ICBENCH" --target "resp:127.0.0.1:$PORT" --size-dist fixed:1k --keys "$KEYS" --zipf 0 \
    --get-ratio 0 --requests $((KEYS * 4)) --clients "$CLIENTS" $BACKING_NONE --key-prefix s \
    >/dev/null 2>&1 || die "icbench could not preload"
echo "## 1 KiB GET, $CLIENTS connections, $REQUESTS requests over $KEYS keys, $ROUNDS rounds"
: >"$WORK/small"
for ((r = 1; r <= ROUNDS; r++)); do
    timed "$WORK/rb" timeout 300 redis-benchmark -p "$PORT" -t get -d 1024 -c "$CLIENTS" -n "$REQUESTS" -r "$KEYS" -q
    rb=$(tr '\r' '\n' <"$WORK/rb" | sed -n 's/^GET: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
    timed "$WORK/ic" timeout 300 "$ICBENCH" --target "resp:127.0.0.1:$PORT" --size-dist fixed:1k --keys "$KEYS" \
        --zipf 0 --get-ratio 1 --requests "$REQUESTS" --clients "$CLIENTS" $BACKING_NONE --key-prefix s
    ic=$(grep '^result ' "$WORK/ic" | grep ' errors=0 wrong_bytes=0 ' | field req_per_s)
    echo "round=$r redis_benchmark_rps=${rb:-0} icbench_rps=${ic:-0}" \
        "redis_benchmark_cpu_us_per_get=$(awk -v c="$(cat "$WORK/rb.cpu")" -v n="$REQUESTS" 'BEGIN { printf "%.2f", c * 1e6 / n }')" \
        "icbench_cpu_us_per_get=$(awk -v c="$(cat "$WORK/ic.cpu")" -v n="$REQUESTS" 'BEGIN { printf "%.2f", c * 1e6 / n }')" |
        tee -a "$WORK/small"
done

# ---- 10 MiB GETs, one connection: raw recv loop vs icbench ----
timeout 120 "$ICBENCH" --target "resp:127.0.0.1:$PORT" --size-dist fixed:10m --keys 1 --get-ratio 0 \
    --requests 1 $BACKING_NONE --key-prefix big >/dev/null 2>&1 || die "icbench could not store the 10 MiB object"
BIG_KEY=$(redis-cli -p "$PORT" --scan --pattern 'big0:*' | head -1)
[ -n "$BIG_KEY" ] || die "the 10 MiB object is not in redis-server"
echo "## 10 MiB GET, 1 connection, $BIG_REQUESTS requests (at most ${BIG_SECONDS}s), $ROUNDS rounds"
: >"$WORK/big"
for ((r = 1; r <= ROUNDS; r++)); do
    timed "$WORK/raw" "$WORK/bench_rawget" "$PORT" "$BIG_KEY" "$BIG_REQUESTS" "$BIG_SECONDS"
    raw=$(field req_per_s <"$WORK/raw")
    rawn=$(field gets <"$WORK/raw")
    timed "$WORK/ic" timeout $((BIG_SECONDS * 3)) "$ICBENCH" --target "resp:127.0.0.1:$PORT" --size-dist fixed:10m \
        --keys 1 --get-ratio 1 --requests "$BIG_REQUESTS" --duration "${BIG_SECONDS}s" $BACKING_NONE --key-prefix big
    ic=$(grep '^result ' "$WORK/ic" | grep ' errors=0 wrong_bytes=0 ' | field req_per_s)
    icn=$(grep '^result ' "$WORK/ic" | field requests)
    echo "round=$r raw_rps=${raw:-0} icbench_rps=${ic:-0}" \
        "raw_cpu_ms_per_get=$(awk -v c="$(cat "$WORK/raw.cpu")" -v n="${rawn:-0}" 'BEGIN { printf "%.2f", n ? c * 1e3 / n : 0 }')" \
        "icbench_cpu_ms_per_get=$(awk -v c="$(cat "$WORK/ic.cpu")" -v n="${icn:-0}" 'BEGIN { printf "%.2f", n ? c * 1e3 / n : 0 }')" |
        tee -a "$WORK/big"
done

# Medians of the per-round ratios (alternating rounds share the machine's state).
ratio() { # ratio FILE: per round, field 3 over field 2, then field 5 over field 4
    awk -v f="$2" '{ split($(f), a, "="); split($(f + 1), b, "="); if (a[2] > 0) print b[2] / a[2] }' "$1" | median
}
small=$(ratio "$WORK/small" 2)
small_cpu=$(ratio "$WORK/small" 4)
big=$(ratio "$WORK/big" 2)
big_cpu=$(ratio "$WORK/big" 4)
echo
awk -v s="$small" -v sc="$small_cpu" -v b="$big" -v bc="$big_cpu" 'BEGIN {
    printf "figure=icbench_vs_redis_benchmark_1k throughput_ratio=%.3f goal=0.90 %s cpu_per_get_ratio=%.2f\n",
        s, (s >= 0.90 ? "met" : "NOT_met"), sc
    printf "figure=icbench_vs_raw_10m throughput_ratio=%.3f overhead=%.1f%% goal=5%% %s cpu_per_get_ratio=%.2f\n",
        b, (1 - b) * 100, ((1 - b) < 0.05 ? "met" : "NOT_met"), bc }'
