#!/usr/bin/python3
"""The string commands against redis-server 7 in the same run: every script of commands (the edge
cases of Redis's documentation: SET's option combinations and syntax errors, negative and
out-of-range GETRANGE offsets, SETRANGE's zero padding, INCR on 20-digit values, INCRBYFLOAT's
formatting, MSETNX's all or nothing, GETEX PERSIST) is sent to both, and the replies must be the
same bytes. Then what redis-server cannot share: INCRs of many clients at once all count, large
values through APPEND/GETRANGE/SETRANGE/GETSET/MGET, python3-redis's set(get=True), and
redis-benchmark's string tests."""
import os
import shutil
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import PASSWORD, Proxy, RedisServer, encode, raw_client, skip_if_tls  # noqa: E402


# Each script runs on both servers from empty keys "k", "k2".."k7"; TTL answers are compared
# within 5%, the rest byte for byte.
SCRIPTS = {
    "set_options": [
        ("SET", "k", "v"), ("SET", "k", "w", "NX"), ("SET", "k", "w", "XX"), ("GET", "k"),
        ("SET", "k2", "v", "XX"), ("SET", "k2", "v", "NX"), ("SET", "k", "a", "NX", "XX"),
        ("SET", "k", "a", "XX", "NX"), ("SET", "k", "a", "EX", "10", "PX", "100"),
        ("SET", "k", "a", "KEEPTTL", "EX", "10"), ("SET", "k", "a", "EX", "10", "KEEPTTL"),
        ("SET", "k", "a", "EX"), ("SET", "k", "a", "EX", "0"), ("SET", "k", "a", "EX", "-5"),
        ("SET", "k", "a", "EX", "abc"), ("SET", "k", "a", "PX", "1.5"),
        ("SET", "k", "a", "EX", "9223372036854775807"), ("SET", "k", "a", "PX", "9223372036854775807"),
        ("SET", "k", "a", "EXAT", "0"), ("SET", "k", "a", "PXAT", "-1"), ("SET", "k", "a", "FOO"),
        ("SET", "k", "a", "EX", "10", "EX", "20"), ("TTL", "k"), ("SET", "k", "a", "nx", "nx"),
        ("SET", "k", "b", "xx", "keepttl"), ("TTL", "k"), ("GET", "k"),
        ("SET", "k", "c", "PERSIST"), ("SET", "k", "c", "GET", "GET"), ("GET", "k"),
        ("SET", "k3", "x", "NX", "GET"), ("SET", "k3", "y", "NX", "GET"), ("GET", "k3"),
        ("SET", "k4", "x", "XX", "GET"), ("EXISTS", "k4"), ("SET", "k3", "z", "XX", "GET", "PX", "50000"),
        ("PTTL", "k3"), ("SET", "k3", "w", "GET", "KEEPTTL"), ("PTTL", "k3"), ("GET", "k3"),
        ("SET", "k2", "v", "EXAT", "4102444800"), ("TTL", "k2"), ("SET", "k2", "v", "PXAT", "4102444800000"),
        ("TTL", "k2"), ("SET", "k2", "v"), ("TTL", "k2"), ("SET", "k", "v", "PX", "1", "GET"),
    ],
    "setnx_setex": [
        ("SETNX", "k", "a"), ("SETNX", "k", "b"), ("GET", "k"), ("SETEX", "k", "100", "c"),
        ("TTL", "k"), ("GET", "k"), ("SETEX", "k", "0", "c"), ("SETEX", "k", "-1", "c"),
        ("SETEX", "k", "x", "c"), ("PSETEX", "k", "100000", "d"), ("PTTL", "k"),
        ("PSETEX", "k", "0", "d"), ("PSETEX", "k", "1.5", "d"), ("SETEX", "k", "9223372036854775807", "c"),
        ("GET", "k"), ("SETNX", "k"), ("SETEX", "k", "1"),
    ],
    "getset_getdel_getex": [
        ("GETSET", "k", "a"), ("GETSET", "k", "b"), ("GET", "k"), ("SET", "k", "c", "EX", "100"),
        ("GETSET", "k", "d"), ("TTL", "k"), ("GETDEL", "k"), ("GETDEL", "k"), ("EXISTS", "k"),
        ("GETEX", "k"), ("SET", "k", "e"), ("GETEX", "k"), ("GETEX", "k", "EX", "100"), ("TTL", "k"),
        ("GETEX", "k", "PX", "200000"), ("PTTL", "k"), ("GETEX", "k", "PERSIST"), ("TTL", "k"),
        ("GETEX", "k", "EXAT", "4102444800"), ("TTL", "k"), ("GETEX", "k", "PXAT", "4102444800000"),
        ("TTL", "k"), ("GETEX", "k", "EX", "0"), ("GETEX", "k", "EX", "-1"), ("GETEX", "k", "EX", "x"),
        ("GETEX", "k", "EX"), ("GETEX", "k", "PERSIST", "EX", "10"), ("GETEX", "k", "EX", "10", "PERSIST"),
        ("GETEX", "k", "NX"), ("GETEX", "k", "KEEPTTL"), ("GETEX", "k", "EX", "10", "PX", "10"),
        ("GETEX", "k", "EXAT", "1"), ("EXISTS", "k"), ("GETEX", "k2", "PERSIST"), ("GETEX", "k2", "EX", "0"),
    ],
    "mget_mset": [
        ("MSET", "k", "1", "k2", "2"), ("MGET", "k", "k2", "k3"), ("MSET", "k", "3", "k", "4"),
        ("GET", "k"), ("MSET", "k"), ("MSET", "k", "1", "k2"), ("MSETNX", "k3", "a", "k4", "b"),
        ("MGET", "k3", "k4"), ("MSETNX", "k4", "c", "k5", "d"), ("MGET", "k4", "k5"),
        ("EXISTS", "k5"), ("MSETNX", "k6", "x", "k6", "y"), ("GET", "k6"), ("MGET", "nope"),
        ("MSETNX", "k7"), ("SET", "k", "v", "EX", "100"), ("MSET", "k", "w"), ("TTL", "k"),
    ],
    "incr_decr": [
        ("INCR", "k"), ("INCR", "k"), ("DECR", "k"), ("INCRBY", "k", "10"), ("DECRBY", "k", "5"),
        ("INCRBY", "k", "-3"), ("DECRBY", "k", "-3"), ("GET", "k"), ("INCRBY", "k", "x"),
        ("INCRBY", "k", "1.5"), ("INCRBY", "k", "007"), ("INCRBY", "k", "+1"), ("INCRBY", "k", " 1"),
        ("SET", "k", "9223372036854775807"), ("INCR", "k"), ("DECR", "k"), ("GET", "k"),
        ("SET", "k", "-9223372036854775808"), ("DECR", "k"), ("INCR", "k"),
        ("SET", "k", "12345678901234567890"), ("INCR", "k"), ("SET", "k", "-1234567890123456789"),
        ("INCR", "k"), ("SET", "k", "99999999999999999999"), ("INCR", "k"), ("SET", "k", "abc"),
        ("INCR", "k"), ("SET", "k", "007"), ("INCR", "k"), ("SET", "k", "-0"), ("INCR", "k"),
        ("SET", "k", " 1"), ("INCR", "k"), ("SET", "k", "1 "), ("INCR", "k"), ("SET", "k", ""),
        ("INCR", "k"), ("SET", "k", "0"), ("INCR", "k"), ("DECRBY", "k", "-9223372036854775808"),
        ("INCRBY", "k", "9223372036854775808"), ("SET", "k", "10", "EX", "100"), ("INCR", "k"),
        ("TTL", "k"), ("INCRBY", "k2", "-9223372036854775808"), ("DECRBY", "k3", "9223372036854775807"),
        ("DECR", "k3"), ("DECR", "k3"),
    ],
    "incrbyfloat": [
        ("INCRBYFLOAT", "k", "10.5"), ("INCRBYFLOAT", "k", "0.1"), ("INCRBYFLOAT", "k", "-5"),
        ("INCRBYFLOAT", "k", "5.0e3"), ("INCRBYFLOAT", "k", "2.0e2"), ("GET", "k"),
        ("SET", "k", "3.0e3"), ("INCRBYFLOAT", "k", "200"), ("INCRBYFLOAT", "k", "abc"),
        ("INCRBYFLOAT", "k", "nan"), ("INCRBYFLOAT", "k", "inf"), ("INCRBYFLOAT", "k", " 1"),
        ("INCRBYFLOAT", "k", ""), ("SET", "k", "abc"), ("INCRBYFLOAT", "k", "1"),
        ("SET", "k", "1e308"), ("INCRBYFLOAT", "k", "1e308"), ("INCRBYFLOAT", "k", "1e4000"),
        ("SET", "k", "5"), ("INCRBYFLOAT", "k", "-5"), ("GET", "k"), ("INCRBYFLOAT", "k", "-0.0"),
        ("INCRBYFLOAT", "k", "1.23456789012345678"), ("INCRBYFLOAT", "k", "1e-20"),
        ("INCRBYFLOAT", "k", "1e20"), ("SET", "k", "0x10"), ("INCRBYFLOAT", "k", "1"),
        ("SET", "k", "1", "EX", "100"), ("INCRBYFLOAT", "k", "1.5"), ("TTL", "k"),
        ("INCRBYFLOAT", "k2", "-1.5e-3"), ("INCRBYFLOAT", "k3", "3"), ("INCRBYFLOAT", "k4", "1e-400"),
    ],
    "append_strlen": [
        ("APPEND", "k", "Hello"), ("APPEND", "k", " World"), ("GET", "k"), ("STRLEN", "k"),
        ("STRLEN", "nope"), ("APPEND", "k2", ""), ("EXISTS", "k2"), ("STRLEN", "k2"),
        ("APPEND", "k", ""), ("SET", "k3", "x", "EX", "100"), ("APPEND", "k3", "y"), ("TTL", "k3"),
        ("GET", "k3"), ("SET", "k", "1"), ("APPEND", "k", "2"), ("INCR", "k"),
    ],
    "getrange": [
        ("SET", "k", "This is a string"), ("GETRANGE", "k", "0", "3"), ("GETRANGE", "k", "-3", "-1"),
        ("GETRANGE", "k", "0", "-1"), ("GETRANGE", "k", "10", "100"), ("GETRANGE", "k", "100", "200"),
        ("GETRANGE", "k", "-100", "-50"), ("GETRANGE", "k", "-1", "-5"), ("GETRANGE", "k", "5", "3"),
        ("GETRANGE", "k", "-100", "2"), ("GETRANGE", "k", "0", "-100"), ("GETRANGE", "k", "x", "1"),
        ("GETRANGE", "k", "0", "1.5"), ("GETRANGE", "nope", "0", "-1"), ("GETRANGE", "nope", "x", "1"),
        ("GETRANGE", "k", "-9223372036854775808", "9223372036854775807"),
        ("GETRANGE", "k", "0", "0"), ("SET", "k2", ""), ("GETRANGE", "k2", "0", "-1"),
        ("GETRANGE", "k", "15", "15"), ("GETRANGE", "k", "16", "16"),
    ],
    "setrange": [
        ("SET", "k", "Hello World"), ("SETRANGE", "k", "6", "Redis"), ("GET", "k"),
        ("SETRANGE", "k2", "6", "Redis"), ("GET", "k2"), ("SETRANGE", "k3", "0", ""),
        ("EXISTS", "k3"), ("SETRANGE", "k", "3", ""), ("SETRANGE", "k", "-1", "x"),
        ("SETRANGE", "k", "x", "y"), ("SETRANGE", "k", "536870912", "x"),
        ("SETRANGE", "k", "536870911", ""),
        ("SETRANGE", "k", "20", "!"), ("GET", "k"), ("STRLEN", "k"), ("SET", "k4", "x", "EX", "100"),
        ("SETRANGE", "k4", "1", "y"), ("TTL", "k4"), ("SETRANGE", "k", "0", "ab"), ("GET", "k"),
    ],
}


def same(cmd, a, b):
    """Byte for byte, except positive TTLs, which tick between the two servers: within 5%."""
    if cmd[0].upper() in ("TTL", "PTTL") and a.startswith(b":") and b.startswith(b":"):
        x, y = int(a[1:-2]), int(b[1:-2])
        if x > 0 and y > 0:
            return abs(x - y) <= max(2, y // 20)
    return a == b


@skip_if_tls
class StringsAgainstRedis(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy("--pool-size", "4", "--d", "2", "--p", "1", "--node-memory", "256",
                          "--node-reserved", "16")
        cls.redis = RedisServer()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.redis.stop()

    def run_script(self, name, script):
        ours, theirs = raw_client(self.proxy.port), raw_client(self.redis.port)
        try:
            for c in (ours, theirs):
                c.wire("DEL", *["%s:%s" % (name, k) for k in
                                ("k", "k2", "k3", "k4", "k5", "k6", "k7", "nope")])
            for cmd in script:
                args = [cmd[0]] + [("%s:%s" % (name, a)) if a in ("k", "k2", "k3", "k4", "k5",
                                                                  "k6", "k7", "nope") else a
                                   for a in cmd[1:]]
                a, b = ours.wire(*args), theirs.wire(*args)
                self.assertTrue(same(cmd, a, b), "%s: %r: %r != %r" % (name, args, a, b))
        finally:
            ours.close()
            theirs.close()

    def test_scripts(self):
        for name, script in SCRIPTS.items():
            with self.subTest(script=name):
                self.run_script(name, script)

    def test_pipelined_scripts(self):
        """The same scripts sent in one write each: replies in order, each command seeing the
        writes before it."""
        for name, script in SCRIPTS.items():
            got = []
            for port in (self.proxy.port, self.redis.port):
                c = raw_client(port)
                key = lambda a: ("p%s:%s" % (name, a)) if a in ("k", "k2", "k3", "k4", "k5", "k6",
                                                                 "k7", "nope") else a  # noqa
                c.wire("DEL", *[key(k) for k in ("k", "k2", "k3", "k4", "k5", "k6", "k7")])
                c.s.sendall(b"".join(encode(cmd[0], *[key(a) for a in cmd[1:]]) for cmd in script))
                got.append([c.reply_bytes() for cmd in script])
                c.close()
            for cmd, a, b in zip(script, got[0], got[1]):
                self.assertTrue(same(cmd, a, b), "%s: %r: %r != %r" % (name, cmd, a, b))

    def test_command_info_rows(self):
        ours, theirs = raw_client(self.proxy.port), raw_client(self.redis.port)
        names = ["get", "set", "setnx", "setex", "psetex", "getset", "getdel", "getex", "mget",
                 "mset", "msetnx", "append", "strlen", "getrange", "setrange", "incr", "decr",
                 "incrby", "decrby", "incrbyfloat"]
        a, b = ours.call("COMMAND", "INFO", *names), theirs.call("COMMAND", "INFO", *names)
        for x, y in zip(a, b):
            self.assertEqual((x[0], x[1], x[3], x[4], x[5]), (y[0], y[1], y[3], y[4], y[5]))
        ours.close()
        theirs.close()


@skip_if_tls
class StringsOnTheProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy("--pool-size", "6", "--d", "4", "--p", "2", "--node-memory", "512",
                          "--node-reserved", "16")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def test_parallel_incr_all_count(self):
        clients, each = 16, 40
        errors = []

        def worker(k):
            try:
                c = raw_client(self.proxy.port)
                for i in range(each):
                    r = c.call("INCR", "counter") if k % 2 else c.call("INCRBY", "counter", "1")
                    if not isinstance(r, int):
                        errors.append(r)
                c.close()
            except Exception as e:  # noqa: BLE001 -- reported below
                errors.append(e)
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        c = raw_client(self.proxy.port)
        self.assertEqual(c.call("GET", "counter"), str(clients * each).encode())
        c.close()

    def test_parallel_incr_and_append_pipelined(self):
        """Pipelined INCRs from several clients, mixed with SETs of another key: exact count."""
        clients, each = 8, 50
        done = []

        def worker(k):
            c = raw_client(self.proxy.port)
            c.s.sendall(b"".join(encode("INCR", "pc") + encode("APPEND", "pa", "x") +
                                 encode("SET", "other%d" % k, "v") for _ in range(each)))
            for _ in range(3 * each):
                c.reply()
            c.close()
            done.append(k)
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(done), clients)
        c = raw_client(self.proxy.port)
        self.assertEqual(c.call("GET", "pc"), str(clients * each).encode())
        self.assertEqual(c.call("STRLEN", "pa"), clients * each)
        c.close()

    def test_mixed_writers_never_err(self):
        """Plain SETs (which start at once) racing compound commands of the same key from other
        clients: a compound write whose key changed under it starts over, never answers wrong
        or fails; every INCR's answer is an integer and the last value is one."""
        clients, rounds = 6, 40
        bad = []

        def worker(k):
            c = raw_client(self.proxy.port)
            cmds = [("SET", "mix", "5"), ("INCR", "mix"), ("GET", "mix"), ("GETSET", "mix", "1"),
                    ("INCRBY", "mix", "2"), ("APPEND", "mixa", "ab"), ("SET", "mixa", "x")]
            c.s.sendall(b"".join(encode(*cmd) for _ in range(rounds) for cmd in cmds))
            for _ in range(rounds):
                for cmd in cmds:
                    r = c.reply()
                    if isinstance(r, str) and r != "OK" or (cmd[0].startswith("INCR") and
                                                              not isinstance(r, int)):
                        bad.append((cmd, r))
            c.close()
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(bad, [])
        c = raw_client(self.proxy.port)
        self.assertIsInstance(int(c.call("GET", "mix")), int)
        c.close()

    def test_large_values(self):
        c = raw_client(self.proxy.port)
        big = os.urandom(3 << 20)
        self.assertEqual(c.call("SET", "big", big), "OK")
        self.assertEqual(c.call("APPEND", "big", b"tail" * 30000), len(big) + 120000)
        whole = big + b"tail" * 30000
        self.assertEqual(c.call("GET", "big"), whole)
        self.assertEqual(c.call("GETRANGE", "big", "1000", str(1000 + (1 << 20) - 1)),
                         whole[1000:1000 + (1 << 20)])
        self.assertEqual(c.call("GETRANGE", "big", "-200000", "-1"), whole[-200000:])
        patch = os.urandom(100000)
        self.assertEqual(c.call("SETRANGE", "big", "5000000", patch), 5000000 + len(patch))
        expect = whole + b"\0" * (5000000 - len(whole)) + patch
        self.assertEqual(c.call("GET", "big"), expect)
        self.assertEqual(c.call("SETRANGE", "big", "10", patch), len(expect))
        expect = expect[:10] + patch + expect[10 + len(patch):]
        self.assertEqual(c.call("GET", "big"), expect)
        other = os.urandom(2 << 20)
        self.assertEqual(c.call("GETSET", "big", other), expect)
        self.assertEqual(c.call("SET", "big", b"y" * 70000, "GET"), other)
        self.assertEqual(c.call("APPEND", "newbig", b"z" * 200000), 200000)
        self.assertEqual(c.call("SETRANGE", "newbig2", "3", b"q" * 100000), 100003)
        self.assertEqual(c.call("GETRANGE", "newbig2", "0", "4"), b"\0\0\0qq")
        self.assertEqual(c.call("SETNX", "big", b"a" * 70000), 0)
        self.assertEqual(c.call("SETEX", "bigex", "100", b"b" * 70000), "OK")
        self.assertEqual(c.call("STRLEN", "bigex"), 70000)
        self.assertEqual(c.call("MGET", "big", "nope", "newbig", "bigex"),
                         [b"y" * 70000, None, b"z" * 200000, b"b" * 70000])
        self.assertEqual(c.call("GETDEL", "big"), b"y" * 70000)
        self.assertEqual(c.call("EXISTS", "big"), 0)
        self.assertTrue(str(c.call("SETNX", "big", b"a" * 70000, "x")).startswith("ERR wrong"))
        c.close()

    def test_mget_many_keys(self):
        c = raw_client(self.proxy.port)
        keys = ["mk%d" % i for i in range(300)]
        args = []
        for i, k in enumerate(keys):
            if i % 3:
                args += [k, "v%d" % i]
        self.assertEqual(c.call("MSET", *args), "OK")
        got = c.call("MGET", *keys)
        self.assertEqual(got, [None if i % 3 == 0 else b"v%d" % i for i in range(300)])
        c.close()

    def test_redis_py_set_get(self):
        try:
            import redis
        except ImportError:
            self.skipTest("python3-redis is not installed")
        r = redis.Redis(port=self.proxy.port, password=PASSWORD or None)
        r.set("pyk", "one")
        self.assertEqual(r.set("pyk", "two", get=True), b"one")
        self.assertEqual(r.get("pyk"), b"two")
        self.assertEqual(r.incr("pyn", 5), 5)
        self.assertEqual(r.incrbyfloat("pyn", 0.5), 5.5)
        self.assertEqual(r.mget(["pyk", "pyn", "none"]), [b"two", b"5.5", None])
        self.assertTrue(r.msetnx({"pya": 1, "pyb": 2}))
        self.assertFalse(r.msetnx({"pyb": 3, "pyc": 4}))
        self.assertEqual(r.getex("pyk", persist=True), b"two")
        r.close()

    def test_redis_benchmark(self):
        if not shutil.which("redis-benchmark"):
            self.skipTest("redis-benchmark is not installed")
        args = ["redis-benchmark", "-p", str(self.proxy.port), "-n", "2000", "-c", "8", "-q",
                "-t", "ping,set,get,incr,mset"]
        if PASSWORD:
            args += ["-a", PASSWORD]
        out = subprocess.run(args, capture_output=True, timeout=120, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout.replace("\r", "\n")
        for test in ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"):
            self.assertIn(test + ": ", text, text)
        c = raw_client(self.proxy.port)
        self.assertEqual(int(c.call("GET", "counter:__rand_int__")), 2000)
        c.close()


if __name__ == "__main__":
    unittest.main()
