#!/usr/bin/python3
"""First-d with spares against the real icproxy + icplatform + icnode, through the library (iccli).
Corrupt chunks are planted the way a client can: an ICSET whose chunk bytes disagree with the CRCs
it states (neither the proxy, which splices chunk bodies straight to the nodes, nor the node checks
them). Every library GET must still return the exact bytes, asking for the chunks not sent when
one of the first d fails its checksum, and re-store the corrupt chunks (ICREPAIR) until the
object reads clean; more corrupt chunks than p make an error, never bytes."""
import os
import subprocess
import sys
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from crc32c import crc32c  # noqa: E402
from proxytest import BIN, Proxy, iccli_args  # noqa: E402

D, P = 4, 2


def flip(chunk):
    """The chunk with one byte changed, as memory gone bad would leave it."""
    mid = len(chunk) // 2
    return chunk[:mid] + bytes([chunk[mid] ^ 0x5A]) + chunk[mid + 1:]


class SparesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy("--pool-size", "8", "--d", str(D), "--p", str(P), "--node-memory", "256",
                          "--node-reserved", "16")
        cls.addr = "127.0.0.1:%d" % cls.proxy.port
        cls.r = redis.Redis(port=cls.proxy.port, socket_timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def iccli(self, *args, stdin=None):
        cmd = [os.path.join(BIN, "iccli"), "--proxy", self.addr, "--d", str(D), "--p", str(P),
               *iccli_args()]
        return subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=60)

    def stat(self, name):
        return int(self.r.info("stats")[name])

    def chunks(self, key):
        """Every chunk of key's current version, read raw with ICGET key ALL: (meta, {i: body})."""
        reply = self.r.execute_command("ICGET", key, "ALL")
        return reply[0], {e[0]: e[2] for e in reply[1:] if e[1] == 0}

    def plant(self, key, value, bad):
        """Stores value under key (through the library, so the chunks are its erasure code), then
        stores it again with the chunks at indexes `bad` corrupted behind correct CRCs."""
        out = self.iccli("set", key, "-", stdin=value)
        self.assertEqual(out.returncode, 0, out.stderr)
        meta, body = self.chunks(key)
        n = meta[2] + meta[3]
        if meta[2] == 1:  # replicas are read one at a time, even with ALL: each is the object
            body = {i: next(iter(body.values())) for i in range(n)}
        self.assertEqual(len(body), n)
        crcs = meta[5:]
        chunks = [flip(body[i]) if i in bad else body[i] for i in range(n)]
        self.assertTrue(self.r.execute_command("ICSET", key, meta[2], meta[3], meta[1], *crcs,
                                               *chunks))
        return n

    def corrupt_indexes(self, key):
        meta, body = self.chunks(key)
        return sorted(i for i, b in body.items() if crc32c(b) != meta[5 + i])

    def get(self, key, value):
        out = self.iccli("get", key)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, value)

    def test_corrupt_chunks_are_read_around_and_repaired(self):
        values = {"spare%d" % i: os.urandom(300000 + 977 * i) for i in range(4)}
        bad = {"spare0": {0}, "spare1": {1, 3}, "spare2": {2, 5}, "spare3": {4, 5}}
        for key, v in values.items():
            self.plant(key, v, bad[key])
            self.assertEqual(self.corrupt_indexes(key), sorted(bad[key]))
        spares, repaired = self.stat("icget_spare_reads"), self.stat("chunks_corrupt_repaired")
        for key, v in values.items():
            # A corrupt chunk is repaired once a GET verifies it: a first d that happens to
            # leave it out does not, so read until none is left (each miss is 1/3 or less).
            for _ in range(25):
                self.get(key, v)
                if not self.corrupt_indexes(key):
                    break
            self.assertEqual(self.corrupt_indexes(key), [], key)
        self.assertGreaterEqual(self.stat("icget_spare_reads"), spares + 4)
        self.assertGreaterEqual(self.stat("chunks_corrupt_repaired"), repaired + 7)
        # Repaired: the next GETs meet no corrupt chunk, so they never ask for spares.
        spares = self.stat("icget_spare_reads")
        for key, v in values.items():
            self.get(key, v)
        self.assertEqual(self.stat("icget_spare_reads"), spares)

    def test_replicated_object_with_corrupt_replicas(self):
        v = os.urandom(5000)  # under small-max: one chunk and p replicas
        self.assertEqual(self.iccli("set", "small", "-", stdin=v).returncode, 0)
        version = self.chunks("small")[0][0]
        # The proxy reads replica (version mod n) first and the others after it. The planted
        # version is version + 2 (plant() stores it through the library once more first); the
        # replica read first and one other are made corrupt.
        n = 1 + P
        self.plant("small", v, {(version + 1) % n, (version + 2) % n})
        meta, body = self.chunks("small")
        self.assertEqual(meta[0], version + 2)  # the library's SET again, then the planted one
        (first,) = body.values()
        self.assertNotEqual(crc32c(first), meta[5])  # what a GET gets first is corrupt
        spares = self.stat("icget_spare_reads")
        for _ in range(3):
            self.get("small", v)
        self.assertGreater(self.stat("icget_spare_reads"), spares)

    def test_more_corrupt_than_p_is_an_error(self):
        v = os.urandom(200000)
        self.plant("rotten", v, {0, 2, 4})
        for _ in range(3):
            out = self.iccli("get", "rotten")
            self.assertEqual(out.returncode, 2)
            self.assertEqual(out.stdout, b"")
            self.assertIn(b"checksum", out.stderr)
        self.assertEqual(self.corrupt_indexes("rotten"), [0, 2, 4])  # nothing re-stored


if __name__ == "__main__":
    unittest.main()
