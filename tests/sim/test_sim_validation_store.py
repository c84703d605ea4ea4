#!/usr/bin/python3
"""The simulator against the real system for the ways of keeping data with an object store under
the cache (docs/EVALUATION.md, "Durability with an object store"): the trace of sim_validation
(200 GETs of 100 layers of 1 MiB, a pool smaller than the working set), every object in an S3
bucket (s3rver), no peer backup, and the same instances reclaimed at the same moments of the
replay: three nodes at once (more than p, so some objects are lost and the store answers them)
and a fourth later. The real run is icbench through icproxy (read-through from the bucket, a
repair policy) with the platform's POST /admin/reclaim; icsim gets --backing s3, the matching
--repair-policy and --kill. Hit ratio (GETs answered from the cache), invocations and billed
GB-seconds must agree within 5%.

The ways compared (IC_SIM_STORE_WAYS, comma-separated; CI runs hot, ~75 s a way):
  lazy   store only: lost chunks re-created by the GET that finds them (icproxy --repair lazy)
  eager  store + repair at once (icproxy --repair yes, from the store's copy)
  hot    store + hot repair (icproxy --repair hot)
  repair repair only, no bucket: lost chunks rebuilt from d surviving ones (--repair yes); a
         lost object is a miss, which icbench fills with a SET"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import proxytest  # noqa: E402
from backingtest import ENV, S3rver  # noqa: E402
from test_sim_validation import MARGIN_MS, TOLERANCE, figures, info, settle, write_trace  # noqa: E402

BIN = proxytest.BIN
BILLING = os.environ.get("IC_SIM_VALIDATION_BILLING", "100ms")
POOL = ["--pool-size", "10", "--node-memory", "128", "--node-reserved", "120", "--d", "4",
        "--p", "2", "--billing", BILLING, "--warmup-interval", "10s", "--backup-interval", "0",
        "--node-bandwidth", "20m"]
# (seconds into the replay, node): three neighbours at once (an object's d + p chunks go to
# neighbouring nodes) lose the objects that had a chunk on each of them, and one more later.
KILLS = [(25.0, 2), (25.0, 3), (25.0, 4), (50.0, 7)]
# way: (icproxy --repair, icsim --repair-policy, with the bucket)
WAYS = {"lazy": ("lazy", "lazy", True), "eager": ("yes", "eager", True),
        "hot": ("hot", "hot", True), "repair": ("yes", "eager", False)}
PREFIX = "v/"


def bench(port, trace, compress="1"):
    return subprocess.run(
        [os.path.join(BIN, "icbench"), "--target", "resp:127.0.0.1:%d" % port, "--trace", trace,
         "--time-compress", compress, "--timeout", "20s", "--backing", "none"],
        capture_output=True, text=True, timeout=240)


def reclaim(proxy, function):
    req = urllib.request.Request(proxy.platform + "/admin/reclaim?function=" + function,
                                 method="POST",
                                 headers={"Authorization": "Bearer " + proxy.admin_token})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


class SimValidationStore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.trace = os.path.join(cls.tmp.name, "trace.jsonl")
        write_trace(cls.trace)
        cls.store = S3rver()
        # Fill the bucket: the trace replayed fast through a write-through proxy whose pool
        # holds everything, so every object is SET (and written through) once.
        with proxytest.Proxy("--pool-size", "10", "--node-memory", "256", "--d", "4", "--p",
                             "2", "--warmup-interval", "0", "--backup-interval", "0",
                             *cls.store.args(PREFIX), "--log-level", "warn", env=ENV,
                             harness_tls=False) as p:
            out = bench(p.port, cls.trace, compress="50")
            assert out.returncode == 0, out.stdout + out.stderr
            cls.filled = info(p.port)["backing_puts"]

    @classmethod
    def tearDownClass(cls):
        cls.store.close()
        cls.tmp.cleanup()

    def run_sim(self, policy, store):
        js = os.path.join(self.tmp.name, "sim-%s.json" % policy)
        kills = ",".join("%dms:%d" % (t * 1000, n) for t, n in KILLS)
        sim = subprocess.run([os.path.join(BIN, "icsim"), "--trace", self.trace, *POOL,
                              "--billing-margin", "%dms" % MARGIN_MS,
                              "--backing", "s3" if store else "none",
                              "--repair-policy", policy, "--kill", kills, "--json", js],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(sim.returncode, 0, sim.stderr)
        with open(js) as f:
            s = json.load(f)["total"]
        return {"hit_ratio": s["hit_ratio"], "invocations": s["invocations"],
                "gb_seconds": s["gb_seconds"], "billed_ms": s["billed_ms"],
                "store_answers": s["store_answers"], "objects_lost": s["objects_lost"],
                "chunks_lost": s["chunks_lost"], "chunks_restored": s["chunks_restored"],
                "by_kind": {k: s["by_kind"][k]["requests"]
                            for k in ("activate", "warmup", "backup")}}

    def run_real(self, repair, store):
        os.environ["IC_NODE_BILLING_MARGIN_MS"] = str(MARGIN_MS)
        backing = [*self.store.args(PREFIX), "--backing-mode", "read-through"] if store else []
        with proxytest.Proxy(*POOL, *backing, "--repair", repair, "--log-level", "warn",
                             env=ENV, harness_tls=False) as proxy:
            before = settle(proxy.port)
            stop = threading.Event()
            t0 = time.monotonic()

            def killer():
                for at, node in KILLS:
                    if stop.wait(max(0.0, t0 + at - time.monotonic())):
                        return
                    reclaim(proxy, "icnode%d" % node)
            k = threading.Thread(target=killer)
            k.start()
            try:
                out = bench(proxy.port, self.trace)
            finally:
                stop.set()
                k.join()
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            after = settle(proxy.port)
        m = re.search(r"^result .*", out.stdout, re.M)
        self.assertIsNotNone(m, out.stdout)
        res = dict(kv.split("=", 1) for kv in m.group(0).split()[1:])
        self.assertEqual(int(res.get("errors", 0)), 0, out.stdout)
        real = figures(before, after)
        if store:
            self.assertEqual(float(res["hit_ratio"]), 1.0, out.stdout)  # the store answers
            gets = sum(after[k] - before.get(k, 0) for k in ("keyspace_hits", "keyspace_misses"))
            answers = after["backing_store_hits"] - before.get("backing_store_hits", 0)
            real["hit_ratio"] = (gets - answers) / gets
            real["store_answers"] = answers
        else:
            real["hit_ratio"] = float(res["hit_ratio"])
        for k in ("chunks_lost", "chunks_repaired", "objects_lost", "repairs_deferred"):
            real[k] = after.get(k, 0) - before.get(k, 0)
        # The reclaims happened: the proxy found chunks gone, and rebuilt some (by the policy's
        # background repair, or by the GETs that found them).
        self.assertGreater(real["chunks_lost"], 0, real)
        self.assertGreater(real["chunks_repaired"], 0, real)
        return real

    def test_ways(self):
        ways = os.environ.get("IC_SIM_STORE_WAYS", "hot").split(",")
        failures = []
        for way in ways:
            repair, policy, store = WAYS[way]
            sim = self.run_sim(policy, store)
            real = self.run_real(repair, store)
            print("%s real: %s\n%s sim:  %s" % (way, json.dumps(real), way, json.dumps(sim)),
                  flush=True)
            for k in ("hit_ratio", "invocations", "gb_seconds"):
                if abs(sim[k] - real[k]) > TOLERANCE * real[k]:
                    failures.append("%s %s: sim %.4f, real %.4f" % (way, k, sim[k], real[k]))
        self.assertEqual(failures, [])


if __name__ == "__main__":
    unittest.main()
