#!/usr/bin/python3
"""bench_backup.py -- how fast a node backs up to its peer instance, against copying the same
bytes over one loopback TCP connection in the same run, and how little a delta-sync moves.

It starts icproxy (embedded local platform) with one function holding every chunk (`--pool-size 1
--d 1 --p 0`), SETs `--objects` x `--object-size` (default 64 x 16 MiB = 1 GiB) through the Redis
protocol, and waits for the first backup (the proxy starts a node's backup clock when it first
holds data and backs it up between half an interval and one interval later, so the fill must end
before that; the script checks). It reads the backup's duration and size from INFO
(last_backup_ms, last_backup_bytes) and the proxy log (backup_done, relay_end). The baseline is
1 GiB sent over one loopback TCP connection by this script (a thread receiving with recv_into
into a reused buffer, the sender using sendall of whole objects), best of `--baseline-runs`;
for context also into a fresh buffer per object, as the peer stores chunks in new memory.
Then it overwrites 1% of the objects (at least one), waits for the next backup and reports the
bytes moved against the total.

Targets (issue): full backup <= 2x the raw copy time; a delta after a 1% change moves <= 2% of
the bytes. Prints one `figure=value` line per figure and a summary table. Every process it
starts is stopped by pid, also on Ctrl-C, SIGTERM or failure.

Usage: bench/bench_backup.py [--bin build/bin] [--objects 64] [--object-size 16m]
       [--backup-interval 40s] [--json result.json]
"""
import argparse
import datetime
import hashlib
import json
import mmap
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from availability import (Interrupted, Proxy, machine, on_sigterm,  # noqa: E402
                          parse_size)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FULL_TARGET = 2.0       # full backup time / raw copy time
DELTA_TARGET = 0.02     # bytes moved by the delta / total bytes


def value(index, version, size):
    return hashlib.shake_128(b"backup/%d/%d" % (index, version)).digest(size)


def raw_copy_seconds(total, block, fresh=False):
    """Seconds to move `total` bytes from one socket to another over loopback TCP: the sender
    writes `block`-sized buffers with sendall, a thread reads with recv_into into one reused
    buffer, or (`fresh`) into a new buffer per block as a peer storing chunks does: a private
    anonymous mapping with its pages populated when it is made (MAP_POPULATE), like icnode's
    store, so the baseline pays the same price for new memory and no more."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    sender = socket.create_connection(listener.getsockname())
    receiver, _ = listener.accept()
    listener.close()
    got = [0]
    done = threading.Event()

    def receive():
        buf = memoryview(bytearray(block))
        kept = []
        while got[0] < total:
            if fresh and got[0] % block == 0:
                m = mmap.mmap(-1, block, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
                              | mmap.MAP_POPULATE)
                kept.append(m)
                buf = memoryview(m)
            n = receiver.recv_into(buf[got[0] % block:], min(block - got[0] % block,
                                                             total - got[0]))
            if n == 0:
                break
            got[0] += n
        done.set()

    data = memoryview(value(0, 0, block))
    t = threading.Thread(target=receive, daemon=True)
    t.start()
    start = time.perf_counter()
    left = total
    while left > 0:
        n = min(block, left)
        sender.sendall(data[:n])
        left -= n
    done.wait(120)
    seconds = time.perf_counter() - start
    sender.close()
    receiver.close()
    t.join(5)
    if got[0] != total:
        raise RuntimeError("raw copy moved %d of %d bytes" % (got[0], total))
    return seconds


def log_events(path, event, since=0):
    """key=value fields of `event=NAME` lines in the proxy log from byte offset `since`."""
    out = []
    with open(path, "rb") as f:
        f.seek(since)
        for raw in f:
            line = raw.decode(errors="replace")
            if "event=%s " % event in line or line.rstrip().endswith("event=" + event):
                out.append(dict(re.findall(r"(\w+)=(\S+)", line)))
    return out


def wait_for(cond, deadline, what):
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("IC_BIN", os.path.join(ROOT, "build", "bin")))
    ap.add_argument("--objects", type=int, default=64)
    ap.add_argument("--object-size", type=parse_size, default=parse_size("16m"))
    ap.add_argument("--node-memory", type=int, default=1400, help="MiB of the one function")
    ap.add_argument("--backup-interval", default="40s",
                    help="icproxy --backup-interval; the fill must end within half of it")
    ap.add_argument("--change", type=float, default=0.01, help="fraction of objects overwritten")
    ap.add_argument("--baseline-runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600, help="bound on the whole run, seconds")
    ap.add_argument("--log-dir")
    ap.add_argument("--json")
    args = ap.parse_args()
    if not 1 <= args.objects <= 10000 or not 1 <= args.object_size <= (1 << 30):
        ap.error("bad --objects or --object-size")
    if not 0 < args.change <= 1 or not 1 <= args.baseline_runs <= 20:
        ap.error("bad --change or --baseline-runs")
    if not os.access(os.path.join(args.bin, "icproxy"), os.X_OK):
        ap.error("no icproxy in %s (build first, or pass --bin)" % args.bin)

    signal.signal(signal.SIGTERM, on_sigterm)
    # Ctrl-C must stop the run even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    total = args.objects * args.object_size
    log_dir = args.log_dir or tempfile.mkdtemp(prefix="ic-bench-backup-")
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, "bench-backup.log")
    deadline = time.monotonic() + args.timeout
    res = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": machine(), "objects": args.objects, "object_size": args.object_size,
           "total_bytes": total, "backup_interval": args.backup_interval, "log": log_path}
    proxy_args = ["--pool-size", "1", "--d", "1", "--p", "0", "--node-memory",
                  str(args.node_memory), "--backup-interval", args.backup_interval,
                  "--warmup-interval", "0", "--max-object-size", str(max(args.object_size,
                                                                          1 << 20)),
                  "--request-timeout", "60s", "--log-level", "info"]
    proxy = None
    status = 0
    try:
        runs = [raw_copy_seconds(total, args.object_size) for _ in range(args.baseline_runs)]
        res["raw_copy_seconds"] = min(runs)
        res["raw_copy_runs"] = runs
        print("figure=raw_copy_seconds value=%.3f gbps=%.2f runs=%s" % (
            min(runs), total / min(runs) / 1e9, ",".join("%.3f" % r for r in runs)), flush=True)
        runs = [raw_copy_seconds(total, args.object_size, fresh=True)
                for _ in range(args.baseline_runs)]
        res["raw_copy_fresh_seconds"] = min(runs)
        print("figure=raw_copy_fresh_memory_seconds value=%.3f gbps=%.2f runs=%s" % (
            min(runs), total / min(runs) / 1e9, ",".join("%.3f" % r for r in runs)), flush=True)

        print("icproxy %s (log %s)" % (" ".join(proxy_args), log_path), flush=True)
        proxy = Proxy(args.bin, proxy_args, log_path)
        r = redis.Redis(port=proxy.port, socket_timeout=120)
        start = time.monotonic()
        for i in range(args.objects):
            if time.monotonic() > deadline:
                raise RuntimeError("fill overran --timeout")
            r.set("b%d" % i, value(i, 1, args.object_size))
        res["fill_seconds"] = time.monotonic() - start
        info = r.info("all")
        print("figure=fill_seconds value=%.2f gbps=%.2f" % (
            res["fill_seconds"], total / res["fill_seconds"] / 1e9), flush=True)
        if info["backups_started"]:
            raise RuntimeError("a backup started before the fill ended (%.1f s); raise "
                               "--backup-interval above twice that" % res["fill_seconds"])
        if info["evicted_keys"]:
            raise RuntimeError("%d objects were evicted; raise --node-memory" %
                               info["evicted_keys"])

        info = wait_for(lambda: (lambda i: i if i["backups_ok"] + i["backups_failed"] >= 1
                                 else None)(r.info("all")), deadline, "the first backup")
        if info["backups_failed"]:
            raise RuntimeError("the first backup failed (see %s)" % log_path)
        done = log_events(log_path, "backup_done")
        relays = log_events(log_path, "relay_end")
        res["full"] = {"ms": info["last_backup_ms"], "bytes": info["last_backup_bytes"],
                       "log_ms": int(done[-1]["ms"]) if done else None,
                       "wire_bytes": sum(int(x.get("to_peer", 0)) + int(x.get("to_source", 0))
                                         for x in relays)}
        full_s = info["last_backup_ms"] / 1000.0
        res["full_ratio"] = full_s / res["raw_copy_seconds"] if res["raw_copy_seconds"] else None
        print("figure=full_backup_ms value=%d bytes=%d gbps=%.2f ratio_to_raw=%.2f target=<=%.1f"
              % (info["last_backup_ms"], info["last_backup_bytes"],
                 info["last_backup_bytes"] / max(full_s, 1e-9) / 1e9, res["full_ratio"],
                 FULL_TARGET), flush=True)
        if info["last_backup_bytes"] < total:
            print("warning: the first backup moved %d bytes, less than the %d stored" % (
                info["last_backup_bytes"], total), flush=True)

        # New memory is dearer on a VM when it was never touched before (the host backs the
        # guest's pages on first touch). The baseline above ran before the fill, on pages whose
        # backing the fill and the source then reused; the peer got pages nobody had touched.
        # The same copy again now, with both copies held, meets memory as new as the peer's.
        wait_for(lambda: r.info("all")["backups_active"] == 0, deadline, "no backup running")
        runs = [raw_copy_seconds(total, args.object_size, fresh=True)]
        res["raw_copy_fresh_after_seconds"] = min(runs)
        print("figure=raw_copy_fresh_memory_after_backup_seconds value=%.3f gbps=%.2f" % (
            min(runs), total / min(runs) / 1e9), flush=True)

        # A 1% change, then the next backup that starts after it.
        changed = max(1, round(args.objects * args.change))
        for i in range(changed):
            r.set("b%d" % i, value(i, 2, args.object_size))
        before = r.info("all")
        log_mark = os.path.getsize(log_path)
        started = before["backups_started"]
        info = wait_for(lambda: (lambda i: i if i["backups_started"] > started and
                                 i["backups_active"] == 0 else None)(r.info("all")),
                        deadline, "the backup after the change")
        relays = log_events(log_path, "relay_end", log_mark)
        moved = info["backup_bytes"] - before["backup_bytes"]
        res["delta"] = {"objects_changed": changed, "bytes_changed": changed * args.object_size,
                        "ms": info["last_backup_ms"], "bytes": moved,
                        "failed": info["backups_failed"] - before["backups_failed"],
                        "deletes": info["backup_deletes"] - before["backup_deletes"],
                        "wire_bytes": sum(int(x.get("to_peer", 0)) + int(x.get("to_source", 0))
                                          for x in relays)}
        res["delta_fraction"] = moved / total
        res["delta_wire_fraction"] = res["delta"]["wire_bytes"] / total
        print("figure=delta_backup_ms value=%d changed_objects=%d changed_fraction=%.4f "
              "bytes=%d fraction=%.4f wire_fraction=%.4f target=<=%.2f" % (
                  info["last_backup_ms"], changed, changed / args.objects, moved,
                  res["delta_fraction"], res["delta_wire_fraction"], DELTA_TARGET), flush=True)

        # The primary still serves what it holds: spot-check two objects.
        for i in (0, args.objects - 1):
            want = value(i, 2 if i < changed else 1, args.object_size)
            if r.get("b%d" % i) != want:
                raise RuntimeError("object b%d reads back wrong after the backups" % i)
        proxy.note_instances()
    except (KeyboardInterrupt, Interrupted) as e:
        print("interrupted (%s); every process stopped" % (str(e) or "Ctrl-C"), file=sys.stderr)
        status = 130
    except Exception as e:  # noqa: BLE001 -- report, still print what was measured
        print("bench_backup: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        res["error"] = "%s: %s" % (type(e).__name__, e)
        status = 1
    finally:
        if proxy:
            res["leaked_instances"] = proxy.stop()

    if "full" in res:
        print()
        print("| figure | measured | baseline | ratio | target | |")
        print("|---|---|---|---|---|---|")
        print("| full backup of %.2f GiB to the peer | %d ms | raw loopback TCP copy %.0f ms | "
              "%.2fx | <= %.1fx | %s |" % (
                  total / 2**30, res["full"]["ms"], 1e3 * res["raw_copy_seconds"],
                  res["full_ratio"], FULL_TARGET,
                  "met" if res["full_ratio"] <= FULL_TARGET else "MISSED"))
        print("| (context) the same copy into fresh memory, a new buffer per object | | %.0f ms "
              "| %.2fx | | |" % (1e3 * res["raw_copy_fresh_seconds"],
                                 res["full"]["ms"] / 1e3 / res["raw_copy_fresh_seconds"]))
        if "raw_copy_fresh_after_seconds" in res:
            print("| (context) the same, measured after the backup (memory as new as the peer's) "
                  "| | %.0f ms | %.2fx | | |" % (
                      1e3 * res["raw_copy_fresh_after_seconds"],
                      res["full"]["ms"] / 1e3 / res["raw_copy_fresh_after_seconds"]))
        if "delta" in res:
            d = res["delta"]
            print("| delta after %d of %d objects changed (%.2f%%) | %d ms, %.1f MiB | total "
                  "%.0f MiB | %.2f%% | <= %.0f%% | %s |" % (
                      d["objects_changed"], args.objects, 100.0 * d["objects_changed"] /
                      args.objects, d["ms"], d["bytes"] / 2**20, total / 2**20,
                      100 * res["delta_fraction"], 100 * DELTA_TARGET,
                      "met" if res["delta_fraction"] <= DELTA_TARGET else "MISSED"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1, sort_keys=True)
    print("log: %s" % log_path)
    return status


if __name__ == "__main__":
    sys.exit(main())
