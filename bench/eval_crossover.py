#!/usr/bin/python3
"""eval_crossover.py -- the small-object crossover: the request rate above which a same-capacity
ElastiCache node is cheaper than InfiniCache (the paper found 312K requests per hour).

What it measures, per case (one icproxy with its embedded platform each, on free loopback ports):
icbench plays a sparse open-loop stream of small GETs (`--rate`, keys filled on first miss)
against the proxy and prints its cost report, which reads what the platform billed from INFO.
From that report this script takes the serving cost per request (Lambda GB-s and request fees
of the `serving` invocations, divided by the requests icbench made, cache fills included) and
the warm-up cost per function per hour (measured warm-up dollars / functions / window, scaled
to the configured warm-up interval), and computes for the paper's pool (400 functions x
1536 MiB = 600 GiB, one cache.r5.24xlarge at $10.368 per hour in both price sets):

  paper-style crossover = ElastiCache $/h / serving $ per request          (Lambda serving only)
  full crossover        = (ElastiCache $/h - VM $/h - 400 x warm-up $/h) / serving $ per request

A sparse stream gives every request its own invocations, the most expensive regime: at higher
rates invocations are shared (a node serves several requests per invocation), so the real
crossover is at or above these figures.

Cases (`--cases`): `paper` (100 ms billing, 2020 prices, RS(10+2) through the library, 100 KiB objects, the
paper's setting), `lib` (1 ms billing, current prices, the same RS(10+2) objects), `resp` (1 ms
billing, current prices, 1 KiB objects through the Redis protocol: the proxy stores objects up
to small-object-max as one chunk + p replicas and reads one of them).

Usage: bench/eval_crossover.py [--bin build/bin] [--json out.json] [--requests 60] [--rate 2]
"""
import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from availability import Interrupted, Proxy, machine, on_sigterm  # noqa: E402

PAPER_POOL = 400
PAPER_MEMORY_MB = 1536
# The cheapest ElastiCache node holding 400 x 1536 MiB (600 GiB) in both of icbench's price sets
# (src/model/cost.c): cache.r5.24xlarge, 635.61 GiB, $10.368 per hour (the paper's choice).
PAPER_ELASTICACHE_USD_H = 10.368
PAPER_CROSSOVER = 312000

CASES = {
    "paper": {"billing": "100ms", "prices": "2020", "target": "ic", "size": "100k",
              "what": "100 ms billing, 2020 prices, RS(10+2) via the library, 100 KiB"},
    "lib": {"billing": "1ms", "prices": "current", "target": "ic", "size": "100k",
            "what": "1 ms billing, current prices, RS(10+2) via the library, 100 KiB"},
    "resp": {"billing": "1ms", "prices": "current", "target": "resp", "size": "1k",
             "what": "1 ms billing, current prices, Redis protocol, 1 KiB (1 chunk + 2 replicas)"},
    # With 1 ms billing a node that lingers after a request pays for every idle millisecond; the
    # break-even linger (rent or buy) is the request fee's worth of memory time:
    # $0.20/1M / (1.5 GB x $0.0000166667/GB-s) = 8 ms.
    "lean": {"billing": "1ms", "prices": "current", "target": "resp", "size": "1k",
             "idle_return": "8ms",
             "what": "as resp, nodes return after 8 ms idle (the fee's break-even) not 100 ms"},
}


def cost_line(out, target):
    for line in out.splitlines():
        if line.startswith("cost target=" + target + " "):
            return dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    raise RuntimeError("no cost line for %s in icbench's output:\n%s" % (target, out[-3000:]))


def result_line(out, target):
    for line in out.splitlines():
        if line.startswith("result target=" + target + " "):
            return dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    raise RuntimeError("no result line for %s" % target)


def run_case(args, name, case, tmp):
    warmup_s = args.warmup_interval
    proxy = Proxy(args.bin, ["--pool-size", "12", "--node-memory", str(PAPER_MEMORY_MB),
                             "--billing", case["billing"], "--d", "10", "--p", "2",
                             "--warmup-interval", "%ds" % warmup_s, "--backup-interval", "0",
                             "--node-idle-return", case.get("idle_return", "100ms"),
                             "--seed", "1"],
                  os.path.join(tmp, name + ".log"))
    try:
        addr = "127.0.0.1:%d" % proxy.port
        target = ("ic:%s,d=10,p=2" % addr) if case["target"] == "ic" else "resp:" + addr
        cmd = [os.path.join(args.bin, "icbench"), "--target", target, "--size-dist",
               "fixed:" + case["size"], "--keys", "10", "--zipf", "0", "--get-ratio", "1",
               "--rate", str(args.rate), "--requests", str(args.requests), "--prices",
               case["prices"], "--key-prefix", "x" + name,
               # The VM of the paper-scale deployment, not the one loopback's bandwidth picks.
               "--proxy-vm", "c5n.xlarge:0.216"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.run_timeout)
        if p.returncode != 0:
            raise RuntimeError("icbench exited %d:\n%s\n%s" % (p.returncode, p.stdout[-3000:],
                                                               p.stderr[-2000:]))
        proxy.note_instances()
    finally:
        leaked = proxy.stop()
    if leaked:
        raise RuntimeError("instances outlived icproxy: %s" % leaked)
    c = cost_line(p.stdout, target)
    r = result_line(p.stdout, target)
    if c.get("settled") != "1":
        raise RuntimeError("cost report did not settle: %s" % c)
    gb_s_price = float(re.search(r"\$([0-9.]+) per GB-s", p.stdout).group(1))
    req_price = float(re.search(r"\$([0-9.]+) per 1M requests", p.stdout).group(1)) / 1e6
    vm_h = float(c["vm_usd_per_h"])
    ops = int(r["gets"]) + int(r["sets"])
    inv = float(c["requests_serving"])
    gbs = float(c["gb_seconds_serving"])
    serving_usd = gbs * gb_s_price + inv * req_price
    per_request = serving_usd / ops
    window = float(c["window_s"])
    warm_inv = float(c["requests_warmup"])
    warm_usd = float(c["gb_seconds_warmup"]) * gb_s_price + warm_inv * req_price
    # Warm-up dollars per function-hour: each warm-up invocation's measured cost, times 60 (one
    # a minute, icproxy's default; the run warms more often only to measure it).
    per_warmup = warm_usd / warm_inv if warm_inv else 0.0
    warm_fn_h = per_warmup * 60
    paper_style = PAPER_ELASTICACHE_USD_H / per_request
    fixed = vm_h + PAPER_POOL * warm_fn_h
    full = max(0.0, PAPER_ELASTICACHE_USD_H - fixed) / per_request
    return {
        "case": name, "what": case["what"], "requests": ops, "gets": int(r["gets"]),
        "hits": int(r["hits"]), "errors": int(r["errors"]), "wrong_bytes": int(r["wrong_bytes"]),
        "serving_invocations": inv, "serving_gb_s": gbs,
        "invocations_per_request": inv / ops, "billed_ms_per_invocation":
            gbs / inv / (PAPER_MEMORY_MB / 1024.0) * 1000 if inv else 0,
        "serving_usd_per_request": per_request, "warmup_usd_per_invocation": per_warmup,
        "warmup_usd_per_function_hour": warm_fn_h, "vm_usd_per_h": vm_h, "window_s": window,
        "billing_ms": int(c["billing_ms"]), "prices": case["prices"],
        "crossover_paper_style_per_h": paper_style, "crossover_full_per_h": full,
    }


def print_table(rows):
    print("\nSmall-object crossover against one cache.r5.24xlarge ($%.3f/h) for %d x %d MiB"
          % (PAPER_ELASTICACHE_USD_H, PAPER_POOL, PAPER_MEMORY_MB))
    print("%-6s %9s %8s %10s %14s %16s %16s" % ("case", "requests", "inv/req", "billed_ms",
                                               "$/request", "crossover req/h", "with fixed $"))
    for r in rows:
        print("%-6s %9d %8.2f %10.1f %14.3e %16.0f %16.0f" % (
            r["case"], r["requests"], r["invocations_per_request"],
            r["billed_ms_per_invocation"], r["serving_usd_per_request"],
            r["crossover_paper_style_per_h"], r["crossover_full_per_h"]))
    print("paper: %d requests per hour" % PAPER_CROSSOVER)
    for r in rows:
        print("  %s: %s" % (r["case"], r["what"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--json", default="")
    ap.add_argument("--cases", default="paper,lib,resp,lean")
    ap.add_argument("--requests", type=int, default=60, help="requests per case (default 60)")
    ap.add_argument("--rate", type=float, default=2.0,
                    help="requests per second, sparse enough that invocations end in between")
    ap.add_argument("--warmup-interval", type=int, default=5,
                    help="seconds between warm-ups during the run, to measure one (priced as "
                         "one a minute)")
    ap.add_argument("--run-timeout", type=float, default=300)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    names = [c for c in args.cases.split(",") if c]
    for n in names:
        if n not in CASES:
            ap.error("unknown case %r (one of %s)" % (n, ", ".join(CASES)))
    tmp = tempfile.mkdtemp(prefix="ic_crossover_")
    rows = []
    try:
        for n in names:
            print("case %s: %s" % (n, CASES[n]["what"]), flush=True)
            rows.append(run_case(args, n, CASES[n], tmp))
    except (Interrupted, KeyboardInterrupt):
        print("interrupted; logs in %s" % tmp, file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print("eval_crossover: %s\nlogs in %s" % (e, tmp), file=sys.stderr)
        return 1
    print_table(rows)
    bad = [r for r in rows if r["wrong_bytes"] or r["errors"]]
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                       "machine": machine(), "paper_crossover_per_h": PAPER_CROSSOVER,
                       "elasticache_usd_per_h": PAPER_ELASTICACHE_USD_H, "rows": rows}, f,
                      indent=1)
    print("logs in %s" % tmp)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
