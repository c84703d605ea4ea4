#!/usr/bin/python3
"""proxy_cpu.py -- CPU time of icproxy per GB moved and per 1,000 small requests, beside
redis-server and memcached measured the same way in the same run.

What it measures, per server and per phase: the server process's own CPU time (utime + stime,
fields 14 and 15 of /proc/PID/stat, read just before and just after the phase). For icproxy that
is the proxy alone: its embedded platform is a child process and the cache nodes are the
platform's children, so their time is in icproxy's cutime/cstime (fields 16-17), never read here.
Phases, one client program each, run one after the other:

- 10 MiB objects (`--size`), `--runs` SETs then `--runs` GETs of one key, one client, with
  bench_objects (`--ops set` / `--ops get`): through libinfinicache (RS(--d + --p)) and through the
  Redis protocol (hiredis) into icproxy; the same hiredis client into redis-server; bench_objects'
  text-protocol client into memcached. Reported as CPU seconds per GB (10^9 bytes of object data
  moved by the client) and GB/s of wall clock (the runs' bytes over their total time).
- 1 KiB values, random keys: `redis-benchmark -t set` then `-t get` (`-d 1024 -P 16 -c 50
  -r 100000 -n --small-requests`) into icproxy and redis-server (phases small_set, small_get);
  and, since redis-benchmark cannot speak memcached's protocol, the same shape from a load loop
  here (50 connections, 16 requests pipelined on each, keys drawn uniformly from the same key
  space) into all three servers (small_set_loop, small_get_loop), so that every baseline has a
  same-client figure. Reported as CPU milliseconds per 1,000 requests and requests per second.
  A GET phase reads the keys the SET phases before it wrote (keys_after_<phase>).

Baselines: redis-server with its allocator told to keep freed pages (as bench/run-all.sh does,
so a 10 MiB request does not pay 2,560 page faults that say nothing about Redis), memcached
`-t 1` and `-t 2` (`-I` twice the object size, at least 16m, for the 10 MiB items). Ratios are
icproxy CPU / baseline CPU (lower is better for icproxy). The idle CPU rate of each server (its
timers, icproxy's warm-ups) is measured over `--idle-seconds` and reported, not subtracted.

`--proxy-arg ARG` (repeatable) passes ARG to icproxy, e.g. `--proxy-arg=--threads=2`.
`--profile DIR` then repeats the 10 MiB Redis-protocol GET and the small SET and GET phases
under `perf record` on icproxy's pid (not counted in the figures) and prints where the proxy's
time goes: its top symbols by self time and shares for copies, the rest of the kernel (syscalls,
TCP, epoll, scheduling), malloc, parsing and the proxy's own logic.

Every load is bounded in count and in time (`--phase-seconds`; redis-benchmark, which has no
time limit of its own, is killed `--phase-seconds` + 60 s after its start, which fails the run).
Every process it starts is stopped by pid, also on Ctrl-C, SIGTERM or failure. Talks only to
127.0.0.1.

Usage: bench/proxy_cpu.py [--bin build/bin] [--proxy-arg ARG]... [--json FILE] [--size 10m]
       [--runs 200] [--small-requests 200000] [--profile DIR] ...
Prints one key=value line per figure and ratio, then a Markdown table of them all.
"""
import argparse
import datetime
import json
import os
import random
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "proxy"))
from availability import Interrupted, Proxy, on_sigterm, parse_size  # noqa: E402
from tlscerts import free_port  # noqa: E402

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
GB = 1e9


def process_cpu(pid, tid=None):
    """(user, system) CPU seconds of process `pid` itself, all its threads, without children;
    of its thread `tid` alone when given."""
    path = "/proc/%d/stat" % pid if tid is None else "/proc/%d/task/%d/stat" % (pid, tid)
    with open(path) as f:
        # The command name (field 2) may hold blanks and parentheses: split after its last ')'.
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state), so utime (field 14) and stime (field 15) are [11] and [12].
    return int(fields[11]) / TICKS_PER_SECOND, int(fields[12]) / TICKS_PER_SECOND


def measured(pid, load, main_thread=False):
    """Runs load() (which returns a dict of what it did) between two readings of pid's CPU;
    main_thread: also of its main thread's (main_thread_share: that thread's CPU / wall time)."""
    user0, sys0 = process_cpu(pid)
    main0 = sum(process_cpu(pid, pid)) if main_thread else 0
    t0 = time.monotonic()
    result = load()
    wall = time.monotonic() - t0
    user1, sys1 = process_cpu(pid)
    if main_thread and wall > 0:
        result["main_thread_share"] = round((sum(process_cpu(pid, pid)) - main0) / wall, 3)
    result.update(wall_s=round(wall, 3), user_s=round(user1 - user0, 3),
                  sys_s=round(sys1 - sys0, 3), cpu_s=round(user1 - user0 + sys1 - sys0, 3))
    result["cpu_share"] = round(result["cpu_s"] / wall, 3) if wall > 0 else 0.0
    if result.get("kind") == "large" and result["bytes"]:
        result["cpu_s_per_gb"] = round(result["cpu_s"] / (result["bytes"] / GB), 4)
    if result.get("kind") == "small" and result["requests"]:
        result["cpu_ms_per_1k"] = round(result["cpu_s"] * 1e6 / result["requests"], 3)
    return result


# ---- the loads ----

def large_load(args, series, op, flag, addr):
    """One bench_objects series, one operation: `--runs` requests of `--size` bytes."""
    def load():
        cmd = [os.path.join(args.bin, "bench_objects"), "--only", series, "--ops", op,
               "--size", str(args.size), "--runs", str(args.runs), "--warmup", "0",
               "--series-seconds", str(args.phase_seconds), "--d", str(args.d), "--p",
               str(args.p), flag, addr]
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=args.phase_seconds + 60)
        m = re.search(r"^figure=%s_%s size=(\d+) runs=(\d+) median_ms=([\d.]+) .*total_ms=([\d.]+)"
                      % (op, series), out.stdout, re.M)
        if out.returncode != 0 or not m:
            raise RuntimeError("bench_objects %s %s failed: %s %s" % (series, op, out.stdout[-400:],
                                                                     out.stderr[-400:]))
        runs, total_ms = int(m.group(2)), float(m.group(4))
        return {"kind": "large", "op": op, "client": "bench_objects " + series,
                "value_size": args.size, "requests": runs, "bytes": runs * args.size,
                "complete": runs == args.runs, "median_ms": float(m.group(3)),
                "throughput_gbps": round(runs * args.size / (total_ms * 1e6), 3)}
    return load


def redis_benchmark_load(args, op, port):
    """redis-benchmark, one test, `--small-requests` requests over `--keyspace` random keys."""
    def load():
        cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", op,
               "-d", str(args.value_size), "-P", str(args.pipeline), "-c", str(args.clients),
               "-r", str(args.keyspace), "-n", str(args.small_requests), "-q"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.phase_seconds + 60)
        m = re.search(r"%s: ([\d.]+) requests per second" % op.upper(),
                      out.stdout.replace("\r", "\n"))
        if out.returncode != 0 or not m:
            raise RuntimeError("redis-benchmark -t %s failed: %s %s" % (op, out.stdout[-400:],
                                                                        out.stderr[-400:]))
        return {"kind": "small", "op": op, "client": "redis-benchmark",
                "value_size": args.value_size, "requests": args.small_requests,
                "bytes": args.small_requests * args.value_size, "complete": True,
                "throughput_rps": round(float(m.group(1)))}
    return load


class LoopConn:
    """One pipelining connection of the load loop: a batch out, its replies counted."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.out = b""
        self.expect = 0
        self.tails = {}

    def count(self, data, token):
        """Occurrences of `token` in a stream read in pieces: the last len(token) - 1 bytes of
        each piece are kept, so a token cut in two is counted once, by the piece completing it."""
        joined = self.tails.get(token, b"") + data
        self.tails[token] = joined[-(len(token) - 1):]
        return joined.count(token)


# Per protocol and operation: how one request is written, and the reply tokens that count a
# request done and a GET hit. Values are all 'x' and keys key:<12 digits>, so none of these
# tokens can occur inside a value or a key. Errors: memcached's ERROR, SERVER_ERROR and
# CLIENT_ERROR, RESP's -ERR and -OOM all contain "ERR" or "OOM".
def loop_protocol(proto, op, value_size):
    value = b"x" * value_size + b"\r\n"
    if proto == "memcached":
        if op == "set":
            return (lambda k: b"set key:%012d 0 0 %d\r\n%s" % (k, value_size, value),
                    [b"STORED\r\n"], None)
        return lambda k: b"get key:%012d\r\n" % k, [b"END\r\n"], b"VALUE "
    if op == "set":
        return (lambda k: b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$%d\r\n%s" %
                (k, value_size, value), [b"+OK\r\n"], None)
    # A hit ends with the value's last 'x' and CRLF; a miss is $-1.
    return (lambda k: b"*2\r\n$3\r\nGET\r\n$16\r\nkey:%012d\r\n" % k,
            [b"x\r\n", b"$-1\r\n"], b"x\r\n")


def loop_load(args, proto, op, port, seed):
    """redis-benchmark's shape in a loop of our own, for memcached's text protocol (which
    redis-benchmark cannot speak) and, as the same-client reference, RESP: `--clients`
    connections, each with `--pipeline` requests in flight, `--small-requests` in all, keys
    key:%012d drawn uniformly from `--keyspace`, `--value-size`-byte values. Stops at the count or
    after `--phase-seconds`, whichever comes first."""
    def load():
        rng = random.Random(seed)
        request, done_tokens, hit_token = loop_protocol(proto, op, args.value_size)
        conns = [LoopConn(port) for _ in range(args.clients)]
        sel = selectors.DefaultSelector()
        issued = done = hits = errors = 0
        t0 = time.monotonic()
        deadline = t0 + args.phase_seconds
        try:
            def refill(c):
                nonlocal issued
                n = min(args.pipeline, args.small_requests - issued)
                if n <= 0:
                    return False
                c.out = b"".join(request(rng.randrange(args.keyspace)) for _ in range(n))
                c.expect = n
                issued += n
                sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
                return True

            for c in conns:
                sel.register(c.sock, selectors.EVENT_READ, c)
                refill(c)
            while done < issued and time.monotonic() < deadline:
                for key, events in sel.select(timeout=1.0):
                    c = key.data
                    try:
                        if events & selectors.EVENT_WRITE and c.out:
                            sent = c.sock.send(c.out)
                            c.out = c.out[sent:]
                            if not c.out:
                                sel.modify(c.sock, selectors.EVENT_READ, c)
                        data = c.sock.recv(1 << 18) if events & selectors.EVENT_READ else None
                    except BlockingIOError:
                        continue
                    if data is None:
                        continue
                    if not data:
                        raise RuntimeError("%s closed a connection" % proto)
                    n = sum(c.count(data, t) for t in done_tokens)
                    if hit_token:
                        hits += c.count(data, hit_token)
                    errors += c.count(data, b"ERR") + c.count(data, b"OOM")
                    c.expect -= n
                    done += n
                    if c.expect == 0:
                        refill(c)
            wall = time.monotonic() - t0
        finally:
            sel.close()
            for c in conns:
                c.sock.close()
        if errors:
            raise RuntimeError("%s answered %d errors" % (proto, errors))
        res = {"kind": "small", "op": op, "client": "proxy_cpu.py loop (%s)" % proto,
               "value_size": args.value_size, "requests": done,
               "bytes": done * args.value_size, "complete": done == args.small_requests,
               "throughput_rps": round(done / wall) if wall > 0 else 0}
        if hit_token:
            res["hits"] = hits
        return res
    return load


# ---- the servers ----

def stop(proc, timeout=10):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until(ready, what, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("%s did not start" % what)


def command(port, line):
    """One text command on a fresh connection, its first reply line (RESP or memcached)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(line)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n", 1)[0]


def start_redis(workdir, extra=()):
    """redis-server on a free port; extra: more of its options (bench/threads.py: io-threads)."""
    port = free_port()
    # jemalloc keeps the pages it frees, so a 10 MiB request is not 2,560 page faults (see
    # docs/BENCHMARKS.md, "Why the earlier baseline was slow").
    env = dict(os.environ, MALLOC_CONF="dirty_decay_ms:-1,muzzy_decay_ms:-1")
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                             "--save", "", "--appendonly", "no", "--dir", workdir,
                             "--logfile", os.path.join(workdir, "redis.log"), *extra],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: command(port, b"PING\r\n") == b"+PONG", "redis-server")
    except BaseException:
        stop(proc)
        raise
    return proc, port


def start_memcached(threads, item_max):
    port = free_port()
    user = ["-u", "root"] if os.getuid() == 0 else []
    proc = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0",
                             "-t", str(threads), "-I", "%dm" % item_max, "-m", "1024", *user],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: command(port, b"version\r\n").startswith(b"VERSION"), "memcached")
    except BaseException:
        stop(proc)
        raise
    return proc, port


def keys_stored(port, memcached=False):
    if memcached:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"stats\r\n")
            data = b""
            while not data.endswith(b"END\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        m = re.search(rb"STAT curr_items (\d+)", data)
        return int(m.group(1)) if m else None
    reply = command(port, b"DBSIZE\r\n")
    return int(reply[1:]) if reply.startswith(b":") else None


def idle_rate(pid, seconds):
    """CPU milliseconds per second the server spends with no client: its timers, warm-ups."""
    u0, s0 = process_cpu(pid)
    time.sleep(seconds)
    u1, s1 = process_cpu(pid)
    return round((u1 - u0 + s1 - s0) * 1000 / seconds, 2)


def run_phases(name, pid, phases, say):
    """Measures each (phase name, load, after) in order against the server with process id pid;
    `after`, when given, is called once the phase is measured and its answer kept as
    keys_after_<phase> (how many keys a SET phase left for the GET phase to find)."""
    results = {}
    for phase, load, after in phases:
        r = measured(pid, load)
        results[phase] = r
        figure = ("cpu_s_per_gb=%.4f gbps=%.3f" % (r["cpu_s_per_gb"], r["throughput_gbps"])
                  if r["kind"] == "large" else
                  "cpu_ms_per_1k=%.3f rps=%d" % (r["cpu_ms_per_1k"], r["throughput_rps"]))
        say("figure=cpu_%s_%s requests=%d bytes=%d cpu_s=%.3f user_s=%.3f sys_s=%.3f wall_s=%.3f "
            "cpu_share=%.2f %s%s" % (name, phase, r["requests"], r["bytes"], r["cpu_s"],
                                    r["user_s"], r["sys_s"], r["wall_s"], r["cpu_share"], figure,
                                    "" if r["complete"] else " INCOMPLETE"))
        if after:
            results["keys_after_" + phase] = after()
    return results


def large_phases(args, path, series, flag, addr):
    return [("%s_%s" % (op, path), large_load(args, series, op, flag, addr), None)
            for op in ("set", "get")]


def small_phases(args, port, proto, client):
    """SETs then GETs of small values: with redis-benchmark (client "rb", phases small_set and
    small_get) or with the load loop (client "loop", phases small_set_loop and small_get_loop)."""
    def count_keys():
        return keys_stored(port, proto == "memcached")
    if client == "rb":
        return [("small_set", redis_benchmark_load(args, "set", port), count_keys),
                ("small_get", redis_benchmark_load(args, "get", port), None)]
    return [("small_set_loop", loop_load(args, proto, "set", port, args.seed), count_keys),
            ("small_get_loop", loop_load(args, proto, "get", port, args.seed + 1), None)]


# ---- profile ----

COPY = re.compile(r"memcpy|memmove|copy_user|copy_to_user|copy_from_user|_copy_to_iter|"
                  r"_copy_from_iter|copy_page|rep_movs|skb_copy|csum_partial_copy")
ALLOC = re.compile(r"malloc|calloc|realloc|\bfree\b|_int_free|tcache|arena|mmap|munmap|"
                   r"__libc_free|cfree|unlink_chunk")
PARSE = re.compile(r"^resp_|parse|strto|strnum|memchr|strcasecmp|strncasecmp|tolower|"
                   r"command_find|is_message|snprintf|vfprintf|printf")
# libc's system call wrappers: their samples are the instructions around the trap.
LIBC_SYSCALL = re.compile(r"^(__GI_)?(__libc_|__)?(read|readv|write|writev|close|epoll_wait|"
                          r"epoll_ctl|splice|sendmsg|recvmsg|sendto|recvfrom|poll|accept4?|"
                          r"getrandom|ioctl|pipe2?|fcntl)(64)?$")
# Kernel functions that stand for one system call, the whole call beneath them (inclusive time).
SYSCALL_FN = re.compile(r"^(__x64_sys_|__do_sys_|__se_sys_|ksys_|__sys_|do_sys_|__do_|do_)"
                        r"(read|readv|write|writev|splice|epoll_wait|epoll_ctl|poll|sendto|"
                        r"recvfrom|sendmsg|recvmsg|close|accept4|getrandom)$")
COPIES = "copies (memcpy, kernel copies to/from user memory)"
KERNEL = "system calls and the kernel (TCP, epoll, scheduling, interrupts)"


def category(dso, kernel, symbol):
    """Where a symbol's self time goes: copies, the kernel, malloc, parsing or the proxy's own
    logic (its decisions and bookkeeping)."""
    if COPY.search(symbol):
        return COPIES
    if kernel or (dso.startswith("libc") and LIBC_SYSCALL.match(symbol)):
        return KERNEL
    if ALLOC.search(symbol):
        return "malloc/free"
    if PARSE.search(symbol):
        return "parsing and formatting (RESP, node protocol, numbers)"
    if "icproxy" in dso:
        return "proxy logic (commands, ops, metadata, node choice, connections)"
    return "other libraries (%s)" % dso


def perf_report(data_path):
    """(children %, self %, dso, is kernel, symbol) rows of a perf.data with call graphs."""
    out = subprocess.run(["perf", "report", "-i", data_path, "--stdio", "--children",
                          "--sort", "dso,sym", "-g", "none", "--percent-limit", "0.2"],
                         capture_output=True, text=True, timeout=900)
    rows = []
    for line in out.stdout.splitlines():
        m = re.match(r"^\s*([\d.]+)%\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.+?)\s*$", line)
        if m:
            rows.append((float(m.group(1)), float(m.group(2)), m.group(3), m.group(4) == "k",
                         m.group(5)))
    return rows


def syscall_counts(path):
    counts = {}
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r"^\s*([\d,]+)\s+syscalls:sys_enter_(\w+)", line)
                if m and int(m.group(1).replace(",", "")) > 0:
                    counts[m.group(2)] = int(m.group(1).replace(",", ""))
    except OSError:
        pass
    return counts


def profile(pid, phases, outdir, say):
    """Repeats each phase under perf record (call graphs) and perf stat (syscalls) on pid."""
    os.makedirs(outdir, exist_ok=True)
    results = {}
    for phase, load in phases:
        data = os.path.join(outdir, "%s.data" % phase)
        stat_path = os.path.join(outdir, "%s.syscalls" % phase)
        for path in (data, stat_path):
            if os.path.exists(path):
                os.unlink(path)
        rec = subprocess.Popen(["perf", "record", "-F", "499", "--call-graph", "dwarf,16384",
                                "-o", data, "-p", str(pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stat = subprocess.Popen(["perf", "stat", "-e", "syscalls:sys_enter_*", "-p", str(pid),
                                 "-o", stat_path],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # Both perf programs create their files once attached.
            wait_until(lambda: os.path.exists(data) and os.path.exists(stat_path), "perf", 10)
            r = load()
        finally:
            for p in (rec, stat):
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
            for p in (rec, stat):
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        rows = perf_report(data)
        shares, by_syscall = {}, {}
        for children, self_pct, dso, kernel, sym in rows:
            c = category(dso, kernel, sym)
            shares[c] = round(shares.get(c, 0.0) + self_pct, 1)
            m = SYSCALL_FN.match(sym) if kernel else None
            if m:
                by_syscall[m.group(2)] = max(by_syscall.get(m.group(2), 0.0), children)
        inclusive = {name: next((c for c, _, _, k, s in rows if k and s == name), 0.0)
                     for name in ("entry_SYSCALL_64_after_hwframe", "asm_exc_page_fault")}
        top = sorted(rows, key=lambda r: -r[1])[:25]
        calls = syscall_counts(stat_path)
        per_request = {k: round(v / r["requests"], 2) for k, v in
                       sorted(calls.items(), key=lambda kv: -kv[1])[:10]}
        results[phase] = {
            "requests": r["requests"], "self_by_category": shares,
            "inclusive_by_syscall": dict(sorted(by_syscall.items(), key=lambda kv: -kv[1])),
            "inclusive_in_syscalls": inclusive["entry_SYSCALL_64_after_hwframe"],
            "inclusive_in_page_faults": inclusive["asm_exc_page_fault"],
            "top_self": [{"self": sp, "children": cp, "dso": dso, "symbol": sym}
                         for cp, sp, dso, _, sym in top],
            "syscalls_per_request": per_request}
        say("profile=%s requests=%d (perf.data: %s)" % (phase, r["requests"], data))
        say("  self time by kind:")
        for c, pct in sorted(shares.items(), key=lambda kv: -kv[1]):
            say("  %5.1f%%  %s" % (pct, c))
        say("  inclusive: in system calls %.1f%% (%s), in page faults %.1f%%" % (
            inclusive["entry_SYSCALL_64_after_hwframe"],
            " ".join("%s=%.1f%%" % kv for kv in results[phase]["inclusive_by_syscall"].items()),
            inclusive["asm_exc_page_fault"]))
        say("  top symbols by self time:")
        for cp, sp, dso, kernel, sym in top[:15]:
            say("    %5.2f%% (with callees %5.1f%%)  %-8s %s" % (sp, cp, "kernel" if kernel
                                                                 else dso[:8], sym[:60]))
        say("  system calls per request: " +
            " ".join("%s=%s" % kv for kv in per_request.items()))
    return results


# ---- main ----

def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
        model = m.group(1).strip() if m else ""
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": os.uname().release,
            "loadavg_at_start": load}


# The baseline phase each icproxy phase is compared with: the same operation, value size and
# client kind (bench_objects, redis-benchmark or the load loop). A baseline without a phase of
# that client (memcached has no redis-benchmark phase) gets no ratio for it.
def baseline_phase(phase, large_path):
    for path in ("library", "resp"):
        if phase.endswith("_" + path):
            return phase[:-len(path)] + large_path
    return phase


def ratios(results):
    """icproxy CPU / baseline CPU for every figure both measured (lower: icproxy costs less)."""
    out = {}
    ic = results.get("icproxy", {})
    for base, large_path in (("redis", "resp"), ("memcached1", "text"), ("memcached2", "text")):
        if base not in results:
            continue
        for phase, r in ic.items():
            if not isinstance(r, dict):
                continue
            b = results[base].get(baseline_phase(phase, large_path))
            key = "cpu_s_per_gb" if r["kind"] == "large" else "cpu_ms_per_1k"
            if b and b.get(key):
                out["%s/%s" % (phase, base)] = round(r[key] / b[key], 2)
    return out


# The summary table's rows: icproxy's phase and its label.
TABLE_ROWS = [
    ("set_library", "SET 10 MiB, library RS(d+p) [CPU s/GB]"),
    ("get_library", "GET 10 MiB, library RS(d+p) [CPU s/GB]"),
    ("set_resp", "SET 10 MiB, Redis protocol [CPU s/GB]"),
    ("get_resp", "GET 10 MiB, Redis protocol [CPU s/GB]"),
    ("small_set", "SET 1 KiB random keys, redis-benchmark [CPU ms/1k]"),
    ("small_get", "GET 1 KiB random keys, redis-benchmark [CPU ms/1k]"),
    ("small_set_loop", "SET 1 KiB random keys, load loop [CPU ms/1k]"),
    ("small_get_loop", "GET 1 KiB random keys, load loop [CPU ms/1k]"),
]


def cell(r):
    """CPU per unit, then wall-clock throughput, of one phase's result."""
    if not r:
        return ""
    if r["kind"] == "large":
        return "%.3f (%.2f GB/s)" % (r["cpu_s_per_gb"], r["throughput_gbps"])
    return "%.2f (%.0fK/s)" % (r["cpu_ms_per_1k"], r["throughput_rps"] / 1000)


def summary_table(results, ratio):
    """A Markdown table: icproxy and each baseline, CPU per unit (throughput) and the ratios."""
    bases = [b for b in ("redis", "memcached1", "memcached2") if b in results]
    names = {"redis": "redis-server", "memcached1": "memcached -t 1",
             "memcached2": "memcached -t 2"}
    lines = ["| figure | icproxy | proxy CPU share | %s | %s |" % (
        " | ".join(names[b] for b in bases),
        " | ".join("icproxy / %s" % names[b] for b in bases))]
    lines.append("|" + "---|" * (3 + 2 * len(bases)))
    ic = results.get("icproxy", {})
    for phase, label in TABLE_ROWS:
        r = ic.get(phase)
        if not r:
            continue
        large_path = {"redis": "resp"}
        row = [label, cell(r), "%.2f" % r["cpu_share"]]
        for b in bases:
            row.append(cell(results[b].get(baseline_phase(phase, large_path.get(b, "text")))))
        for b in bases:
            v = ratio.get("%s/%s" % (phase, b))
            row.append("%.2fx" % v if v is not None else "")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--proxy-arg", action="append", default=[],
                    help="one more icproxy argument (repeatable), e.g. --proxy-arg=--threads=2")
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--size", type=parse_size, default=parse_size("10m"),
                    help="large object size (10m)")
    ap.add_argument("--runs", type=int, default=200, help="large SETs, then GETs, per path")
    ap.add_argument("--small-requests", type=int, default=200000,
                    help="small SETs, then GETs, per server")
    ap.add_argument("--value-size", type=int, default=1024)
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--phase-seconds", type=float, default=30.0,
                    help="a phase stops after this long even if its count is not reached")
    ap.add_argument("--idle-seconds", type=float, default=2.0)
    ap.add_argument("--pool-size", type=int, default=32)
    ap.add_argument("--node-memory", type=int, default=1024, help="MB per node")
    ap.add_argument("--d", type=int, default=10)
    ap.add_argument("--p", type=int, default=2)
    ap.add_argument("--baselines", default="redis,memcached1,memcached2",
                    help="comma-separated: redis, memcached1 (-t 1), memcached2 (-t 2); "
                         "empty for none")
    ap.add_argument("--profile", metavar="DIR",
                    help="afterwards, profile icproxy under perf (figures not affected)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if (args.size < 1 or args.runs < 1 or args.small_requests < 1 or args.keyspace < 1
            or args.clients < 1 or args.pipeline < 1 or args.value_size < 1):
        ap.error("sizes and counts must be positive")
    baselines = [b for b in args.baselines.split(",") if b]
    unknown = set(baselines) - {"redis", "memcached1", "memcached2"}
    if unknown:
        ap.error("unknown baseline(s): %s" % ", ".join(sorted(unknown)))
    signal.signal(signal.SIGTERM, on_sigterm)

    def say(line):
        print(line)
        sys.stdout.flush()

    report = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
              "machine": machine(), "command": sys.argv, "config": {
                  k: v for k, v in vars(args).items() if k not in ("json", "bin")}}
    say("config date=%s nproc=%d cpu=%r size=%d runs=%d small_requests=%d proxy_args=%r" %
        (report["date"], report["machine"]["nproc"], report["machine"]["cpu"], args.size,
         args.runs, args.small_requests, args.proxy_arg))
    results = {}
    workdir = tempfile.mkdtemp(prefix="proxy_cpu-")
    log_path = os.path.join(workdir, "icproxy.log")
    proxy = server = None
    ok = False
    try:
        # ---- icproxy ----
        proxy = Proxy(args.bin, ["--pool-size", str(args.pool_size), "--node-memory",
                                 str(args.node_memory), "--log-level", "warn", *args.proxy_arg],
                      log_path)
        pid = proxy.proc.pid
        addr = "127.0.0.1:%d" % proxy.port
        # Unmeasured: a first SET and GET on both paths, so every phase meets warm nodes.
        subprocess.run([os.path.join(args.bin, "bench_objects"), "--only", "library,proxy_resp",
                        "--size", str(args.size), "--runs", "2", "--warmup", "0",
                        "--series-seconds", str(args.phase_seconds), "--d", str(args.d), "--p",
                        str(args.p), "--ic", addr], capture_output=True,
                       timeout=args.phase_seconds + 60, check=True)
        ic = {"idle_cpu_ms_per_s": idle_rate(pid, args.idle_seconds)}
        ic.update(run_phases("icproxy", pid,
                             large_phases(args, "library", "library", "--ic", addr) +
                             large_phases(args, "resp", "proxy_resp", "--ic", addr) +
                             small_phases(args, proxy.port, "resp", "loop") +
                             small_phases(args, proxy.port, "resp", "rb"), say))
        results["icproxy"] = ic
        if args.profile:
            report["profile"] = profile(pid, [
                ("get_resp", large_load(args, "proxy_resp", "get", "--ic", addr)),
                ("small_set", redis_benchmark_load(args, "set", proxy.port)),
                ("small_get", redis_benchmark_load(args, "get", proxy.port))],
                args.profile, say)
        leaked = proxy.stop()
        proxy = None
        if leaked:
            raise RuntimeError("node instances outlived icproxy: %s" % leaked)

        # ---- baselines, one at a time ----
        for base in baselines:
            if base == "redis":
                server, port = start_redis(workdir)
                phases = (large_phases(args, "resp", "redis", "--redis", "127.0.0.1:%d" % port) +
                          small_phases(args, port, "resp", "loop") +
                          small_phases(args, port, "resp", "rb"))
            else:
                server, port = start_memcached(int(base[-1]), max(16, 2 * (args.size >> 20)))
                phases = (large_phases(args, "text", "memcached", "--memcached",
                                       "127.0.0.1:%d" % port) +
                          small_phases(args, port, "memcached", "loop"))
            r = {"idle_cpu_ms_per_s": idle_rate(server.pid, args.idle_seconds)}
            r.update(run_phases(base, server.pid, phases, say))
            results[base] = r
            stop(server)
            server = None

        report["results"] = results
        report["ratios"] = ratios(results)
        for k, v in report["ratios"].items():
            say("ratio=cpu_%s value=%.2f" % (k, v))
        say("")
        say(summary_table(results, report["ratios"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)
        ok = True
        return 0
    except (Interrupted, KeyboardInterrupt):
        return 130
    finally:
        stop(server)
        if proxy:
            proxy.stop()
        if ok:
            subprocess.run(["rm", "-rf", workdir])
        else:
            print("proxy_cpu: logs kept in %s" % workdir, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
