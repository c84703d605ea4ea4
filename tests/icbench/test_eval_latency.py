#!/usr/bin/python3
"""bench/eval_latency.py in miniature (make eval-latency): two small sizes, two codes, a few
requests, and the first-d comparison with a handful of GETs. It must finish, print its tables,
write a JSON result with every key the full run reports, never see wrong bytes and leave no
process behind; bad arguments are refused. No timing assertions: those belong to the
experiment (tests/proxy/test_proxy_first_d.py proves the first-d ordering deterministically)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ.get("IC_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("IC_BIN", os.path.join(SRC, "build", "bin"))
SCRIPT = os.path.join(SRC, "bench", "eval_latency.py")

ROW_FIELDS = ["count", "errors", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms", "wrong_bytes"]


class EvalLatencySmokeTest(unittest.TestCase):
    def test_tiny_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "result.json")
            proc = subprocess.run(
                [sys.executable, SCRIPT, "--bin", BIN, "--sizes", "256k,1m", "--codes", "4+2,10+1",
                 "--requests", "8", "--keys", "2", "--node-memory", "128", "--firstd-size", "1m",
                 "--firstd-gets", "12", "--straggler-delay", "50ms", "--firstd-delay", "50ms",
                 "--target-seconds", "20", "--run-timeout", "60", "--log-dir", tmp,
                 "--json", out],
                capture_output=True, text=True, timeout=150)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            self.assertIn("(a) latency vs object size", proc.stdout)
            self.assertIn("(b) first-d on vs off", proc.stdout)
            with open(out) as f:
                res = json.load(f)
        for field in ("date", "machine", "loadavg_start", "loadavg_end", "paper", "settings",
                      "latency", "firstd", "seconds", "leaked_instances"):
            self.assertIn(field, res)
        self.assertEqual(res["leaked_instances"], [])
        self.assertEqual(len(res["latency"]), 2 * 2 * 2)  # sizes x codes x {get, set}
        for row in res["latency"]:
            for field in ROW_FIELDS + ["size", "size_name", "code", "op"]:
                self.assertIn(field, row)
            self.assertGreater(row["count"], 0, row)
            self.assertEqual(row["wrong_bytes"], 0)
            self.assertEqual(row["errors"], 0, row)
        self.assertEqual({r["code"] for r in res["latency"]}, {"4+2", "10+1"})
        self.assertEqual([r["first_d"] for r in res["firstd"]], [True, False])
        for row in res["firstd"]:
            for field in ROW_FIELDS + ["code", "size"]:
                self.assertIn(field, row)
            self.assertGreater(row["count"], 0)

    def test_bad_arguments(self):
        for bad in (["--codes", "10-2"], ["--sizes", "ten"], ["--parts", "cost"]):
            proc = subprocess.run([sys.executable, SCRIPT, "--bin", BIN] + bad,
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 2, bad)


if __name__ == "__main__":
    unittest.main()
