#!/usr/bin/python3
"""End to end over the Redis protocol: icproxy with its embedded local platform and real icnode
instances, driven by python3-redis, redis-cli, redis-benchmark and a hiredis program."""
import os
import random
import socket
import subprocess
import sys
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, PASSWORD, Proxy, cli_auth_args, skip_if_tls, wait_for  # noqa: E402


class RedisProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy("--pool-size", "16", "--node-memory", "128", "--node-reserved", "16",
                          "--max-object-size", "64m")
        cls.port = cls.proxy.port

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def setUp(self):
        self.r = redis.Redis(port=self.port, socket_timeout=30)

    def cli(self, *args, stdin=None):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], input=stdin,
                              capture_output=True, timeout=60).stdout

    def test_sizes_roundtrip(self):
        rnd = random.Random(7)
        for size in [0, 1, 100, 65536, 65537, 1 << 20, (10 << 20) + 3]:
            v = rnd.randbytes(size)
            self.assertTrue(self.r.set("s%d" % size, v))
            self.assertEqual(self.r.get("s%d" % size), v, "size %d" % size)
            self.assertEqual(self.r.strlen("s%d" % size), size)

    def test_redis_cli_session(self):
        self.assertEqual(self.cli("set", "k", "v").strip(), b"OK")
        self.assertEqual(self.cli("get", "k").strip(), b"v")
        self.assertEqual(self.cli("exists", "k").strip(), b"1")
        self.assertEqual(self.cli("del", "k").strip(), b"1")
        self.assertEqual(self.cli("get", "k").strip(), b"")
        self.assertEqual(self.cli("ping").strip(), b"PONG")
        self.assertIn(b"unknown command", self.cli("lpush", "l", "x"))
        self.assertIn(b"# Pool", self.cli("info"))
        data = os.urandom(3 << 20)
        self.assertEqual(self.cli("-x", "set", "blob", stdin=data).strip(), b"OK")
        self.assertEqual(self.r.get("blob"), data)

    def test_set_options(self):
        r = self.r
        self.assertTrue(r.set("o", "1", nx=True))
        self.assertIsNone(r.set("o", "2", nx=True))
        self.assertEqual(r.get("o"), b"1")
        self.assertTrue(r.set("o", "3", xx=True))
        self.assertIsNone(r.set("absent", "3", xx=True))
        self.assertTrue(r.set("t", "x", px=150))
        self.assertGreater(r.pttl("t"), 0)
        wait_for(lambda: r.get("t") is None, timeout=5, what="expiry")
        self.assertTrue(r.set("e", "x", ex=100))
        self.assertGreater(r.ttl("e"), 90)
        self.assertIsNone(r.set("g", "x", get=True))  # SET ... GET: the old value
        self.assertEqual(r.set("g", "y", get=True), b"x")
        with self.assertRaises(redis.ResponseError):
            r.execute_command("SET", "g", "x", "EX", "0")
        with self.assertRaises(redis.ResponseError):
            r.execute_command("SET", "g", "x", "BOGUS")

    def test_expired_keys_leave_without_being_read(self):
        """Keys whose TTL passes are dropped (their chunks deleted) by the background sweep,
        though nobody reads them again; keys without a TTL stay."""
        before = int(self.r.info("stats")["expired_keys"])
        for i in range(30):
            self.r.set("ex%d" % i, b"v" * (100 + 1000 * i), px=300)
        self.r.set("ex-keep", b"k")
        wait_for(lambda: int(self.r.info("stats")["expired_keys"]) >= before + 30, timeout=15,
                 what="the sweep expired 30 keys")
        self.assertEqual(self.r.get("ex-keep"), b"k")
        self.assertEqual(self.r.exists(*["ex%d" % i for i in range(30)]), 0)

    def test_misc_commands(self):
        r = self.r
        self.assertEqual(r.echo("hi"), b"hi")
        r.client_setname("tester")
        self.assertEqual(r.client_getname(), "tester")
        self.assertGreaterEqual(r.dbsize(), 0)
        info = r.info()
        self.assertIn("pool_size", info)
        self.assertIn("platform_gb_seconds", info)
        self.assertEqual(r.execute_command("HELLO", "2")[0], b"server")
        # HELLO 3 works (test_e2e_server_cmds.py); this redis-py speaks RESP2 only.
        with self.assertRaises(redis.ResponseError):
            r.execute_command("HELLO", "4")
        with self.assertRaises(redis.ResponseError):
            r.execute_command("GET")

    def test_oversized_value_keeps_connection(self):
        big = b"x" * ((64 << 20) + 1)
        with self.assertRaises(redis.ResponseError) as cm:
            self.r.set("huge", big)
        self.assertIn("max-object-size", str(cm.exception))
        self.assertTrue(self.r.ping())
        self.assertIsNone(self.r.get("huge"))

    @skip_if_tls
    def test_malformed_resp_does_not_hurt_others(self):
        good = redis.Redis(port=self.port)
        good.set("safe", b"123")
        for garbage in [b"*2\r\n$3\r\nGET\r\n$-5\r\n", b"*abc\r\n", b"$99999999999999\r\n",
                        b"*1\r\n$4\r\nPINGXX\r\n", b"\x00\xff" * 1000 + b"\r\n", b"*3000000\r\n"]:
            s = socket.create_connection(("127.0.0.1", self.port))
            s.sendall(garbage)
            s.settimeout(5)
            reply = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            except socket.timeout:
                pass
            s.close()
            # A NUL ends an inline line's words, as in Redis's sdssplitargs: that line is an
            # empty command, which gets no reply.
            if not (garbage.startswith(b"\x00") and reply == b""):
                self.assertTrue(reply.startswith(b"-ERR"), (garbage[:20], reply[:80]))
            self.assertEqual(good.get("safe"), b"123")

    def test_pipeline(self):
        p = self.r.pipeline(transaction=False)
        for i in range(300):
            p.set("pl%d" % (i % 10), b"%d" % i * 50)
            p.get("pl%d" % (i % 10))
        out = p.execute()
        for i in range(300):
            self.assertEqual(out[2 * i + 1], b"%d" % i * 50)

    def test_redis_benchmark_completes(self):
        out = subprocess.run(["redis-benchmark", "-p", str(self.port), *cli_auth_args()[:2], "-t", "set,get", "-n", "2000",
                              "-c", "10", "-P", "4", "-q"], capture_output=True, timeout=120, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("SET", out.stdout)
        self.assertIn("GET", out.stdout)

    @skip_if_tls
    def test_hiredis_client(self):
        out = subprocess.run([os.path.join(BIN, "hiredis_roundtrip"), "127.0.0.1", str(self.port),
                              *([PASSWORD] if PASSWORD else [])],
                             capture_output=True, timeout=120, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
