#!/usr/bin/python3
"""test_bench_getrange.py -- smoke run of bench/bench_getrange.py on a small object (24 MiB, 3
ranges): it runs, checks every byte it reads, and its bytes figure meets the target (that one
does not depend on timing; the latency figure is only checked to be there)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, TLS  # noqa: E402

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "bench_getrange.py")


@unittest.skipIf(TLS, "the benchmark speaks plaintext")
class BenchGetrangeSmoke(unittest.TestCase):
    def test_small_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            out_json = os.path.join(tmp, "r.json")
            p = subprocess.run(["/usr/bin/python3", BENCH, "--bin", BIN, "--size", "24m",
                                "--reps", "3", "--json", out_json],
                               capture_output=True, text=True, timeout=240)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("figure=getrange_bytes", p.stdout)
            self.assertIn("figure=getrange_latency", p.stdout)
            with open(out_json) as f:
                res = json.load(f)
            self.assertEqual(res["chunk_bytes_moved"], 3 * (1 << 20))
            self.assertTrue(res["bytes_ok"])
            self.assertGreater(res["get_median_ms"], 0)


if __name__ == "__main__":
    unittest.main()
