#!/usr/bin/python3
"""The keyspace commands seen from clients, against redis-server 7 in the same run: every reply
that can be the same (errors included) is compared byte for byte; TTLs within a tolerance; KEYS
and SCAN as sets (the orders differ), with Redis's glob on random patterns; SCAN's guarantee while
keys come and go; redis-cli --scan and python3-redis scan_iter; EXPIRE in the past deletes;
FLUSHALL; INFO keyspace; MEMORY USAGE from the chunks' footprints."""
import os
import random
import signal
import subprocess
import sys
import time
import unittest

import redis

sys.path.insert(0, os.path.dirname(__file__))
from proxytest import (PASSWORD, ExternalPlatform, Proxy, RedisServer, cli_auth_args,  # noqa: E402
                       raw_client, skip_if_tls)

D, P = 2, 1
ARGS = ["--pool-size", "4", "--d", str(D), "--p", str(P), "--node-memory", "128",
        "--node-reserved", "16", "--small-object-max", "1k"]
TTL_SLACK_MS = 3000  # the two servers are asked one after the other, on a loaded machine


def bulk_list(reply):
    return sorted(reply)


@skip_if_tls
class KeyspaceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy(*ARGS)
        cls.redis = RedisServer()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.redis.stop()

    def setUp(self):
        self.ic = raw_client(self.proxy.port)
        self.rs = raw_client(self.redis.port)
        self.both("FLUSHALL")

    def tearDown(self):
        self.ic.close()
        self.rs.close()

    def both(self, *args):
        """Sends the command to both servers; returns (proxy's reply, redis-server's reply)."""
        return self.ic.call(*args), self.rs.call(*args)

    def same(self, *args):
        """Asserts both servers answer the command with the same bytes; returns them."""
        got, want = self.ic.wire(*args), self.rs.wire(*args)
        self.assertEqual(got, want, "reply to %r" % (args,))
        return got

    def test_errors_and_edge_replies_match_redis(self):
        self.same("SET", "k", "v")
        self.same("SET", "big", "x" * 100)  # over 44 bytes: "raw" in Redis too
        for cmd in [
            # EXPIRE family: options before the integer, then overflow, then the key
            ("EXPIRE", "k", "10", "NX", "XX"), ("EXPIRE", "k", "10", "NX", "GT"),
            ("EXPIRE", "k", "10", "NX", "LT"), ("EXPIRE", "k", "10", "GT", "LT"),
            ("EXPIRE", "k", "10", "FOO"), ("EXPIRE", "k", "10", "NX", "y" * 300), ("EXPIRE", "k", "x", "FOO"), ("EXPIRE", "k", "x"),
            ("EXPIRE", "k", "007"), ("EXPIRE", "k", "-0"), ("EXPIRE", "k", "+5"),
            ("EXPIRE", "k", " 5"), ("EXPIRE", "k", ""), ("EXPIRE", "k", "99999999999999999999"),
            ("EXPIRE", "k", "9223372036854775807"), ("EXPIRE", "k", "-9223372036854775808"),
            ("PEXPIRE", "k", "9223372036854775807"), ("EXPIREAT", "k", "9223372036854775807"),
            ("PEXPIREAT", "nokey", "9223372036854775807"), ("EXPIRE", "nokey", "10"),
            ("EXPIRE", "nokey", "10", "NX", "XX"), ("EXPIRE", "k"), ("PEXPIREAT", "k"),
            ("PERSIST", "nokey"), ("PERSIST", "k"), ("PERSIST",), ("PERSIST", "k", "k"),
            ("TTL", "k"), ("PTTL", "k"), ("TTL", "nokey"), ("PTTL", "nokey"),
            ("EXPIRETIME", "k"), ("PEXPIRETIME", "k"), ("EXPIRETIME", "nokey"),
            ("PEXPIRETIME", "nokey"), ("EXPIRETIME",),
            # TYPE, EXISTS, TOUCH, DBSIZE, RANDOMKEY, KEYS
            ("TYPE", "k"), ("TYPE", "nokey"), ("TYPE",), ("TYPE", "k", "k"),
            ("EXISTS", "k", "k", "nokey", "big"), ("EXISTS",), ("TOUCH", "k", "k", "nokey"),
            ("TOUCH",), ("DBSIZE",), ("DBSIZE", "x"), ("RANDOMKEY", "x"), ("KEYS",),
            ("KEYS", "a", "b"), ("KEYS", "nomatch*"),
            # SCAN's argument checks (the cursor first)
            ("SCAN",), ("SCAN", "x"), ("SCAN", "x", "COUNT", "0"), ("SCAN", " 0"),
            ("SCAN", "18446744073709551616"), ("SCAN", "0", "COUNT", "0"),
            ("SCAN", "0", "COUNT", "-1"), ("SCAN", "0", "COUNT", "x"), ("SCAN", "0", "COUNT"),
            ("SCAN", "0", "MATCH"), ("SCAN", "0", "TYPE"), ("SCAN", "0", "FOO", "1"),
            ("SCAN", "0", "MATCH", "nomatch*", "COUNT", "1000"),
            ("SCAN", "0", "TYPE", "list", "COUNT", "1000"),
            ("SCAN", "0", "TYPE", "nosuchtype", "COUNT", "1000"),
            # OBJECT
            ("OBJECT",), ("OBJECT", "FOO"), ("OBJECT", "foo", "k"), ("OBJECT", "FREQ"),
            ("OBJECT", "FREQ", "k"), ("OBJECT", "freq", "nokey"), ("OBJECT", "ENCODING", "big"),
            ("OBJECT", "ENCODING", "nokey"), ("OBJECT", "ENCODING", "big", "x"),
            ("OBJECT", "IDLETIME", "nokey"), ("OBJECT", "REFCOUNT", "big"),
            ("OBJECT", "REFCOUNT", "nokey"), ("OBJECT", "HELP"), ("OBJECT", "help", "x"),
            ("OBJECT", "x" * 300),
            # MEMORY
            ("MEMORY",), ("MEMORY", "FOO"), ("MEMORY", "USAGE"), ("MEMORY", "USAGE", "nokey"),
            ("MEMORY", "USAGE", "k", "SAMPLES", "x"), ("MEMORY", "USAGE", "k", "SAMPLES", "-1"),
            ("MEMORY", "USAGE", "k", "SAMPLES"), ("MEMORY", "USAGE", "k", "FOO"),
            ("MEMORY", "USAGE", "nokey", "SAMPLES", "0"), ("MEMORY", "HELP", "x"),
            # FLUSHALL / FLUSHDB arguments (last: they empty the keyspace)
            ("FLUSHALL", "FOO"), ("FLUSHALL", "ASYNC", "SYNC"), ("FLUSHDB", "x"),
            ("FLUSHDB", "SYNC"), ("DBSIZE",), ("FLUSHALL", "ASYNC"), ("FLUSHALL",),
            ("RANDOMKEY",), ("KEYS", "*"), ("SCAN", "0"),
        ]:
            self.same(*cmd)

    def test_expire_options_follow_redis(self):
        """NX/XX/GT/LT step by step; a key with no TTL counts as an infinite TTL for GT/LT."""
        self.same("SET", "k", "v")
        for cmd in [("EXPIRE", "k", "100", "XX"), ("EXPIRE", "k", "100", "GT"),
                    ("EXPIRE", "k", "100", "LT"), ("PERSIST", "k"), ("EXPIRE", "k", "100", "NX"),
                    ("EXPIRE", "k", "50", "NX"), ("EXPIRE", "k", "200", "GT"),
                    ("EXPIRE", "k", "100", "GT"), ("EXPIRE", "k", "300", "LT"),
                    ("EXPIRE", "k", "150", "LT"), ("EXPIRE", "k", "150", "XX", "LT", "xx"),
                    ("PERSIST", "k"), ("PERSIST", "k"), ("TTL", "k"), ("EXPIRE", "k", "100"),
                    ("TYPE", "k")]:
            self.same(*cmd)
        for cmd, unit in [("TTL", 1000), ("PTTL", 1)]:
            got, want = self.both(cmd, "k")
            self.assertLessEqual(abs(got - want) * unit, TTL_SLACK_MS, cmd)
        at = int(time.time()) + 1000
        self.same("EXPIREAT", "k", str(at))
        self.same("EXPIRETIME", "k")
        self.same("PEXPIRETIME", "k")
        self.same("PEXPIREAT", "k", str(at * 1000 + 123))
        self.same("PEXPIRETIME", "k")
        self.same("EXPIRETIME", "k")
        # Equal is neither greater nor less (absolute times: relative ones race the clock).
        self.same("PEXPIREAT", "k", str(at * 1000 + 123), "GT")
        self.same("PEXPIREAT", "k", str(at * 1000 + 123), "LT")
        self.same("PEXPIREAT", "k", str(at * 1000 + 122), "LT")
        self.same("PEXPIRETIME", "k")

    def test_expire_in_the_past_deletes(self):
        for cmd in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]:
            for t in ("-1", "0"):
                self.same("SET", "k", "v")
                self.same(cmd, "k", t)
                self.same("EXISTS", "k")
                self.same("GET", "k")
                self.same("TTL", "k")
        # A condition that fails keeps the key; LT on a key without a TTL deletes it.
        self.same("SET", "k", "v")
        self.same("EXPIRE", "k", "-5", "GT")
        self.same("EXISTS", "k")
        self.same("EXPIRE", "k", "-5", "LT")
        self.same("EXISTS", "k")
        self.same("DBSIZE")

    def test_del_unlink_exists_count_as_redis(self):
        for k in ("a", "b", "c"):
            self.same("SET", k, "v")
        self.same("EXISTS", "a", "a", "b", "nokey", "c", "c")
        self.same("DEL", "a", "a", "nokey")
        self.same("UNLINK", "b", "c", "b", "a")
        self.same("EXISTS", "a", "b", "c")
        self.same("DBSIZE")
        self.same("UNLINK", "a")

    def test_ttl_expires_the_key(self):
        self.same("SET", "k", "v")
        self.same("PEXPIRE", "k", "300")
        self.assertIn(self.ic.call("TYPE", "k"), ("string",))
        deadline = time.time() + 10
        while time.time() < deadline and self.ic.call("EXISTS", "k") == 1:
            time.sleep(0.05)
        self.same("EXISTS", "k")
        self.same("TYPE", "k")
        self.same("OBJECT", "ENCODING", "k")

    def test_keys_glob_against_redis(self):
        keys = [b"hello", b"hallo", b"hxllo", b"hllo", b"heeeello", b"h[e]llo", b"h*llo", b"h?llo",
                b"a\\b", b"-", b"]", b"[", b"^", b"user:1", b"user:22", b"user:333", b"a\x00b",
                b"\xff\xfe", b"caf\xc3\xa9", b"x y", b"", b"abc", b"ABC", b"a-c", b"a]c"]
        for k in keys:
            self.same("SET", k, "1")
        patterns = [b"*", b"**", b"h?llo", b"h*llo", b"h[ae]llo", b"h[^e]llo", b"h[a-b]llo",
                    b"h\\[e\\]llo", b"h\\*llo", b"*\\?*", b"[", b"[^", b"[]]", b"[a-]", b"[b-a]*",
                    b"a\\", b"a\\\\b", b"[\\]]", b"user:[0-9]", b"user:*[23]", b"*\x00*",
                    b"[\x80-\x01]*", b"[\x01-\x7f]?", b"?", b"", b"[A-Z]*", b"a[^-]c", b"a[\\-]c",
                    b"[^a-z]*", b"x?y", b"*llo*", b"[abc", b"h[e"]
        rnd = random.Random(7)
        alphabet = [b"*", b"?", b"[", b"]", b"^", b"-", b"\\", b"a", b"b", b"c", b"h", b"e", b"l",
                    b"o", b"u", b":", b"1", b"2", b"\x00", b"\xff", b"A"]
        for _ in range(400):
            patterns.append(b"".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 8))))
        for p in patterns:
            got, want = self.both("KEYS", p)
            self.assertEqual(sorted(got), sorted(want), "KEYS %r" % p)
            got_scan = self.scan_all(self.ic, "MATCH", p, "COUNT", "7")
            self.assertEqual(sorted(set(got_scan)), sorted(want), "SCAN MATCH %r" % p)

    @staticmethod
    def scan_all(raw, *opts):
        cursor, out = b"0", []
        while True:
            cursor, batch = raw.call("SCAN", cursor, *opts)
            out += batch
            if cursor == b"0":
                return out

    def test_scan_options_and_clients(self):
        names = ["k:%d" % i for i in range(300)] + ["other:%d" % i for i in range(50)]
        for n in names:
            self.ic.send("SET", n, "v")
        for n in names:
            self.assertEqual(self.ic.reply(), "OK")
        every = sorted(n.encode() for n in names)
        self.assertEqual(sorted(set(self.scan_all(self.ic))), every)
        self.assertEqual(sorted(set(self.scan_all(self.ic, "COUNT", "1000"))), every)
        self.assertEqual(sorted(set(self.scan_all(self.ic, "TYPE", "string"))), every)
        self.assertEqual(sorted(set(self.scan_all(self.ic, "TYPE", "STRING", "COUNT", "3"))),
                         every)
        self.assertEqual(self.scan_all(self.ic, "TYPE", "hash"), [])
        self.assertEqual(sorted(set(self.scan_all(self.ic, "MATCH", "other:*", "COUNT", "20"))),
                         sorted(n.encode() for n in names if n.startswith("other:")))
        # One COUNT 1000 call walks the whole (small) table: cursor 0 at once.
        cursor, batch = self.ic.call("SCAN", "0", "COUNT", "100000")
        self.assertEqual(cursor, b"0")
        self.assertEqual(sorted(batch), every)
        # redis-cli --scan --pattern
        out = subprocess.run(["redis-cli", "-p", str(self.proxy.port), *cli_auth_args(), "--scan",
                              "--pattern", "k:1*"], capture_output=True, timeout=60, check=True)
        self.assertEqual(sorted(set(out.stdout.split())),
                         sorted(n.encode() for n in names if n.startswith("k:1")))
        # python3-redis scan_iter
        r = redis.Redis(port=self.proxy.port, password=PASSWORD)
        self.assertEqual(sorted(set(r.scan_iter(match="other:*", count=7))),
                         sorted(n.encode() for n in names if n.startswith("other:")))
        self.assertEqual(sorted(set(r.scan_iter(_type="STRING"))), every)
        self.assertEqual(r.dbsize(), len(names))
        self.assertIn(r.randomkey(), every)
        r.close()

    def test_scan_while_keys_come_and_go(self):
        """Keys present for the whole scan are all returned, while the table grows several times
        under the cursor and other keys are deleted."""
        stable = ["stable:%d" % i for i in range(400)]
        for n in stable + ["gone:%d" % i for i in range(200)]:
            self.ic.send("SET", n, "v")
        for _ in range(600):
            self.assertEqual(self.ic.reply(), "OK")
        seen, cursor, added, step = set(), b"0", 0, 0
        while True:
            cursor, batch = self.ic.call("SCAN", cursor, "COUNT", "5")
            seen.update(batch)
            if cursor == b"0":
                break
            for _ in range(12):
                self.ic.send("SET", "new:%d" % added, "v")
                added += 1
            for _ in range(12):
                self.assertEqual(self.ic.reply(), "OK")
            if step < 200:
                self.assertEqual(self.ic.call("DEL", "gone:%d" % step), 1)
            step += 1
        self.assertGreater(added, 2000)  # the table (1024 buckets at first) grew under the cursor
        self.assertEqual(set(n.encode() for n in stable) - seen, set())
        self.assertEqual(self.ic.call("DBSIZE"), 600 + added - min(step, 200))

    def test_info_keyspace_counts_expires(self):
        self.assertNotIn(b"db0:", self.ic.call("INFO", "keyspace"))
        for i in range(10):
            self.same("SET", "k%d" % i, "v")
        for i in range(4):
            self.same("EXPIRE", "k%d" % i, str(1000 * (i + 1)))
        self.same("PERSIST", "k3")
        line = [x for x in self.ic.call("INFO", "keyspace").split(b"\r\n") if x.startswith(b"db0:")]
        self.assertEqual(len(line), 1)
        fields = dict(f.split(b"=") for f in line[0][4:].split(b","))
        self.assertEqual(int(fields[b"keys"]), 10)
        self.assertEqual(int(fields[b"expires"]), 3)
        self.assertLessEqual(abs(int(fields[b"avg_ttl"]) - 2000 * 1000), TTL_SLACK_MS)
        self.same("DEL", "k0")
        self.assertIn(b"db0:keys=9,expires=2,", self.ic.call("INFO", "keyspace"))
        self.same("FLUSHDB")
        self.assertNotIn(b"db0:", self.ic.call("INFO", "keyspace"))

    def test_touch_idletime_and_memory_usage(self):
        self.same("SET", "k", "v" * 100)
        self.assertLessEqual(self.ic.call("OBJECT", "IDLETIME", "k"), 1)
        self.assertEqual(self.ic.call("TOUCH", "k", "k"), 2)
        self.assertEqual(self.ic.call("OBJECT", "IDLETIME", "k"), 0)
        size = 100 * 1024
        self.ic.call("SET", "big", os.urandom(size))
        used = self.ic.call("MEMORY", "USAGE", "big")
        chunk = size // D
        # each chunk as its node counts it (body + key + 128), plus the proxy's metadata
        floor = (D + P) * (chunk + len("big") + 128)
        self.assertGreaterEqual(used, floor)
        self.assertLess(used, floor + 512)
        self.assertEqual(self.ic.call("MEMORY", "USAGE", "big", "SAMPLES", "0"), used)


class TtlRestartTest(unittest.TestCase):
    """An expiry a client changed outlives a proxy restart: the proxy rebuilds its objects from
    the nodes' inventories, which carry each chunk's expiry (CEXPIRE changed it on every node)."""

    def test_expiry_changes_survive_a_restart(self):
        pool = 4
        admin_token = os.urandom(16).hex()
        plat = ExternalPlatform(pool, admin_token=admin_token)
        try:
            endpoint = plat.endpoint
            args = ARGS + ["--platform-endpoint", endpoint, "--warmup-interval", "0"]
            big = os.urandom(60000)  # coded: D + P chunks; the others are replicated
            at_ms = int(time.time() * 1000) + 800_000
            with Proxy(*args, admin_token=admin_token) as p1:
                r = redis.Redis(port=p1.port, password=PASSWORD, socket_timeout=30)
                for k in ("short", "persist", "longer", "soon", "gone"):
                    self.assertTrue(r.set(k, "v", ex=1000 if k in ("persist", "longer") else None))
                self.assertTrue(r.set("big", big))
                self.assertTrue(r.expire("short", 500))
                self.assertTrue(r.pexpireat("big", at_ms))
                self.assertTrue(r.persist("persist"))
                self.assertTrue(r.expire("longer", 2000))
                self.assertTrue(r.pexpire("soon", 1500))
                self.assertTrue(r.expire("gone", -1))
                r.close()
                p1.proc.send_signal(signal.SIGKILL)  # no goodbye
                p1.proc.wait()
            with Proxy(*args, admin_token=admin_token) as p2:
                r = redis.Redis(port=p2.port, password=PASSWORD, socket_timeout=30)
                self.assertEqual(r.dbsize(), 5)
                self.assertLessEqual(abs(r.ttl("short") - 500), 5)
                self.assertEqual(r.pexpiretime("big"), at_ms)
                self.assertEqual(r.get("big"), big)
                self.assertEqual(r.ttl("persist"), -1)
                self.assertLessEqual(abs(r.ttl("longer") - 2000), 5)
                self.assertIsNone(r.get("gone"))
                # Written without an expiry, given one: it must not live on after it.
                deadline = time.time() + 20
                while time.time() < deadline and r.exists("soon"):
                    time.sleep(0.1)
                self.assertEqual(r.exists("soon"), 0)
                r.close()
        finally:
            plat.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
