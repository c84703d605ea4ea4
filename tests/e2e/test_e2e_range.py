#!/usr/bin/python3
"""Ranged reads of large objects: GETRANGE (python3-redis, redis-cli), the library's ic_get_range
(through iccli get --range) on a 40 MiB object coded RS(10+2). Every answer is compared with the
bytes of the value (and, for GETRANGE, with redis-server's answer); INFO's getrange_chunk_bytes
proves that a 1 MiB range moves about 1 MiB from the nodes, not the object; a range whose data
chunk is on a killed node is decoded and still right."""
import os
import random
import subprocess
import sys
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, TLS, Proxy, RedisServer, cli_auth_args, iccli_args  # noqa: E402

SIZE = 40 << 20
D, P = 10, 2
CHUNK = SIZE // D  # 4 MiB: a multiple of the 64-byte alignment, so no padding


def redis_range(value, start, end):
    """Redis's GETRANGE on value, as getrangeCommand computes it."""
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    start = n + start if start < 0 else start
    end = n + end if end < 0 else end
    start, end = max(start, 0), max(end, 0)
    end = min(end, n - 1)
    if n == 0 or start > end:
        return b""
    return value[start:end + 1]


CASES = [
    ("start", 0, 999),
    ("first byte", 0, 0),
    ("end", -1000, -1),
    ("last byte", SIZE - 1, SIZE - 1),
    ("across a boundary", CHUNK - 100, CHUNK + 99),
    ("across three chunks", 2 * CHUNK - 5, 4 * CHUNK + 5),
    ("inside one chunk", 3 * CHUNK + 10, 3 * CHUNK + 5000),
    ("one whole chunk", 5 * CHUNK, 6 * CHUNK - 1),
    ("negative", -5000000, -4000000),
    ("negative start, positive end", -(SIZE - 10), 20),
    ("past the end", SIZE - 10, SIZE + 100),
    ("wholly past the end", SIZE + 5, SIZE + 10),
    ("start > end", 1000, 10),
    ("both negative, reversed", -1, -5),
    ("everything", 0, -1),
    ("clamped both ways", -(SIZE * 2), SIZE * 2),
]


def stat(r, name):
    return int(r.info("stats")[name])


class RangeReads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy("--pool-size", "14", "--d", str(D), "--p", str(P), "--node-memory", "256",
                          "--node-reserved", "16")
        cls.r = redis.Redis(port=cls.proxy.port, socket_timeout=60)
        cls.value = random.Random(7).randbytes(SIZE)
        cls.r.set("big", cls.value)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def test_ranges_match_the_value(self):
        for name, start, end in CASES:
            with self.subTest(case=name):
                self.assertEqual(self.r.getrange("big", start, end),
                                 redis_range(self.value, start, end))

    @unittest.skipIf(TLS, "compares with a plaintext redis-server")
    def test_same_answers_as_redis(self):
        ref = RedisServer()
        try:
            rr = redis.Redis(port=ref.port, socket_timeout=60)
            rr.set("big", self.value)
            for name, start, end in CASES:
                with self.subTest(case=name):
                    self.assertEqual(self.r.getrange("big", start, end),
                                     rr.getrange("big", start, end))
            self.assertEqual(self.r.getrange("absent", 0, 100), rr.getrange("absent", 0, 100))
        finally:
            ref.stop()

    def test_one_mib_moves_about_one_mib(self):
        rng = random.Random(11)
        decoded = stat(self.r, "getrange_decoded")
        for _ in range(5):
            off = rng.randrange(0, SIZE - (1 << 20))
            before = stat(self.r, "getrange_chunk_bytes")
            got = self.r.getrange("big", off, off + (1 << 20) - 1)
            moved = stat(self.r, "getrange_chunk_bytes") - before
            self.assertEqual(got, self.value[off:off + (1 << 20)])
            # Only the pieces of the range are read: exactly 1 MiB when nothing is lost, and in
            # any case at most twice the range (a whole read would be 40 MiB).
            self.assertGreaterEqual(moved, 1 << 20)
            self.assertLessEqual(moved, 2 << 20, "a 1 MiB range moved %d bytes" % moved)
        # Every piece passed its chunk's CRC: nothing had to be decoded.
        self.assertEqual(stat(self.r, "getrange_decoded"), decoded)

    def test_redis_cli(self):
        cmd = ["redis-cli", "-p", str(self.proxy.port), *cli_auth_args()]
        if TLS:
            self.skipTest("redis-cli plaintext")
        out = subprocess.run(cmd + ["GETRANGE", "big", str(CHUNK - 8), str(CHUNK + 7)],
                             capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        # redis-cli prints binary bytes escaped; compare by running the same through --no-raw's
        # opposite: ask for printable bytes instead.
        self.r.set("text", (b"0123456789abcdef" * 8192) + b"tail")
        out = subprocess.run(cmd + ["GETRANGE", "text", "-4", "-1"], capture_output=True,
                             timeout=60)
        self.assertEqual(out.stdout.strip(), b"tail")

    def iccli(self, *args):
        return subprocess.run([os.path.join(BIN, "iccli"), *iccli_args(), "--proxy",
                               "127.0.0.1:%d" % self.proxy.port, *args],
                              capture_output=True, timeout=120)

    def test_library_through_iccli(self):
        lib_value = random.Random(5).randbytes(SIZE // 2 + 333)
        out = subprocess.run([os.path.join(BIN, "iccli"), *iccli_args(), "--proxy",
                              "127.0.0.1:%d" % self.proxy.port, "set", "lib", "-"],
                             input=lib_value, capture_output=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        lcs = -(-len(lib_value) // D + 63) // 64 * 64  # the library's chunk size
        for start, end in ((0, 99), (lcs - 50, lcs + 49), (len(lib_value) - 10, len(lib_value) + 10),
                           (12345, 12345 + (1 << 20) - 1)):
            with self.subTest(start=start, end=end):
                before = stat(self.r, "getrange_chunk_bytes")
                out = self.iccli("get", "--range", "%d-%d" % (start, end), "lib", "-")
                self.assertEqual(out.returncode, 0, out.stderr)
                want = lib_value[start:end + 1]
                self.assertEqual(out.stdout, want)
                self.assertLessEqual(stat(self.r, "getrange_chunk_bytes") - before, 2 * len(want))
        # Past the end: nothing, still a hit; a missing key is a miss; a bad range is an error.
        out = self.iccli("get", "--range", "%d-%d" % (len(lib_value), len(lib_value) + 5), "lib")
        self.assertEqual((out.returncode, out.stdout), (0, b""))
        self.assertEqual(self.iccli("get", "--range", "0-10", "nope").returncode, 1)
        self.assertEqual(self.iccli("get", "--range", "10-2", "lib").returncode, 2)
        self.assertEqual(self.iccli("get", "--range", "-1-2", "lib").returncode, 2)
        self.assertIn(b"--range", self.iccli("--help").stdout)


class RangeWithLostNodes(unittest.TestCase):
    def test_range_on_a_killed_node_is_decoded(self):
        # A pool of exactly d + p nodes: every node holds one chunk of the object.
        proxy = Proxy("--pool-size", str(D + P), "--d", str(D), "--p", str(P), "--node-memory",
                      "256", "--node-reserved", "16", "--node-connect-timeout", "3s",
                      "--request-timeout", "10s")
        try:
            r = redis.Redis(port=proxy.port, socket_timeout=60)
            rng = random.Random(3)
            # Two kills hit no data chunk only if both are the parity chunks' nodes (1 in 66);
            # then the object is stored again and two more nodes are killed.
            for attempt in range(4):
                value = rng.randbytes(SIZE)
                r.set("big", value)
                proxy.kill_nodes(P)
                decoded = stat(r, "getrange_decoded")
                # A range inside every data chunk: the ones on killed nodes must be decoded.
                for i in range(D):
                    start = i * CHUNK + 1000 + i
                    self.assertEqual(r.getrange("big", start, start + 99999),
                                     value[start:start + 100000])
                if stat(r, "getrange_decoded") > decoded:
                    break
            self.assertGreater(stat(r, "getrange_decoded"), decoded)
            # Every range is still right, across boundaries too, and a decoded 1 MiB range reads
            # its window from d chunks: about d times the range, not the object... plus the piece.
            for name, start, end in CASES:
                with self.subTest(case=name):
                    self.assertEqual(r.getrange("big", start, end),
                                     redis_range(value, start, end))
        finally:
            proxy.stop()


if __name__ == "__main__":
    unittest.main()
