#!/usr/bin/python3
"""bench/availability.py in miniature: one way (backup + repair) for nine simulated minutes
(long enough for a backup of every node) with a handful of small objects and random reclaims.
It must finish, write a JSON result with every figure the full experiment reports, never serve
wrong bytes, and leave no process behind; bad arguments are refused. No timing or availability
assertions: those belong to the experiment, not to a test."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ.get("IC_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("IC_BIN", os.path.join(SRC, "build", "bin"))
SCRIPT = os.path.join(SRC, "bench", "availability.py")

WAY_FIELDS = ["way", "gets", "gets_of_cached", "right", "availability", "misses", "get_errors",
              "wrong_bytes", "stale", "sets", "fills", "objects_lost", "chunks_lost",
              "chunks_repaired", "backups_ok", "backups_failed", "reclaims", "evictions",
              "cost_per_hour_usd", "per_hour", "counters", "leaked_instances"]


class AvailabilitySmokeTest(unittest.TestCase):
    def test_tiny_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "result.json")
            proc = subprocess.run(
                [sys.executable, SCRIPT, "--bin", BIN, "--ways", "repair", "--hours", "0.15",
                 "--compression", "60", "--keys", "24", "--min-size", "2k", "--max-size", "96k",
                 "--rate", "40", "--pool-size", "6", "--d", "4", "--p", "2",
                 "--node-memory", "128", "--reclaim-rate", "2", "--seed", "7",
                 "--slack", "40", "--log-dir", tmp, "--json", out],
                capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            with open(out) as f:
                res = json.load(f)
        for field in ("date", "machine", "params", "prices", "paper_availability", "ways"):
            self.assertIn(field, res)
        self.assertNotIn("error", res)
        self.assertEqual(len(res["ways"]), 1)
        way = res["ways"][0]
        for field in WAY_FIELDS:
            self.assertIn(field, way)
        self.assertEqual(way["way"], "repair")
        self.assertGreater(way["gets"], 0)
        self.assertEqual(way["wrong_bytes"], 0, way.get("wrong_examples"))
        self.assertEqual(way["leaked_instances"], [])
        for kind in ("warmup", "backup", "serving", "total"):
            self.assertGreaterEqual(way["cost_per_hour_usd"][kind], 0)
        self.assertIn("| backup + repair |", proc.stdout)

    def test_bad_arguments_are_refused(self):
        for bad in (["--ways", "bogus"], ["--hours", "0"], ["--min-size", "1x"],
                    ["--min-size", "2m", "--max-size", "1m"], ["--hours", "24", "--compression",
                                                               "1"]):
            proc = subprocess.run([sys.executable, SCRIPT, "--bin", BIN, *bad],
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 2, (bad, proc.stderr))
            self.assertIn("error", proc.stderr)


if __name__ == "__main__":
    unittest.main()
