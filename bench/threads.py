#!/usr/bin/python3
"""threads.py -- the proxy's scaling table: icproxy at --threads 1..N beside redis-server and
memcached -t N in the same run, with each server's CPU share beside each figure.

Per thread count T (`--threads-list`, default 1..nproc):
- icproxy --threads T (pool `--pool-size`, RS(--d + --p)): 10 MiB GETs of `--keys` keys by
  `--icbench-clients` icbench clients for `--duration`, through libinfinicache (ic:) and through the
  Redis protocol (resp:); then 1 KiB values, random keys, `redis-benchmark -t set,get -d 1024 -P 16
  -c 50 -r 100000 -n --small-requests`.
- the baselines, same clients, same phases: redis-server (T > 1: `--io-threads T
  --io-threads-do-reads yes`, Redis's own threaded I/O) and memcached `-t T`.
CPU share: the server's own CPU seconds (utime + stime of /proc/PID/stat) over the phase's wall
time; for icproxy also its event-loop thread's share (/proc/PID/task/PID/stat), the part that
cannot spread over threads. On a machine whose cores also run the nodes and the clients (this
one has 2), more threads can only show where the proxy is the bottleneck; the table says so.

icproxy runs `--rounds` times per thread count, the counts alternating, and the table gives the
median run (and the range); the baselines run once per count. Every load is bounded in time;
every process started is stopped by pid. Talks only to
127.0.0.1. Usage: bench/threads.py [--bin build/bin] [--json FILE] [--threads-list 1,2]
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "proxy"))
from availability import Proxy  # noqa: E402
from proxy_cpu import (machine, measured, redis_benchmark_load, start_memcached,  # noqa: E402
                       start_redis, stop)


def icbench(args, target, extra):
    cmd = [os.path.join(args.bin, "icbench"), "--target", target, "--clients",
           str(args.icbench_clients), "--size-dist", "fixed:%d" % args.size, "--keys", str(args.keys),
           "--get-ratio", "1", "--zipf", "0", "--cost", "no", "--timeout", "30s", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 300)
    m = re.search(r"^result .*seconds=([\d.]+) .*bytes_read=(\d+) .*errors=(\d+) "
                  r"wrong_bytes=(\d+)", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise RuntimeError("icbench %s failed (status %d; 1: wrong bytes): %s %s"
                           % (target, out.returncode, out.stdout[-600:], out.stderr[-400:]))
    return float(m.group(1)), int(m.group(2)), int(m.group(3))


def icbench_load(args, target):
    """10 MiB GETs by icbench's clients for --duration; a first, unmeasured pass over every key
    fills the cache (a GET that misses fills its key), so the measured pass reads hits."""
    icbench(args, target, ["--requests", str(3 * args.keys)])

    def load():
        seconds, read, errors = icbench(args, target, ["--duration", "%ds" % args.duration])
        return {"gbps": round(read / seconds / 1e9, 2), "errors": errors}
    return load


def start_redis_threads(workdir, threads):
    """redis-server with Redis's own threaded I/O at threads > 1 (its closest to --threads)."""
    extra = ["--io-threads", str(threads), "--io-threads-do-reads", "yes"] if threads > 1 else []
    return start_redis(workdir, extra)


def small(args, port, pid, main_thread=False):
    rows = {}
    for op in ("set", "get"):
        r = measured(pid, redis_benchmark_load(args, op, port), main_thread)
        rows["small_" + op] = r
    return rows


def run_icproxy(args, t, workdir, say):
    rows = {}
    proxy_args = ["--threads", str(t), "--pool-size", str(args.pool_size), "--d", str(args.d),
                  "--p", str(args.p), "--node-memory", str(args.node_memory)]
    p = Proxy(args.bin, proxy_args, os.path.join(workdir, "icproxy-%d.log" % t))
    try:
        pid = p.proc.pid
        target = "ic:127.0.0.1:%d,d=%d,p=%d" % (p.port, args.d, args.p)
        rows["icproxy library GET"] = measured(pid, icbench_load(args, target), True)
        say(t, "icproxy library GET", rows["icproxy library GET"])
        rows["icproxy RESP GET"] = measured(pid, icbench_load(args, "resp:127.0.0.1:%d" % p.port),
                                            True)
        say(t, "icproxy RESP GET", rows["icproxy RESP GET"])
        for k, v in small(args, p.port, pid, True).items():
            rows["icproxy " + k] = v
            say(t, "icproxy " + k, v)
    finally:
        p.stop()
    return rows


def run_baselines(args, t, workdir, say):
    rows = {}
    proc, port = start_redis_threads(workdir, t)
    try:
        rows["redis-server GET"] = measured(proc.pid, icbench_load(args, "resp:127.0.0.1:%d" % port))
        say(t, "redis-server GET", rows["redis-server GET"])
        for k, v in small(args, port, proc.pid).items():
            rows["redis-server " + k] = v
            say(t, "redis-server " + k, v)
    finally:
        stop(proc)
    proc, port = start_memcached(t, max(16, 2 * args.size >> 20))
    try:
        rows["memcached GET"] = measured(proc.pid,
                                         icbench_load(args, "memcached:127.0.0.1:%d" % port))
        say(t, "memcached GET", rows["memcached GET"])
    finally:
        stop(proc)
    return rows


def median_row(runs):
    """Per figure, the run with the median throughput, and the range of the throughputs."""
    key = "gbps" if "gbps" in runs[0] else "throughput_rps"
    ordered = sorted(runs, key=lambda r: r[key])
    mid = dict(ordered[len(ordered) // 2])
    mid["range"] = (ordered[0][key], ordered[-1][key])
    mid["runs"] = len(runs)
    return mid


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(HERE), "build", "bin"))
    ap.add_argument("--json")
    ap.add_argument("--threads-list", default=",".join(str(i + 1) for i in
                                                       range(os.cpu_count() or 1)))
    ap.add_argument("--icbench-clients", type=int, default=8,
                    help="icbench clients of the 10 MiB phases")
    ap.add_argument("--clients", type=int, default=50,
                    help="redis-benchmark connections of the 1 KiB phases (as in proxy_cpu.py)")
    ap.add_argument("--keys", type=int, default=50)
    ap.add_argument("--size", type=int, default=10 << 20)
    ap.add_argument("--duration", type=int, default=15, help="seconds per 10 MiB phase")
    ap.add_argument("--small-requests", type=int, default=200000)
    ap.add_argument("--value-size", type=int, default=1024)
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--phase-seconds", type=float, default=60.0)
    ap.add_argument("--pool-size", type=int, default=32)
    ap.add_argument("--node-memory", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3,
                    help="icproxy runs per thread count, the counts alternating (medians reported)")
    ap.add_argument("--d", type=int, default=10)
    ap.add_argument("--p", type=int, default=2)
    args = ap.parse_args()
    threads = [int(x) for x in args.threads_list.split(",")]

    def say(t, what, r):
        fig = "%.2f GB/s" % r["gbps"] if "gbps" in r else "%dK/s" % (r["throughput_rps"] // 1000)
        extra = " main %.2f" % r["main_thread_share"] if "main_thread_share" in r else ""
        print("threads=%d %-28s %12s  cpu %.2f%s" % (t, what, fig, r["cpu_share"], extra),
              flush=True)

    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
               "machine": machine(), "args": vars(args), "threads": {}}
    with tempfile.TemporaryDirectory(prefix="icbench-threads-") as workdir:
        runs = {t: [] for t in threads}
        # Rounds alternate the thread counts, so a drift of the machine's speed (it is shared)
        # falls on every count alike; the baselines run once per count after them.
        for _ in range(args.rounds):
            for t in threads:
                runs[t].append(run_icproxy(args, t, workdir, say))
        for t in threads:
            rows = {k: median_row([r[k] for r in runs[t]]) for k in runs[t][0]}
            rows.update(run_baselines(args, t, workdir, say))
            results["threads"][str(t)] = rows
    print("\n| threads | library GET 10 MiB | RESP GET 10 MiB | redis-server GET 10 MiB | "
          "memcached -t N GET 10 MiB | SET 1 KiB icproxy / redis | GET 1 KiB icproxy / redis |")
    print("|---|---|---|---|---|---|---|")
    for t in threads:
        r = results["threads"][str(t)]

        def big(k):
            x = r[k]
            s = "%.2f GB/s" % x["gbps"]
            if "range" in x:
                s += " (%.2f-%.2f)" % x["range"]
            s += " cpu %.2f" % x["cpu_share"]
            return s + (", loop %.2f" % x["main_thread_share"] if "main_thread_share" in x else "")

        def sm(op):
            x, y = r["icproxy small_" + op], r["redis-server small_" + op]
            return "%dK (%dK-%dK) / %dK (%.2fx; cpu %.2f, loop %.2f)" % (
                x["throughput_rps"] // 1000, x["range"][0] // 1000, x["range"][1] // 1000,
                y["throughput_rps"] // 1000, x["throughput_rps"] / y["throughput_rps"],
                x["cpu_share"], x["main_thread_share"])
        print("| %d | %s | %s | %s | %s | %s | %s |" % (
            t, big("icproxy library GET"), big("icproxy RESP GET"), big("redis-server GET"),
            big("memcached GET"), sm("set"), sm("get")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
