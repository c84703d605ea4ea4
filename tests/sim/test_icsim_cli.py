#!/usr/bin/python3
"""icsim as a user runs it: a synthetic run priced with the paper's prices, its cost line checked
against its own billing lines (the same arithmetic as icbench's cost report), the ElastiCache
node of the paper's pool; at today's prices the arm64, VM, Serverless and S3 Express One Zone
figures recomputed from the price file; a price file of one's own and a malformed one; backup
concurrency making a difference; the object store under the cache (store requests priced, eager
repair keeping GETs in the cache where the store alone answers them); and bad options refused."""
import json
import os
import re
import subprocess
import tempfile
import unittest

SRC = os.environ.get("IC_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
PRICES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "prices")
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

    def test_current_prices(self):
        with open(os.path.join(PRICES, "current.json")) as f:
            prices = json.load(f)
        out, result, cost, kinds = self.run_sim("--prices", "current", "--billing", "1ms")
        hours = float(cost["hours"])
        self.assertEqual(cost["prices"], "current")
        self.assertEqual(cost["lambda_arch"], "x86_64")
        gbs = sum(float(k["gb_seconds"]) for k in kinds.values())
        reqs = sum(int(k["invocations"]) for k in kinds.values())
        for arch in ("x86_64", "arm64"):
            lam = prices["lambda"][arch]
            want = gbs * lam["gb_second"]["value"] + reqs * lam["requests"]["value"] / 1e6
            self.assertAlmostEqual(float(cost["lambda_%s_usd" % arch]), want, delta=1e-6 + want * 1e-6)
        self.assertLess(float(cost["lambda_arm64_usd"]), float(cost["lambda_x86_64_usd"]))
        self.assertAlmostEqual(float(cost["lambda_usd"]), float(cost["lambda_x86_64_usd"]), delta=1e-4)
        # The VM: the cheapest listed instance whose baseline carries the peak, named.
        need = float(cost["peak_bytes_per_s"]) * 8 / 1e9
        self.assertGreater(need, 0)
        fits = [i for i in prices["ec2_instances"] if i["baseline_gbps"] >= need]
        best = min(fits, key=lambda i: (i["price"]["value"], i["baseline_gbps"]))
        self.assertEqual(cost["vm"], best["type"])
        self.assertEqual(cost["vm_how"], "chosen")
        self.assertAlmostEqual(float(cost["vm_usd"]), best["price"]["value"] * hours,
                               delta=1e-3 + best["price"]["value"] * 1e-3)
        self.assertIn("proxy VM %s, the cheapest listed instance that carries the peak" % best["type"], out)
        # Serverless: GB-hours of the data held (at least the minimum) plus ECPUs.
        data = float(cost["data_gib"])
        self.assertGreater(data, 0)
        for engine in ("redis", "valkey"):
            sv = prices["elasticache_serverless"][engine]
            gb_h = max(data, sv["minimum_data"]["value"]) * hours
            # (hours is printed to 3 decimals)
            self.assertAlmostEqual(float(cost["serverless_%s_gb_h" % engine]), gb_h,
                                   delta=gb_h * 1e-3)
            want = float(cost["serverless_%s_gb_h" % engine]) * sv["data_stored"]["value"] + \
                float(cost["serverless_%s_ecpus" % engine]) * sv["ecpu"]["value"] / 1e6
            self.assertAlmostEqual(float(cost["serverless_%s_usd" % engine]), want, delta=1e-6 + want * 1e-6)
        # S3 Express One Zone from its printed inputs.
        m = re.search(r"S3 Express One Zone alone for ([0-9.]+) GiB held, ([0-9]+) GETs of ([0-9.]+) "
                      r"GiB and ([0-9]+) PUTs of ([0-9.]+) GiB: \$([0-9.]+)", out)
        self.assertTrue(m, out)
        held, gets, get_gib, puts, put_gib, usd = map(float, m.groups())
        self.assertEqual(int(gets) + int(puts), int(result["requests"]))
        x = prices["s3_express_one_zone"]
        want = held * hours / 730 * x["storage"]["value"] + puts / 1000 * x["put_requests"]["value"] + \
            gets / 1000 * x["get_requests"]["value"] + put_gib * x["upload"]["value"] + \
            get_gib * x["retrieval"]["value"]
        self.assertAlmostEqual(usd, want, delta=1e-4 + want * 1e-3)
        self.assertAlmostEqual(float(cost["express_usd"]), usd, delta=1e-6)
        self.assertIn("ElastiCache Valkey on-demand for the pool's 600.00 GiB", out)
        # arm64 as the headline.
        _, _, cost_arm, _ = self.run_sim("--prices", "current", "--billing", "1ms",
                                         "--lambda-arch", "arm64")
        self.assertEqual(cost_arm["lambda_arch"], "arm64")
        self.assertAlmostEqual(float(cost_arm["lambda_usd"]), float(cost_arm["lambda_arm64_usd"]),
                               delta=1e-4)

    def test_price_file(self):
        with open(os.path.join(PRICES, "2020.json")) as f:
            prices = json.load(f)
        for node in prices["elasticache_nodes"]:
            if node["type"] == "cache.r5.24xlarge":
                node["price"]["value"] = 20.736
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "mine.json")
            with open(path, "w") as f:
                json.dump(prices, f)
            _, _, cost, _ = self.run_sim("--prices", path, "--proxy-vm", "none")
            self.assertAlmostEqual(float(cost["elasticache_usd"]), 20.736 * float(cost["hours"]),
                                   delta=0.05)
            # A malformed file is refused with the file and the key named.
            prices["lambda"]["x86_64"]["gb_second"]["unit"] = "USD per GB-hour"
            with open(path, "w") as f:
                json.dump(prices, f)
            p = icsim(*RUN[:-2], "--prices", path, expect=2)
            self.assertIn(path, p.stderr)
            self.assertIn("lambda.x86_64.gb_second: unit", p.stderr)
            # The 2020 set has no arm64 Lambda.
            p = icsim(*RUN, "--lambda-arch", "arm64", expect=2)
            self.assertIn("no arm64", p.stderr)

    def test_backup_concurrency(self):
        # Two at a time cannot back up 400 nodes every 5 minutes; more at once run more backups.
        _, r2, _, _ = self.run_sim("--backup-concurrency", "2")
        _, r16, _, _ = self.run_sim("--backup-concurrency", "16")
        self.assertGreater(int(r16["backups"]), int(r2["backups"]))

    def test_object_store(self):
        def durability(out):
            return fields(next(l for l in out.splitlines() if l.startswith("durability ")))
        base = ["--backup-interval", "0", "--backing", "s3", "--prices", "current"]
        out, result, cost, _ = self.run_sim(*base)
        lazy = durability(out)
        self.assertEqual(lazy["backing"], "s3")
        self.assertEqual(float(lazy["answered"]), 1.0)  # the store answers what the cache lost
        self.assertGreater(int(lazy["store_answers"]), 0)
        self.assertGreater(int(lazy["store_puts"]), 0)
        self.assertGreater(float(cost["s3_requests_usd"]), 0)
        self.assertGreater(float(cost["s3_storage_usd"]), 0)
        out, _, _, _ = self.run_sim(*base, "--repair-policy", "eager")
        eager = durability(out)
        self.assertGreater(int(eager["repairs_from_store"]), 0)
        self.assertGreater(float(eager["from_cache"]), float(lazy["from_cache"]))
        # Without a store, nothing is answered but what the cache holds.
        out, _, _, _ = self.run_sim("--backup-interval", "0")
        none = durability(out)
        self.assertEqual(int(none["store_gets"]), 0)
        self.assertEqual(none["answered"], none["from_cache"])

    def test_scripted_kills(self):
        # No random reclaims: the scripted ones are all there is, and each loses chunks.
        base = ["--reclaim-rate", "0", "--backup-interval", "0", "--hours", "1"]
        _, r0, _, _ = self.run_sim(*base)
        self.assertEqual(int(r0["reclaims_random"]), 0)
        out, r2, _, _ = self.run_sim(*base, "--kill", "20m:3,40m:7")
        self.assertEqual(int(r2["reclaims_random"]), 2)

    def test_bad_options(self):
        for bad in ("20m", "20m:400", "x:1", "20m:1,"):
            p = icsim("--pool-size", "400", "--kill", bad, expect=2)
            self.assertIn("option kill", p.stderr)
        p = icsim("--backing", "gs", expect=2)
        self.assertIn("backing", p.stderr)
        p = icsim("--repair-policy", "sometimes", expect=2)
        self.assertIn("repair-policy", p.stderr)
        p = icsim("--backup-concurrency", "0", expect=2)
        self.assertIn("backup-concurrency", p.stderr)
        p = icsim("--prices", "1999", expect=2)
        self.assertIn("prices", p.stderr)
        p = icsim("--hourly-rate", "-5", expect=2)
        self.assertIn("hourly-rate", p.stderr)


if __name__ == "__main__":
    unittest.main()
