#!/usr/bin/python3
"""End to end through the C library (via iccli): two proxies each with its own pool, keys spread
by consistent hashing, byte-identical files, interoperability with the Redis protocol path,
exit codes, and reads that survive up to p lost nodes (with repair of the lost chunks)."""
import os
import subprocess
import sys
import tempfile
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, Proxy, iccli_args, wait_for  # noqa: E402


class LibraryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common = ("--pool-size", "14", "--node-memory", "256", "--node-reserved", "16")
        cls.proxies = [Proxy(*common), Proxy(*common, "--function-prefix", "other")]
        cls.addrs = ["127.0.0.1:%d" % p.port for p in cls.proxies]
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        for p in cls.proxies:
            p.stop()
        cls.tmp.cleanup()

    def iccli(self, *args, stdin=None, proxies=None):
        cmd = [os.path.join(BIN, "iccli"), *iccli_args()]
        for a in proxies or self.addrs:
            cmd += ["--proxy", a]
        return subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=120)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_file_roundtrip_and_exit_codes(self):
        data = os.urandom((20 << 20) + 11)
        with open(self.path("in.bin"), "wb") as f:
            f.write(data)
        self.assertEqual(self.iccli("set", "file", self.path("in.bin")).returncode, 0)
        self.assertEqual(self.iccli("get", "file", self.path("out.bin")).returncode, 0)
        with open(self.path("out.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(self.iccli("exists", "file").returncode, 0)
        self.assertEqual(self.iccli("del", "file").returncode, 0)
        self.assertEqual(self.iccli("get", "file", "-").returncode, 1)
        self.assertEqual(self.iccli("exists", "file").returncode, 1)
        out = self.iccli("set", "x", "/nonexistent/file")
        self.assertEqual(out.returncode, 2)
        self.assertTrue(out.stderr)

    def test_stdin_stdout_and_keys_spread(self):
        for i in range(40):
            v = b"value-%d" % i * (i * 50 + 1)
            out = self.iccli("set", "key%d" % i, "-", stdin=v)
            self.assertEqual(out.returncode, 0, out.stderr)
        for i in range(40):
            out = self.iccli("get", "key%d" % i)
            self.assertEqual(out.returncode, 0)
            self.assertEqual(out.stdout, b"value-%d" % i * (i * 50 + 1))
        counts = [sum(redis.Redis(port=p.port).exists("key%d" % i) for i in range(40))
                  for p in self.proxies]
        self.assertEqual(sum(counts), 40)
        self.assertTrue(all(c > 5 for c in counts), counts)  # both proxies own part of the keys

    def test_interop_with_redis_protocol(self):
        # Each key lives on one proxy (ring); find it by asking both.
        v = os.urandom(3 << 20)
        self.assertEqual(self.iccli("set", "inter", "-", stdin=v).returncode, 0)
        got = [redis.Redis(port=p.port, socket_timeout=30).get("inter") for p in self.proxies]
        self.assertEqual([g for g in got if g is not None], [v])
        # And the other way: written by a Redis client, read by the library.
        w = os.urandom(5 << 20)
        for p in self.proxies:
            redis.Redis(port=p.port).set("fromredis", w)
        out = self.iccli("get", "fromredis")
        self.assertEqual(out.returncode, 0)
        self.assertEqual(out.stdout, w)

    def test_read_with_lost_nodes_and_repair(self):
        # A pool of exactly d + p nodes: every node holds one chunk, so every kill loses one.
        proxy = Proxy("--pool-size", "12", "--node-memory", "256", "--node-reserved", "16")
        self.addCleanup(proxy.stop)
        addr = ["127.0.0.1:%d" % proxy.port]
        v = os.urandom(6 << 20)
        self.assertEqual(self.iccli("set", "sturdy", "-", stdin=v, proxies=addr).returncode, 0)
        proxy.kill_nodes(2)
        out = self.iccli("get", "sturdy", proxies=addr)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, v)
        # Reads report the lost chunks (state 2) and the library re-stores them.
        info = redis.Redis(port=proxy.port)

        def repaired():
            got = self.iccli("get", "sturdy", proxies=addr)
            self.assertEqual(got.stdout, v)
            return info.info("stats")["chunks_repaired"] >= 2
        wait_for(repaired, timeout=20, interval=0.1, what="repair of the lost chunks")
        # Two more nodes lost: the repaired chunks keep the object readable.
        proxy.kill_nodes(2)
        out = self.iccli("get", "sturdy", proxies=addr)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, v)


if __name__ == "__main__":
    unittest.main()
