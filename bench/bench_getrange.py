#!/usr/bin/python3
"""bench_getrange.py -- a ranged read of a large object against a GET of an object the size of
the range, in the same run.

It starts icproxy (embedded local platform, RS(10+2) by default), SETs one `--size` object
(default 1 GiB) and one `--range`-sized object (default 1 MiB) through the Redis protocol, then
alternates `--reps` GETRANGEs of `--range` bytes at random offsets of the large object with GETs
of the small one, and reads from INFO how many chunk bytes the GETRANGEs moved from the nodes
(getrange_chunk_bytes). Before measuring it reads one byte of every data chunk once: a node
computes the per-segment CRCs of a chunk on its first ranged read (docs/PROTOCOL.md, CGETR), a
cost paid once per stored chunk.

Targets: bytes read from the nodes <= 2x the range; median GETRANGE latency <= 2x the median GET
of the range-sized object. Prints one `figure=... key=value` line per figure. Every process it
starts is stopped by pid, also on Ctrl-C, SIGTERM or failure.

Usage: bench/bench_getrange.py [--bin build/bin] [--size 1g] [--range 1m] [--reps 50]
       [--d 10] [--p 2] [--json result.json]
"""
import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from availability import Interrupted, Proxy, on_sigterm, parse_size  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BYTES_TARGET = 2.0    # chunk bytes read from the nodes / range
LATENCY_TARGET = 2.0  # GETRANGE of the range / GET of an object the range's size


def chunk_size(size, d):
    return (-(-size // d) + 63) // 64 * 64


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--size", type=parse_size, default=parse_size("1g"))
    ap.add_argument("--range", type=parse_size, default=parse_size("1m"))
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--d", type=int, default=10)
    ap.add_argument("--p", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    if not 0 < args.range <= args.size or args.reps < 1:
        ap.error("need 0 < --range <= --size and --reps >= 1")
    signal.signal(signal.SIGTERM, on_sigterm)
    cs = chunk_size(args.size, args.d)
    # Each node holds one chunk of the large object and maybe one of the small one, with room.
    node_mib = max(256, (cs * 2 + (64 << 20)) >> 20)
    log = tempfile.NamedTemporaryFile(prefix="bench_getrange-", suffix=".log", delete=False)
    proxy = Proxy(args.bin, ["--pool-size", str(args.d + args.p), "--d", str(args.d), "--p",
                             str(args.p), "--node-memory", str(node_mib), "--node-reserved", "16",
                             "--log-level", "warn", "--request-timeout", "60s",
                             # a node takes a 100 MiB chunk in more than the default 200 ms
                             "--ping-timeout", "5s", "--invoke-retry", "10s"], log.name)
    ok = False
    try:
        r = redis.Redis(port=proxy.port, socket_timeout=300)
        rng = random.Random(args.seed)
        big = os.urandom(args.size)
        t0 = time.monotonic()
        r.set("big", big)
        set_s = time.monotonic() - t0
        small = os.urandom(args.range)
        r.set("small", small)
        # Once per chunk: the nodes' per-segment CRCs (and a first GET of the small object).
        for i in range(args.d):
            off = min(i * cs, args.size - 1)
            if r.getrange("big", off, off) != big[off:off + 1]:
                raise SystemExit("bench_getrange: wrong byte at %d" % off)
        if r.get("small") != small:
            raise SystemExit("bench_getrange: wrong small object")
        before = int(r.info("stats")["getrange_chunk_bytes"])
        range_ms, get_ms = [], []
        for _ in range(args.reps):
            off = rng.randrange(0, args.size - args.range + 1)
            t0 = time.perf_counter()
            got = r.getrange("big", off, off + args.range - 1)
            range_ms.append((time.perf_counter() - t0) * 1000)
            if got != big[off:off + args.range]:
                raise SystemExit("bench_getrange: wrong bytes at offset %d" % off)
            t0 = time.perf_counter()
            got = r.get("small")
            get_ms.append((time.perf_counter() - t0) * 1000)
            if got != small:
                raise SystemExit("bench_getrange: wrong small object")
        moved = int(r.info("stats")["getrange_chunk_bytes"]) - before
        bytes_ratio = moved / (args.reps * args.range)
        rmed, gmed = statistics.median(range_ms), statistics.median(get_ms)
        latency_ratio = rmed / gmed
        res = {
            "size": args.size, "range": args.range, "reps": args.reps, "d": args.d, "p": args.p,
            "chunk_size": cs, "set_s": round(set_s, 2), "chunk_bytes_moved": moved,
            "bytes_ratio": round(bytes_ratio, 3), "getrange_median_ms": round(rmed, 3),
            "get_median_ms": round(gmed, 3), "latency_ratio": round(latency_ratio, 3),
            "bytes_ok": bytes_ratio <= BYTES_TARGET, "latency_ok": latency_ratio <= LATENCY_TARGET,
        }
        print("figure=getrange_bytes size=%d range=%d reps=%d moved=%d ratio=%.3f target<=%.1f %s"
              % (args.size, args.range, args.reps, moved, bytes_ratio, BYTES_TARGET,
                 "ok" if res["bytes_ok"] else "MISSED"))
        print("figure=getrange_latency size=%d range=%d getrange_median_ms=%.3f "
              "get_range_sized_median_ms=%.3f ratio=%.3f target<=%.1f %s"
              % (args.size, args.range, rmed, gmed, latency_ratio, LATENCY_TARGET,
                 "ok" if res["latency_ok"] else "MISSED"))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=1)
        ok = True
        return 0
    except (Interrupted, KeyboardInterrupt):
        return 130
    finally:
        proxy.stop()
        if ok:
            os.unlink(log.name)
        else:
            print("bench_getrange: icproxy's log kept in %s" % log.name, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
