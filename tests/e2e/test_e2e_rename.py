#!/usr/bin/python3
"""RENAME, RENAMENX and COPY against redis-server 7 in the same run (replies byte for byte, the
errors included; redis-server runs with one database, as the proxy has, so COPY ... DB 1 gets the
same error from both); TTLs carried; a value of several MiB in many chunks renamed with no chunk
bytes moving through the proxy; pipelined and concurrent writers of the keys; COPY's memory
going through placement and eviction as a SET's does; and renamed keys after a proxy restart:
the nodes' inventories show the new names, and the old names stay gone even where a backup peer
that still held them took over."""
import os
import random
import signal
import sys
import threading
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
sys.path.insert(0, os.path.dirname(__file__))
from proxytest import (PASSWORD, ExternalPlatform, Proxy, RedisServer, raw_client,  # noqa: E402
                       skip_if_tls, wait_for)

ARGS = ["--pool-size", "12", "--d", "10", "--p", "2", "--node-memory", "128",
        "--node-reserved", "16", "--small-object-max", "1k"]

SCRIPT = [
    ("RENAME", "nokey", "k2"), ("RENAMENX", "nokey", "k2"), ("RENAME", "nokey", "nokey"),
    ("SET", "k", "v"), ("RENAME", "k", "k"), ("RENAMENX", "k", "k"), ("GET", "k"),
    ("RENAME", "k", "k2"), ("GET", "k"), ("GET", "k2"), ("EXISTS", "k"),
    ("SET", "k3", "three"), ("RENAME", "k2", "k3"), ("GET", "k3"), ("EXISTS", "k2"),
    ("SET", "k4", "four"), ("RENAMENX", "k3", "k4"), ("GET", "k3"), ("GET", "k4"),
    ("RENAMENX", "k3", "k5"), ("GET", "k5"), ("EXISTS", "k3"),
    ("RENAME", "k5"), ("RENAME", "k5", "a", "b"), ("RENAMENX", "k5"), ("RENAME",),
    # COPY: absent source, present destination with and without REPLACE, the same key, DB
    ("COPY", "nokey", "k6"), ("COPY", "k5", "k6"), ("GET", "k6"), ("GET", "k5"),
    ("COPY", "k5", "k4"), ("GET", "k4"), ("COPY", "k5", "k4", "REPLACE"), ("GET", "k4"),
    ("COPY", "k5", "k5"), ("COPY", "k5", "k5", "REPLACE"), ("COPY", "nokey", "nokey"),
    ("COPY", "k5", "k7", "DB", "0"), ("GET", "k7"), ("COPY", "k5", "k7", "DB", "1"),
    ("COPY", "k5", "k7", "DB", "-1"), ("COPY", "k5", "k7", "DB", "x"), ("COPY", "k5", "k7", "DB"),
    ("COPY", "k5", "k7", "FOO"), ("COPY", "k5", "k7", "db", "0", "replace"),
    ("COPY", "k5", "k7", "REPLACE", "DB", "0", "REPLACE"), ("COPY", "k5", "k7", "DB", "007"),
    ("COPY", "k5", "k7", "DB", "1", "FOO"), ("COPY", "k5", "k7", "FOO", "DB", "1"),
    ("COPY", "k5"), ("COPY",), ("GET", "k7"), ("DBSIZE",),
    ("SET", "big", "x" * 5000), ("COPY", "big", "big2"), ("RENAME", "big2", "big3"),
    ("GET", "big3"), ("EXISTS", "big2"), ("STRLEN", "big"),
]

# Scripts whose TTL answers are compared within a tolerance.
TTL_SCRIPT = [
    ("SET", "t", "v", "EX", "1000"), ("RENAME", "t", "t2"), ("TTL", "t2"), ("TTL", "t"),
    ("COPY", "t2", "t3"), ("TTL", "t3"), ("SET", "u", "w"), ("RENAME", "t3", "u"), ("TTL", "u"),
    ("SET", "p", "x"), ("RENAME", "p", "t2"), ("TTL", "t2"), ("PEXPIRE", "u", "500000"),
    ("RENAMENX", "u", "n"), ("PTTL", "n"), ("COPY", "n", "t2", "REPLACE"), ("PTTL", "t2"),
]


def info_bytes(r):
    i = r.info("stats")
    return i["total_net_input_bytes"] + i["total_net_output_bytes"]


@skip_if_tls
class RenameTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy(*ARGS)
        cls.redis = RedisServer("--databases", "1")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.redis.stop()

    def setUp(self):
        self.ic = raw_client(self.proxy.port)
        self.rs = raw_client(self.redis.port)
        self.ic.wire("FLUSHALL")
        self.rs.wire("FLUSHALL")
        self.r = redis.Redis(port=self.proxy.port, password=PASSWORD, socket_timeout=60)

    def tearDown(self):
        self.ic.close()
        self.rs.close()
        self.r.close()

    def test_replies_match_redis(self):
        for cmd in SCRIPT:
            self.assertEqual(self.ic.wire(*cmd), self.rs.wire(*cmd), "reply to %r" % (cmd,))

    def test_ttl_moves_with_rename_and_copies_with_copy(self):
        for cmd in TTL_SCRIPT:
            got, want = self.ic.wire(*cmd), self.rs.wire(*cmd)
            if cmd[0] in ("TTL", "PTTL") and want.startswith(b":") and int(want[1:]) > 0:
                self.assertLessEqual(abs(int(got[1:]) - int(want[1:])), int(want[1:]) // 20,
                                     "reply to %r" % (cmd,))
            else:
                self.assertEqual(got, want, "reply to %r" % (cmd,))

    def test_big_value_renamed_without_moving_chunks(self):
        value = random.Random(3).randbytes(6 << 20)  # 10 + 2 chunks of 629 KiB
        self.assertTrue(self.r.set("big", value))
        self.assertTrue(self.r.expire("big", 1000))
        before = info_bytes(self.r)
        self.assertTrue(self.r.rename("big", "moved"))
        moved = info_bytes(self.r) - before
        # The chunks stay where they are: only the commands' bytes go through the proxy.
        self.assertLess(moved, 64 << 10, "a RENAME moved %d bytes" % moved)
        self.assertIsNone(self.r.get("big"))
        self.assertEqual(self.r.get("moved"), value)
        self.assertGreater(self.r.ttl("moved"), 990)
        # Onto an existing big key, then RENAMENX both ways, then a COPY of it.
        self.assertTrue(self.r.set("other", value[::-1]))
        self.assertTrue(self.r.rename("other", "moved"))
        self.assertEqual(self.r.get("moved"), value[::-1])
        self.assertEqual(self.r.ttl("moved"), -1)
        self.assertTrue(self.r.set("third", b"x" * 3000))
        self.assertFalse(self.r.renamenx("moved", "third"))
        self.assertTrue(self.r.renamenx("moved", "fourth"))
        self.assertTrue(self.r.copy("fourth", "copied"))  # a name of the same length
        self.assertEqual(self.r.get("copied"), value[::-1])
        self.assertEqual(self.r.get("fourth"), value[::-1])
        self.assertEqual(self.r.memory_usage("copied"), self.r.memory_usage("fourth"))
        self.assertEqual(sorted(self.r.keys()), [b"copied", b"fourth", b"third"])

    def test_pipelined_writes_are_seen_in_order(self):
        pipe = self.r.pipeline(transaction=False)
        pipe.set("a", "1").rename("a", "b").get("b").set("a", "2").renamenx("a", "b")
        pipe.copy("b", "c").rename("b", "a").get("a").get("b").get("c").exists("b")
        self.assertEqual(pipe.execute(), [True, True, b"1", True, False, True, True, b"1", None,
                                          b"1", 0])

    def test_rename_while_the_destination_is_written(self):
        """A RENAME onto a key another client is storing (a large value, so the store is in
        flight for a while) ends in one of the two orders, never a mix, and the renamed value
        is whole whichever wins."""
        src_val = random.Random(4).randbytes(3 << 20)
        dst_val = random.Random(5).randbytes(4 << 20)
        for round_ in range(3):
            self.assertTrue(self.r.set("src", src_val))
            other = redis.Redis(port=self.proxy.port, password=PASSWORD, socket_timeout=60)
            errors = []

            def writer():
                try:
                    other.set("dst", dst_val)
                except Exception as e:  # noqa: BLE001
                    errors.append(e)
            t = threading.Thread(target=writer)
            t.start()
            try:
                self.assertTrue(self.r.rename("src", "dst"))
            finally:
                t.join(60)
                other.close()
            self.assertEqual(errors, [])
            self.assertFalse(t.is_alive())
            self.assertEqual(self.r.exists("src"), 0)
            self.assertIn(self.r.get("dst"), (src_val, dst_val), "round %d" % round_)
            self.r.delete("dst")

    def test_copy_is_placed_and_evicts_as_a_set(self):
        """Each copy is a new object charged to its nodes: copying past the pool's capacity
        evicts older objects (CLOCK) as SETs would, and the newest copies stay readable."""
        small = ["--pool-size", "4", "--d", "2", "--p", "1", "--node-memory", "128",
                 "--node-reserved", "16", "--small-object-max", "1k"]
        value = random.Random(6).randbytes(40 << 20)  # 60 MiB with parity; the pool: 448 MiB
        with Proxy(*small) as p:
            r = redis.Redis(port=p.port, password=PASSWORD, socket_timeout=60)
            self.assertTrue(r.set("c0", value))
            for i in range(1, 30):
                self.assertTrue(r.copy("c%d" % (i - 1), "c%d" % i), "copy %d" % i)
                if r.info("stats")["evicted_keys"] > 2:
                    break
            self.assertGreater(r.info("stats")["evicted_keys"], 2)
            self.assertLessEqual(r.dbsize(), 9)
            self.assertEqual(r.get("c%d" % i), value)
            r.close()


class RenameRestartTest(unittest.TestCase):
    """Renamed keys after a proxy restart: the new names come back from the nodes' inventories,
    the old names never, even where a backup peer that held the old names (a backup taken before
    the rename) took over a node."""

    def test_renamed_keys_survive_a_restart(self):
        pool = 6
        base = ["--pool-size", str(pool), "--d", "4", "--p", "2", "--node-memory", "256",
                "--node-reserved", "16", "--small-object-max", "1k", "--request-timeout", "5s",
                "--node-connect-timeout", "5s", "--warmup-interval", "0",
                "--backup-interval", "1s"]
        admin_token = os.urandom(16).hex()
        plat = ExternalPlatform(pool, memory_mb=256, admin_token=admin_token)
        try:
            from test_e2e_backup import primaries
            endpoint = plat.endpoint
            args = base + ["--platform-endpoint", endpoint]
            rnd = random.Random(12)
            vals = {"k%02d" % i: rnd.randbytes(700 if i % 4 else 3_000_000 + i) for i in range(24)}
            renames = {"k%02d" % i: "r%02d" % i for i in range(0, 24, 2)}
            with Proxy(*args, admin_token=admin_token) as p1:
                r = redis.Redis(port=p1.port, password=PASSWORD, socket_timeout=60)
                for k, v in vals.items():
                    self.assertTrue(r.set(k, v))
                self.assertTrue(r.expire("k00", 5000))
                wait_for(lambda: r.info("lifecycle")["backups_ok"] >= 2 * pool, timeout=60,
                         what="a backup of every node")
                wait_for(lambda: r.info("lifecycle")["backups_active"] == 0, timeout=20,
                         what="no backup running")
                prim = primaries(p1, p1.node_port)
                for old, new in renames.items():
                    self.assertTrue(r.rename(old, new))
                self.assertTrue(r.rename("k01", "k03"))  # onto an existing key
                self.assertTrue(r.copy("k05", "c05"))
                # Two nodes lose their memory: their peers, holding the old names, take over.
                by_pid = {i["pid"]: i["id"] for i in p1.instances()}
                for fn in sorted(prim)[:2]:
                    p1.admin("/admin/reclaim?instance=%d" % by_pid[prim[fn]], method="POST")
                r.close()
                p1.proc.send_signal(signal.SIGKILL)  # no goodbye, right after the replies
                p1.proc.wait()
            with Proxy(*args, admin_token=admin_token) as p2:
                r = redis.Redis(port=p2.port, password=PASSWORD, socket_timeout=60)
                back = [k for k in list(renames) + ["k01"] if r.exists(k)]
                self.assertEqual(back, [], "renamed-away names came back")
                for old, new in renames.items():
                    self.assertEqual(r.get(new), vals[old], new)
                self.assertEqual(r.get("k03"), vals["k01"])
                self.assertEqual(r.get("c05"), vals["k05"])
                self.assertEqual(r.get("k05"), vals["k05"])
                self.assertGreater(r.ttl("r00"), 4900)
                self.assertEqual(r.dbsize(), 24)
                r.close()
        finally:
            plat.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
