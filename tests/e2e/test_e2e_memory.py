#!/usr/bin/python3
"""A pool filled past its memory on the real system: the proxy and the nodes count chunks with one
formula, so the proxy evicts before a node refuses, and every SET succeeds (12 nodes of 8 MiB,
60,000 objects of 1,000 bytes, about twice what the pool holds)."""
import os
import sys
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import Proxy  # noqa: E402

POOL = 12
SETS = 60000
BATCH = 500


class MemoryAccountingTest(unittest.TestCase):
    def test_pool_overfilled_every_set_succeeds(self):
        # 128 MiB functions with 120 MiB reserved: 8 MiB of chunks each.
        with Proxy("--pool-size", str(POOL), "--node-memory", "128", "--node-reserved", "120",
                   "--request-timeout", "10s") as proxy:
            r = redis.Redis(port=proxy.port, socket_timeout=60)
            value = lambda i: (b"%08d" % i) * 125  # noqa: E731  1,000 bytes, distinct per key
            failed = []
            for start in range(0, SETS, BATCH):
                pipe = r.pipeline(transaction=False)
                for i in range(start, start + BATCH):
                    pipe.set("k%06d" % i, value(i))
                for i, res in enumerate(pipe.execute(raise_on_error=False)):
                    if res is not True:
                        failed.append((start + i, res))
            self.assertEqual(failed[:5], [], "%d SETs failed" % len(failed))
            stats = r.info("stats")
            self.assertGreater(stats["evicted_keys"], 0)
            self.assertEqual(stats["error_replies"], 0)
            for i in range(SETS - 200, SETS):
                self.assertEqual(r.get("k%06d" % i), value(i), "key %d" % i)


if __name__ == "__main__":
    unittest.main()
