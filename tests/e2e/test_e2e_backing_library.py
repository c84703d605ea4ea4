#!/usr/bin/python3
"""The library's path (ICSET, ICGET through libinfinicache, driven by iccli) over the backing
object store, against s3rver: write-through and write-behind ICSETs reach the store (their chunks
checked against the client's checksums first), ICGET reads a miss, a lost object and an object
changed behind the cache (--backing-authoritative) from the store, and every value read is
checked byte for byte."""
import os
import random
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
import redis  # noqa: E402
from backingtest import ENV, S3rver  # noqa: E402
from proxytest import BIN, Proxy, iccli_args, wait_for  # noqa: E402

POOL = 6
BASE = ["--pool-size", str(POOL), "--d", "4", "--p", "2", "--node-memory", "256",
        "--node-reserved", "16", "--small-object-max", "1k", "--request-timeout", "5s",
        "--warmup-interval", "0", "--backing-timeout", "5s"]
MiB = 1 << 20
# Sizes that take each way: empty, one replicated chunk, chunks sent as ordinary arguments,
# chunks over the proxy's 64 KiB small-argument limit (read into memory as they stream).
SIZES = [0, 1, 700, 100000, 3 * MiB + 5]


def backing(r):
    return r.info("backing")


class BackingLibraryTest(unittest.TestCase):
    def setUp(self):
        self.store = S3rver()
        self.rnd = random.Random(self.id())
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.store.close()
        self.tmp.cleanup()

    def proxy(self, *args):
        return Proxy(*BASE, *self.store.args("c/"), *args, env=ENV)

    def iccli(self, p, *args, stdin=None):
        cmd = [os.path.join(BIN, "iccli"), *iccli_args(), "--proxy", "127.0.0.1:%d" % p.port,
               "--d", "4", "--p", "2", "--small-max", "1024"]
        return subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=120,
                              env=ENV)

    def lib_set(self, p, key, value):
        out = self.iccli(p, "set", key, "-", stdin=value)
        self.assertEqual(out.returncode, 0, out.stderr)

    def lib_get(self, p, key):
        """The value, or None on a miss (iccli exits 1)."""
        out = self.iccli(p, "get", key, "-")
        if out.returncode == 1:
            return None
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def test_write_through(self):
        vals = {"w%d" % i: self.rnd.randbytes(n) for i, n in enumerate(SIZES)}
        with self.proxy() as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            for k, v in vals.items():
                self.lib_set(p, k, v)
                self.assertTrue(self.store.get("c/" + k) == v, k)  # in the store once acked
            self.assertEqual(backing(r)["backing_puts"], len(vals))
            for k, v in vals.items():
                self.assertTrue(self.lib_get(p, k) == v, k)  # and in the cache
                self.assertTrue(r.get(k) == v, k)
            self.assertEqual(backing(r)["backing_gets"], 0)
            # A store that is down fails the ICSET with its reason; the cache keeps the value
            # it had, and the library reads it.
            self.store.kill()
            out = self.iccli(p, "set", "w1", "-", stdin=b"new")
            self.assertNotEqual(out.returncode, 0)
            self.assertIn(b"backing store", out.stderr)
            self.assertTrue(self.lib_get(p, "w1") == vals["w1"])

    def test_write_behind(self):
        vals = {"b%d" % i: self.rnd.randbytes(n) for i, n in enumerate(SIZES)}
        qdir = os.path.join(self.tmp.name, "queue")
        os.mkdir(qdir)
        with self.proxy("--backing-mode", "write-behind", "--backing-queue-dir", qdir) as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            for k, v in vals.items():
                self.lib_set(p, k, v)
            wait_for(lambda: backing(r)["backing_queue_length"] == 0, timeout=60,
                     what="the write-behind queue uploaded")
            for k, v in vals.items():
                self.assertTrue(self.store.get("c/" + k) == v, k)
                self.assertTrue(self.lib_get(p, k) == v, k)
            self.assertEqual(backing(r)["backing_queue_uploaded"], len(vals))

    def test_read_through(self):
        vals = {"r%d" % i: self.rnd.randbytes(n) for i, n in enumerate(SIZES)}
        for k, v in vals.items():
            self.store.put("c/" + k, v)
        with self.proxy("--backing-mode", "read-through") as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            for k, v in vals.items():
                self.assertTrue(self.lib_get(p, k) == v, k)
            self.assertIsNone(self.lib_get(p, "absent"))
            info = backing(r)
            self.assertEqual(info["backing_store_hits"], len(vals))
            self.assertEqual(info["backing_store_misses"], 1)
            # The fills land in the background; then the library reads the cache.
            wait_for(lambda: r.exists(*vals) == len(vals), timeout=30, what="fills")
            gets = backing(r)["backing_gets"]
            for k, v in vals.items():
                self.assertTrue(self.lib_get(p, k) == v, k)
            self.assertEqual(backing(r)["backing_gets"], gets)
            # read-through: the library's writes stay in the cache.
            self.lib_set(p, "cacheonly", b"x" * 100000)
            self.assertIsNone(self.store.get("c/cacheonly"))

    def test_lost_object_read_from_store(self):
        """Every instance gone: the library's GET finds the object lost, starts over, and the
        proxy answers the second ICGET from the store."""
        obj = self.rnd.randbytes(2 * MiB)
        with self.proxy("--repair", "no") as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            self.lib_set(p, "k", obj)
            gets = backing(r)["backing_gets"]
            p.kill_nodes(POOL)
            self.assertTrue(self.lib_get(p, "k") == obj)
            self.assertEqual(backing(r)["backing_gets"], gets + 1)

    def test_authoritative(self):
        v1, v2 = self.rnd.randbytes(300000), self.rnd.randbytes(200001)
        with self.proxy("--backing-authoritative", "yes") as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            self.lib_set(p, "k", v1)
            self.assertTrue(self.lib_get(p, "k") == v1)
            checks = backing(r)["backing_checks"]
            self.store.put("c/k", v2)  # changed behind the cache
            for _ in range(3):
                self.assertTrue(self.lib_get(p, "k") == v2)  # never the old version
            info = backing(r)
            self.assertGreaterEqual(info["backing_checks"], checks + 1)
            self.assertGreaterEqual(info["backing_changed"], 1)
            self.store.delete("c/k")  # deleted behind the cache: a miss
            self.assertIsNone(self.lib_get(p, "k"))

    def test_icset_checksums_checked(self):
        """An ICSET whose chunk does not match the checksum sent with it is refused, and
        neither the store nor the cache gets anything (small chunks and streamed ones)."""
        with self.proxy() as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            for key, cs in [("small", 1024), ("streamed", 128 * 1024)]:
                size = 2 * cs - 10
                chunks = [self.rnd.randbytes(cs) for _ in range(3)]  # d 2, p 1
                with self.assertRaisesRegex(redis.ResponseError, "does not match its checksum"):
                    r.execute_command("ICSET", key, 2, 1, size, 1, 2, 3, *chunks)
                self.assertEqual(r.exists(key), 0)
                self.assertIsNone(self.store.get("c/" + key))
            self.assertEqual(backing(r)["backing_puts"], 0)
            self.assertEqual(r.ping(), True)  # the connection stayed in sync


if __name__ == "__main__":
    unittest.main()
