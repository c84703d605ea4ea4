#!/usr/bin/python3
"""bench_billing.py -- billed cost of icnode's return policies (anticipatory vs the idle baseline)
under 1 ms and 100 ms billing, on the local platform, with this script playing the proxy.

For every case (stream x billing granularity x policy) it starts build/bin/icplatform with one
function (icnode0, one instance), listens where the node dials (docs/PROTOCOL.md sections 2-3)
and plays one request stream against it: when the node is asleep it invokes the function (Event),
waits for HELLO, sends PING then the request (as the proxy does after a quiet spell); while the
node is awake it just sends the request; after BYE the node is frozen and the next request
invokes again. Requests are CGETs of absent chunks (answered $-1), so the bench does not depend on
the CSET format. The same seeded schedule is played against every policy.

Streams: bursty (bursts of requests a few ms apart, separated by about a second), sparse (one
request every 150-300 ms) and steady (one every 30-120 ms: quiet spells longer than the idle
baseline waits, shorter than a 100 ms cycle). Figures come from the platform's billing log, checked
against GET /admin/stats.

Other IC_NODE_* variables in the environment reach the nodes too (the platform passes its
environment through), e.g. IC_NODE_BILLING_IDLE_MS to try another idle spell.

Prints one `figure=...` line per case and a table (Markdown) with GB-seconds per request,
invocations per request and the ratio anticipatory/idle (< 1: the anticipatory policy is
cheaper). Every process it starts is stopped by pid, also on failure.

Usage: bench/bench_billing.py [--build build] [--bursts 8] [--sparse 40] [--smoke] ...
"""
import argparse
import http.client
import json
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import nodeauth  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BenchError(Exception):
    pass


# ---- processes -------------------------------------------------------------------------------

def stop_process(proc, grace=10.0):
    """SIGTERM, wait up to grace seconds, then SIGKILL; always reaps."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kill_leftover(pids):
    """SIGKILLs instance processes our platform started that outlived it (pid still an icnode)."""
    for pid in pids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"icnode" not in f.read():
                    continue
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass


class Platform:
    """One icplatform process with one function; its stdout/stderr go to files in workdir."""

    def __init__(self, binary, handler, workdir, name, billing_ms, memory_mb, env_extra):
        self.log_path = os.path.join(workdir, name + ".platform.log")
        self.billing_path = os.path.join(workdir, name + ".billing.jsonl")
        self.instance_pids = set()
        env = dict(os.environ)
        env["IC_NODE_SECRET"] = nodeauth.SECRET  # this bench plays the proxy that holds it
        env.update(env_extra)
        # The admin API (stats, instances) answers only its token; the platform takes it from
        # the environment and removes it before any instance starts.
        self.admin_token = os.urandom(32).hex()
        env["IC_PLATFORM_ADMIN_TOKEN"] = self.admin_token
        out = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--function-count", "1", "--max-instances", "1",
             "--memory", str(memory_mb), "--billing", "%dms" % billing_ms, "--timeout", "60s",
             "--billing-log", self.billing_path, "--handler", handler, "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=out, env=env)
        out.close()
        self.port = None
        end = time.monotonic() + 15
        line = b""
        while time.monotonic() < end:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                c = os.read(self.proc.stdout.fileno(), 1)
                if not c:
                    break
                line += c
                if c == b"\n":
                    if line.startswith(b"READY port="):
                        self.port = int(line.split(b"=", 1)[1])
                        return
                    line = b""
            if self.proc.poll() is not None:
                break
        self.stop()
        raise BenchError("icplatform did not print READY (log: %s)" % self.log_path)

    def request(self, method, path, body=b"", headers=None, timeout=10):
        headers = dict(headers or {})
        if path.startswith("/admin"):
            headers["Authorization"] = "Bearer " + self.admin_token
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def invoke_event(self, payload):
        status, body = self.request(
            "POST", "/2015-03-31/functions/icnode0/invocations", nodeauth.seal(payload, "icnode0"),
            {"X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"})
        if status != 202:
            raise BenchError("Event invocation answered %d: %r" % (status, body[:200]))

    def invoke_sync(self, payload):
        return self.request(
            "POST", "/2015-03-31/functions/icnode0/invocations", nodeauth.seal(payload, "icnode0"),
            {"X-Amz-Invocation-Type": "RequestResponse", "Content-Type": "application/json"},
            timeout=30)

    def stats(self):
        status, body = self.request("GET", "/admin/stats")
        if status != 200:
            raise BenchError("/admin/stats answered %d" % status)
        return json.loads(body)

    def note_instances(self):
        status, body = self.request("GET", "/admin/instances")
        if status == 200:
            for inst in json.loads(body):
                if inst.get("pid"):
                    self.instance_pids.add(int(inst["pid"]))

    def billing_records(self):
        try:
            with open(self.billing_path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def stop(self):
        stop_process(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()
        kill_leftover(self.instance_pids)


# ---- the node protocol (RESP) ----------------------------------------------------------------

def resp_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


MAX_LINE = 4096      # no line the node sends is longer
MAX_ELEMENTS = 16    # HELLO has 7, the longest message the bench expects
MAX_BULK = 1 << 20   # no chunk is ever stored, so replies stay small


def resp_parse(buf, pos=0, depth=0):
    """One RESP value from buf[pos:]: (value, next_pos), or None when more bytes are needed.
    Simple strings come back as ('+', text), errors as ('-', text), null bulk as None."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        if len(buf) - pos > MAX_LINE:
            raise BenchError("RESP line over %d bytes" % MAX_LINE)
        return None
    line = bytes(buf[pos:end])
    t, rest, nxt = line[:1], line[1:], end + 2
    if t in (b"+", b"-"):
        return (t.decode(), rest.decode(errors="replace")), nxt
    if t == b":":
        return int(rest), nxt
    if t == b"$":
        n = int(rest)
        if n < 0:
            return ("null", None), nxt
        if n > MAX_BULK:
            raise BenchError("bulk of %d bytes" % n)
        if len(buf) < nxt + n + 2:
            return None
        return bytes(buf[nxt:nxt + n]), nxt + n + 2
    if t == b"*":
        n = int(rest)
        if n > MAX_ELEMENTS or depth > 2:
            raise BenchError("array of %d elements" % n)
        items = []
        for _ in range(n):
            r = resp_parse(buf, nxt, depth + 1)
            if r is None:
                return None
            v, nxt = r
            items.append(v)
        return items, nxt
    raise BenchError("bad RESP type byte in %r" % line[:40])


# ---- request streams -------------------------------------------------------------------------

def bursty_schedule(rng, bursts, size, spacing, gap_ms):
    """Offsets in ms: `bursts` bursts of `size` requests spacing[0]..spacing[1] ms apart, each
    burst starting gap_ms after the previous one ended (+-10 %)."""
    t, out = 0.0, []
    for _ in range(bursts):
        for i in range(size):
            if i:
                t += rng.uniform(*spacing)
            out.append(t)
        t += gap_ms * rng.uniform(0.9, 1.1)
    return out


def sparse_schedule(rng, count, gap):
    t, out = 0.0, []
    for _ in range(count):
        out.append(t)
        t += rng.uniform(*gap)
    return out


# ---- one case --------------------------------------------------------------------------------

class FakeProxy:
    """Plays the proxy for one node: invokes, answers HELLO/BYE, sends PING + CGETs in order."""

    def __init__(self, platform, listener, node_id=0):
        self.platform = platform
        self.listener = listener
        self.node_id = node_id
        self.sock = None
        self.buf = bytearray()
        self.awake = False
        self.invoking = False
        self.ping_next = False
        self.outstanding = []   # [kind, scheduled monotonic time], in the order sent
        self.latencies = []     # ms from scheduled time to the reply, CGETs only
        self.hellos = 0
        self.byes = 0
        self.invocations_sent = 0
        self.payload = {"cmd": "activate", "node_id": node_id,
                        "proxy": "127.0.0.1:%d" % listener.getsockname()[1]}

    def invoke(self):
        self.platform.invoke_event(self.payload)
        self.invoking = True
        self.invocations_sent += 1

    def send_request(self, seq, scheduled):
        data = b""
        if self.ping_next:
            data += resp_command("PING")
            self.outstanding.append(["PING", scheduled])
            self.ping_next = False
        data += resp_command("CGET", "bench:%d" % seq, 0, 1)
        self.outstanding.append(["CGET", scheduled])
        self.sock.sendall(data)

    def on_message(self, msg):
        if isinstance(msg, list) and msg and msg[0] == b"HELLO":
            self.hellos += 1
            self.awake, self.invoking = True, False
            self.ping_next = True  # the proxy pings before its first request after a quiet spell
            if self.hellos == 1:
                self.platform.note_instances()
            return
        if isinstance(msg, list) and msg and msg[0] == b"BILL":
            return  # the node's own billing record; this bench reads the platform's log
        if isinstance(msg, list) and msg == [b"BYE"]:
            self.byes += 1
            self.awake = False
            if self.outstanding and not self.invoking:
                self.invoke()  # requests written too late wait in the socket for the next one
            return
        if not self.outstanding:
            raise BenchError("unexpected message from the node: %r" % (msg,))
        kind, scheduled = self.outstanding.pop(0)
        want = ("+", "PONG") if kind == "PING" else ("null", None)
        if msg != want:
            raise BenchError("%s answered %r" % (kind, msg))
        if kind == "CGET":
            self.latencies.append((time.monotonic() - scheduled) * 1000.0)

    def pump(self, timeout):
        """Waits up to timeout seconds for input and handles every complete message."""
        fd = self.sock if self.sock else self.listener
        r, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not r:
            return
        if self.sock is None:
            self.sock, _ = self.listener.accept()
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.sendall(nodeauth.challenge_message(nodeauth.new_challenge()))
            return
        data = self.sock.recv(65536)
        if not data:
            raise BenchError("the node closed its connection")
        self.buf += data
        pos = 0
        while True:
            r = resp_parse(self.buf, pos)
            if r is None:
                break
            msg, pos = r
            self.on_message(msg)
        del self.buf[:pos]

    def play(self, offsets_ms, limit_s):
        start = time.monotonic() + 0.05
        end = start + offsets_ms[-1] / 1000.0 + limit_s
        i = 0
        while i < len(offsets_ms) or self.outstanding:
            now = time.monotonic()
            if now > end:
                raise BenchError("stream did not finish in time (%d of %d sent, %d unanswered)"
                                 % (i, len(offsets_ms), len(self.outstanding)))
            if i < len(offsets_ms) and now >= start + offsets_ms[i] / 1000.0:
                if self.awake:
                    self.send_request(i, start + offsets_ms[i] / 1000.0)
                    i += 1
                    continue
                if not self.invoking:
                    self.invoke()
            wait = 0.05
            if i < len(offsets_ms) and now < start + offsets_ms[i] / 1000.0:
                wait = min(wait, start + offsets_ms[i] / 1000.0 - now)
            self.pump(wait)
        # The node returns by itself; its last invocation is billed when it says BYE.
        end = time.monotonic() + 30
        while self.awake or self.invoking:
            if time.monotonic() > end:
                raise BenchError("the node did not return its last invocation")
            self.pump(0.05)


def run_case(args, workdir, stream, offsets, billing_ms, policy):
    name = "%s-%dms-%s" % (stream, billing_ms, policy)
    env = {"IC_NODE_BILLING_MS": str(billing_ms), "IC_NODE_RETURN_POLICY": policy,
           "IC_NODE_LOG_LEVEL": "info"}
    if args.idle_return_ms is not None:
        env["IC_NODE_IDLE_RETURN_MS"] = str(args.idle_return_ms)
    bindir = os.path.join(args.build, "bin")
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    plat = Platform(os.path.join(bindir, "icplatform"), os.path.join(bindir, "icnode"), workdir,
                    name, billing_ms, args.memory, env)
    proxy = FakeProxy(plat, listener)
    try:
        proxy.play(offsets, args.case_limit)
        stats = plat.stats()
        records = plat.billing_records()
    finally:
        if proxy.sock:
            proxy.sock.close()
        listener.close()
        plat.stop()
    activates = [r for r in records if r.get("kind") == "activate"]
    requests = len(proxy.latencies)
    if requests != len(offsets):
        raise BenchError("%s: %d of %d requests answered" % (name, requests, len(offsets)))
    if not activates or any(r.get("outcome") != "ok" for r in activates):
        raise BenchError("%s: activate invocations missing or failed: %r" % (name, activates[:3]))
    if stats.get("billed_ms") != sum(r["billed_ms"] for r in records):
        raise BenchError("%s: /admin/stats billed_ms %r disagrees with the billing log"
                         % (name, stats.get("billed_ms")))
    billed = sum(r["billed_ms"] for r in activates)
    gbs = sum(r["billed_ms"] / 1000.0 * r["memory_mb"] / 1024.0 for r in activates)
    lat = sorted(proxy.latencies)
    return {
        "case": name, "stream": stream, "billing_ms": billing_ms, "policy": policy,
        "requests": requests, "invocations": len(activates),
        "billed_ms": billed, "gb_seconds": gbs,
        "stats_gb_seconds": stats.get("gb_seconds"), "stats_billed_ms": stats.get("billed_ms"),
        "duration_ms": sum(r["duration_ms"] for r in activates),
        "gbs_per_request": gbs / requests, "invocations_per_request": len(activates) / requests,
        "billed_ms_per_invocation": billed / len(activates),
        "latency_p50_ms": lat[len(lat) // 2], "latency_p99_ms": lat[min(len(lat) - 1,
                                                                        int(len(lat) * 0.99))],
        "billing_log": plat.billing_path,
    }


def fmt_ratio(a, b):
    return "%.2f" % (a / b) if b else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build dir with bin/")
    ap.add_argument("--streams", default="bursty,sparse,steady")
    ap.add_argument("--billing", default="1,100", help="granularities in ms")
    ap.add_argument("--policies", default="anticipatory,idle")
    ap.add_argument("--bursts", type=int, default=8)
    ap.add_argument("--burst-size", type=int, default=20)
    ap.add_argument("--burst-spacing-ms", default="2-8", help="MIN-MAX between requests")
    ap.add_argument("--burst-gap-ms", type=float, default=1000)
    ap.add_argument("--sparse", type=int, default=40, help="requests in the sparse stream")
    ap.add_argument("--sparse-gap-ms", default="150-300", help="MIN-MAX between requests")
    ap.add_argument("--steady", type=int, default=40, help="requests in the steady stream")
    ap.add_argument("--steady-gap-ms", default="30-120", help="MIN-MAX between requests")
    ap.add_argument("--idle-return-ms", type=int, default=None,
                    help="IC_NODE_IDLE_RETURN_MS for the idle baseline (default: the node's, 20)")
    ap.add_argument("--memory", type=int, default=1024, help="function memory in MiB")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--case-limit", type=float, default=30.0,
                    help="seconds a case may run beyond its schedule")
    ap.add_argument("--total-limit", type=float, default=900.0, help="seconds for all cases")
    ap.add_argument("--work-dir", default=None, help="keep logs here (default: a temp dir)")
    ap.add_argument("--json", default=None, help="write the results as JSON to this file")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny counts (2 bursts of 3, 3 sparse requests) for a quick check")
    args = ap.parse_args()
    if args.smoke:
        args.bursts, args.burst_size, args.burst_gap_ms = 2, 3, 300
        args.sparse = args.steady = 3
    for b in ("icplatform", "icnode"):
        if not os.access(os.path.join(args.build, "bin", b), os.X_OK):
            sys.exit("bench_billing.py: %s/bin/%s not found: build first" % (args.build, b))

    def span(text):
        lo, _, hi = text.partition("-")
        return float(lo), float(hi or lo)

    rng = random.Random(args.seed)
    schedules = {
        "bursty": bursty_schedule(rng, args.bursts, args.burst_size, span(args.burst_spacing_ms),
                                  args.burst_gap_ms),
        "sparse": sparse_schedule(rng, args.sparse, span(args.sparse_gap_ms)),
        "steady": sparse_schedule(rng, args.steady, span(args.steady_gap_ms)),
    }
    streams = [s for s in args.streams.split(",") if s]
    for s in streams:
        if s not in schedules or not schedules[s]:
            sys.exit("bench_billing.py: unknown or empty stream %r" % s)
    granularities = [int(g) for g in args.billing.split(",") if g]
    policies = [p for p in args.policies.split(",") if p]

    workdir = args.work_dir or tempfile.mkdtemp(prefix="icbilling.")
    os.makedirs(workdir, exist_ok=True)
    print("# machine: %d cpus, %s, %s" % (os.cpu_count(), cpu_model(), time.strftime(
        "%Y-%m-%d %H:%M %Z")))
    print("# bursty: %d bursts of %d, %s ms apart, gap %g ms; sparse: %d requests %s ms apart; "
          "steady: %d requests %s ms apart; memory %d MiB; idle-return %s; seed %d"
          % (args.bursts, args.burst_size, args.burst_spacing_ms, args.burst_gap_ms, args.sparse,
             args.sparse_gap_ms, args.steady, args.steady_gap_ms, args.memory,
             "%d ms" % args.idle_return_ms if args.idle_return_ms is not None else "default",
             args.seed))
    deadline = time.monotonic() + args.total_limit
    results = []
    try:
        for stream in streams:
            for g in granularities:
                for policy in policies:
                    if time.monotonic() > deadline:
                        raise BenchError("total time limit reached")
                    r = run_case(args, workdir, stream, schedules[stream], g, policy)
                    results.append(r)
                    print("figure=billing_%s requests=%d invocations=%d billed_ms=%d "
                          "gb_seconds=%.4f gbs_per_request=%.6f invocations_per_request=%.3f "
                          "billed_ms_per_invocation=%.1f latency_p50_ms=%.2f latency_p99_ms=%.2f"
                          % (r["case"].replace("-", "_"), r["requests"], r["invocations"],
                             r["billed_ms"], r["gb_seconds"], r["gbs_per_request"],
                             r["invocations_per_request"], r["billed_ms_per_invocation"],
                             r["latency_p50_ms"], r["latency_p99_ms"]), flush=True)
    except BenchError as e:
        print("bench_billing.py: %s (logs kept in %s)" % (e, workdir), file=sys.stderr)
        return 1
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if not args.work_dir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown cpu"


def print_table(results):
    base = {(r["stream"], r["billing_ms"]): r for r in results if r["policy"] == "idle"}
    print()
    print("| stream | billing | policy | requests | invocations | invocations/request | "
          "billed ms/invocation | GB-s/request | GB-s ratio vs idle | invocations ratio vs idle "
          "| latency p50 / p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        b = base.get((r["stream"], r["billing_ms"]))
        print("| %s | %d ms | %s | %d | %d | %.3f | %.1f | %.6f | %s | %s | %.1f / %.1f |" % (
            r["stream"], r["billing_ms"], r["policy"], r["requests"], r["invocations"],
            r["invocations_per_request"], r["billed_ms_per_invocation"], r["gbs_per_request"],
            fmt_ratio(r["gbs_per_request"], b["gbs_per_request"]) if b else "-",
            fmt_ratio(r["invocations_per_request"], b["invocations_per_request"]) if b else "-",
            r["latency_p50_ms"], r["latency_p99_ms"]))


if __name__ == "__main__":
    sys.exit(main())
