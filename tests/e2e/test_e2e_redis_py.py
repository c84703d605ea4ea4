#!/usr/bin/python3
"""python3-redis against the proxy: what its helpers parse out of the replies. scan_iter walks
every key once; set(get=True); mget and mset of as many keys as a command may carry; client_list() fields; info() of every
section (commandstats and latencystats included, parsed into their fields); config_get('*');
and COMMAND as its command() parses it. Debian's python3-redis is 4.3, which has no RESP3
(protocol=3 came with 5.0): RESP3 is tested with raw sockets in test_e2e_server_cmds.py and
test_e2e_command_docs.py."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import Proxy  # noqa: E402

import redis  # noqa: E402

POOL = ("--pool-size", "4", "--d", "2", "--p", "1", "--node-memory", "128", "--node-reserved", "16")


class RedisPyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy(*POOL)
        cls.r = redis.Redis(port=cls.proxy.port, socket_timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.r.close()
        cls.proxy.stop()

    def setUp(self):
        self.r.flushall()

    def test_scan_iter(self):
        keys = {b"scan:%d" % i for i in range(300)}
        self.r.mset({k: b"v" for k in keys})
        self.r.set("other", "v")
        self.assertEqual(set(self.r.scan_iter(match="scan:*", count=17)), keys)
        self.assertEqual(len(list(self.r.scan_iter(count=50))), 301)
        self.assertEqual(list(self.r.scan_iter(match="nomatch*")), [])

    def test_set_get(self):
        self.assertIsNone(self.r.set("k", "v1", get=True))
        self.assertEqual(self.r.set("k", "v2", get=True), b"v1")
        self.assertEqual(self.r.set("k", "v3", get=True, ex=100), b"v2")
        self.assertGreater(self.r.ttl("k"), 90)
        self.assertEqual(self.r.get("k"), b"v3")

    def test_mget_mset_many_keys(self):
        # As many as one command may carry: 1024 small arguments (docs/PROTOCOL.md, Limits).
        values = {"many:%d" % i: os.urandom(1 + i % 300) for i in range(511)}
        self.assertTrue(self.r.mset(values))
        self.assertTrue(self.r.mset({"more:%d" % i: b"m" for i in range(511)}))
        names = list(values) + ["more:%d" % i for i in range(511)] + ["missing"]
        got = self.r.mget(names)
        self.assertEqual(len(names), 1023)
        self.assertEqual(got, [values[k] for k in values] + [b"m"] * 511 + [None])
        self.assertFalse(self.r.msetnx({"many:0": b"x", "new": b"y"}))
        self.assertIsNone(self.r.get("new"))

    def test_client_list(self):
        self.r.client_setname("py-test")
        clients = self.r.client_list()
        me = [c for c in clients if c["name"] == "py-test"]
        self.assertEqual(len(me), 1)
        for field in ("id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "cmd",
                      "user", "resp"):
            self.assertIn(field, me[0])
        self.assertEqual(me[0]["cmd"], "client|list")
        self.assertEqual(int(me[0]["id"]), self.r.client_id())
        self.assertEqual(self.r.client_info()["name"], "py-test")

    def test_info_every_section(self):
        self.r.set("k", "v")
        self.r.get("k")
        for _ in range(2):
            with self.assertRaises(redis.ResponseError):
                self.r.execute_command("GET")  # rejected: wrong number of arguments
        with self.assertRaises(redis.ResponseError):
            self.r.incr("k")  # INCRBY k 1, failed: not an integer
        everything = self.r.info("everything")
        for field in ("redis_version", "connected_clients", "used_memory", "total_commands_processed",
                      "role", "used_cpu_sys", "db0"):
            self.assertIn(field, everything)
        self.assertEqual(everything["db0"]["keys"], 1)
        for section in ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                        "keyspace", "commandstats", "latencystats", "aws", "pool", "lifecycle",
                        "billing", "default", "all"):
            info = self.r.info(section)
            self.assertIsInstance(info, dict, section)
            if section not in ("keyspace", "aws"):
                self.assertTrue(info, section)
        stats = self.r.info("commandstats")
        get = stats["cmdstat_get"]
        self.assertEqual(get["calls"], 1)
        self.assertEqual(get["rejected_calls"], 2)
        self.assertEqual(get["failed_calls"], 0)
        self.assertGreater(get["usec"], 0)
        self.assertAlmostEqual(get["usec_per_call"], get["usec"] / get["calls"], places=1)
        self.assertEqual(stats["cmdstat_incrby"]["failed_calls"], 1)
        latency = self.r.info("latencystats")
        p = latency["latency_percentiles_usec_get"]
        self.assertEqual(sorted(p), ["p50", "p99", "p99.9"])
        self.assertLessEqual(p["p50"], p["p99"])
        self.assertLessEqual(p["p99"], p["p99.9"])
        self.assertTrue(self.r.config_resetstat())
        self.assertNotIn("cmdstat_get", self.r.info("commandstats"))

    def test_config_get_all(self):
        conf = self.r.config_get("*")
        self.assertGreater(len(conf), 20)
        self.assertEqual(conf["save"], "")
        self.assertEqual(conf["appendonly"], "no")
        for name, value in conf.items():
            self.assertIsInstance(name, str)
            self.assertIsInstance(value, str)
            self.assertEqual(self.r.config_get(name), {name: value})

    def test_command_table(self):
        table = self.r.command()
        self.assertEqual(len(table), self.r.command_count())
        self.assertEqual(table["get"]["arity"], 2)
        self.assertEqual(table["mset"]["step_count"], 2)
        self.assertIn("write", table["set"]["flags"])


if __name__ == "__main__":
    unittest.main()
