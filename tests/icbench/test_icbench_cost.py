#!/usr/bin/python3
"""test_icbench_cost.py -- icbench's cost report and --plot against a real icproxy (100 ms
billing, fast warm-ups and backups) and redis-server: the report's figures agree with the proxy's
INFO, the PNGs are real PNGs with titles, and a missing gnuplot is a clear error."""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtest import (BIN, ask, free_port, icbench, start, stop_all,  # noqa: E402
                       wait_for)


with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "prices",
                       "2020.json")) as _f:
    PRICES_2020 = json.load(_f)


def info(port):
    """INFO as a dict (one bulk reply, read to its declared length)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"INFO\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, "INFO: connection closed"
            data += chunk
        head, rest = data.split(b"\r\n", 1)
        assert head.startswith(b"$"), head
        want = int(head[1:]) + 2
        while len(rest) < want:
            chunk = s.recv(65536)
            assert chunk, "INFO: connection closed"
            rest += chunk
    out = {}
    for line in rest[:want - 2].decode().splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def cost_lines(out):
    """The key=value cost line of each target."""
    res = {}
    for line in out.splitlines():
        if line.startswith("cost target="):
            fields = dict(f.split("=", 1) for f in line.split()[1:-1])
            fields["verdict"] = line.split()[-1]
            res[fields["target"]] = fields
    return res


def check_png(path, width=1100, height=700):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", (path, data[:8])
    assert data[12:16] == b"IHDR", path
    w, h = struct.unpack(">II", data[16:24])
    assert (w, h) == (width, height), (path, w, h)
    assert len(data) > 8000, (path, len(data))  # axes, labels and curves, not an empty canvas


def main():
    tmp = tempfile.mkdtemp(prefix="icbench_cost_test_")
    redis_port = free_port()
    start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--protected-mode", "no"],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy_log = os.path.join(tmp, "icproxy.out")
    with open(proxy_log, "wb") as out:
        proxy = start([os.path.join(BIN, "icproxy"), "--client-port", "0", "--node-port", "0",
               "--relay-port", "0", "--pool-size", "8", "--d", "4", "--p", "2", "--billing", "100ms",
               "--warmup-interval", "1s", "--backup-interval", "2s"], stdout=out)
    wait_for(lambda: ask(redis_port, b"PING\r\n", b"+PONG"), "redis-server")
    def banner_seen():
        assert proxy.poll() is None, "icproxy exited with %s" % proxy.returncode
        return re.search(r"clients on ([^:\s]+):(\d+)", open(proxy_log).read())
    banner = wait_for(banner_seen, "icproxy banner", timeout=30)
    port = int(banner.group(2))
    wait_for(lambda: ask(port, b"PING\r\n", b"+PONG"), "icproxy")
    # The proxy fetches the platform's figures once a second: wait for the first.
    wait_for(lambda: "platform_billing_ms" in info(port), "platform figures in INFO")
    assert info(port)["platform_billing_ms"] == "100"

    proxy_t = "resp:127.0.0.1:%d" % port
    lib_t = "ic:127.0.0.1:%d,d=4,p=2" % port
    redis_t = "resp:127.0.0.1:%d" % redis_port

    p = icbench("--help")
    for opt in ("--cost", "--cost-interval", "--cost-settle", "--prices", "--lambda-arch",
                "--price-gb-s", "--price-requests", "--proxy-vm", "--plot"):
        assert opt in p.stdout, opt

    before = info(port)
    plots = os.path.join(tmp, "plots")
    p = icbench("--target", proxy_t, "--target", lib_t, "--target", redis_t,
                "--size-dist", "uniform:64k-1m", "--keys", "30", "--get-ratio", "0.8",
                "--duration", "3s", "--requests", "100000", "--clients", "2",
                "--cost-interval", "200ms", "--prices", "2020", "--plot", plots)
    after = info(port)
    costs = cost_lines(p.stdout)
    assert sorted(costs) == sorted([proxy_t, lib_t]), (costs, p.stdout)  # redis is no icproxy
    gb_total = req_total = 0.0
    for t, c in costs.items():
        assert c["prices"] == "2020" and c["billing_ms"] == "100" and c["settled"] == "1", c
        assert float(c["window_s"]) >= float(c["run_s"]) >= 2.9, c
        gbs, reqs = float(c["gb_seconds"]), float(c["requests"])
        assert gbs > 0 and reqs > 0, c
        assert float(c["requests_serving"]) > 0 and float(c["gb_seconds_serving"]) > 0, c
        kinds = ("serving", "warmup", "backup", "other")
        assert abs(sum(float(c["gb_seconds_" + k]) for k in kinds) - gbs) < 1e-5, c
        assert sum(float(c["requests_" + k]) for k in kinds) == reqs, c
        # Dollars from the report's own inputs and the 2020 prices.
        lam = gbs * 0.0000166667 + reqs * 0.20 / 1e6
        assert abs(float(c["lambda_usd"]) - lam) < 1e-7, (c, lam)
        # The VM: the cheapest instance of the set whose sustained bandwidth carries the peak
        # the proxy's INFO showed (loopback runs fast: several Gbit/s).
        need = float(c["peak_bytes_per_s"]) * 8 / 1e9
        assert need > 0 and abs(float(c["vm_need_gbps"]) - need) < 1e-5, c
        fits = [i for i in PRICES_2020["ec2_instances"] if i["baseline_gbps"] >= need]
        if fits:
            best = min(fits, key=lambda i: (i["price"]["value"], i["baseline_gbps"]))
            assert c["vm"] == best["type"] and c["vm_how"] == "chosen", (c, best)
        else:
            best = max(PRICES_2020["ec2_instances"], key=lambda i: i["baseline_gbps"])
            assert c["vm"] == best["type"] and c["vm_how"] == "short", (c, best)
        vm = best["price"]["value"] * float(c["window_s"]) / 3600
        # window_s is printed to the millisecond: half of one at the VM's hourly price.
        assert abs(float(c["vm_usd"]) - vm) < best["price"]["value"] * 0.0005 / 3600 + 1e-8, (c, vm)
        # The backing store (icbench's default, a temporary directory) is priced as S3 Standard
        # requests; its size is not known, so no storage.
        s3 = float(c["s3_usd"])
        assert s3 > 0 and abs(s3 - float(c["s3_requests_usd"])) < 1e-9, c
        assert float(c["s3_storage_usd"]) == 0, c
        # The sum of the printed parts (each rounded to 1e-8), not of the recomputed ones.
        parts = float(c["lambda_usd"]) + float(c["vm_usd"]) + s3
        assert abs(float(c["infinicache_usd"]) - parts) < 5e-8, c
        assert float(c["data_gib"]) > 0, c
        # 8 x 256 MiB = 2 GiB: one cache.r5.large in the 2020 set.
        assert c["elasticache_node"] == "cache.r5.large" and c["elasticache_nodes"] == "1", c
        ec = 0.216 * float(c["window_s"]) / 3600
        assert abs(float(c["elasticache_usd"]) - ec) < 1e-7, c
        assert abs(float(c["elasticache_usd_per_h"]) - 0.216) < 1e-9, c
        ratio = float(c["ratio"])
        ic, e = float(c["infinicache_usd"]), float(c["elasticache_usd"])
        assert abs(ratio - max(ic, e) / min(ic, e)) < 1e-3 * ratio, c
        assert c["verdict"] == ("cheaper" if e >= ic else "more_expensive"), c
        gb_total += gbs
        req_total += reqs
    # Warm-ups every second and backups every two seconds happen during a 3 s run.
    assert sum(float(c["requests_warmup"]) for c in costs.values()) > 0, costs
    # Both windows lie between the test's two INFO readings.
    assert gb_total <= float(after["platform_gb_seconds"]) - float(before["platform_gb_seconds"]) + 1e-5
    assert req_total <= int(after["platform_requests"]) - int(before["platform_requests"])
    assert re.search(r"InfiniCache is \d+\.\d\d times (cheaper|more expensive) than ElastiCache",
                     p.stdout), p.stdout
    assert "billed in 100 ms units, as the platform reports" in p.stdout, p.stdout
    assert all(c["billing_source"] == "platform" for c in costs.values()), costs
    assert "prices '2020'" in p.stdout, p.stdout

    for png in ("latency_cdf.png", "latency_by_size.png", "cost.png"):
        check_png(os.path.join(plots, png))
    with open(os.path.join(plots, "plots.gp")) as f:
        script = f.read()
    assert script.count("set title") == 3 and script.count("set xlabel") == 3, script
    for t in (proxy_t, lib_t, redis_t):
        assert t in script, (t, script)
    # Cost over time: several samples at 200 ms, cumulative so never decreasing.
    with open(os.path.join(plots, "cost-0.dat")) as f:
        rows = [list(map(float, l.split())) for l in f if not l.startswith("#")]
    assert len(rows) >= 10, rows
    assert all(b[0] > a[0] and b[1] >= a[1] and b[2] >= a[2] for a, b in zip(rows, rows[1:])), rows
    assert not os.path.exists(os.path.join(plots, "cost-2.dat"))  # redis-server: no cost

    # --cost no: no report; current prices: the cheapest node that holds the pool's 2 GiB is a
    # cache.t4g.medium with the Valkey engine; Serverless and S3 Express One Zone are compared;
    # arm64 prices as the headline.
    p = icbench("--target", proxy_t, "--requests", "20", "--cost", "no", "--key-prefix", "nc")
    assert "cost " not in p.stdout, p.stdout
    p = icbench("--target", proxy_t, "--requests", "20", "--key-prefix", "cur",
                "--proxy-vm", "none", "--cost-settle", "0", "--lambda-arch", "arm64")
    c = cost_lines(p.stdout)[proxy_t]
    assert c["prices"] == "current" and c["elasticache_node"] == "cache.t4g.medium", c
    assert c["elasticache_engine"] == "valkey" and c["elasticache_redis_node"] == "cache.t4g.medium", c
    assert float(c["vm_usd"]) == 0 and c["vm"] == "none", c
    assert c["lambda_arch"] == "arm64", c
    assert abs(float(c["lambda_usd"]) - float(c["lambda_arm64_usd"])) < 1e-7, c
    assert float(c["lambda_arm64_usd"]) <= float(c["lambda_x86_64_usd"]), c  # 0 if nothing billed yet
    for key in ("serverless_redis_usd", "serverless_valkey_usd", "express_usd"):
        assert float(c[key]) > 0, (key, c)
    # Serverless meters at least 1 GB (Redis OSS) or 0.1 GB (Valkey) per hour of the window.
    hours = float(c["window_s"]) / 3600
    assert abs(float(c["serverless_redis_gb_h"]) - max(float(c["data_gib"]), 1) * hours) < 1e-5, c
    for line in ("Lambda by architecture", "ElastiCache Serverless Valkey for",
                 "S3 Express One Zone alone for", "proxy VM: none (--proxy-vm none)"):
        assert line in p.stdout, (line, p.stdout)

    # gnuplot missing: a clear error before anything runs.
    nognuplot = os.path.join(tmp, "bin")
    os.mkdir(nognuplot)
    p = icbench("--target", proxy_t, "--requests", "5", "--plot", os.path.join(tmp, "p2"),
                expect=2, env=dict(os.environ, PATH=nognuplot))
    assert "gnuplot" in p.stderr and "result " not in p.stdout, p.stderr
    # gnuplot present but failing: the exit status says so.
    fake = os.path.join(nognuplot, "gnuplot")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\nexit 3\n")
    os.chmod(fake, 0o755)
    p = icbench("--target", redis_t, "--requests", "5", "--plot", os.path.join(tmp, "p3"),
                expect=2, env=dict(os.environ, PATH=nognuplot + ":/usr/bin:/bin"))
    assert "gnuplot failed (exit 3)" in p.stderr, p.stderr
    # Bad prices.
    for bad in (["--prices", "1999"], ["--price-gb-s", "x"], ["--proxy-vm", "c5n"],
                ["--lambda-arch", "sparc"], ["--prices", "2020", "--lambda-arch", "arm64"],
                ["--prices", os.path.join(tmp, "none.json")]):
        p = icbench("--target", redis_t, "--requests", "5", *bad, expect=2)
        assert p.stderr.startswith("icbench: option "), p.stderr
    shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
