#!/usr/bin/python3
"""First-d on and off through the library (iccli --first-d), against a scripted platform whose
straggling nodes hold every chunk reply for a fixed delay: with first-d a GET does not wait for
stragglers among the p extra chunks; with it off (ICGET key ALL) it waits for the slowest one.
Orderings are asserted against a delay far from both ends (3 s against 30 s timeouts). Also
ICGETCHUNKS, the library's request for the chunks not sent, and GETs through nodes that serve
corrupt chunk bodies (first-d with spares)."""
import os
import subprocess
import sys
import time
import unittest

import redis

sys.path.insert(0, os.path.dirname(__file__))
from crc32c import crc32c  # noqa: E402
from fake_platform import FakePlatform  # noqa: E402
from proxytest import BIN, Proxy, iccli_args  # noqa: E402

DELAY = 3.0  # seconds a straggler holds its reply
D, P = 4, 2


class FirstDTest(unittest.TestCase):
    def setUp(self):
        self.platform = FakePlatform()
        self.platform.straggle_delay = DELAY
        # A pool of exactly d + p nodes: each holds one chunk of the object.
        self.proxy = Proxy("--platform-endpoint", self.platform.endpoint(), "--pool-size", str(D + P),
                           "--d", str(D), "--p", str(P), "--request-timeout", "30s",
                           "--node-connect-timeout", "5s", "--warmup-interval", "0",
                           "--backup-interval", "0")
        self.addr = "127.0.0.1:%d" % self.proxy.port
        self.value = os.urandom((4 << 20) + 5)
        out = self.iccli(1, "set", "obj", "-", stdin=self.value)
        self.assertEqual(out.returncode, 0, out.stderr)

    def tearDown(self):
        self.proxy.stop()
        self.platform.stop()

    def iccli(self, first_d, *args, stdin=None, chunk_deadline=30000):
        cmd = [os.path.join(BIN, "iccli"), *iccli_args(), "--proxy", self.addr, "--d", str(D), "--p", str(P),
               "--timeout", "30000", "--chunk-deadline", str(chunk_deadline),
               "--first-d", str(first_d)]
        return subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=60)

    def straggle(self, indexes):
        """Makes the nodes holding these chunk indexes stragglers; returns their ids."""
        ids = [nid for nid, node in self.platform.nodes.items()
               if any(idx in indexes for (_, idx, _) in node.chunks)]
        self.assertEqual(len(ids), len(indexes))
        for nid in ids:
            self.platform.node_mode[nid] = "straggle"
        return ids

    def timed_get(self, first_d, chunk_deadline=30000):
        t0 = time.monotonic()
        out = self.iccli(first_d, "get", "obj", chunk_deadline=chunk_deadline)
        elapsed = time.monotonic() - t0
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, self.value)
        return elapsed

    def test_parity_stragglers(self):
        self.straggle({D, D + 1})  # both parity chunks
        # Off first: it waits for the stragglers, so none is still busy when first-d runs.
        off = self.timed_get(0)
        self.assertGreaterEqual(off, DELAY)
        on = self.timed_get(1)
        self.assertLess(on, DELAY)

    def test_data_stragglers_decode(self):
        self.straggle({0, 2})  # first-d must decode from parity
        off = self.timed_get(0)
        self.assertGreaterEqual(off, DELAY)
        on = self.timed_get(1)
        self.assertLess(on, DELAY)

    def test_off_gives_up_at_the_chunk_deadline(self):
        # With d good chunks in hand, a silence of chunk_deadline ends the wait (not an error).
        self.straggle({D + 1})
        t0 = time.monotonic()
        out = self.iccli(0, "get", "obj", chunk_deadline=1000)
        elapsed = time.monotonic() - t0
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, self.value)
        self.assertGreaterEqual(elapsed, 1.0)
        self.assertLess(elapsed, DELAY)

    def test_icget_all_protocol(self):
        r = redis.Redis(port=self.proxy.port, socket_timeout=30)
        reply = r.execute_command("ICGET", "obj", "ALL")
        self.assertEqual(len(reply), 1 + D + P)
        self.assertEqual(sorted(e[0] for e in reply[1:]), list(range(D + P)))
        self.assertTrue(all(e[1] == 0 and e[2] is not None for e in reply[1:]))  # every chunk sent
        reply = r.execute_command("ICGET", "obj")
        self.assertEqual(sum(e[1] == 0 for e in reply[1:]), D)  # first-d: exactly d sent
        with self.assertRaises(redis.ResponseError):
            r.execute_command("ICGET", "obj", "SOME")
        self.assertIsNone(r.execute_command("ICGET", "nope", "ALL"))

    def test_icgetchunks_protocol(self):
        r = redis.Redis(port=self.proxy.port, socket_timeout=30)
        meta = r.execute_command("ICGET", "obj")[0]
        version, crcs = meta[0], meta[5:]
        spares_before = int(r.info("stats")["icget_spare_reads"])
        reply = r.execute_command("ICGETCHUNKS", "obj", version, 2, 1, 3, 5)
        self.assertEqual(reply[0], meta)  # the same metadata, the same reply shape
        self.assertEqual(sorted(e[0] for e in reply[1:]), list(range(D + P)))
        sent = {e[0]: e[2] for e in reply[1:] if e[1] == 0}
        self.assertEqual(len(sent), 2)  # the first `need` of those listed
        self.assertTrue(set(sent) <= {1, 3, 5}, sent)
        for i, body in sent.items():
            self.assertEqual(crc32c(body), crcs[i])
        self.assertTrue(all(e[1] == 1 and e[2] is None for e in reply[1:] if e[0] not in sent))
        reply = r.execute_command("ICGETCHUNKS", "obj", version, 3, 5, 1, 3)
        self.assertEqual(sorted(e[0] for e in reply[1:] if e[1] == 0), [1, 3, 5])
        self.assertEqual(int(r.info("stats")["icget_spare_reads"]), spares_before + 2)
        # Another version: -STALE, so the library starts over; a key that is gone: a miss.
        with self.assertRaisesRegex(redis.ResponseError, "^STALE"):
            r.execute_command("ICGETCHUNKS", "obj", version + 1, 1, 0)
        self.assertIsNone(r.execute_command("ICGETCHUNKS", "nope", version, 1, 0))
        for bad in [(version, 0, 1), (version, 2, 1), (version, 1, 1, 1), (version, 1, D + P),
                    (version, 1, "x"), ("v", 1, 1), (version, -1, 1)]:
            with self.assertRaises(redis.ResponseError, msg=str(bad)):
                r.execute_command("ICGETCHUNKS", "obj", *bad)
        with self.assertRaisesRegex(redis.ResponseError, "wrong number of arguments"):
            r.execute_command("ICGETCHUNKS", "obj", version, 1)
        self.assertEqual(r.execute_command("PING"), True)  # the connection stays in step

    def test_corrupt_chunks_are_made_up_by_spares(self):
        # p nodes serve their chunk with a flipped byte (and the right CRC in the header, as a
        # node whose memory went bad would): most first d include one (which d arrive first
        # depends on scheduling, so GETs repeat until enough did), and without the spares those
        # GETs fail their checksum. Every GET must return the value.
        bad = self.straggle({0, D})
        for nid in bad:
            self.platform.node_mode[nid] = "corrupt"
        r = redis.Redis(port=self.proxy.port, socket_timeout=30)
        for _ in range(40):
            out = self.iccli(1, "get", "obj")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout, self.value)
            info = r.info("stats")
            if int(info["icget_spare_reads"]) >= 5 and int(info["chunks_corrupt_repaired"]) >= 5:
                break
        # Spares were read, and the library re-stored the bad chunks (the fake node keeps
        # corrupting what it serves, so each GET that met one repairs it again).
        self.assertGreaterEqual(int(info["icget_spare_reads"]), 5)
        self.assertGreaterEqual(int(info["chunks_corrupt_repaired"]), 5)
        # More than p corrupt: an error, never bytes.
        self.platform.node_mode[self.straggle({1})[0]] = "corrupt"
        out = self.iccli(1, "get", "obj")
        self.assertEqual(out.returncode, 2)
        self.assertEqual(out.stdout, b"")
        self.assertIn(b"checksum", out.stderr)

    def test_bad_first_d_value(self):
        out = self.iccli(2, "get", "obj")
        self.assertEqual(out.returncode, 2)


if __name__ == "__main__":
    unittest.main()
