#!/usr/bin/python3
"""test_icbench.py -- icbench black-box: a tiny synthetic workload and a tiny trace (JSON and CSV)
against real redis-server, memcached (-I 32m) and icproxy in one run; wrong bytes are caught; an
unreachable target and a malformed trace are clear errors."""
import os
import re
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtest import (BIN, HERE, ask, free_port, icbench, results, start,  # noqa: E402
                       stop_all, wait_for)


def latency_rows(out):
    """(target, op, size class) of every latency row of the summary table."""
    rows = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 8 and f[1] in ("GET", "SET", "FETCH") and re.match(r"^\d+$", f[3]):
            rows.add((f[0], f[1], f[2]))
    return rows


def main():
    tmp = tempfile.mkdtemp(prefix="icbench_test_")
    redis_port = free_port()
    start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--protected-mode", "no"],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mc_port = free_port()
    mc = ["memcached", "-l", "127.0.0.1", "-p", str(mc_port), "-U", "0", "-I", "32m", "-m", "256"]
    if os.geteuid() == 0:
        mc += ["-u", "root"]
    start(mc, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy_log = os.path.join(tmp, "icproxy.out")
    with open(proxy_log, "wb") as out:
        start([os.path.join(BIN, "icproxy"), "--client-port", "0", "--node-port", "0",
               "--relay-port", "0", "--pool-size", "14"], stdout=out)
    wait_for(lambda: ask(redis_port, b"PING\r\n", b"+PONG"), "redis-server")
    wait_for(lambda: ask(mc_port, b"version\r\n", b"VERSION"), "memcached")
    banner = wait_for(lambda: re.search(r"clients on ([^:\s]+):(\d+)", open(proxy_log).read()),
                      "icproxy banner", timeout=30)
    proxy = "%s:%s" % (banner.group(1), banner.group(2))
    wait_for(lambda: ask(int(banner.group(2)), b"PING\r\n", b"+PONG"), "icproxy")

    redis_t = "resp:127.0.0.1:%d" % redis_port
    mc_t = "memcached:127.0.0.1:%d" % mc_port
    proxy_t = "resp:" + proxy
    lib_t = "ic:%s,d=4,p=2" % proxy

    # --help lists the options from the one table.
    p = icbench("--help")
    for opt in ("--target", "--clients", "--size-dist", "--zipf", "--get-ratio", "--trace",
                "--min-size", "--size-scale", "--max-size", "--time-compress", "--hours",
                "--strict", "--csv", "--duration", "--requests", "--rate", "--backing"):
        assert opt in p.stdout, opt

    # Synthetic: every target, same workload, per-request CSV.
    csv = os.path.join(tmp, "req.csv")
    p = icbench("--target", redis_t, "--target", mc_t, "--target", proxy_t, "--target", lib_t,
                "--size-dist", "uniform:1k-1500k", "--keys", "20", "--zipf", "0.9",
                "--get-ratio", "0.8", "--requests", "120", "--clients", "2", "--seed", "7",
                "--csv", csv, "--key-prefix", "syn")
    res = results(p.stdout)
    targets = [redis_t, mc_t, proxy_t, lib_t]
    assert sorted(res) == sorted(targets), res
    for t in targets:
        r = res[t]
        assert r["requests"] == "120", r
        assert r["wrong_bytes"] == "0" and r["errors"] == "0", r
        assert int(r["hits"]) > 0 and int(r["misses"]) > 0 and r["fills"] == r["misses"], r
        assert int(r["bytes_read"]) > 0 and int(r["bytes_written"]) > 0, r
    rows = latency_rows(p.stdout)
    for t in targets:
        for row in ((t, "GET", "<1MiB"), (t, "GET", "1-10MiB"), (t, "SET", "<1MiB")):
            assert row in rows, (row, p.stdout)
    with open(csv) as f:
        lines = f.read().splitlines()
    assert lines[0] == "target,client,index,op,key,size,result,latency_us,start_s", lines[0]
    # One row per GET, SET or FETCH: requests + fills + fetches per target; every fill was
    # fetched first from the (temporary) backing store.
    want = sum(int(res[t]["requests"]) + int(res[t]["fills"]) + int(res[t]["fetches"])
               for t in targets)
    for t in targets:
        assert res[t]["fetches"] == res[t]["fills"], res[t]
        assert (t, "FETCH", "<1MiB") in rows, (t, p.stdout)
    assert len(lines) - 1 == want, (len(lines), want)
    assert "\r" not in p.stderr  # no progress line when stderr is not a terminal

    # The same workload again finds everything written: a wrong value planted in redis is caught.
    key = next(l.split(",")[4] for l in lines[1:] if l.startswith(redis_t + ",") and ",hit," in l)
    with socket.create_connection(("127.0.0.1", redis_port)) as s:
        cmd = b"SET syn0:%s garbage\r\n" % key.encode()
        s.sendall(cmd)
        assert s.recv(100).startswith(b"+OK")
    p = icbench("--target", redis_t, "--size-dist", "uniform:1k-1500k", "--keys", "20",
                "--zipf", "0.9", "--get-ratio", "1", "--requests", "200", "--seed", "7",
                "--key-prefix", "syn", expect=1)
    r = results(p.stdout)[redis_t]
    assert int(r["wrong_bytes"]) >= 1, r

    # --rate paces a synthetic run (open loop): request i starts i/RATE s after the start, so
    # 20 requests at 40/s cannot finish before 19/40 s however fast the server is.
    p = icbench("--target", redis_t, "--size-dist", "fixed:1k", "--keys", "5", "--rate", "40",
                "--requests", "20", "--clients", "2", "--key-prefix", "rate")
    assert "open loop" in p.stdout, p.stdout
    r = results(p.stdout)[redis_t]
    assert r["requests"] == "20" and float(r["seconds"]) >= 19 / 40, r
    p = icbench("--target", redis_t, "--rate", "-1", expect=2)
    assert "rate" in p.stderr, p.stderr

    # Trace replay, JSON array and CSV, with a filter; the first GET of each object misses.
    for name, prefix in (("tiny_trace.json", "tj"), ("tiny_trace.csv", "tc")):
        p = icbench("--target", redis_t, "--target", mc_t, "--target", lib_t,
                    "--trace", os.path.join(HERE, name), "--min-size", "1k", "--key-prefix", prefix)
        res = results(p.stdout)
        for t in (redis_t, mc_t, lib_t):
            r = res[t]
            assert r["wrong_bytes"] == "0" and r["errors"] == "0", r
            assert int(r["hits"]) >= 2 and int(r["misses"]) >= 1, r
        assert "other methods ignored" in p.stderr, p.stderr
        rows = latency_rows(p.stdout)
        assert (mc_t, "GET", "1-10MiB") in rows and (mc_t, "SET", "1-10MiB") in rows, p.stdout
    # --hours 1 keeps the first hour; --max-size caps; --size-scale grows.
    p = icbench("--target", mc_t, "--trace", os.path.join(HERE, "tiny_trace.json"), "--hours", "1",
                "--size-scale", "2", "--max-size", "3m", "--key-prefix", "th")
    r = results(p.stdout)[mc_t]
    assert r["requests"] == "7", r  # 9 GET/PUT records, two after the first hour
    rows = latency_rows(p.stdout)
    assert (mc_t, "GET", "1-10MiB") in rows and (mc_t, "GET", "<1MiB") in rows, p.stdout
    # A larger object than memcached's -I is an error, not a crash, and the run goes on.
    p = icbench("--target", mc_t, "--size-dist", "fixed:40m", "--keys", "2", "--requests", "3",
                "--key-prefix", "big")
    assert "memcached -I" in p.stderr, p.stderr
    r = results(p.stdout)[mc_t]
    assert int(r["errors"]) >= 1 and r["wrong_bytes"] == "0", r

    # Malformed trace: line numbers reported and skipped, or the run stops with --strict.
    bad = os.path.join(HERE, "malformed_trace.jsonl")
    p = icbench("--target", redis_t, "--trace", bad, "--key-prefix", "mal")
    assert ":2: " in p.stderr and ":4: " in p.stderr and "skipped" in p.stderr, p.stderr
    assert "2 malformed" in p.stderr, p.stderr
    assert results(p.stdout)[redis_t]["requests"] == "3"
    p = icbench("--target", redis_t, "--trace", bad, "--strict", expect=2)
    assert "malformed_trace.jsonl:2:" in p.stderr and "result " not in p.stdout, p.stderr
    headerless = os.path.join(tmp, "noheader.csv")
    with open(headerless, "w") as f:
        f.write("GET,v2/a,100,1497924000\n")
    p = icbench("--target", redis_t, "--trace", headerless, expect=2)
    assert "noheader.csv:1:" in p.stderr and "header" in p.stderr, p.stderr

    # Unreachable targets are reported before anything runs.
    dead = free_port()
    for spec in ("resp:127.0.0.1:%d" % dead, "memcached:127.0.0.1:%d" % dead,
                 "ic:127.0.0.1:%d" % dead):
        p = icbench("--target", redis_t, "--target", spec, "--requests", "5", expect=2)
        assert "not reachable" in p.stderr and spec in p.stderr, p.stderr
        assert "result " not in p.stdout, p.stdout
    # A memcached port answering the Redis protocol is refused too.
    p = icbench("--target", "memcached:127.0.0.1:%d" % redis_port, expect=2)
    assert "not reachable" in p.stderr, p.stderr
    # Bad options.
    for bad_args in (["--requests", "5"], ["--target", "http:x:1"], ["--target", redis_t, "--zipf", "x"],
                     ["--target", redis_t, "--size-dist", "uniform:9k-1k"], ["--target", redis_t, "--frob"],
                     ["--target", redis_t, "--key-prefix", "a b"]):
        p = icbench(*bad_args, expect=2)
        assert p.stderr.startswith("icbench: "), p.stderr
    print("ok")


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
