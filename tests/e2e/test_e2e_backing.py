#!/usr/bin/python3
"""The backing object store (docs/BACKING.md) against s3rver, a real S3-compatible store: every
GET is checked byte for byte. Read-through of small and multi-part objects and of objects larger
than the cache takes; write-through (visible to the AWS CLI; a kill -9 loses nothing that was
acknowledged); DEL and expiry with and without --backing-delete; a store that is down (cache hits
go on, misses and SETs fail with the store's reason, a refused value is never cached); and
--backing-authoritative against an object changed or deleted behind the cache."""
import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
import redis  # noqa: E402
from backingtest import ENV, FaultyForwarder, S3rver  # noqa: E402
from proxytest import Proxy, wait_for  # noqa: E402

POOL = 6
BASE = ["--pool-size", str(POOL), "--d", "4", "--p", "2", "--node-memory", "256",
        "--node-reserved", "16", "--small-object-max", "1k", "--request-timeout", "5s",
        "--warmup-interval", "0", "--backing-timeout", "2s"]
MiB = 1 << 20


def redis_range(v, start, end):
    """GETRANGE's answer as Redis computes it."""
    n = len(v)
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = n + end
    end = min(end, n - 1)
    return b"" if start > end or n == 0 else v[start:end + 1]


def backing(r):
    return r.info("backing")


class BackingTest(unittest.TestCase):
    def setUp(self):
        self.store = S3rver()
        self.rnd = random.Random(self.id())

    def tearDown(self):
        self.store.close()

    def proxy(self, *args, prefix="c/"):
        return Proxy(*BASE, *self.store.args(prefix), *args, env=ENV)

    def test_read_through(self):
        small, big = self.rnd.randbytes(3000), self.rnd.randbytes(20 * MiB + 12345)
        self.store.put("c/small", small)
        self.store.put("c/big", big)  # three 8 MiB parts, read in parallel
        self.store.put("c/empty", b"")
        self.store.put("c/sp ace/\u00e9", b"unicode")
        with self.proxy("--backing-mode", "read-through") as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            self.assertTrue(r.get("small") == small)
            self.assertTrue(r.get("big") == big)
            self.assertEqual(r.get("empty"), b"")
            self.assertEqual(r.get("sp ace/\u00e9"), b"unicode")
            self.assertIsNone(r.get("absent"))  # a store 404 is a miss
            info = backing(r)
            self.assertEqual(info["backing_store_hits"], 4)
            self.assertEqual(info["backing_store_misses"], 1)
            # The fills are background SETs: once they are in, GETs are cache hits.
            wait_for(lambda: r.exists("small", "big", "empty") == 3, timeout=20, what="fills")
            gets = backing(r)["backing_gets"]
            self.assertTrue(r.get("small") == small)
            self.assertTrue(r.get("big") == big)
            self.assertEqual(backing(r)["backing_gets"], gets)
            # GETRANGE of a key only the store has: Redis's offsets, answered from the store's
            # object (which is then cached too).
            self.store.put("c/ranged", big)
            for start, end in [(0, 99), (-100, -1), (8 * MiB - 5, 8 * MiB + 5), (5, 2), (0, -1),
                               (-5, 3), (len(big) - 3, len(big) + 100)]:
                got = r.getrange("ranged", start, end)
                self.assertTrue(got == redis_range(big, start, end), (start, end, len(got)))
                r.delete("ranged")  # --backing-delete no: the next one reads the store again
            self.assertEqual(r.getrange("absent", 0, 10), b"")
            self.store.put("c/m1", b"first")
            self.assertEqual(r.mget("m1", "absent", "small"), [b"first", None, small])
            # read-through writes only the cache.
            r.set("cacheonly", b"x")
            self.assertIsNone(self.store.get("c/cacheonly"))
            self.assertEqual(r.get("cacheonly"), b"x")

    def test_larger_than_max_object_size_served_not_cached(self):
        obj = self.rnd.randbytes(3 * MiB)
        self.store.put("c/huge", obj)
        with self.proxy("--backing-mode", "read-through", "--max-object-size", "1m") as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            for _ in range(2):
                self.assertTrue(r.get("huge") == obj)
            self.assertEqual(r.exists("huge"), 0)
            info = backing(r)
            self.assertEqual(info["backing_gets"], 2)
            self.assertGreaterEqual(info["backing_too_large"], 2)

    def test_larger_than_the_pool_served_not_cached(self):
        """A pool of 3 nodes of 8 MiB, replicated objects: a 10 MiB object fits no node. A GET
        reads it from the store every time (its fill is refused without evicting anything); a
        write-through SET of one is acknowledged once the store has it, the older cached value
        dropped, and GETs then read the store's."""
        huge, huge2 = self.rnd.randbytes(10 * MiB), self.rnd.randbytes(10 * MiB + 1)
        small = self.rnd.randbytes(5000)
        self.store.put("c/huge", huge)
        with Proxy("--pool-size", "3", "--d", "1", "--p", "1", "--node-memory", "128",
                   "--node-reserved", "120", "--request-timeout", "10s", "--warmup-interval", "0",
                   *self.store.args("c/"), env=ENV) as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            self.assertTrue(r.set("small", small))
            for _ in range(2):
                self.assertTrue(r.get("huge") == huge)
            wait_for(lambda: backing(r)["backing_too_large"] >= 2, timeout=20,
                     what="both fills refused")
            self.assertEqual(r.exists("huge"), 0)
            self.assertEqual(backing(r)["backing_gets"], 2)
            self.assertEqual(r.info("stats")["evicted_keys"], 0)  # nothing evicted for it
            self.assertTrue(r.get("small") == small)
            # Write-through of a value the pool cannot hold: in the store, served from there.
            self.assertTrue(r.set("small", huge2))
            self.assertTrue(self.store.get("c/small") == huge2)
            self.assertEqual(r.exists("small"), 0)  # the older cached value is gone
            self.assertTrue(r.get("small") == huge2)

    def test_lost_object_read_from_store(self):
        """An object the cache can no longer decode (its nodes' instances are gone) is read
        from the store rather than answered as lost."""
        obj = self.rnd.randbytes(2 * MiB)
        with self.proxy("--backing-mode", "write-through", "--repair", "no") as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            r.set("k", obj)
            gets = backing(r)["backing_gets"]
            p.kill_nodes(POOL)  # every instance: no chunk survives
            self.assertTrue(r.get("k") == obj)
            self.assertEqual(backing(r)["backing_gets"], gets + 1)

    def test_repair_from_store(self):
        """A reclaimed instance's chunks are rebuilt from the store's copy (one store read per
        object, no node read), and from the nodes when the store's copy is another version (its
        bytes fail the chunks' CRCs). Every GET after is byte for byte the acknowledged value."""
        objs = {"r%d" % i: self.rnd.randbytes(300000 + i) for i in range(4)}
        with self.proxy("--backing-mode", "write-through") as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            for k, v in objs.items():
                self.assertTrue(r.set(k, v))
            self.store.put("c/r0", self.rnd.randbytes(len(objs["r0"])))  # same size, other bytes
            gets = backing(r)["backing_gets"]
            # d + p = 6 chunks on 6 nodes: one node holds a chunk of every object.
            p.kill_nodes(1)
            wait_for(lambda: r.info("lifecycle")["chunks_repaired"] >= len(objs), timeout=30,
                     what="the lost chunks rebuilt")
            info = backing(r)
            self.assertEqual(info["backing_repairs"], len(objs) - 1)
            self.assertEqual(info["backing_repair_fallbacks"], 1)
            self.assertEqual(info["backing_gets"], gets + len(objs))
            self.assertEqual(r.info("lifecycle")["objects_lost"], 0)
            for k, v in objs.items():
                self.assertTrue(r.get(k) == v, k)
        with self.proxy("--backing-mode", "write-through", "--backing-repair", "no") as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            r.set("k", objs["r1"])
            p.kill_nodes(1)
            wait_for(lambda: r.info("lifecycle")["chunks_repaired"] >= 1, timeout=30,
                     what="the lost chunk rebuilt from the nodes")
            self.assertEqual(backing(r)["backing_repairs"], 0)
            self.assertTrue(r.get("k") == objs["r1"])

    def test_hot_repair(self):
        """--repair hot: a reclaimed instance's chunks are rebuilt in the background only for
        objects used within repair-hot-window; a cold object's are rebuilt by its next GET. And
        --repair lazy: only by the GET."""
        hot, cold = self.rnd.randbytes(300000), self.rnd.randbytes(300001)
        with self.proxy("--repair", "hot", "--repair-hot-window", "4s") as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            self.assertTrue(r.set("cold", cold))
            t0 = time.monotonic()
            self.assertTrue(r.set("hot", hot))
            # The policy's clock is the object's last use, in whole seconds: cold is cold once
            # 4 s have passed since its SET (5 s, for the rounding).
            wait_for(lambda: time.monotonic() - t0 > 5.5, timeout=10, what="cold to age")
            self.assertTrue(r.get("hot") == hot)  # used: hot again
            # d + p = 6 chunks on 6 nodes: one node holds a chunk of each.
            p.kill_nodes(1)
            wait_for(lambda: r.info("lifecycle")["chunks_repaired"] >= 1 and
                     r.info("lifecycle")["repairs_deferred"] >= 1, timeout=30,
                     what="hot repaired, cold deferred")
            life = r.info("lifecycle")
            self.assertEqual(life["chunks_repaired"], 1)
            self.assertEqual(life["repairs_deferred"], 1)
            self.assertTrue(r.get("cold") == cold)  # decoded, and its lost chunk re-stored
            wait_for(lambda: r.info("lifecycle")["chunks_repaired"] >= 2, timeout=30,
                     what="cold repaired by its GET")
            self.assertTrue(r.get("hot") == hot)
        # --repair lazy: nothing in the background; the GET that finds the loss repairs it.
        with self.proxy("--repair", "lazy") as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            self.assertTrue(r.set("k", cold))
            p.kill_nodes(1)
            wait_for(lambda: r.info("lifecycle")["chunks_lost"] >= 1, timeout=30,
                     what="the loss found")
            self.assertTrue(r.get("k") == cold)
            wait_for(lambda: r.info("lifecycle")["chunks_repaired"] >= 1, timeout=30,
                     what="repaired by the GET")
            self.assertEqual(r.info("lifecycle")["repairs_started"], 0)

    def test_write_through(self):
        # 9 and 21 MiB: multipart uploads of 8 MiB parts (2 and 3 parts).
        vals = {"w%d" % i: self.rnd.randbytes(n)
                for i, n in enumerate([0, 1, 5000, 9 * MiB, 21 * MiB + 7])}
        with self.proxy() as p:  # write-through is the default with --backing
            r = redis.Redis(port=p.port, socket_timeout=60)
            self.assertEqual(backing(r)["backing_mode"], "write-through")
            for k, v in vals.items():
                self.assertTrue(r.set(k, v))
                self.assertTrue(self.store.get("c/" + k) == v, k)  # in the store once acknowledged
            for k, v in vals.items():
                self.assertTrue(r.get(k) == v)
            # Compound writes go through the store too.
            r.append("w2", b"tail")
            self.assertEqual(self.store.get("c/w2"), vals["w2"] + b"tail")
            self.assertEqual(r.incr("n"), 1)
            self.assertEqual(self.store.get("c/n"), b"1")
            self.assertEqual(backing(r)["backing_puts"], len(vals) + 2)

    def test_compound_commands_read_through(self):
        """APPEND, INCR, SETRANGE, SET ... GET, GETDEL and GETEX of keys only the store has
        compute from the store's value (written back through the store in write-through); GETDEL
        and a past GETEX time delete the store's object too with --backing-delete yes, so the
        key does not come back."""
        big = self.rnd.randbytes(300000)
        for k, v in [("a", b"abc"), ("n", b"41"), ("sr", b"hello world"), ("sg", b"old"),
                     ("gd", big), ("gx", b"ttl"), ("gp", b"past"), ("bad", b"x1")]:
            self.store.put("c/" + k, v)
        with self.proxy("--backing-delete", "yes") as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            self.assertEqual(r.append("a", b"def"), 6)
            self.assertEqual(self.store.get("c/a"), b"abcdef")
            self.assertEqual(r.incr("n"), 42)
            self.assertEqual(self.store.get("c/n"), b"42")
            self.assertEqual(r.setrange("sr", 6, b"there"), 11)
            self.assertEqual(self.store.get("c/sr"), b"hello there")
            self.assertEqual(r.set("sg", b"new", get=True), b"old")
            self.assertEqual(self.store.get("c/sg"), b"new")
            with self.assertRaisesRegex(redis.ResponseError, "not an integer"):
                r.incr("bad")
            self.assertTrue(r.getdel("gd") == big)
            self.assertIsNone(self.store.get("c/gd"))
            self.assertIsNone(r.get("gd"))  # deleted from the store: it does not come back
            self.assertEqual(r.getex("gx", ex=100), b"ttl")
            self.assertTrue(0 < r.ttl("gx") <= 100)  # cached with the TTL
            self.assertEqual(r.getex("gp", exat=1), b"past")  # a past time deletes the key
            self.assertIsNone(self.store.get("c/gp"))
            self.assertIsNone(r.get("gp"))
            # A cached key's GETDEL deletes the store's copy too.
            r.set("cached", b"v")
            self.assertEqual(r.getdel("cached"), b"v")
            self.assertIsNone(self.store.get("c/cached"))
            self.assertIsNone(r.get("cached"))
            for k, v in [("a", b"abcdef"), ("n", b"42"), ("sr", b"hello there"), ("sg", b"new"),
                         ("gx", b"ttl")]:
                self.assertEqual(r.get(k), v, k)
            # A store that is down: the compound command fails with the store's reason.
            self.store.kill()
            with self.assertRaisesRegex(redis.ResponseError, "backing store: "):
                r.append("elsewhere", b"x")

    def test_failed_part_retried_alone(self):
        """A store that fails one request of a multipart upload, and one ranged GET of a
        multi-part read, with a 500: the part alone is sent again and the SET and GET succeed
        (byte for byte); a part that keeps failing fails its request with the store's words."""
        big = self.rnd.randbytes(21 * MiB + 7)  # 3 parts of 8 MiB each way
        failed = set()

        def fail_once(method, path, headers):
            rng = headers.get("Range") or ""
            part = ("partNumber=2&" in path and method == "PUT") or \
                rng.startswith("bytes=%d-" % (8 * MiB))
            key = (method, "partNumber=2&" in path, rng)
            if part and "always" not in path and key not in failed:
                failed.add(key)
                return True
            return part and "always" in path
        fwd = FaultyForwarder(self.store, fail_once)
        try:
            with Proxy(*BASE, *fwd.args("c/"), env=ENV) as p:
                r = redis.Redis(port=p.port, socket_timeout=60)
                self.assertTrue(r.set("big", big))
                self.assertTrue(self.store.get("c/big") == big)
                r.delete("big")  # --backing-delete no: the next GET reads the store
                self.assertTrue(r.get("big") == big)
                self.assertEqual(backing(r)["backing_part_retries"], 2)
                parts = [m for m, path in fwd.seen if "partNumber=2&" in path]
                self.assertEqual(len(parts), 2)  # the failed part sent once more, alone
                with self.assertRaisesRegex(redis.ResponseError, "HTTP 500 InternalError"):
                    r.set("always", big)
                self.assertIsNone(self.store.get("c/always"))
        finally:
            fwd.close()

    def test_write_through_kill9_loses_nothing_acknowledged(self):
        vals = {"k%d" % i: self.rnd.randbytes(self.rnd.randint(1, 3 * MiB)) for i in range(30)}
        acked = []
        with self.proxy() as p:
            r = redis.Redis(port=p.port, socket_timeout=60)

            def writer():
                try:
                    for k, v in vals.items():
                        r.set(k, v)
                        acked.append(k)
                except redis.RedisError:
                    pass
            t = threading.Thread(target=writer)
            t.start()
            wait_for(lambda: len(acked) >= 5, timeout=60, what="some SETs acknowledged")
            p.proc.send_signal(signal.SIGKILL)
            p.proc.wait()
            t.join(timeout=60)
        self.assertGreaterEqual(len(acked), 5)
        self.assertLess(len(acked), len(vals), "the kill came after every SET")
        for k in acked:
            self.assertTrue(self.store.get("c/" + k) == vals[k], k)

    def test_store_down(self):
        with self.proxy() as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            r.set("cached", b"v1")
            self.store.kill()
            # Cache hits go on.
            for _ in range(3):
                self.assertEqual(r.get("cached"), b"v1")
            # A miss is an error naming the store, not a nil.
            with self.assertRaisesRegex(redis.ResponseError, "backing store: .*"):
                r.get("missing")
            # A SET the store refused fails, and the cache keeps what the store has.
            with self.assertRaisesRegex(redis.ResponseError, "backing store: "):
                r.set("cached", b"v2")
            self.assertEqual(r.get("cached"), b"v1")
            with self.assertRaisesRegex(redis.ResponseError, "backing store: "):
                r.set("new", b"x")
            self.assertEqual(r.exists("new"), 0)
            with self.assertRaisesRegex(redis.ResponseError, "backing store: "):
                r.set("newbig", b"y" * (20 * MiB))  # a multipart upload
            self.assertEqual(r.exists("newbig"), 0)
            self.assertGreaterEqual(backing(r)["backing_errors"], 3)
            # The store back: everything works again.
            self.store.start()
            r.set("cached", b"v3")
            self.assertEqual(self.store.get("c/cached"), b"v3")
            self.assertEqual(r.get("cached"), b"v3")

    def test_store_hung_is_bounded_by_timeout(self):
        with self.proxy() as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            r.set("cached", b"v1")
            self.store.pause()  # accepts connections, answers nothing
            try:
                t0 = time.monotonic()
                self.assertEqual(r.get("cached"), b"v1")
                with self.assertRaisesRegex(redis.ResponseError, "backing store: "):
                    r.get("missing")
                self.assertLess(time.monotonic() - t0, 10)
            finally:
                self.store.resume()

    def test_store_error_message(self):
        """A store that refuses (here: no such bucket) is answered with its own words."""
        with Proxy(*BASE, "--backing", "s3://no-such-bucket", "--backing-endpoint",
                   self.store.endpoint, env=ENV) as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            with self.assertRaisesRegex(redis.ResponseError, "backing store: HTTP 404 NoSuchBucket"):
                r.get("k")
            with self.assertRaisesRegex(redis.ResponseError, "backing store: HTTP 404 NoSuchBucket"):
                r.set("k", b"v")
            self.assertEqual(r.exists("k"), 0)

    def test_delete_yes(self):
        with self.proxy("--backing-delete", "yes") as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            r.set("a", b"1")
            r.set("b", b"2")
            self.store.put("c/storeonly", b"3")
            self.assertEqual(r.delete("a", "storeonly"), 1)  # counts the cache's keys, as Redis
            self.assertIsNone(self.store.get("c/a"))
            self.assertIsNone(self.store.get("c/storeonly"))
            self.assertIsNone(r.get("a"))
            self.assertEqual(r.unlink("b"), 1)
            self.assertIsNone(self.store.get("c/b"))
            # Expiry deletes from the store too.
            r.set("e", b"x", px=3000)
            self.assertEqual(self.store.get("c/e"), b"x")
            wait_for(lambda: self.store.get("c/e") is None, timeout=20, what="expired in store")
            self.assertIsNone(r.get("e"))

    def test_delete_no(self):
        with self.proxy() as p:  # --backing-delete no is the default
            r = redis.Redis(port=p.port, socket_timeout=30)
            r.set("a", b"1")
            self.assertEqual(r.delete("a"), 1)
            self.assertEqual(self.store.get("c/a"), b"1")
            self.assertEqual(r.get("a"), b"1")  # read through again
            r.set("e", b"x", px=200)
            wait_for(lambda: backing(r)["backing_gets"] >= 1 and r.get("e") == b"x", timeout=20,
                     what="the expired key read from the store again")
            self.assertEqual(self.store.get("c/e"), b"x")
            self.assertEqual(backing(r)["backing_deletes"], 0)

    def test_authoritative(self):
        v1, v2 = self.rnd.randbytes(4000), self.rnd.randbytes(5000)
        with self.proxy("--backing-authoritative", "yes") as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            r.set("k", v1)
            self.assertEqual(r.get("k"), v1)
            checks = backing(r)["backing_checks"]
            self.assertEqual(backing(r)["backing_changed"], 0)
            self.store.put("c/k", v2)  # changed behind the cache
            for _ in range(3):
                self.assertEqual(r.get("k"), v2)  # never the old version
            info = backing(r)
            # The first GET's check finds the change and drops the cached copy; a GET before
            # the fill lands is a miss read from the store, the others are checked again.
            self.assertGreaterEqual(info["backing_checks"], checks + 1)
            self.assertLessEqual(info["backing_checks"], checks + 3)
            self.assertGreaterEqual(info["backing_changed"], 1)
            # Deleted behind the cache: a miss, not the cached copy.
            self.store.delete("c/k")
            self.assertIsNone(r.get("k"))
            self.assertIsNone(r.get("k"))
            # A store that is down fails the check: an error, never a possibly old value.
            r.set("k2", v1)
            self.store.kill()
            with self.assertRaisesRegex(redis.ResponseError, "backing store: "):
                r.get("k2")

    def test_options_refused(self):
        for args, why in [(["--backing", "gs://x"], b"not s3://"),
                          (["--backing-mode", "write-through"], b"needs backing"),
                          (["--backing", "s3://b", "--backing-mode", "sideways"], b"not none"),
                          (["--backing", "s3://b", "--backing-mode", "write-behind"],
                           b"backing-queue-dir"),
                          (["--backing", "s3://b", "--backing-mode", "write-behind",
                            "--backing-queue-dir", "/tmp", "--backing-authoritative", "yes"],
                           b"does not go with"),
                          (["--repair", "maybe"], b"not yes, hot, lazy or no")]:
            import subprocess
            from proxytest import BIN
            out = subprocess.run([os.path.join(BIN, "icproxy"), "--client-port", "0",
                                  "--node-port", "0", "--relay-port", "0", *args],
                                 env=ENV, capture_output=True, timeout=30)
            self.assertEqual(out.returncode, 2, (args, out.stderr))
            self.assertIn(why, out.stderr)


if __name__ == "__main__":
    unittest.main()
