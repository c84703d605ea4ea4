#!/usr/bin/python3
"""availability.py -- how many GETs InfiniCache answers correctly while the platform reclaims
function instances at random, without backup, with backup, and with backup + background repair.

Each way starts its own icproxy (with the embedded local platform) on free ports, with the same
seed, the same random-reclaim rate and the same time compression, fills the cache with every key
once, and then plays a fixed-rate mixed workload for `--hours` simulated hours (`--compression`
simulated seconds per real second: one hour runs in a minute by default):

- keys `obj:0..N-1` with Zipf-like popularity; sizes between `--min-size` and `--max-size`;
- `--get-fraction` of the requests are GETs, the rest SETs of a new version of the key;
- a value is derived from (key, version) alone, so the script keeps one counter per key and
  regenerates the expected bytes to check a GET;
- a GET of a key must return exactly its latest value; a miss (or an error) counts as
  unavailable and is followed by a SET of the latest value (cache fill); a hit with other bytes
  counts as wrong (stale if it is an older version of the key) and must never happen.

Per way it reports the GETs, the fraction answered right (overall and per simulated hour), the
losses and repairs (INFO), backups, reclaims and cold starts (the platform's /admin/stats), and
the billed cost of warm-up, backup and serving (GB-seconds by kind times the Lambda price, plus
the request fee), all as differences over the measured window. Prints a table beside the paper's
figures and writes everything to `--json`. Every process it starts is stopped by pid, also on
Ctrl-C, SIGTERM or failure.

Usage: bench/availability.py [--bin build/bin] [--hours 1] [--compression 60]
       [--reclaim-rate 1] [--ways none,backup,repair] [--json result.json] ...
"""
import argparse
import bisect
import datetime
import hashlib
import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# AWS Lambda list prices (x86_64, us-east-1, first tier) from the price file the cost reports use.
with open(os.path.join(ROOT, "data", "prices", "current.json")) as _f:
    _LAMBDA = json.load(_f)["lambda"]["x86_64"]
PRICE_PER_GB_SECOND = _LAMBDA["gb_second"]["value"]
PRICE_PER_REQUEST = _LAMBDA["requests"]["value"] / 1e6
PRICE_NOTE = ("AWS Lambda on-demand x86_64, us-east-1, first tier: $%.10f per GB-second and "
              "$%.2f per 1M requests (data/prices/current.json, recorded %s)"
              % (PRICE_PER_GB_SECOND, _LAMBDA["requests"]["value"], _LAMBDA["gb_second"]["recorded"]))

# FAST'20 paper, section 5 (one-hour windows on AWS Lambda, RS(10+2), warm-up every minute).
PAPER_AVAILABILITY = {"none": 0.814, "backup": 0.954, "repair": None}

# way name -> (label, icproxy options that make it)
WAYS = {
    "none": ("no backup", ["--backup-interval", "0", "--repair", "no"]),
    "backup": ("backup", ["--repair", "no"]),
    "repair": ("backup + repair", ["--repair", "yes"]),
}

# Counters compared at the start and the end of the measured window.
INFO_COUNTERS = ["objects_lost", "chunks_lost", "chunks_repaired", "repairs_started",
                 "repair_bytes", "backups_started", "backups_ok", "backups_failed",
                 "backup_bytes", "evicted_keys", "warmups", "invocations", "invoke_failures",
                 "node_timeouts", "keyspace_hits", "keyspace_misses", "error_replies",
                 "rebuilt_objects"]
PLATFORM_COUNTERS = ["requests", "cold_starts", "reclaims_random", "reclaims_idle",
                     "reclaims_admin", "timeouts", "errors", "throttles", "gb_seconds",
                     "billed_ms"]
KINDS = ["activate", "warmup", "backup", "other"]

SIZE_SUFFIX = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text):
    m = re.fullmatch(r"(\d+)([kmg]?)", text.strip().lower())
    if not m:
        raise argparse.ArgumentTypeError("bad size %r (e.g. 256k, 1m)" % text)
    return int(m.group(1)) * SIZE_SUFFIX[m.group(2)]


class Interrupted(Exception):
    """SIGTERM, turned into an exception so every `finally` runs."""


def on_sigterm(signum, frame):
    raise Interrupted("signal %d" % signum)


def machine():
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        model = m.group(1).strip() if m else ""
    except (OSError, subprocess.SubprocessError):
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": os.uname().release}


class Proxy:
    """An icproxy on free ports with its embedded platform; stdout and stderr go to `log_path`.
    stop() ends it by pid and checks that the instances it ran are gone."""

    def __init__(self, bin_dir, args, log_path, ready_timeout=60.0):
        self.log = open(log_path, "ab")
        self.instance_pids = set()
        # The platform's admin API answers only its token: give the proxy one to pass on.
        self.admin_token = os.urandom(32).hex()
        fd, self.token_file = tempfile.mkstemp(prefix="icproxy-token-")
        with os.fdopen(fd, "w") as f:
            f.write(self.admin_token + "\n")
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "icproxy"), "--client-port", "0", "--node-port", "0",
             "--relay-port", "0", "--platform-admin-token-file", self.token_file, *args],
            stdout=subprocess.PIPE, stderr=self.log, start_new_session=True)
        self.port = self.platform = None
        banner = b""
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + ready_timeout
        try:
            while time.monotonic() < deadline and (self.port is None or self.platform is None):
                if not select.select([fd], [], [], 0.2)[0]:
                    continue
                data = os.read(fd, 4096)
                if not data:
                    break
                banner += data
                m = re.search(rb"clients on [^:\s]+:(\d+)", banner)
                if m:
                    self.port = int(m.group(1))
                m = re.search(rb"\nplatform: (\S+)", banner)
                if m:
                    self.platform = m.group(1).decode()
            if self.port is None or self.platform is None:
                raise RuntimeError("icproxy did not become ready: %r (log: %s)" % (banner,
                                                                                  log_path))
        except BaseException:
            self.stop()
            raise
        self.log.write(banner)
        self.log.flush()
        # Whatever icproxy prints later goes to the log, so a full pipe never blocks it.
        threading.Thread(target=self._drain, args=(fd,), daemon=True).start()

    def _drain(self, fd):
        try:
            while True:
                data = os.read(fd, 65536)
                if not data:
                    return
                self.log.write(data)
        except (OSError, ValueError):
            return

    def admin(self, path):
        req = urllib.request.Request(self.platform + path,
                                     headers={"Authorization": "Bearer " + self.admin_token})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def note_instances(self):
        """Remembers the pids of the platform's instances, to check after stop() that they died
        with it."""
        try:
            for inst in self.admin("/admin/instances"):
                if inst.get("pid", 0) > 0:
                    self.instance_pids.add(inst["pid"])
        except (OSError, ValueError):
            pass

    def stop(self):
        """SIGTERM, then SIGKILL after 20 s. Returns the pids of instances that outlived the
        proxy (killed here); they die with the platform, so this should be empty."""
        if os.path.exists(self.token_file):
            os.unlink(self.token_file)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        leaked = []
        deadline = time.monotonic() + 5
        for pid in sorted(self.instance_pids):
            while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if os.path.exists("/proc/%d" % pid) and not zombie(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                    leaked.append(pid)
                except OSError:
                    pass
        self.log.close()
        return leaked


def zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class Workload:
    """The request stream: the same for every way with the same seed. Random draws never
    depend on the answers, so the ways differ only in the cache fills their misses cause."""

    def __init__(self, args):
        self.rnd = random.Random(args.seed)
        self.keys = args.keys
        self.seed = args.seed
        self.min_size, self.max_size = args.min_size, args.max_size
        self.get_fraction = args.get_fraction
        weights = [1.0 / (rank + 1) ** args.zipf for rank in range(args.keys)]
        self.cumulative = []
        total = 0.0
        for w in weights:
            total += w
            self.cumulative.append(total)
        self.version = [0] * args.keys      # latest version acknowledged by the cache
        self.uncertain = {}                 # key -> version a failed SET may have stored

    def next_op(self):
        key = min(bisect.bisect_left(self.cumulative, self.rnd.random() * self.cumulative[-1]),
                  self.keys - 1)
        return ("GET" if self.rnd.random() < self.get_fraction else "SET"), key

    @staticmethod
    def name(key):
        return "obj:%d" % key

    def value(self, key, version):
        """The bytes of version `version` of `key`: a header naming both, then SHAKE-128 of the
        seed, key and version, to a size that is also derived from them."""
        h = hashlib.shake_128(b"%d/%d/%d" % (self.seed, key, version))
        size = self.min_size + int.from_bytes(h.digest(8), "little") % (
            self.max_size - self.min_size + 1)
        head = b"%d:%d:" % (key, version)
        return head + h.digest(size - len(head) + 8)[8:]


def percentile(values, q):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def snapshot(r, proxy):
    info = r.info("all")
    stats = proxy.admin("/admin/stats")
    proxy.note_instances()
    return info, stats


def counter_deltas(before, after):
    info0, stats0 = before
    info1, stats1 = after
    out = {k: info1.get(k, 0) - info0.get(k, 0) for k in INFO_COUNTERS}
    out.update({"platform_" + k: stats1.get(k, 0) - stats0.get(k, 0) for k in PLATFORM_COUNTERS})
    for figure in ("requests_by_kind", "gb_seconds_by_kind", "billed_ms_by_kind"):
        a, b = stats0.get(figure, {}), stats1.get(figure, {})
        out["platform_" + figure] = {k: b.get(k, 0) - a.get(k, 0) for k in KINDS}
    return out


def costs(deltas, hours):
    """US dollars per simulated hour by what the invocations were for: warm-up, backup (both
    ends), serving (activations that carry requests, and anything else)."""
    gbs = deltas["platform_gb_seconds_by_kind"]
    req = deltas["platform_requests_by_kind"]

    def usd(kinds):
        return sum(gbs[k] * PRICE_PER_GB_SECOND + req[k] * PRICE_PER_REQUEST for k in kinds) / hours

    out = {"warmup": usd(["warmup"]), "backup": usd(["backup"]),
           "serving": usd(["activate", "other"])}
    out["total"] = sum(out.values())
    out["gb_seconds_per_hour"] = {k: gbs[k] / hours for k in KINDS}
    out["requests_per_hour"] = {k: req[k] / hours for k in KINDS}
    return out


def log_findings(path, limit=8):
    """Warning and error lines of a way's log (proxy, platform, nodes): count and first few."""
    count, examples = 0, []
    try:
        with open(path, "rb") as f:
            for raw in f:
                line = raw.decode(errors="replace").rstrip()
                if re.match(r"^\S+ [WE] ", line) or " level=warn" in line or " level=error" in line:
                    count += 1
                    if len(examples) < limit:
                        examples.append(line[:300])
    except OSError:
        pass
    return {"warnings_and_errors": count, "examples": examples}


def run_way(args, way, log_dir):
    label, way_args = WAYS[way]
    log_path = os.path.join(log_dir, "availability-%s.log" % way)
    proxy_args = ["--pool-size", str(args.pool_size), "--d", str(args.d), "--p", str(args.p),
                  "--node-memory", str(args.node_memory), "--time-compression",
                  "%g" % args.compression, "--reclaim-rate", "%g" % args.reclaim_rate,
                  "--seed", str(args.seed), "--node-idle-return", args.node_idle_return,
                  "--log-level", "info", *way_args, *args.proxy_arg]
    print("[%s] icproxy %s (log %s)" % (way, " ".join(proxy_args), log_path), flush=True)
    proxy = Proxy(args.bin, proxy_args, log_path)
    result = {"way": way, "label": label, "proxy_args": proxy_args, "log": log_path}
    try:
        r = redis.Redis(port=proxy.port, socket_timeout=args.request_timeout)
        wl = Workload(args)
        real_seconds = args.hours * 3600.0 / args.compression
        deadline = time.monotonic() + real_seconds + args.slack

        # Fill: every key once, as fast as the cache takes it.
        t = time.monotonic()
        fill_errors = 0
        for key in range(args.keys):
            if time.monotonic() > deadline:
                raise RuntimeError("fill did not finish within the time bound")
            try:
                r.set(wl.name(key), wl.value(key, 1))
                wl.version[key] = 1
            except redis.RedisError:
                fill_errors += 1
        result["prefill_seconds"] = round(time.monotonic() - t, 3)
        result["prefill_errors"] = fill_errors

        before = snapshot(r, proxy)
        c = {"gets": 0, "gets_of_cached": 0, "right": 0, "misses": 0, "get_errors": 0,
             "wrong_bytes": 0, "stale": 0, "cold_misses": 0, "sets": 0, "set_errors": 0,
             "fills": 0, "fill_errors": 0, "connection_errors": 0}
        hours = {}
        latency = {"GET": [], "SET": []}
        wrong_examples = []
        t0 = time.monotonic()
        n = 0
        next_note = t0 + 1.0

        def fill(key):
            c["fills"] += 1
            try:
                r.set(wl.name(key), wl.value(key, wl.version[key]))
            except redis.ConnectionError:
                c["connection_errors"] += 1
                c["fill_errors"] += 1
            except redis.RedisError:
                c["fill_errors"] += 1

        while True:
            now = time.monotonic()
            if now - t0 >= real_seconds:
                break
            if now > deadline:
                raise RuntimeError("workload overran its time bound")
            due = t0 + n / args.rate
            if due > now:
                time.sleep(min(due - now, real_seconds - (now - t0)))
                continue
            if now >= next_note:
                proxy.note_instances()
                next_note = now + 1.0
            op, key = wl.next_op()
            n += 1
            hour = int((now - t0) * args.compression / 3600.0)
            h = hours.setdefault(hour, {"gets": 0, "right": 0})
            if op == "SET":
                c["sets"] += 1
                version = wl.version[key] + 1
                start = time.monotonic()
                try:
                    r.set(wl.name(key), wl.value(key, version))
                    wl.version[key] = version
                    wl.uncertain.pop(key, None)
                    latency["SET"].append(time.monotonic() - start)
                except redis.RedisError as e:
                    # A refused SET leaves the previous version in place (ARCHITECTURE.md); one
                    # cut off by a lost connection may or may not have landed.
                    c["set_errors"] += 1
                    if isinstance(e, redis.ConnectionError):
                        c["connection_errors"] += 1
                    wl.uncertain[key] = version
                continue
            c["gets"] += 1
            expected_version = wl.version[key]
            if expected_version == 0:
                c["cold_misses"] += 1
            else:
                c["gets_of_cached"] += 1
                h["gets"] += 1
            start = time.monotonic()
            try:
                got = r.get(wl.name(key))
            except redis.RedisError as e:
                c["get_errors"] += 1
                if isinstance(e, redis.ConnectionError):
                    c["connection_errors"] += 1
                fill(key)
                continue
            latency["GET"].append(time.monotonic() - start)
            if got is None:
                if expected_version:
                    c["misses"] += 1
                fill(key)
                continue
            if expected_version and got == wl.value(key, expected_version):
                c["right"] += 1
                h["right"] += 1
                continue
            alt = wl.uncertain.get(key)
            if alt is not None and got == wl.value(key, alt):
                # The SET that failed on the client's side had landed after all.
                wl.version[key] = alt
                del wl.uncertain[key]
                c["right"] += 1
                h["right"] += 1
                continue
            c["wrong_bytes"] += 1
            m = re.match(rb"(\d+):(\d+):", got[:40])
            if m and int(m.group(1)) == key and int(m.group(2)) < expected_version:
                c["stale"] += 1
            if len(wrong_examples) < 10:
                wrong_examples.append({"key": wl.name(key), "expected_version": expected_version,
                                       "got_len": len(got), "got_head": got[:24].decode(
                                           "latin-1")})
        elapsed = time.monotonic() - t0
        after = snapshot(r, proxy)
        deltas = counter_deltas(before, after)
        result.update(c)
        result["requests"] = n
        result["real_seconds"] = round(elapsed, 3)
        result["achieved_rate"] = round(n / elapsed, 2) if elapsed > 0 else 0
        result["availability"] = c["right"] / c["gets_of_cached"] if c["gets_of_cached"] else None
        result["per_hour"] = [{"hour": k, "gets": v["gets"], "right": v["right"],
                               "availability": v["right"] / v["gets"] if v["gets"] else None}
                              for k, v in sorted(hours.items())]
        result["latency_ms"] = {op: {"p50": round(1e3 * percentile(v, 0.5), 2) if v else None,
                                     "p99": round(1e3 * percentile(v, 0.99), 2) if v else None}
                                for op, v in latency.items()}
        result["wrong_examples"] = wrong_examples
        result["counters"] = deltas
        result["objects_lost"] = deltas["objects_lost"]
        result["chunks_lost"] = deltas["chunks_lost"]
        result["chunks_repaired"] = deltas["chunks_repaired"]
        result["backups_ok"] = deltas["backups_ok"]
        result["backups_failed"] = deltas["backups_failed"]
        result["evictions"] = deltas["evicted_keys"]
        result["reclaims"] = deltas["platform_reclaims_random"]
        result["reclaims_idle"] = deltas["platform_reclaims_idle"]
        result["cost_per_hour_usd"] = costs(deltas, args.hours)
        result["info_at_end"] = {k: after[0].get(k) for k in
                                 ("objects", "object_bytes", "placed_bytes", "capacity_bytes",
                                  "nodes_down", "backups_active")}
    finally:
        result["leaked_instances"] = proxy.stop()
    result.update(log_findings(log_path))
    return result


def fmt_pct(x):
    return "-" if x is None else "%.1f%%" % (100 * x)


def print_table(res):
    print()
    print("| way | GETs of cached keys | right | paper | misses+errors | wrong bytes "
          "| objects lost | chunks lost / repaired | backups ok / failed | reclaims | evictions "
          "| $/h warm-up | $/h backup | $/h serving |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for w in res["ways"]:
        c = w["cost_per_hour_usd"]
        print("| %s | %d | %s | %s | %d | %d | %d | %d / %d | %d / %d | %d | %d | %.6f | %.6f "
              "| %.6f |" % (
                  w["label"], w["gets_of_cached"], fmt_pct(w["availability"]),
                  fmt_pct(PAPER_AVAILABILITY.get(w["way"])), w["misses"] + w["get_errors"],
                  w["wrong_bytes"], w["objects_lost"], w["chunks_lost"], w["chunks_repaired"],
                  w["backups_ok"], w["backups_failed"], w["reclaims"], w["evictions"],
                  c["warmup"], c["backup"], c["serving"]))
    print()
    print("simulated hours %g at %gx (%.0f s real per way), reclaim rate %g per instance-hour, "
          "seed %d; prices: %s" % (res["params"]["hours"], res["params"]["compression"],
                                   res["params"]["hours"] * 3600 / res["params"]["compression"],
                                   res["params"]["reclaim_rate"], res["params"]["seed"],
                                   PRICE_NOTE))
    for w in res["ways"]:
        if len(w["per_hour"]) > 1:
            print("%s per hour: %s" % (w["label"], " ".join(fmt_pct(h["availability"])
                                                            for h in w["per_hour"])))
        if w["warnings_and_errors"]:
            print("%s: %d warning/error log lines, e.g. %s" % (
                w["label"], w["warnings_and_errors"], w["examples"][0]))
        if w["leaked_instances"]:
            print("%s: instances outlived icproxy and were killed: %s" % (
                w["label"], w["leaked_instances"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("IC_BIN", os.path.join(ROOT, "build", "bin")),
                    help="directory with icproxy, icplatform, icnode (default $IC_BIN, else "
                         "build/bin)")
    ap.add_argument("--hours", type=float, default=1.0, help="simulated hours per way (default 1)")
    ap.add_argument("--compression", type=float, default=60.0,
                    help="simulated seconds per real second (default 60)")
    ap.add_argument("--reclaim-rate", type=float, default=1.0,
                    help="random reclaims per idle instance-hour (default 1)")
    ap.add_argument("--seed", type=int, default=1, help="workload and reclaim seed (default 1)")
    ap.add_argument("--ways", default="none,backup,repair",
                    help="comma list of none, backup, repair (default: all three)")
    ap.add_argument("--keys", type=int, default=300)
    ap.add_argument("--min-size", type=parse_size, default=parse_size("256k"))
    ap.add_argument("--max-size", type=parse_size, default=parse_size("1m"))
    ap.add_argument("--zipf", type=float, default=0.9, help="popularity exponent (default 0.9)")
    ap.add_argument("--get-fraction", type=float, default=0.7)
    ap.add_argument("--rate", type=float, default=20.0, help="requests per real second")
    ap.add_argument("--pool-size", type=int, default=20)
    ap.add_argument("--d", type=int, default=10)
    ap.add_argument("--p", type=int, default=2)
    ap.add_argument("--node-memory", type=int, default=256, help="MiB per function")
    ap.add_argument("--node-idle-return", default="10ms",
                    help="icproxy --node-idle-return (default 10ms, icproxy's own: the linger "
                         "is not compressed, and nodes that linger between compressed requests "
                         "are never idle, so never reclaimed)")
    ap.add_argument("--request-timeout", type=float, default=30.0,
                    help="client socket timeout, seconds")
    ap.add_argument("--slack", type=float, default=180.0,
                    help="seconds a way may run beyond its window (fill included) before it is "
                         "abandoned")
    ap.add_argument("--proxy-arg", action="append", default=[],
                    help="extra icproxy argument (repeat; e.g. --proxy-arg=--repair-rate "
                         "--proxy-arg=16m)")
    ap.add_argument("--log-dir", help="where the logs go (default: a new temporary directory)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    problems = [w for w in ways if w not in WAYS]
    if problems or not ways:
        ap.error("unknown way(s) %s; choose from %s" % (problems, ", ".join(WAYS)))
    if not 0 < args.hours <= 24 or not 1 <= args.compression <= 100000:
        ap.error("--hours must be in (0, 24] and --compression in [1, 100000]")
    if args.hours * 3600 / args.compression > 3600:
        ap.error("one way would run longer than an hour of real time; raise --compression")
    if not 1 <= args.keys <= 100000 or not 0 < args.min_size <= args.max_size <= (64 << 20):
        ap.error("bad --keys or sizes (1..100000 keys, 1 B .. 64 MiB)")
    if not 0 <= args.get_fraction <= 1 or args.rate <= 0 or args.reclaim_rate < 0:
        ap.error("bad --get-fraction, --rate or --reclaim-rate")
    if not os.access(os.path.join(args.bin, "icproxy"), os.X_OK):
        ap.error("no icproxy in %s (build first, or pass --bin)" % args.bin)

    log_dir = args.log_dir or tempfile.mkdtemp(prefix="ic-availability-")
    os.makedirs(log_dir, exist_ok=True)
    signal.signal(signal.SIGTERM, on_sigterm)
    # Ctrl-C must stop the run even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    res = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "params": {k: getattr(args, k) for k in (
            "hours", "compression", "reclaim_rate", "seed", "keys", "min_size", "max_size",
            "zipf", "get_fraction", "rate", "pool_size", "d", "p", "node_memory",
            "node_idle_return")},
        "prices": {"per_gb_second": PRICE_PER_GB_SECOND, "per_request": PRICE_PER_REQUEST,
                   "note": PRICE_NOTE},
        "paper_availability": PAPER_AVAILABILITY,
        "ways": [],
    }
    status = 0
    try:
        for way in ways:
            res["ways"].append(run_way(args, way, log_dir))
            w = res["ways"][-1]
            print("[%s] %d requests in %.1f s (%.1f/s), GETs of cached keys %d, right %s, "
                  "wrong %d, objects lost %d, reclaims %d" % (
                      way, w["requests"], w["real_seconds"], w["achieved_rate"],
                      w["gets_of_cached"], fmt_pct(w["availability"]), w["wrong_bytes"],
                      w["objects_lost"], w["reclaims"]), flush=True)
    except (KeyboardInterrupt, Interrupted) as e:
        print("interrupted (%s); every process stopped" % (str(e) or "Ctrl-C"), file=sys.stderr)
        status = 130
    except Exception as e:  # noqa: BLE001 -- report, still write what was measured
        print("availability: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        res["error"] = "%s: %s" % (type(e).__name__, e)
        status = 1
    if res["ways"]:
        print_table(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1, sort_keys=True)
        print("results: %s; logs: %s" % (args.json, log_dir))
    else:
        print("logs: %s" % log_dir)
    if any(w["wrong_bytes"] for w in res["ways"]):
        status = status or 2
    return status


if __name__ == "__main__":
    sys.exit(main())
