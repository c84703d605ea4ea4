#!/usr/bin/python3
"""test_node_netem.py -- network emulation end to end: icproxy passes --node-bandwidth and
--straggler-* to its local platform, which exports them to every icnode, whose replies then come
no faster than the cap and the stragglers allow. Timing is asserted as lower bounds only (a slow
machine may be slower, never faster). Also: bad values are refused at start-up."""
import os
import subprocess
import sys
import time
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proxy"))
from proxytest import BIN, Proxy  # noqa: E402

COMMON = ("--node-memory", "128", "--node-reserved", "16", "--max-object-size", "64m")


def timed_get(r, key):
    start = time.monotonic()
    v = r.get(key)
    return v, time.monotonic() - start


class NetemTest(unittest.TestCase):
    def test_bandwidth_cap(self):
        # d=1, p=0: one node holds the whole 10 MiB and sends it at 20 MiB/s: >= ~0.5 s.
        with Proxy("--pool-size", "2", "--d", "1", "--p", "0", "--node-bandwidth", "20m",
                   *COMMON) as proxy:
            r = redis.Redis(port=proxy.port, socket_timeout=60)
            value = os.urandom(10 << 20)
            self.assertTrue(r.set("big", value))
            got, took = timed_get(r, "big")
            self.assertEqual(got, value)
            print("10 MiB GET at 20 MiB/s: %.3f s" % took)
            self.assertGreaterEqual(took, 0.4)
            # Small commands are not held up once the reply is out.
            self.assertTrue(r.ping())

    def test_every_reply_straggles(self):
        # Every chunk reply is held 300 ms: a GET cannot finish sooner, whatever the coding.
        with Proxy("--pool-size", "6", "--d", "4", "--p", "2", "--straggler-rate", "1",
                   "--straggler-delay", "300ms", *COMMON) as proxy:
            r = redis.Redis(port=proxy.port, socket_timeout=60)
            for key, size in (("small", 1000), ("coded", 1 << 20)):
                value = os.urandom(size)
                self.assertTrue(r.set(key, value))
                got, took = timed_get(r, key)
                self.assertEqual(got, value)
                print("%s GET with every reply 300 ms late: %.3f s" % (key, took))
                self.assertGreaterEqual(took, 0.3)
            self.assertIsNone(r.get("absent"))  # the proxy answers a miss without the nodes

    def test_some_replies_straggle(self):
        # RS(4+2) with a third of the replies late (seeded, so repeatable): a GET needs only the
        # first 4 of 6 chunks, so many GETs finish before the stragglers' replies; every one is
        # right. Only printed, not asserted: an upper bound on time would be flaky.
        with Proxy("--pool-size", "6", "--d", "4", "--p", "2", "--straggler-rate", "0.33",
                   "--straggler-delay", "300ms", "--seed", "11", *COMMON) as proxy:
            r = redis.Redis(port=proxy.port, socket_timeout=60)
            value = os.urandom(1 << 20)
            self.assertTrue(r.set("obj", value))
            times = []
            for _ in range(12):
                got, took = timed_get(r, "obj")
                self.assertEqual(got, value)
                times.append(took)
            times.sort()
            print("RS(4+2) GETs with 33%% stragglers: min %.3f median %.3f max %.3f s"
                  % (times[0], times[len(times) // 2], times[-1]))

    def test_bad_values_refused(self):
        for args in (("--straggler-rate", "1.5"), ("--straggler-rate", "x"),
                     ("--straggler-rate", "-0.1"), ("--node-bandwidth", "-1"),
                     ("--node-bandwidth", "65g"), ("--straggler-delay", "soon")):
            p = subprocess.run([os.path.join(BIN, "icproxy"), "--client-port", "0", *args],
                               capture_output=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(args[0][2:].encode(), p.stderr + p.stdout, args)
        for args in (("--straggler-rate", "2"), ("--straggler-rate", "nan"),
                     ("--node-bandwidth", "lots")):
            p = subprocess.run([os.path.join(BIN, "icplatform"), *args], capture_output=True,
                               timeout=30)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(args[0][2:].encode(), p.stderr, args)
        # icnode checks its environment before serving (the Runtime API here leads nowhere).
        for var, value in (("IC_NODE_STRAGGLER_RATE", "1.01"), ("IC_NODE_STRAGGLER_RATE", " 0.5"),
                           ("IC_NODE_STRAGGLER_RATE", "0x1"), ("IC_NODE_BANDWIDTH", "1t"),
                           ("IC_NODE_STRAGGLER_DELAY_MS", "-5")):
            env = dict(os.environ, AWS_LAMBDA_RUNTIME_API="127.0.0.1:1",
                       AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", **{var: value})
            p = subprocess.run([os.path.join(BIN, "icnode")], env=env, capture_output=True,
                               timeout=30)
            self.assertEqual(p.returncode, 1, (var, value))
            self.assertIn(var.encode(), p.stderr, (var, value, p.stderr))


if __name__ == "__main__":
    unittest.main(verbosity=2)
