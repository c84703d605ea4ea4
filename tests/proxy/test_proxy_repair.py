#!/usr/bin/python3
"""Repair and rebuild against a scripted platform: a new instance that announces an empty store
gets its chunks rebuilt in the background; more than p lost chunks make a clean miss; a proxy
that restarts rebuilds its metadata from the nodes' inventories and never trusts chunks that
disagree or are too few."""
import os
import random
import sys
import unittest

import redis

sys.path.insert(0, os.path.dirname(__file__))
from fake_platform import FakePlatform  # noqa: E402
from proxytest import Proxy, wait_for  # noqa: E402

ARGS = ["--pool-size", "8", "--d", "4", "--p", "2", "--small-object-max", "1k",
        "--request-timeout", "2s", "--node-connect-timeout", "5s", "--repair-rate", "1g"]


def info(r):
    return r.info("all")


def chunks_on(platform, nid):
    node = platform.nodes.get(nid)
    return {} if node is None else dict(node.chunks)


class RepairTest(unittest.TestCase):
    def setUp(self):
        self.platform = FakePlatform()
        self.proxy = None
        self.start_proxy()

    def start_proxy(self, *extra):
        self.proxy = Proxy("--platform-endpoint", self.platform.endpoint(), *ARGS, *extra)
        self.r = redis.Redis(port=self.proxy.port, socket_timeout=20)

    def tearDown(self):
        if self.proxy:
            self.proxy.stop()
        self.platform.stop()

    def fill(self, count, size=40000, seed=1):
        rnd = random.Random(seed)
        values = {}
        for i in range(count):
            v = rnd.randbytes(size + i)
            self.assertTrue(self.r.set("obj%d" % i, v))
            values["obj%d" % i] = v
        return values

    def test_new_empty_instance_is_repaired(self):
        values = self.fill(30)
        held = len(chunks_on(self.platform, 0))
        self.assertGreater(held, 0)
        # The instance is reclaimed: its memory is gone. The proxy sees the connection close,
        # wakes the function, the new instance's inventory is empty: every chunk is lost.
        self.platform.nodes[0].kill()
        wait_for(lambda: info(self.r)["chunks_repaired"] >= held, timeout=20,
                 what="chunks rebuilt on the new instance")
        i = info(self.r)
        self.assertEqual(i["chunks_lost"], held)
        self.assertEqual(i["objects_lost"], 0)
        self.assertGreaterEqual(i["inventories"], 9)
        self.assertEqual(len(chunks_on(self.platform, 0)), held)
        for k, v in values.items():
            self.assertEqual(self.r.get(k), v, k)

    def test_more_than_p_lost_is_a_clean_miss(self):
        values = self.fill(20)
        # Find an object and kill three of its nodes (p = 2).
        holders = {}
        for nid, node in self.platform.nodes.items():
            for (key, idx, ver) in node.chunks:
                holders.setdefault(key.decode(), set()).add(nid)
        key = sorted(holders)[0]
        victims = sorted(holders[key])[:3]
        for nid in victims:
            self.platform.nodes[nid].kill()
        wait_for(lambda: info(self.r)["inventories"] >= 8 + 3, timeout=20,
                 what="the new instances' inventories")
        self.assertIsNone(self.r.get(key))
        wait_for(lambda: info(self.r)["repairs_started"] > 0 and
                 info(self.r)["objects_lost"] >= 1, timeout=20, what="objects lost counted")
        # Every object is either exact or a miss, never other bytes.
        for k, v in values.items():
            got = self.r.get(k)
            self.assertIn(got, (v, None), k)
            if not (holders[k] & set(victims)) or len(holders[k] & set(victims)) <= 2:
                self.assertEqual(got, v, k)

    def test_restart_rebuilds_metadata_and_vouches(self):
        values = self.fill(24)
        self.r.set("small", b"tiny")  # replicated: d = 1
        values["small"] = b"tiny"
        self.proxy.stop()
        self.proxy = None
        by_key = {}
        for nid, node in self.platform.nodes.items():
            for ck in node.chunks:
                by_key.setdefault(ck[0].decode(), []).append((nid, ck))
        # obj0: keep only 3 chunks (fewer than d): it cannot be vouched for.
        for nid, ck in by_key["obj0"][3:]:
            del self.platform.nodes[nid].chunks[ck]
        # obj1: one node tells another story about the object's size.
        nid, ck = by_key["obj1"][0]
        crc, body, obj = self.platform.nodes[nid].chunks[ck]
        self.platform.nodes[nid].chunks[ck] = (crc, body, [obj[0] + 1] + obj[1:])
        # obj2: one chunk's bytes rot, its recorded CRC does not change.
        nid, ck = by_key["obj2"][0]
        crc, body, obj = self.platform.nodes[nid].chunks[ck]
        self.platform.nodes[nid].chunks[ck] = (crc, bytes([body[0] ^ 1]) + body[1:], obj)

        self.start_proxy()
        i = info(self.r)
        self.assertEqual(i["rebuilt_objects"], len(values) - 2)
        self.assertIsNone(self.r.get("obj0"))
        self.assertIsNone(self.r.get("obj1"))
        for k, v in values.items():
            if k not in ("obj0", "obj1"):
                self.assertEqual(self.r.get(k), v, k)
        # The untrusted objects' chunks are deleted from the nodes.
        wait_for(lambda: not any(ck[0] in (b"obj0", b"obj1")
                                 for n in self.platform.nodes.values() for ck in n.chunks),
                 timeout=10, what="untrusted chunks deleted")
        # The rotten chunk is never served: read obj2 many times, first-d picks varying chunks.
        for _ in range(20):
            self.assertEqual(self.r.get("obj2"), values["obj2"])
        # A write after the restart gets a newer version than anything before it.
        self.assertTrue(self.r.set("obj3", b"new"))
        self.assertEqual(self.r.get("obj3"), b"new")


if __name__ == "__main__":
    unittest.main()
