#!/usr/bin/python3
"""Proxy against a scripted platform: data path correctness and the faults the platform
injects exactly (refused invocations, nodes that lose, corrupt or never answer)."""
import os
import random
import sys
import unittest

import redis

sys.path.insert(0, os.path.dirname(__file__))
from fake_platform import FakePlatform  # noqa: E402
from proxytest import Proxy, connect, skip_if_tls, wait_for  # noqa: E402


class FakePlatformTest(unittest.TestCase):
    def setUp(self):
        self.platform = FakePlatform()
        self.args = ["--platform-endpoint", self.platform.endpoint(), "--pool-size", "16",
                     "--d", "4", "--p", "2", "--small-object-max", "1k",
                     "--request-timeout", "2s", "--node-connect-timeout", "5s"]
        self.proxy = Proxy(*self.args)
        self.r = redis.Redis(port=self.proxy.port, socket_timeout=20)

    def tearDown(self):
        self.proxy.stop()
        self.platform.stop()

    def test_roundtrip_sizes(self):
        rnd = random.Random(1)
        for size in [0, 1, 63, 64, 1000, 1024, 1025, 4096 + 7, 100000, 3 << 20]:
            v = rnd.randbytes(size)
            self.assertTrue(self.r.set("k%d" % size, v))
            self.assertEqual(self.r.get("k%d" % size), v, "size %d" % size)
            self.assertEqual(self.r.strlen("k%d" % size), size)
        self.assertIsNone(self.r.get("nope"))
        self.assertEqual(self.r.exists("k1", "k0", "nope"), 2)
        self.assertEqual(self.r.delete("k1", "nope"), 1)
        self.assertIsNone(self.r.get("k1"))

    def test_overwrite_and_pipeline(self):
        p = self.r.pipeline(transaction=False)
        for i in range(200):
            p.set("p%d" % (i % 20), b"v%d" % i * 300)
            p.get("p%d" % (i % 20))
        out = p.execute()
        for i in range(200):
            self.assertTrue(out[2 * i])
            self.assertEqual(out[2 * i + 1], b"v%d" % i * 300)

    def test_pipelined_sets_commit_in_order(self):
        # Stores of one key start together but must commit in the order they were sent.
        p = self.r.pipeline(transaction=False)
        for i in range(100):
            p.set("same", b"%d" % i * (1 + i * 37))
        p.get("same")
        p.delete("same")
        p.set("same", b"after-delete")
        p.get("same")
        out = p.execute()
        self.assertEqual(out[100], b"99" * (1 + 99 * 37))
        self.assertEqual(out[101], 1)
        self.assertEqual(out[103], b"after-delete")

    def test_up_to_p_nodes_lost(self):
        v = os.urandom(200000)
        self.r.set("big", v)
        # Make two nodes forget everything: the GET decodes from parity.
        ids = sorted(self.platform.nodes)
        lost = 0
        for nid in ids:
            self.platform.node_mode[nid] = "forget"
            lost += 1
            if lost == 2:
                break
        self.assertEqual(self.r.get("big"), v)

    def test_small_object_replicas(self):
        # Small objects are 1 chunk + p=2 replicas on distinct nodes, read one replica at a time.
        v = os.urandom(700)
        self.r.set("small", v)
        results = []
        for nid in sorted(self.platform.nodes):
            self.platform.node_mode[nid] = "forget"
            results.append(self.r.get("small"))
        self.assertTrue(all(x in (v, None) for x in results))
        first_miss = results.index(None)
        self.assertGreaterEqual(first_miss, 2)  # survives the loss of any 2 holders
        self.assertTrue(all(x is None for x in results[first_miss:]))

    def test_node_full_of_unknown_chunks_evicts_and_retries(self):
        # Every node holds objects; then every node answers its next CSET with -NOMEM and figures
        # that say it is full: the proxy takes them, evicts what it placed there, sends the chunk
        # once more, and the SET succeeds.
        for i in range(40):
            self.assertTrue(self.r.set("old%d" % i, b"o%d" % i * 100))
        for nid in self.platform.nodes:
            self.platform.node_mode[nid] = "full_once"
        v = os.urandom(500)
        self.assertTrue(self.r.set("new", v))
        self.assertEqual(self.r.get("new"), v)
        self.assertGreater(self.r.info("stats")["evicted_keys"], 0)
        # A node that keeps refusing still fails the SET, with its reason.
        for nid in self.platform.nodes:
            self.platform.node_mode[nid] = "refuse"
        with self.assertRaises(redis.ResponseError) as cm:
            self.r.set("never", b"x" * 500)
        self.assertIn("NOMEM", str(cm.exception))

    def holders(self, key):
        return [nid for nid, n in list(self.platform.nodes.items())
                if any(k == key for (k, _, _) in list(n.chunks))]

    def test_del_answers_after_chunks_are_deleted(self):
        self.assertTrue(self.r.set("gone", os.urandom(5000)))
        self.assertEqual(len(self.holders(b"gone")), 6)
        for nid in self.platform.nodes:
            self.platform.node_mode[nid] = "slow_del"
        self.assertEqual(self.r.delete("gone"), 1)
        # No node holds a chunk of it once DEL has answered.
        self.assertEqual(self.holders(b"gone"), [])
        self.assertIsNone(self.r.get("gone"))

    def test_del_reaches_a_node_that_was_down(self):
        self.assertTrue(self.r.set("victim", b"v" * 500))  # 1 chunk + 2 replicas
        h = self.holders(b"victim")[0]
        node = self.platform.nodes[h]
        self.platform.refuse.add(h)
        fails = self.r.info("stats")["invoke_failures"]
        node.drop_connection()  # the proxy wakes it at once: refused, so it is down
        wait_for(lambda: self.r.info("stats")["invoke_failures"] > fails, 10, what="invoke refused")
        self.assertEqual(self.r.delete("victim"), 1)
        self.assertGreaterEqual(self.r.info("lifecycle")["deletes_pending"], 1)
        self.assertIn(h, self.holders(b"victim"))  # the instance lives on with its memory
        self.platform.refuse.discard(h)
        # The same instance comes back (new data wakes it): the delete is sent before anything.
        i = 0
        while self.platform.nodes[h] is node and i < 200:
            self.r.set("wake%d" % i, b"w" * 500)
            i += 1
        wait_for(lambda: h not in self.holders(b"victim"), 10, what="deferred delete")
        self.assertEqual(self.r.info("lifecycle")["deletes_pending"], 0)

    def test_del_while_every_holder_is_down_survives_restart(self):
        self.assertTrue(self.r.set("lonely", b"z" * 500))  # 3 holders of 16
        holders = self.holders(b"lonely")
        self.assertEqual(len(holders), 3)
        fails = self.r.info("stats")["invoke_failures"]
        for h in holders:
            self.platform.refuse.add(h)
            self.platform.nodes[h].drop_connection()
        wait_for(lambda: self.r.info("stats")["invoke_failures"] >= fails + 3, 10,
                 what="every holder down")
        self.assertEqual(self.r.delete("lonely"), 1)
        # No holder heard of it; a serving node that holds nothing of the key keeps its tombstone.
        witnesses = [nid for nid, n in self.platform.nodes.items() if b"lonely" in n.tombs]
        self.assertEqual(len(witnesses), 1)
        self.assertNotIn(witnesses[0], holders)
        # The proxy dies with the deletes it kept; the holders come back, chunks and all, to its
        # successor, which must not bring the key back.
        self.proxy.proc.kill()
        self.proxy.proc.wait()
        self.platform.refuse.clear()
        self.proxy = Proxy(*self.args)
        r = redis.Redis(port=self.proxy.port, socket_timeout=20)
        self.assertIsNone(r.get("lonely"))
        self.assertEqual(r.dbsize(), 0)

    def test_orphan_chunks_found_at_inventory_are_deleted(self):
        self.assertTrue(self.r.set("live", b"l" * 500))
        self.assertTrue(self.r.set("live", b"L" * 500))  # version 1 of it is gone
        h = self.holders(b"live")[0]
        node = self.platform.nodes[h]
        live_version = max(v for (k, _, v) in list(node.chunks) if k == b"live")
        # Chunks no object owns: a deleted key, and an old version of a live key.
        node.chunks[(b"orphan", 0, 5)] = (0, b"o" * 500, [500, 1, 2, 0])
        node.chunks[(b"live", 0, live_version - 1)] = (0, b"x" * 500, [500, 1, 2, 0])
        node.chunks[(b"live", 1, live_version + 1000)] = (0, b"y" * 500, [500, 1, 2, 0])
        self.platform.rename_on_redial.add(h)
        node.drop_connection()  # a new instance with the same memory (a backup peer) takes over
        wait_for(lambda: self.platform.nodes[h] is not node, 10, what="new instance")
        survivors = lambda: sorted(k for k in self.platform.nodes[h].chunks)  # noqa: E731
        wait_for(lambda: (b"orphan", 0, 5) not in survivors() and
                 (b"live", 0, live_version - 1) not in survivors() and
                 (b"live", 1, live_version + 1000) not in survivors(), 10, what="orphans deleted")
        self.assertEqual([v for (k, i, v) in survivors() if k == b"live"], [live_version])
        self.assertEqual(self.r.get("live"), b"L" * 500)
        self.assertGreaterEqual(self.r.info("lifecycle")["stale_chunks"], 3)

    def test_corrupt_chunk_never_served(self):
        v = os.urandom(50000)
        self.r.set("c", v)
        for nid in self.platform.nodes:
            self.platform.node_mode[nid] = "corrupt"
        # Every chunk fails its checksum: a miss, never wrong bytes.
        self.assertIsNone(self.r.get("c"))
        info = self.r.info("stats")
        self.assertGreaterEqual(info["objects_lost"], 1)

    @skip_if_tls
    def test_chunks_over_node_limit_refused_on_header(self):
        # max-object-size allows 64 GiB, but with d=4 a value over 4 GiB needs chunks over the
        # nodes' 1 GiB: the refusal comes before any body byte is sent.
        self.proxy.stop()
        self.proxy = Proxy(*self.args, "--max-object-size", "64g")
        self.r = redis.Redis(port=self.proxy.port, socket_timeout=20)
        s = connect(self.proxy.port, timeout=10)
        try:
            s.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$%d\r\n" % ((4 << 30) + 1))
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = s.recv(4096)
                self.assertTrue(chunk, "connection closed before the reply")
                reply += chunk
        finally:
            s.close()
        self.assertTrue(reply.startswith(b"-ERR value of 4294967297 bytes needs chunks of"), reply)
        self.assertIn(b"over the nodes' 1073741824", reply)
        self.assertTrue(self.r.ping())
        self.assertIsNone(self.r.get("huge"))

    def test_refused_invocation_is_clear_error(self):
        self.platform.refuse = set(range(16))
        for n in list(self.platform.nodes.values()):
            n.kill()
        with self.assertRaises(redis.ResponseError) as cm:
            self.r.set("x", b"y" * 5000)
        self.assertIn("fail", str(cm.exception))
        self.platform.refuse = set()

        # Invocations sent while the platform refused may still be answered with the refusal
        # (the next SET can wait on one of them), so the proxy must recover within a deadline,
        # not necessarily on the very next request.
        def stored():
            try:
                return self.r.set("x", b"y" * 5000)
            except redis.ResponseError as e:
                self.assertIn("refused by test", str(e))
                return False
        wait_for(stored, timeout=15, interval=0.1, what="a SET once invocations are accepted")
        self.assertEqual(self.r.get("x"), b"y" * 5000)

    def test_silent_node_times_out_but_others_serve(self):
        self.r.set("s", b"z" * 10000)
        for nid in self.platform.nodes:
            self.platform.node_mode[nid] = "silent"
        with self.assertRaises(redis.ResponseError):
            self.r.get("s")
        for nid in self.platform.nodes:
            self.platform.node_mode[nid] = "ok"
        self.assertEqual(self.r.ping(), True)


if __name__ == "__main__":
    unittest.main()
