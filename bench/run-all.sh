#!/usr/bin/env bash
# run-all.sh -- runs every InfiniCache benchmark beside its baseline (redis-server, memcached, raw TCP) and prints a summary table.
#
# Usage: bench/run-all.sh [BUILD_DIR]   (default build; needs BUILD_DIR/bin/icproxy,
# bench_objects and bench_startup, i.e. `make` first). Knobs: RUNS (30), OBJECT_SIZE (10485760),
# OBJECTS (200000 small objects for the memory figure), STARTUP_RUNS (5), GETRANGE_SIZE (1g).
# Talks only to 127.0.0.1; starts its own servers on free ports and stops them by pid on exit.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/bin
OUT=$BUILD/bench
RUNS=${RUNS:-30}
OBJECT_SIZE=${OBJECT_SIZE:-10485760}
OBJECTS=${OBJECTS:-200000}
STARTUP_RUNS=${STARTUP_RUNS:-5}

die() { echo "run-all.sh: $*" >&2; exit 1; }
[ -x "$BIN/icproxy" ] || die "$BIN/icproxy not found: build first (make)"
for tool in redis-server redis-cli redis-benchmark pkg-config python3 curl; do
    command -v $tool >/dev/null || die "$tool not installed (scripts/install-deps.sh)"
done

WORK=$(mktemp -d /tmp/icbench.XXXXXX)
RESULTS=$WORK/results
: >"$RESULTS"
# The embedded platform's admin API answers only its token: every icproxy below gets this one
# (--platform-admin-token-file) and curl sends it from a header file (not on its command line).
ADMIN_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
( umask 077; echo "$ADMIN_TOKEN" >"$WORK/admin.token"
  echo "Authorization: Bearer $ADMIN_TOKEN" >"$WORK/admin.header" )
. "$ROOT/bench/lib.sh"
trap stop_all EXIT
trap 'exit 130' INT TERM

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

record() { echo "$*" | tee -a "$RESULTS"; }

# ---- the benchmark programs: built by CMake with everything else (bench/CMakeLists.txt) ----
mkdir -p "$OUT"
for prog in bench_objects bench_startup; do
    [ -x "$BIN/$prog" ] || die "$BIN/$prog not found: build first (make)"
done

echo "# machine: $(nproc) cpus, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $(date)"

# ---- servers: redis-server 7, memcached 1.6, icproxy with the local platform ----
REDIS_PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize no \
    --logfile "$WORK/redis.log" --dir "$WORK" &
REDIS_PID=$!; PIDS+=("$REDIS_PID")
wait_for 10 redis-cli -p "$REDIS_PORT" ping || die "redis-server did not start"
REDIS_IDLE_RSS=$(rss_kib "$REDIS_PID") # at rest: read now, before any benchmark fills it

# The large-object baseline is a second redis-server whose allocator keeps the pages it frees.
# With its defaults, redis-server's jemalloc hands back the pages of a freed 10 MiB reply or
# argument and faults them in again on the next request: 2,560 page faults per request, which
# cost 10-12 us each on this VM and made redis-server look 8x slower than it is (61 ms per GET
# in the first recorded runs; 5-6 ms with the pages kept). The default server is still measured
# (figures *_redis_default) and printed for context.
REDIS_KEEP_PORT=$(free_port)
MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 redis-server --bind 127.0.0.1 --port "$REDIS_KEEP_PORT" \
    --save '' --appendonly no --daemonize no --logfile "$WORK/redis-keep.log" --dir "$WORK" &
PIDS+=("$!")
wait_for 10 redis-cli -p "$REDIS_KEEP_PORT" ping || die "redis-server (pages kept) did not start"

MEMCACHED_PORT=
if command -v memcached >/dev/null; then
    MEMCACHED_PORT=$(free_port)
    memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -I 128m -m 1024 -u "$(id -un)" >"$WORK/memcached.log" 2>&1 &
    MEMCACHED_PID=$!; PIDS+=("$MEMCACHED_PID")
    wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MEMCACHED_PORT" || { echo "memcached did not start" >&2; MEMCACHED_PORT=; }
fi

start_icproxy() { # start_icproxy LOGPREFIX ARGS...: sets IC_PID, IC_PORT, IC_PLATFORM
    local log=$1; shift
    "$BIN/icproxy" --client-port 0 --node-port 0 --relay-port 0 \
        --platform-admin-token-file "$WORK/admin.token" "$@" >"$log.out" 2>"$log.err" &
    IC_PID=$!; PIDS+=("$IC_PID")
    wait_for 30 grep -q 'platform: http' "$log.out" || die "icproxy did not start (see $log.err)"
    IC_PORT=$(grep -o 'clients on 127.0.0.1:[0-9]*' "$log.out" | cut -d: -f2)
    IC_PLATFORM=$(grep -o 'platform: http://[0-9.:]*' "$log.out" | cut -d' ' -f2)
}
# ---- 3b. memory per small object in icproxy (and in redis-server for comparison) ----
echo "## 3. memory per cached object: $OBJECTS objects, 16-byte keys, 100-byte values"
awk -v n="$OBJECTS" 'BEGIN {
    v = sprintf("%0100d", 7);
    for (i = 0; i < n; i++) { k = sprintf("obj:%012d", i);
        printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v } }' >"$WORK/load.resp"
memory_per_object() { # memory_per_object NAME PORT PID VALUE_BYTES_HELD_IN_PROCESS
    local before after count
    redis-cli -p "$2" flushall >/dev/null
    sleep 0.5
    before=$(rss_kib "$3")
    timeout 300 redis-cli -p "$2" --pipe <"$WORK/load.resp" >"$WORK/pipe.$1" 2>&1
    count=$(redis-cli -p "$2" dbsize)
    after=$(rss_kib "$3")
    awk -v n="$1" -v b="$before" -v a="$after" -v c="$count" -v v="$4" 'BEGIN {
        per = (a - b) * 1024 / (c > 0 ? c : 1);
        printf "figure=mem_%s objects=%d rss_before_kib=%d rss_after_kib=%d bytes_per_object=%.1f minus_key=%.1f minus_key_value=%.1f\n",
            n, c, b, a, per, per - 16, per - 16 - v }'
    redis-cli -p "$2" flushall >/dev/null
}
# A fresh proxy: one that has relayed 10 MiB objects keeps freed heap that would hide the growth.
start_icproxy "$WORK/memory" --pool-size 32 --log-level warn
memory_per_object proxy "$IC_PORT" "$IC_PID" 0 | tee -a "$RESULTS"
memory_per_object redis "$REDIS_PORT" "$REDIS_PID" 100 | tee -a "$RESULTS"
stop_pid "$IC_PID"

start_icproxy "$WORK/icproxy" --pool-size 32 --node-memory 1024 --log-level warn
sed 's/^/# /' "$WORK/icproxy.out"

# ---- 1. large objects ----
echo "## 1. GET/SET of a $OBJECT_SIZE-byte object, $RUNS runs each"
timeout 600 "$BIN/bench_objects" --size "$OBJECT_SIZE" --runs "$RUNS" --series-seconds 60 \
    --ic "127.0.0.1:$IC_PORT" --redis "127.0.0.1:$REDIS_KEEP_PORT" \
    ${MEMCACHED_PORT:+--memcached "127.0.0.1:$MEMCACHED_PORT"} | tee -a "$RESULTS"
[ "${PIPESTATUS[0]}" = 0 ] || echo "bench_objects: some series failed (see above)" >&2
timeout 600 "$BIN/bench_objects" --size "$OBJECT_SIZE" --runs "$RUNS" --series-seconds 60 \
    --only redis --redis "127.0.0.1:$REDIS_PORT" | grep '^figure=' |
    sed 's/^figure=\([a-z]*\)_redis /figure=\1_redis_default /' | tee -a "$RESULTS"
[ -n "$MEMCACHED_PORT" ] && { stop_pid "$MEMCACHED_PID"; }

# ---- 2. redis-benchmark, small values, pipelined ----
echo "## 2. redis-benchmark -t set,get -d 1024 -P 16 -c 50 -n 200000"
# The target's workload hits one key (redis-benchmark's default), where icproxy's hot-key
# coalescing applies (ARCHITECTURE.md, "Hot keys"); the same run with -r 100000 (random keys)
# is printed beside it as rbr_* for context.
redis_benchmark() { # redis_benchmark NAME PORT PREFIX [EXTRA ARGS]
    local line test rps name=$1 port=$2 prefix=$3
    shift 3
    timeout 300 redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -d 1024 -P 16 -c 50 -n 200000 \
        "$@" -q 2>&1 |
        tr '\r' '\n' | grep 'requests per second' | while read -r line; do
            test=$(echo "$line" | cut -d: -f1 | tr 'A-Z' 'a-z')
            rps=$(echo "$line" | sed 's/.*: \([0-9.]*\) requests per second.*/\1/')
            echo "figure=${prefix}_${test}_${name} rps=$rps"
        done
}
redis_benchmark redis "$REDIS_PORT" rb | tee -a "$RESULTS"
redis_benchmark proxy "$IC_PORT" rb | tee -a "$RESULTS"
redis_benchmark redis "$REDIS_PORT" rbr -r 100000 | tee -a "$RESULTS"
redis_benchmark proxy "$IC_PORT" rbr -r 100000 | tee -a "$RESULTS"

# ---- 2b. MGET of 100 keys of 1 KiB (bench_mget.sh, on the servers already running) ----
echo "## 2b. redis-benchmark -P 16 -c 50: MGET of 100 keys of 1 KiB"
REDIS_PORT=$REDIS_PORT IC_PORT=$IC_PORT "$ROOT/bench/bench_mget.sh" "$BUILD" | tee -a "$RESULTS"

# ---- 3a. start-up of a 64-function pool, and idle icnode RSS ----
echo "## 3. start-up: icproxy --pool-size 64 (and redis-server as baseline), $STARTUP_RUNS runs"
"$BIN/bench_startup" --name proxy64 --pattern 'icproxy ready' --runs "$STARTUP_RUNS" --linger-ms 300 -- \
    "$BIN/icproxy" --client-port 0 --node-port 0 --relay-port 0 --pool-size 64 | tee "$WORK/startup.out"
grep '^figure=startup_proxy64 runs' "$WORK/startup.out" >>"$RESULTS"
warm=$(grep -o '[0-9]* of 64 functions warm' "$WORK/startup.out" | head -1 | cut -d' ' -f1)
record "figure=startup_warm functions_warm=${warm:-0} of=64"
RP2=$(free_port)
"$BIN/bench_startup" --name redis --pattern 'Ready to accept connections' --runs "$STARTUP_RUNS" --linger-ms 0 -- \
    redis-server --bind 127.0.0.1 --port "$RP2" --save '' --appendonly no --logfile '' | grep -v '^banner' | tee -a "$RESULTS"

start_icproxy "$WORK/idle" --pool-size 64 --log-level warn
# Let every node finish its first invocation and be frozen, then read RSS of each instance.
sleep 1
curl -s --max-time 5 -H @"$WORK/admin.header" "$IC_PLATFORM/admin/instances" >"$WORK/instances.json"
pids=$(grep -o '"pid":[0-9]*' "$WORK/instances.json" | cut -d: -f2)
for p in $pids; do rss_kib "$p"; done | sort -n | awk '
    { v[NR] = $1; s += $1 }
    END { if (NR == 0) { print "figure=idle_node_rss instances=0"; exit }
          printf "figure=idle_node_rss instances=%d median_kib=%d max_kib=%d mean_kib=%.0f\n", NR, v[int((NR + 1) / 2)], v[NR], s / NR }' |
    tee -a "$RESULTS"
stop_pid "$IC_PID"
# Baseline: an idle redis-server's RSS (what one cache process costs at rest), read at its start.
record "figure=idle_redis_rss kib=$REDIS_IDLE_RSS"

# ---- 4. billed duration: icnode's return policies on the local platform (its own table) ----
echo "## 4. billed duration: anticipatory vs idle return, 1 ms and 100 ms billing"
timeout 900 python3 "$ROOT/bench/bench_billing.py" --build "$BUILD" || echo "bench_billing.py failed" >&2

# ---- 5. ranged reads: GETRANGE of 1 MiB of a 1 GiB object against a GET of a 1 MiB object ----
echo "## 5. GETRANGE of 1 MiB at random offsets of a ${GETRANGE_SIZE:-1g} object"
timeout 900 /usr/bin/python3 "$ROOT/bench/bench_getrange.py" --bin "$BIN" --size "${GETRANGE_SIZE:-1g}" |
    tee -a "$RESULTS" || echo "bench_getrange.py failed" >&2

# ---- summary ----
echo
echo "## summary (ratio: > 1 means InfiniCache is better than the baseline)"
python3 "$ROOT/bench/summary.py" "$RESULTS"
