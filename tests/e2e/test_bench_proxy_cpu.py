#!/usr/bin/python3
"""test_bench_proxy_cpu.py -- smoke run of bench/proxy_cpu.py with small counts (4 MiB objects,
10 runs, 20,000 small requests) against icproxy and redis-server: it runs, and its JSON holds
sane numbers (CPU times that add up and are not negative, positive where the load cannot take
less than a clock tick, bytes moved equal to the counts, positive throughputs and ratios)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, TLS  # noqa: E402

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "proxy_cpu.py")
SIZE = 4 << 20
RUNS = 10
SMALL = 20000


@unittest.skipIf(TLS, "the benchmark speaks plaintext")
class BenchProxyCpuSmoke(unittest.TestCase):
    def test_small_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            out_json = os.path.join(tmp, "r.json")
            p = subprocess.run(["/usr/bin/python3", BENCH, "--bin", BIN, "--size", "4m",
                                "--runs", str(RUNS), "--small-requests", str(SMALL),
                                "--pool-size", "16", "--node-memory", "256",
                                "--idle-seconds", "0.2", "--baselines", "redis",
                                "--proxy-arg=--log-level=warn", "--json", out_json],
                               capture_output=True, text=True, timeout=240)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("figure=cpu_icproxy_get_resp", p.stdout)
            self.assertIn("ratio=cpu_small_get/redis", p.stdout)
            with open(out_json) as f:
                res = json.load(f)
        self.assertEqual(res["machine"]["nproc"], os.cpu_count())
        results = res["results"]
        expected = {
            "icproxy": ["set_library", "get_library", "set_resp", "get_resp", "small_set_loop",
                        "small_get_loop", "small_set", "small_get"],
            "redis": ["set_resp", "get_resp", "small_set_loop", "small_get_loop", "small_set",
                      "small_get"],
        }
        self.assertEqual(sorted(results), sorted(expected))
        for server, phases in expected.items():
            large_cpu = 0.0
            for phase in phases:
                r = results[server][phase]
                what = "%s %s: %r" % (server, phase, r)
                self.assertTrue(r["complete"], what)
                self.assertGreaterEqual(r["user_s"], 0, what)
                self.assertGreaterEqual(r["sys_s"], 0, what)
                self.assertAlmostEqual(r["cpu_s"], r["user_s"] + r["sys_s"], places=2, msg=what)
                self.assertGreater(r["wall_s"], 0, what)
                self.assertLessEqual(r["cpu_share"], os.cpu_count() + 0.5, what)
                if r["kind"] == "large":
                    self.assertEqual(r["requests"], RUNS, what)
                    self.assertEqual(r["bytes"], RUNS * SIZE, what)
                    self.assertGreater(r["throughput_gbps"], 0, what)
                    self.assertAlmostEqual(r["cpu_s_per_gb"], r["cpu_s"] / (r["bytes"] / 1e9),
                                           delta=1e-3, msg=what)
                    large_cpu += r["cpu_s"]
                else:
                    self.assertEqual(r["requests"], SMALL, what)
                    self.assertEqual(r["bytes"], SMALL * 1024, what)
                    self.assertGreater(r["throughput_rps"], 0, what)
                    # 20,000 requests take icproxy and redis-server well over one 10 ms tick.
                    if r["op"] == "set":
                        self.assertGreater(r["cpu_s"], 0, what)
                    self.assertAlmostEqual(r["cpu_ms_per_1k"], r["cpu_s"] * 1e6 / SMALL,
                                           delta=1e-2, msg=what)
            if server == "icproxy":
                # 160 MiB through the proxy cannot take less than a tick in all.
                self.assertGreater(large_cpu, 0)
        # The GET phases read what the SET phases wrote: a fair share of the key space.
        self.assertGreater(results["icproxy"]["keys_after_small_set"], SMALL // 2)
        self.assertGreater(results["redis"]["keys_after_small_set"], SMALL // 2)
        self.assertGreater(results["icproxy"]["small_get_loop"]["hits"], 0)
        self.assertGreater(res["ratios"]["small_set/redis"], 0)
        for name, value in res["ratios"].items():
            self.assertGreaterEqual(value, 0, name)


if __name__ == "__main__":
    unittest.main()
