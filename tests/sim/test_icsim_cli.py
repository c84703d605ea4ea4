#!/usr/bin/python3
"""icsim as a user runs it: a synthetic run priced with the paper's prices, its cost line checked
against its own billing lines (the same arithmetic as icbench's cost report), the ElastiCache
node of the paper's pool, backup concurrency making a difference, and bad options refused."""
import os
import re
import subprocess
import unittest

SRC = os.environ.get("IC_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("IC_BIN", os.path.join(SRC, "build", "bin"))
ICSIM = os.path.join(BIN, "icsim")
# The paper's pool and prices; a synthetic hour of large objects.
RUN = ["--hours", "2", "--hourly-rate", "400", "--keys", "300", "--zipf", "0.8",
       "--size-dist", "lognormal:20m,0.5", "--max-size", "200m", "--pool-size", "400",
       "--node-memory", "1536", "--node-reserved", "100", "--d", "10", "--p", "2",
       "--billing", "100ms", "--reclaim-rate", "1", "--node-bandwidth", "50m",
       "--backup-interval", "5m", "--prices", "2020"]


def icsim(*args, expect=0):
    p = subprocess.run([ICSIM, *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == expect, (args, p.returncode, p.stdout, p.stderr)
    return p


def fields(line):
    return dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)


class IcsimCliTest(unittest.TestCase):
    def run_sim(self, *extra):
        out = icsim(*RUN, *extra).stdout
        result = fields(next(l for l in out.splitlines() if l.startswith("result ")))
        cost = fields(next(l for l in out.splitlines() if l.startswith("cost ")))
        kinds = {l.split()[1]: fields(l) for l in out.splitlines() if l.startswith("kind ")}
        return out, result, cost, kinds

    def test_cost_report(self):
        out, result, cost, kinds = self.run_sim("--proxy-vm", "none")
        self.assertEqual(cost["prices"], "2020")
        self.assertEqual(cost["billing_ms"], "100")
        self.assertTrue(1.8 < float(cost["hours"]) <= 2.01, cost)  # ends at the last request
        # Lambda dollars by kind from the billing lines: GB-s x $0.0000166667 + $0.20 per 1M.
        for kind, name in (("activate", "serving"), ("warmup", "warmup"), ("backup", "backup")):
            k = kinds[kind]
            want = float(k["gb_seconds"]) * 0.0000166667 + int(k["invocations"]) * 0.2e-6
            self.assertAlmostEqual(float(cost[name + "_usd"]), want, delta=1e-4 + want * 1e-3)
        self.assertGreater(float(cost["backup_usd"]), 0)
        self.assertGreater(float(cost["warmup_usd"]), 0)
        lam = sum(float(cost[n + "_usd"]) for n in ("serving", "warmup", "backup", "other"))
        self.assertAlmostEqual(float(cost["lambda_usd"]), lam, delta=1e-3)
        self.assertAlmostEqual(float(result["cost_usd"]), lam, delta=1e-3)
        self.assertEqual(float(cost["vm_usd"]), 0)
        # 400 x 1536 MiB = 600 GiB: one cache.r5.24xlarge at $10.368 an hour.
        self.assertEqual(cost["elasticache_node"], "cache.r5.24xlarge")
        self.assertAlmostEqual(float(cost["elasticache_usd"]), 10.368 * float(cost["hours"]),
                               delta=0.01)
        ratio = float(cost["elasticache_usd"]) / float(cost["infinicache_usd"])
        self.assertAlmostEqual(float(cost["ratio"]), ratio, delta=0.01 * ratio)
        self.assertIn("cheaper", out)
        self.assertTrue(re.search(r"InfiniCache \$[0-9.]+ .* times cheaper", out), out)

    def test_backup_concurrency(self):
        # Two at a time cannot back up 400 nodes every 5 minutes; more at once run more backups.
        _, r2, _, _ = self.run_sim("--backup-concurrency", "2")
        _, r16, _, _ = self.run_sim("--backup-concurrency", "16")
        self.assertGreater(int(r16["backups"]), int(r2["backups"]))

    def test_bad_options(self):
        p = icsim("--backup-concurrency", "0", expect=2)
        self.assertIn("backup-concurrency", p.stderr)
        p = icsim("--prices", "1999", expect=2)
        self.assertIn("prices", p.stderr)
        p = icsim("--hourly-rate", "-5", expect=2)
        self.assertIn("hourly-rate", p.stderr)


if __name__ == "__main__":
    unittest.main()
