#!/usr/bin/python3
"""idle_return.py -- how long should a node linger after its last request (icproxy
`--node-idle-return`) now that Lambda bills by the millisecond? For each value (default 2, 5,
10, 20, 50, 100, 200 ms) one icproxy is started (embedded local platform, 1 ms billing, no
warm-ups or backups, so every billed millisecond is serving), and one fixed open-loop workload is
played through it with icbench: 256 KiB objects over RS(4+2), 90% GETs, in three phases of
requests 5, 50 and 250 ms apart (200, 20 and 4 per second: a burst, a trickle, a sparse stream). The table gives, per value, the billed
GB-seconds and invocations (from INFO's billing section: the platform's figures, the nodes' own
beside them), Lambda's price of both (current x86_64 list prices), and GET p50/p99 (hits only,
from icbench's CSV).

Every process it starts is stopped by pid (also on Ctrl-C, SIGTERM or failure); every icbench run
is bounded by --run-timeout. About 30 s per value on a 2-core machine.

Usage: bench/idle_return.py [--bin build/bin] [--values 2,5,10,...] [--json out.json]
"""
import argparse
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from availability import Interrupted, Proxy, machine, on_sigterm  # noqa: E402

USD_PER_GB_S = 0.0000166667  # Lambda x86_64, us-east-1 (src/model/prices: "current")
USD_PER_REQUEST = 0.20 / 1e6
# (requests per second, requests): the phases of the workload, requests 5, 50 and 250 ms apart
PHASES = ((200, 200), (20, 200), (4, 40))


def info(port, section="billing"):
    """INFO section as a dict, over a plain socket (RESP)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"*2\r\n$4\r\nINFO\r\n$%d\r\n%s\r\n" % (len(section), section.encode()))
        f = s.makefile("rb")
        header = f.readline()
        if header[:1] not in (b"$", b"="):
            raise RuntimeError("INFO: %r" % header)
        body = f.read(int(header[1:]) + 2).decode()
    out = {}
    for line in body.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


def settle(port, timeout=15.0):
    """Waits until no node is awake or invoking and the billed figures stopped moving for 1.5 s
    (the platform's figures refresh every second)."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        pool, bill = info(port, "pool"), info(port)
        now = (bill.get("billing_gb_seconds"), bill.get("node_billing_gb_seconds"))
        if now != last:
            last, since = now, time.monotonic()
        if pool["nodes_awake"] + pool["nodes_invoking"] == 0 and time.monotonic() - since >= 1.5:
            return True
        time.sleep(0.1)
    return False


def percentile(sorted_values, q):
    """Nearest rank, as icbench computes it."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-q * len(sorted_values) // 100)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def get_latencies(csv_path):
    out = []
    with open(csv_path) as f:
        next(f, None)
        for line in f:
            parts = line.rstrip("\n").rsplit(",", 8)
            if len(parts) == 9 and parts[3] == "GET" and parts[6] == "hit":
                out.append(float(parts[7]) / 1000.0)
    return out


def run_value(args, tmp, ms, log):
    proxy = Proxy(args.bin, ["--pool-size", "6", "--d", "4", "--p", "2", "--node-memory",
                             str(args.node_memory), "--node-reserved", "32", "--billing", "1ms",
                             "--node-idle-return", "%dms" % ms, "--warmup-interval", "0",
                             "--backup-interval", "0", "--seed", "1"],
                  os.path.join(tmp, "proxy-%d.log" % ms))
    try:
        settle(proxy.port)
        before = info(proxy.port)
        lat = []
        for i, (rate, n) in enumerate(PHASES):
            csv_path = os.path.join(tmp, "ic-%d-%d.csv" % (ms, i))
            cmd = [os.path.join(args.bin, "icbench"), "--target", "resp:127.0.0.1:%d" % proxy.port,
                   "--size-dist", "fixed:256k", "--keys", "20", "--zipf", "0", "--get-ratio",
                   "0.9", "--clients", "4", "--rate", str(rate), "--requests", str(n),
                   "--seed", str(1 + i), "--backing", "none", "--cost", "no", "--csv", csv_path,
                   "--timeout", "20s"]
            log.write(("$ %s\n" % " ".join(cmd)).encode())
            log.flush()
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=args.run_timeout)
            except BaseException:
                proc.kill()  # by pid: the one process this call started
                proc.wait()
                raise
            if rc != 0:
                raise RuntimeError("icbench exited %d (log: %s)" % (rc, log.name))
            lat += get_latencies(csv_path)
        settled = settle(proxy.port)
        after = info(proxy.port)
    finally:
        proxy.note_instances()
        args.leaked.extend(proxy.stop())
    lat.sort()
    d = {k: after[k] - before[k] for k in ("billing_gb_seconds", "billing_requests",
                                           "node_billing_gb_seconds", "node_billing_records")}
    return {"idle_return_ms": ms, "gb_seconds": d["billing_gb_seconds"],
            "invocations": int(d["billing_requests"]),
            "node_gb_seconds": d["node_billing_gb_seconds"],
            "node_invocations": int(d["node_billing_records"]),
            "usd_per_1k_requests": (d["billing_gb_seconds"] * USD_PER_GB_S +
                                    d["billing_requests"] * USD_PER_REQUEST) /
            sum(n for _, n in PHASES) * 1000,
            "get_count": len(lat), "get_p50_ms": percentile(lat, 50),
            "get_p99_ms": percentile(lat, 99), "settled": settled,
            "source": after.get("billing_source")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--values", default="2,5,10,20,50,100,200",
                    help="idle-return values to measure, ms")
    ap.add_argument("--node-memory", type=int, default=1536, help="function memory, MiB")
    ap.add_argument("--run-timeout", type=int, default=120, help="bound of one icbench run, s")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    args.leaked = []
    values = [int(v) for v in args.values.split(",") if v.strip()]
    signal.signal(signal.SIGTERM, on_sigterm)
    m = machine()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print("# idle_return.py %s: %d cpus, %s, kernel %s; %d MiB functions, RS(4+2), 256 KiB "
          "objects, %s" % (started, m["nproc"], m["cpu"], m["kernel"], args.node_memory,
                           " then ".join("%d req/s x %d" % p for p in PHASES)))
    rows = []
    with tempfile.TemporaryDirectory(prefix="idle_return.") as tmp, \
            open(os.path.join(tmp, "icbench.log"), "ab") as log:
        try:
            for ms in values:
                rows.append(run_value(args, tmp, ms, log))
                r = rows[-1]
                print("idle_return_ms=%d gb_seconds=%.4f invocations=%d node_gb_seconds=%.4f "
                      "node_invocations=%d usd_per_1k_requests=%.6f get_p50_ms=%.2f "
                      "get_p99_ms=%.2f settled=%d" % (
                          ms, r["gb_seconds"], r["invocations"], r["node_gb_seconds"],
                          r["node_invocations"], r["usd_per_1k_requests"], r["get_p50_ms"],
                          r["get_p99_ms"], r["settled"]), flush=True)
        except (KeyboardInterrupt, Interrupted):
            print("interrupted", file=sys.stderr)
            return 130
    print("\n| idle return | billed GB-s | invocations | GB-s (nodes) | $ per 1k requests | "
          "GET p50 ms | GET p99 ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| %d ms | %.4f | %d | %.4f | %.6f | %.2f | %.2f |" % (
            r["idle_return_ms"], r["gb_seconds"], r["invocations"], r["node_gb_seconds"],
            r["usd_per_1k_requests"], r["get_p50_ms"], r["get_p99_ms"]))
    if args.leaked:
        print("instances outlived their proxy (killed): %s" % args.leaked, file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"started": started, "machine": m, "node_memory_mb": args.node_memory,
                       "phases": PHASES, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
