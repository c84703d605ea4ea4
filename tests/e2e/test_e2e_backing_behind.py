#!/usr/bin/python3
"""Write-behind to the backing store (docs/BACKING.md) against s3rver: SETs are acknowledged once
cached and journaled; the queue drains to the store (every object byte for byte) and shows its
lag in INFO and the metrics; with the store stopped the queue holds, and after a kill -9 of the
proxy the journal is replayed: values still in the cache (nodes of an external platform outlive
the proxy) are uploaded, those gone are counted lost; a DEL with --backing-delete yes drops a
queued upload; a full queue refuses SETs."""
import os
import random
import shutil
import signal
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
import redis  # noqa: E402
from backingtest import ENV, S3rver  # noqa: E402
from proxytest import ExternalPlatform, Proxy, free_port, wait_for  # noqa: E402

POOL = 6
BASE = ["--pool-size", str(POOL), "--d", "4", "--p", "2", "--node-memory", "256",
        "--node-reserved", "16", "--small-object-max", "1k", "--request-timeout", "5s",
        "--warmup-interval", "0", "--backing-timeout", "1s", "--backing-mode", "write-behind"]


def backing(r):
    return r.info("backing")


class WriteBehindTest(unittest.TestCase):
    def setUp(self):
        self.store = S3rver()
        self.qdir = tempfile.mkdtemp(prefix="icqueue-")
        self.rnd = random.Random(self.id())

    def tearDown(self):
        self.store.close()
        shutil.rmtree(self.qdir, ignore_errors=True)

    def args(self, *extra):
        return [*BASE, *self.store.args("wb/"), "--backing-queue-dir", self.qdir, *extra]

    def test_queue_drains_with_lag_visible(self):
        vals = {"k%d" % i: self.rnd.randbytes(self.rnd.randint(0, 300000)) for i in range(20)}
        mport = free_port()
        with Proxy(*self.args("--metrics-port", str(mport)), env=ENV) as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            self.store.pause()  # uploads wait: the lag shows
            try:
                for k, v in vals.items():
                    self.assertTrue(r.set(k, v))  # acknowledged once cached
                info = backing(r)
                self.assertEqual(info["backing_queue_length"], len(vals))
                self.assertEqual(info["backing_queue_bytes"], sum(map(len, vals.values())))
                wait_for(lambda: backing(r)["backing_queue_oldest_age_ms"] >= 200, timeout=10,
                         what="the oldest upload's age grows")
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport) as resp:
                    text = resp.read().decode()
                self.assertIn("infinicache_backing_queue_length %d" % len(vals), text)
                self.assertIn("infinicache_backing_queue_oldest_age_seconds", text)
                for k, v in vals.items():
                    self.assertTrue(r.get(k) == v, k)  # the cache answers meanwhile
            finally:
                self.store.resume()
            wait_for(lambda: backing(r)["backing_queue_length"] == 0, timeout=60,
                     what="the queue drains")
            info = backing(r)
            self.assertEqual(info["backing_queue_bytes"], 0)
            self.assertEqual(info["backing_queue_uploaded"], len(vals))
            for k, v in vals.items():
                self.assertTrue(self.store.get("wb/" + k) == v, "store object %s differs" % k)
        # A drained queue leaves an empty journal.
        self.assertEqual(os.path.getsize(os.path.join(self.qdir, "write-behind.journal")), 0)

    def test_kill9_replays_from_the_cache(self):
        vals = {"r%d" % i: self.rnd.randbytes(100000 + i) for i in range(8)}
        plat = ExternalPlatform(POOL, memory_mb=256)
        try:
            args = self.args("--platform-endpoint", plat.endpoint)
            self.store.pause()
            try:
                with Proxy(*args, env=ENV) as p1:
                    r = redis.Redis(port=p1.port, socket_timeout=30)
                    for k, v in vals.items():
                        r.set(k, v)
                    self.assertEqual(backing(r)["backing_queue_length"], len(vals))
                    p1.proc.send_signal(signal.SIGKILL)  # no goodbye: the journal is all
                    p1.proc.wait()
            finally:
                self.store.resume()
            # (Uploads under way at the kill may still land: the store had their bytes.)
            with Proxy(*args, env=ENV) as p2:
                r = redis.Redis(port=p2.port, socket_timeout=30)
                self.assertEqual(backing(r)["backing_queue_replayed"], len(vals))
                wait_for(lambda: backing(r)["backing_queue_length"] == 0, timeout=60,
                         what="the replayed queue drains")
                self.assertEqual(backing(r)["backing_queue_lost"], 0)
            for k, v in vals.items():
                self.assertTrue(self.store.get("wb/" + k) == v, "store object %s differs" % k)
        finally:
            plat.close()

    def test_kill9_with_cache_gone_counts_lost(self):
        self.store.pause()
        try:
            with Proxy(*self.args(), env=ENV) as p1:  # its embedded platform dies with it
                r = redis.Redis(port=p1.port, socket_timeout=30)
                for i in range(3):
                    r.set("gone%d" % i, b"v")
                p1.proc.send_signal(signal.SIGKILL)
                p1.proc.wait()
        finally:
            self.store.resume()
        with Proxy(*self.args(), env=ENV) as p2:
            r = redis.Redis(port=p2.port, socket_timeout=30)
            wait_for(lambda: backing(r)["backing_queue_lost"] == 3, timeout=30,
                     what="the uploads whose value is gone counted lost")
            self.assertEqual(backing(r)["backing_queue_length"], 0)
            self.assertEqual(backing(r)["backing_queue_uploaded"], 0)
        # (What the store made of the uploads under way at the kill is its own: s3rver may even
        # keep an empty object from a request cut off before its body.)

    def test_torn_journal_tail_ignored(self):
        with open(os.path.join(self.qdir, "write-behind.journal"), "wb") as f:
            f.write(b"Q 7 6b")  # torn: no CRC, no newline
        with Proxy(*self.args(), env=ENV) as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            self.assertEqual(backing(r)["backing_queue_replayed"], 0)
            r.set("after", b"x")
            wait_for(lambda: self.store.get("wb/after") == b"x", timeout=30, what="upload")

    def test_delete_drops_queued_upload(self):
        with Proxy(*self.args("--backing-delete", "yes"), env=ENV) as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            self.store.pause()
            try:
                r.set("d", b"v")
                r.set("keep", b"w")
                wait_for(lambda: backing(r)["backing_in_flight"] >= 1, timeout=10,
                         what="an upload under way")
            finally:
                self.store.resume()
            r.delete("d")
            wait_for(lambda: backing(r)["backing_queue_length"] == 0, timeout=60, what="drained")
            wait_for(lambda: backing(r)["backing_in_flight"] == 0, timeout=30, what="idle")
            self.assertIsNone(self.store.get("wb/d"))
            self.assertEqual(self.store.get("wb/keep"), b"w")

    def test_full_queue_refuses(self):
        with Proxy(*self.args("--backing-queue-max", "100k"), env=ENV) as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            self.store.pause()
            try:
                r.set("a", b"x" * 60000)
                with self.assertRaisesRegex(redis.ResponseError, "write-behind queue is full"):
                    r.set("b", b"y" * 60000)
                self.assertEqual(r.exists("b"), 0)
                self.assertEqual(backing(r)["backing_queue_refused"], 1)
            finally:
                self.store.resume()
            wait_for(lambda: backing(r)["backing_queue_length"] == 0, timeout=60, what="drained")
            self.assertTrue(r.set("b", b"y" * 60000))


if __name__ == "__main__":
    unittest.main()
