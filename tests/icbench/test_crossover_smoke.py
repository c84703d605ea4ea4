#!/usr/bin/python3
"""bench/eval_crossover.py in miniature: the paper's case (100 ms billing) and the Redis-protocol
small-object case with a few requests each. It must finish, write every figure, never see wrong
bytes, bill the paper's case in 100 ms units, and find the one-chunk small-object path needs
fewer invocations per request than RS(10+2); bad arguments are refused."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ.get("IC_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("IC_BIN", os.path.join(SRC, "build", "bin"))
SCRIPT = os.path.join(SRC, "bench", "eval_crossover.py")

FIELDS = ["case", "requests", "gets", "hits", "errors", "wrong_bytes", "serving_invocations",
          "serving_gb_s", "invocations_per_request", "billed_ms_per_invocation",
          "serving_usd_per_request", "warmup_usd_per_function_hour", "vm_usd_per_h",
          "billing_ms", "prices", "crossover_paper_style_per_h", "crossover_full_per_h"]


class CrossoverSmokeTest(unittest.TestCase):
    def test_tiny_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "crossover.json")
            proc = subprocess.run([sys.executable, SCRIPT, "--bin", BIN, "--cases", "paper,resp",
                                   "--requests", "8", "--rate", "8", "--warmup-interval", "1",
                                   "--json", out], capture_output=True, text=True, timeout=240)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            with open(out) as f:
                rows = {r["case"]: r for r in json.load(f)["rows"]}
        self.assertEqual(sorted(rows), ["paper", "resp"])
        for r in rows.values():
            for k in FIELDS:
                self.assertIn(k, r)
            self.assertEqual(r["wrong_bytes"], 0, r)
            self.assertEqual(r["errors"], 0, r)
            self.assertEqual(r["requests"], 8 + r["gets"] - r["hits"], r)  # GETs + cache fills
            self.assertGreater(r["serving_usd_per_request"], 0, r)
            self.assertGreater(r["crossover_paper_style_per_h"], r["crossover_full_per_h"], r)
        self.assertEqual(rows["paper"]["billing_ms"], 100)
        self.assertEqual(rows["paper"]["prices"], "2020")
        self.assertGreaterEqual(rows["paper"]["billed_ms_per_invocation"], 100)
        self.assertEqual(rows["resp"]["billing_ms"], 1)
        self.assertLess(rows["resp"]["invocations_per_request"],
                        rows["paper"]["invocations_per_request"])
        self.assertIn("crossover", proc.stdout)

    def test_bad_case(self):
        proc = subprocess.run([sys.executable, SCRIPT, "--bin", BIN, "--cases", "nosuch"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("unknown case", proc.stderr)


if __name__ == "__main__":
    unittest.main()
