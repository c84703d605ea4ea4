#!/usr/bin/python3
"""eval_latency.py -- the paper's latency microbenchmarks in small, through the C library:

(a) latency vs object size for several Reed-Solomon codes (default RS 4+2, 5+1, 10+0, 10+1,
    10+2, 10+4), GET and SET: for each size one icproxy is started (embedded local platform, a
    per-node bandwidth cap and stragglers), and one icbench run plays the same synthetic workload
    against one ic: target per code;
(b) first-d on vs off under stragglers: one icproxy, one icbench run with two ic: targets of
    the same code, `firstd=1` and `firstd=0` (the GET waits for all d+p chunks).

icbench writes one CSV row per request; this script takes the latencies from there (GET hits
and SETs; the GET misses that precede a key's first SET are left out), prints tables and writes
everything to `--json`. Every process it starts is stopped by pid (also on Ctrl-C, SIGTERM or
failure); every icbench run is bounded by `--run-timeout`.

Usage: bench/eval_latency.py [--bin build/bin] [--json out.json] [--sizes 1m,10m,...]
       [--codes 4+2,10+1,...] [--parts latency,firstd] [--node-bandwidth 40m] ...
"""
import argparse
import csv
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from availability import Interrupted, Proxy, machine, on_sigterm, parse_size  # noqa: E402

# FAST'20 paper, microbenchmarks: what our numbers are set beside.
PAPER = {
    "latency": "RS(10+1) was the best trade-off; RS(10+0) suffers from stragglers (no spare chunk)",
    "firstd": "first-d (returning once any d chunks are in) cuts the tail latency of GETs",
}


def parse_code(text):
    m = re.fullmatch(r"(\d+)\+(\d+)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError("bad code %r (e.g. 10+2)" % text)
    return int(m.group(1)), int(m.group(2))


def size_name(n):
    return "%dm" % (n >> 20) if n % (1 << 20) == 0 else "%dk" % (n >> 10)


def percentile(sorted_values, q):
    """Nearest rank, as icbench computes it."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-q * len(sorted_values) // 100)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize(latencies_ms, errors):
    v = sorted(latencies_ms)
    out = {"count": len(v), "errors": errors}
    if v:
        out.update({"p50_ms": percentile(v, 50), "p90_ms": percentile(v, 90),
                    "p99_ms": percentile(v, 99), "mean_ms": sum(v) / len(v), "max_ms": v[-1]})
    return out


def read_csv(path):
    """target spec -> {"GET": [ms of hits], "SET": [ms], "errors": {op: n}, "wrong": n}."""
    per = {}
    with open(path, newline="") as f:
        rows = iter(f)
        next(rows, None)  # header
        for line in rows:
            # The target spec may hold commas (ic:HOST:PORT,d=N,p=N): split from the right.
            parts = line.rstrip("\n").rsplit(",", 8)
            if len(parts) != 9:
                continue
            target, _client, _idx, op, _key, _size, result, lat_us, _start = parts
            t = per.setdefault(target, {"GET": [], "SET": [], "errors": {"GET": 0, "SET": 0},
                                        "wrong": 0, "misses": 0})
            if result in ("hit", "stored"):
                t[op].append(float(lat_us) / 1000.0)
            elif result == "miss":
                t["misses"] += 1
            elif result == "wrong":
                t["wrong"] += 1
            else:
                t["errors"][op] = t["errors"].get(op, 0) + 1
    return per


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def run_icbench(args, targets, workload, csv_path, log):
    cmd = [os.path.join(args.bin, "icbench")]
    for t in targets:
        cmd += ["--target", t]
    cmd += workload + ["--csv", csv_path, "--timeout", "%ds" % args.op_timeout]
    log.write(("$ %s\n" % " ".join(cmd)).encode())
    log.flush()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=args.run_timeout)
    except BaseException:
        proc.kill()  # by pid: the one process this call started
        proc.wait()
        raise
    log.write(out)
    log.flush()
    results = [dict(kv.split("=", 1) for kv in line.split()[1:])
               for line in out.decode(errors="replace").splitlines() if line.startswith("result ")]
    if proc.returncode != 0:
        raise RuntimeError("icbench exited %d:\n%s" % (proc.returncode,
                                                       out.decode(errors="replace")[-2000:]))
    return results


def start_proxy(args, tmp, name, rate, delay, pool):
    proxy_args = ["--pool-size", str(pool), "--node-memory", str(args.node_memory),
                  "--node-reserved", "32", "--node-bandwidth", args.node_bandwidth,
                  "--straggler-rate", str(rate), "--straggler-delay", delay,
                  "--seed", str(args.seed), "--warmup-interval", "0", "--backup-interval", "0",
                  "--max-object-size", "1g"]
    return Proxy(args.bin, proxy_args, os.path.join(tmp, name + ".log"))


def stop(proxy, args):
    """Stops the proxy by pid and remembers any instance that outlived it (killed by pid)."""
    proxy.note_instances()
    args.leaked.extend(proxy.stop())


def part_latency(args, tmp, log):
    pool = max([12] + [d + p for d, p in args.codes])  # 12: icproxy's own RS(10+2) must fit
    rows = []
    for size in args.sizes:
        large = size >= (50 << 20)  # fewer keys and requests: each one takes seconds
        keys = max(1, args.keys - 1) if large else args.keys
        requests = args.requests_large if large else args.requests
        proxy = start_proxy(args, tmp, "latency-" + size_name(size), args.straggler_rate,
                            args.straggler_delay, pool)
        try:
            targets = ["ic:127.0.0.1:%d,d=%d,p=%d" % (proxy.port, d, p) for d, p in args.codes]
            csv_path = os.path.join(tmp, "latency-%s.csv" % size_name(size))
            workload = ["--size-dist", "fixed:%d" % size, "--keys", str(keys), "--zipf", "0",
                        "--get-ratio", str(args.get_ratio), "--requests", str(requests),
                        "--seed", str(args.seed), "--key-prefix", "lat" + size_name(size),
                        "--duration", "%ds" % args.target_seconds]
            t0 = time.monotonic()
            run_icbench(args, targets, workload, csv_path, log)
            secs = time.monotonic() - t0
        finally:
            stop(proxy, args)
        per = read_csv(csv_path)
        for (d, p), t in zip(args.codes, targets):
            got = per.get(t, {"GET": [], "SET": [], "errors": {}, "wrong": 0, "misses": 0})
            for op in ("GET", "SET"):
                row = {"size": size, "size_name": size_name(size), "code": "%d+%d" % (d, p),
                       "op": op.lower(), "wrong_bytes": got["wrong"]}
                row.update(summarize(got[op], got["errors"].get(op, 0)))
                rows.append(row)
        print("  %s: %d targets in %.0f s" % (size_name(size), len(targets), secs), flush=True)
    return rows


def part_firstd(args, tmp, log):
    d, p = args.firstd_code
    proxy = start_proxy(args, tmp, "firstd", args.firstd_rate, args.firstd_delay,
                        max(12, d + p))
    try:
        base = "ic:127.0.0.1:%d,d=%d,p=%d" % (proxy.port, d, p)
        targets = [base, base + ",firstd=0"]
        csv_path = os.path.join(tmp, "firstd.csv")
        # Few keys, mostly GETs: after each key's first fill every GET is a hit.
        workload = ["--size-dist", "fixed:%d" % args.firstd_size, "--keys", "4", "--zipf", "0",
                    "--get-ratio", "1", "--requests", str(args.firstd_gets), "--seed",
                    str(args.seed), "--key-prefix", "fd", "--duration", "%ds" % args.target_seconds]
        run_icbench(args, targets, workload, csv_path, log)
    finally:
        stop(proxy, args)
    per = read_csv(csv_path)
    rows = []
    for t, on in zip(targets, (True, False)):
        got = per.get(t, {"GET": [], "errors": {}, "wrong": 0})
        row = {"first_d": on, "code": "%d+%d" % (d, p), "size": args.firstd_size,
               "wrong_bytes": got["wrong"]}
        row.update(summarize(got["GET"], got["errors"].get("GET", 0)))
        rows.append(row)
    return rows


def fmt(v):
    return "-" if v is None else "%.1f" % v


def fmt0(v):
    return "-" if v is None else "%.0f" % v


def print_latency(rows):
    print("\n(a) latency vs object size, ms (p50 / p90 / p99), GET hits and SETs")
    codes = list(dict.fromkeys(r["code"] for r in rows))
    sizes = list(dict.fromkeys(r["size_name"] for r in rows))
    for op in ("get", "set"):
        print("\n%-4s %-6s" % (op.upper(), "size") + "".join(" %20s" % ("RS " + c) for c in codes))
        for s in sizes:
            cells = []
            for c in codes:
                r = next(x for x in rows if x["op"] == op and x["size_name"] == s and x["code"] == c)
                cells.append(" %20s" % " / ".join(fmt0(r.get(k)) for k in ("p50_ms", "p90_ms",
                                                                             "p99_ms")))
            print("%-4s %-6s" % ("", s) + "".join(cells))


def print_firstd(rows):
    print("\n(b) first-d on vs off, GET hits, ms")
    print("%-9s %-6s %6s %8s %8s %8s %8s %8s %6s" % ("first-d", "code", "count", "p50", "p90",
                                                      "p99", "mean", "max", "errors"))
    for r in rows:
        print("%-9s %-6s %6d %8s %8s %8s %8s %8s %6d" % (
            "on" if r["first_d"] else "off", r["code"], r["count"], fmt(r.get("p50_ms")),
            fmt(r.get("p90_ms")), fmt(r.get("p99_ms")), fmt(r.get("mean_ms")),
            fmt(r.get("max_ms")), r["errors"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "build", "bin"))
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--parts", default="latency,firstd", help="latency, firstd or both")
    ap.add_argument("--sizes", default="1m,10m,20m,50m,100m",
                    type=lambda s: [parse_size(x) for x in s.split(",")])
    ap.add_argument("--codes", default="4+2,5+1,10+0,10+1,10+2,10+4",
                    type=lambda s: [parse_code(x) for x in s.split(",")])
    ap.add_argument("--keys", type=int, default=3, help="keys per target (one fewer from 50m)")
    ap.add_argument("--requests", type=int, default=60, help="requests per target and size")
    ap.add_argument("--requests-large", type=int, default=20,
                    help="requests per target for sizes of 50m and more")
    ap.add_argument("--get-ratio", type=float, default=0.7)
    ap.add_argument("--node-bandwidth", default="40m", help="bytes/s each node sends its proxy")
    ap.add_argument("--node-memory", type=int, default=512, help="MiB per function")
    ap.add_argument("--straggler-rate", type=float, default=0.05)
    ap.add_argument("--straggler-delay", default="300ms")
    ap.add_argument("--firstd-code", default="10+2", type=parse_code)
    ap.add_argument("--firstd-size", default="20m", type=parse_size)
    ap.add_argument("--firstd-gets", type=int, default=150, help="requests per target")
    ap.add_argument("--firstd-rate", type=float, default=0.05)
    ap.add_argument("--firstd-delay", default="300ms")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--op-timeout", type=int, default=60, help="icbench per-request timeout, s")
    ap.add_argument("--target-seconds", type=int, default=60,
                    help="icbench stops each target after this long")
    ap.add_argument("--log-dir", help="logs and CSVs go here (default: a new temporary directory)")
    ap.add_argument("--run-timeout", type=int, default=900, help="bound of one icbench run, s")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= {"latency", "firstd"} or not parts:
        ap.error("--parts: latency, firstd or both")

    signal.signal(signal.SIGTERM, on_sigterm)
    tmp = args.log_dir or tempfile.mkdtemp(prefix="ic-eval-latency-")
    os.makedirs(tmp, exist_ok=True)
    args.leaked = []
    started = datetime.datetime.now(datetime.timezone.utc)
    result = {"date": started.strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
              "loadavg_start": loadavg(), "paper": PAPER,
              "settings": {"node_bandwidth": args.node_bandwidth, "seed": args.seed,
                           "latency": {"sizes": args.sizes,
                                       "codes": ["%d+%d" % c for c in args.codes],
                                       "keys": args.keys, "requests": args.requests,
                                       "requests_large": args.requests_large,
                                       "get_ratio": args.get_ratio,
                                       "straggler_rate": args.straggler_rate,
                                       "straggler_delay": args.straggler_delay},
                           "firstd": {"code": "%d+%d" % args.firstd_code,
                                      "size": args.firstd_size, "requests": args.firstd_gets,
                                      "straggler_rate": args.firstd_rate,
                                      "straggler_delay": args.firstd_delay}}}
    status = 0
    with open(os.path.join(tmp, "icbench.log"), "ab") as log:
        try:
            t0 = time.monotonic()
            if "latency" in parts:
                print("(a) latency vs size: %s, codes %s, node bandwidth %s, stragglers %g x %s"
                      % (",".join(size_name(s) for s in args.sizes),
                         ",".join("%d+%d" % c for c in args.codes), args.node_bandwidth,
                         args.straggler_rate, args.straggler_delay), flush=True)
                result["latency"] = part_latency(args, tmp, log)
                print_latency(result["latency"])
            if "firstd" in parts:
                print("\n(b) first-d: RS %d+%d, %s objects, stragglers %g x %s" % (
                    *args.firstd_code, size_name(args.firstd_size), args.firstd_rate,
                    args.firstd_delay), flush=True)
                result["firstd"] = part_firstd(args, tmp, log)
                print_firstd(result["firstd"])
            result["seconds"] = round(time.monotonic() - t0, 1)
        except (KeyboardInterrupt, Interrupted) as e:
            print("eval_latency: stopped (%s)" % e, file=sys.stderr)
            status = 130
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            print("eval_latency: %s" % e, file=sys.stderr)
            status = 1
    result["loadavg_end"] = loadavg()
    result["leaked_instances"] = args.leaked
    wrong = sum(r.get("wrong_bytes", 0) for k in ("latency", "firstd") for r in result.get(k, []))
    if wrong:
        print("eval_latency: %d GETs returned wrong bytes" % wrong, file=sys.stderr)
        status = status or 2
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
        print("\nJSON: %s" % args.json)
    print("logs: %s" % tmp)
    return status


if __name__ == "__main__":
    sys.exit(main())
