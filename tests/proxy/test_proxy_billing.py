#!/usr/bin/python3
"""The nodes' billing records (BILL, docs/PROTOCOL.md section 2) against a scripted platform
without an admin API, as on AWS Lambda: INFO's billing section then comes from the nodes; a
record sent twice counts once; records a node dropped are counted as unreported; a malformed or
out-of-bounds record is refused without closing the node; a BILL before HELLO is never counted."""
import os
import socket
import sys
import unittest

import redis

sys.path.insert(0, os.path.dirname(__file__))
from fake_platform import FakePlatform, FakeNode  # noqa: E402
from proxytest import Proxy, skip_if_tls, wait_for  # noqa: E402


def bill(seq, kind, duration_us, billed_ms, memory_mb=1536, max_rss_kb=40960, dropped=0):
    args = [b"BILL", *(str(a).encode() for a in (seq, kind, duration_us, billed_ms, memory_mb,
                                                  max_rss_kb, dropped))]
    return b"*%d\r\n" % len(args) + b"".join(FakeNode.bulk(a) for a in args)


class BillingTest(unittest.TestCase):
    def setUp(self):
        self.platform = FakePlatform()
        # admin_token=False: no platform stats are read, as with AWS Lambda.
        self.proxy = Proxy("--platform-endpoint", self.platform.endpoint(), "--pool-size", "3",
                           "--d", "2", "--p", "1", "--warmup-interval", "0", "--backup-interval", "0",
                           admin_token=False)
        self.r = redis.Redis(port=self.proxy.port, socket_timeout=20)
        wait_for(lambda: len(self.platform.nodes) == 3 and
                 all(n.challenge for n in self.platform.nodes.values()), what="every node connected")

    def tearDown(self):
        self.proxy.stop()
        self.platform.stop()

    def billing(self):
        return self.r.info("billing")

    def test_records_counted_by_kind(self):
        self.assertEqual(self.billing()["billing_source"], "nodes")
        self.assertEqual(self.billing()["billing_requests"], 0)
        self.platform.nodes[0].send(bill(1, "activate", 12001, 13))
        self.platform.nodes[1].send(bill(1, "warmup", 900, 1, memory_mb=1024))
        self.platform.nodes[1].send(bill(2, "backup", 1500000, 1500, memory_mb=1024))
        wait_for(lambda: self.billing()["node_billing_records"] == 3, what="3 records counted")
        b = self.billing()
        self.assertEqual(b["billing_requests_activate"], 1)
        self.assertEqual(b["billing_billed_ms_activate"], 13)
        self.assertAlmostEqual(b["billing_gb_seconds_activate"], 0.013 * 1.5, places=9)
        self.assertEqual(b["billing_requests_warmup"], 1)
        self.assertAlmostEqual(b["billing_gb_seconds_warmup"], 0.001, places=9)
        self.assertEqual(b["billing_requests_backup"], 1)
        self.assertAlmostEqual(b["billing_gb_seconds"], 0.0195 + 0.001 + 1.5, places=9)
        self.assertEqual(b["billing_unit_ms"], 1)
        self.assertEqual(b["node_billing_refused"], 0)

    def test_sent_twice_counts_once_and_drops_are_unreported(self):
        node = self.platform.nodes[0]
        node.send(bill(1, "activate", 5000, 5))
        node.send(bill(1, "activate", 5000, 5))  # again, after a connection the node lost
        node.send(bill(2, "warmup", 100, 1, dropped=3))
        node.send(bill(3, "warmup", 100, 1, dropped=3))  # the same drops, said again
        wait_for(lambda: self.billing()["node_billing_records"] == 3, what="3 records counted")
        b = self.billing()
        self.assertEqual(b["node_billing_duplicates"], 1)
        self.assertEqual(b["node_billing_unreported"], 3)
        self.assertEqual(b["billing_requests"], 3)

    def test_bad_records_refused_node_kept(self):
        node = self.platform.nodes[2]
        node.send(bill(1, "activate", 5001, 5))  # billed less than it ran
        node.send(bill(2, "activate", 5000, 5, memory_mb=20000))  # more memory than Lambda has
        node.send(bill(3, "repair", 5000, 5))  # not a kind
        node.send(b"*3\r\n$4\r\nBILL\r\n$1\r\n4\r\n$8\r\nactivate\r\n")  # fields missing
        node.send(bill(5, "activate", 5000, 5))
        wait_for(lambda: self.billing()["node_billing_records"] == 1, what="the good record")
        b = self.billing()
        self.assertEqual(b["node_billing_refused"], 4)
        self.assertEqual(b["billing_billed_ms"], 5)
        # The node is still in service: a value spread over all three nodes reads back.
        self.assertTrue(self.r.set("k", os.urandom(100000)))
        self.assertEqual(len(self.r.get("k")), 100000)

    @skip_if_tls
    def test_bill_before_hello_not_counted(self):
        refused = self.r.info("stats").get("nodes_refused", 0)
        s = socket.create_connection(("127.0.0.1", self.proxy.node_port), timeout=10)
        try:
            f = s.makefile("rb")
            first = [f.readline() for _ in range(5)]
            self.assertEqual(first[2], b"CHALLENGE\r\n")
            s.sendall(bill(1, "activate", 5000, 5))
            wait_for(lambda: self.r.info("stats").get("nodes_refused", 0) > refused,
                     what="the connection refused")
        finally:
            s.close()
        self.assertEqual(self.billing()["node_billing_records"], 0)
        self.assertEqual(self.billing()["billing_requests"], 0)


if __name__ == "__main__":
    unittest.main()
