#!/usr/bin/python3
"""Transactions (MULTI, EXEC, DISCARD, WATCH, UNWATCH) against redis-server 7 in the same run:
scripts of commands are sent to both and the replies must be the same bytes (queuing errors and
EXECABORT, runtime errors inside the EXEC array, WATCH touched by the same client, by an expiry,
RESP3). Then what redis-server cannot share: python3-redis's transactional pipelines with a
1 MiB value, WATCH-based optimistic locking of two clients, isolation (another client's SET of a
key an EXEC holds is answered after the EXEC), commands the proxy refuses inside MULTI, and
clients that go away in MULTI or during EXEC leaving nothing held."""
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import (PASSWORD, Proxy, RedisServer, encode, raw_client, skip_if_tls,  # noqa: E402
                       wait_for)

import redis  # noqa: E402

BIG = 1 << 20


def client(port):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)


# Each script runs on both servers from an empty keyspace, on one connection, byte for byte.
SCRIPTS = {
    "multi_exec": [
        ("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("GET", "a"), ("EXEC",), ("GET", "a"),
    ],
    "runtime_error_in_array": [
        ("SET", "s", "text"), ("MULTI",), ("INCR", "s"), ("SET", "b", "2"), ("INCRBY", "b", "x"),
        ("GET", "b"), ("APPEND", "s", "!"), ("EXEC",), ("GET", "s"),
    ],
    "misuse": [
        ("EXEC",), ("DISCARD",), ("MULTI",), ("MULTI",), ("WATCH", "a"), ("SET", "a", "1"),
        ("EXEC",), ("WATCH",), ("UNWATCH",), ("UNWATCH", "x"), ("MULTI", "x"), ("EXEC", "x"),
        ("MULTI",), ("SET", "a", "1"), ("EXEC", "x"), ("EXEC",), ("MULTI",), ("DISCARD", "x"),
        ("EXEC",), ("EXISTS", "a"),
    ],
    "execabort_unknown": [
        ("MULTI",), ("SET", "a", "1"), ("NOSUCHCOMMAND", "a"), ("GET", "a"), ("EXEC",), ("GET", "a"),
        ("EXEC",),
    ],
    "execabort_arity": [
        ("MULTI",), ("SET", "a", "1"), ("GET",), ("EXEC",), ("EXISTS", "a"),
    ],
    "discard": [
        ("MULTI",), ("SET", "a", "1"), ("DISCARD",), ("GET", "a"), ("DISCARD",), ("EXEC",),
    ],
    "watch_touched_by_self": [
        ("WATCH", "a"), ("SET", "a", "1"), ("MULTI",), ("SET", "a", "2"), ("EXEC",), ("GET", "a"),
        ("WATCH", "a"), ("MULTI",), ("SET", "a", "3"), ("EXEC",), ("GET", "a"),
    ],
    "watch_unwatch": [
        ("WATCH", "a", "b"), ("SET", "b", "1"), ("UNWATCH",), ("MULTI",), ("GET", "b"), ("EXEC",),
    ],
    "watch_deleted_and_recreated": [
        ("SET", "a", "1"), ("WATCH", "a"), ("DEL", "a"), ("SET", "a", "1"), ("MULTI",), ("GET", "a"),
        ("EXEC",),
    ],
    "watch_created_and_deleted": [
        ("WATCH", "a"), ("SET", "a", "1"), ("DEL", "a"), ("MULTI",), ("GET", "a"), ("EXEC",),
    ],
    "watch_missing_key_deleted": [
        ("WATCH", "a"), ("DEL", "a"), ("MULTI",), ("GET", "a"), ("EXEC",),
    ],
    "watch_expire_and_persist": [
        ("SET", "a", "1"), ("WATCH", "a"), ("EXPIRE", "a", "100"), ("MULTI",), ("TTL", "a"), ("EXEC",),
        ("WATCH", "a"), ("PERSIST", "a"), ("MULTI",), ("TTL", "a"), ("EXEC",),
        ("WATCH", "a"), ("PERSIST", "a"), ("MULTI",), ("TTL", "a"), ("EXEC",),
    ],
    "watch_flushall": [
        ("SET", "a", "1"), ("WATCH", "a"), ("FLUSHALL",), ("MULTI",), ("GET", "a"), ("EXEC",),
        ("WATCH", "nokey"), ("FLUSHALL",), ("MULTI",), ("PING",), ("EXEC",),
    ],
    "keyless_in_tx": [
        ("MULTI",), ("SET", "a", "1"), ("DBSIZE",), ("KEYS", "*"), ("FLUSHALL",), ("GET", "a"),
        ("DBSIZE",), ("SET", "a", "2"), ("EXEC",), ("GET", "a"),
    ],
    "monitor_in_tx": [
        ("MULTI",), ("MONITOR",), ("SET", "a", "1"), ("EXEC",), ("GET", "a"),
    ],
    "resp3": [
        ("HELLO", "3"), ("WATCH", "a"), ("SET", "a", "3"), ("MULTI",), ("GET", "a"), ("EXEC",),
        ("MULTI",), ("GET", "a"), ("GET", "nokey"), ("INCR", "a"), ("EXEC",),
    ],
    "reset_and_quit": [
        ("MULTI",), ("SET", "a", "1"), ("RESET",), ("EXEC",), ("GET", "a"),
    ],
    "mset_and_mget_in_tx": [
        ("MULTI",), ("MSET", "a", "1", "b", "2", "a", "3"), ("MGET", "a", "b", "c"), ("MSETNX", "b", "x", "c", "y"),
        ("GETSET", "b", "4"), ("GETDEL", "a"), ("EXEC",), ("MGET", "a", "b", "c"),
    ],
}


@skip_if_tls
class TxAgainstRedis(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy("--pool-size", "4", "--d", "2", "--p", "1", "--node-memory", "256",
                          "--node-reserved", "16")
        cls.redis = RedisServer(*(("--requirepass", PASSWORD) if PASSWORD else ()))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.redis.stop()

    def run_script(self, port, script):
        c = raw_client(port)
        try:
            c.wire("FLUSHALL")
            out = []
            for cmd in script:
                if cmd[0] == "HELLO":  # the servers' own descriptions differ
                    c.send(*cmd)
                    c.reply_bytes()
                    out.append(b"<hello>")
                    continue
                out.append(c.wire(*cmd))
            return out
        finally:
            c.close()

    def test_scripts(self):
        for name, script in SCRIPTS.items():
            with self.subTest(script=name):
                want = self.run_script(self.redis.port, script)
                got = self.run_script(self.proxy.port, script)
                for cmd, w, g in zip(script, want, got):
                    self.assertEqual(g, w, "%s: %r" % (name, cmd))

    def test_watched_key_expires(self):
        """Redis 7: a watched key that expires before EXEC aborts it; one already expired when
        watched does not."""
        outs = []
        for port in (self.redis.port, self.proxy.port):
            c = raw_client(port)
            c.wire("FLUSHALL")
            c.wire("SET", "e", "1", "PX", "150")
            c.wire("WATCH", "e")
            start = time.time()
            wait_for(lambda: time.time() - start > 0.3, what="the key's expiry time")
            out = [c.wire("MULTI"), c.wire("SET", "f", "1"), c.wire("EXEC")]
            # watched when already expired: only a new value counts
            c.wire("SET", "g", "1", "PX", "50")
            start = time.time()
            wait_for(lambda: time.time() - start > 0.15, what="the key's expiry time")
            out += [c.wire("WATCH", "g"), c.wire("MULTI"), c.wire("GET", "g"), c.wire("EXEC")]
            c.close()
            outs.append(out)
        self.assertEqual(outs[0][2], b"*-1\r\n")
        self.assertEqual(outs[1], outs[0])

    def test_pipelined_whole_transaction(self):
        """MULTI ... EXEC in one write, as python3-redis's pipeline sends it."""
        outs = []
        for port in (self.redis.port, self.proxy.port):
            c = raw_client(port)
            c.wire("FLUSHALL")
            cmds = [("MULTI",), ("SET", "p", "1"), ("INCR", "p"), ("GET", "p"), ("EXEC",),
                    ("GET", "p"), ("MULTI",), ("GET", "p"), ("EXEC",)]
            c.s.sendall(b"".join(encode(*cmd) for cmd in cmds))
            outs.append([c.reply_bytes() for _ in cmds])
            c.close()
        self.assertEqual(outs[1], outs[0])


class TxOnTheProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy("--pool-size", "6", "--d", "4", "--p", "2", "--node-memory", "512",
                          "--node-reserved", "16")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def test_python_redis_pipeline_small_and_big(self):
        r = client(self.proxy.port)
        big = os.urandom(BIG)
        p = r.pipeline()  # transaction=True: MULTI ... EXEC in one write
        p.set("small", b"s").set("big", big).get("small").get("big").strlen("big").incr("n")
        self.assertEqual(p.execute(), [True, True, b"s", big, BIG, 1])
        self.assertEqual(r.get("big"), big)
        p = r.pipeline()
        p.get("big").append("small", b"!").getrange("big", 0, 9).mget("small", "big", "none")
        self.assertEqual(p.execute(), [big, 2, big[:10], [b"s!", big, None]])
        # a queuing error aborts the whole pipeline, as on Redis
        p = r.pipeline()
        p.set("small", b"x").execute_command("NOSUCHCOMMAND")
        with self.assertRaises(redis.exceptions.ResponseError):
            p.execute()
        self.assertEqual(r.get("small"), b"s!")
        r.close()

    def test_optimistic_locking_two_clients(self):
        """Two clients increment one counter with WATCH/GET/MULTI/SET/EXEC, retrying on abort:
        every increment counts."""
        client(self.proxy.port).set("counter", 0)
        per_client, retries, errors = 40, [0, 0], []

        def work(i):
            r = client(self.proxy.port)
            try:
                for _ in range(per_client):
                    deadline = time.time() + 30
                    while time.time() < deadline:
                        with r.pipeline() as p:
                            try:
                                p.watch("counter")
                                v = int(p.get("counter"))
                                p.multi()
                                p.set("counter", v + 1)
                                p.execute()
                                break
                            except redis.WatchError:
                                retries[i] += 1
                    else:
                        errors.append("no progress")
            except Exception as e:  # noqa: BLE001 -- reported by the main thread
                errors.append(repr(e))
            finally:
                r.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(int(client(self.proxy.port).get("counter")), 2 * per_client)

    @skip_if_tls
    def test_isolation_other_client_waits_for_exec(self):
        """While an EXEC holds a key, another client's SET of it is answered after the EXEC's
        whole reply, and the EXEC's own GET never sees it."""
        big = os.urandom(BIG)
        a, b = raw_client(self.proxy.port), raw_client(self.proxy.port)
        try:
            # small replies, so the client reads the EXEC's as fast as the proxy sends them
            for cmd in [("MULTI",), ("SET", "iso", big), ("STRLEN", "iso"), ("SET", "iso2", "1"),
                        ("GETRANGE", "iso", "0", "3")]:
                a.send(*cmd)
                self.assertIn(a.reply_bytes(), (b"+OK\r\n", b"+QUEUED\r\n"))
            a.send("EXEC")
            # the array header goes out when EXEC starts, with the keys already held
            self.assertEqual(a._line(), b"*4")
            b.send("SET", "iso", "other")
            self.assertEqual(b.reply(), "OK")
            # B's answer came: the whole EXEC reply must be in A's socket already (loopback
            # delivers as it is written), so it is read without waiting for anything more.
            a.s.settimeout(0.0)
            try:
                while True:
                    a.buf += a.s.recv(65536)
            except (BlockingIOError, socket.timeout):
                pass
            replies = [a.reply() for _ in range(4)]  # raises if any byte is still missing
            a.s.settimeout(30)
            self.assertEqual(replies, ["OK", BIG, "OK", big[:4]])
            self.assertEqual(a.call("GET", "iso"), b"other")
        finally:
            a.close()
            b.close()

    @skip_if_tls
    def test_refused_inside_multi(self):
        c = raw_client(self.proxy.port)
        try:
            self.assertEqual(c.call("MULTI"), "OK")
            self.assertEqual(c.call("ICGET", "k"), "ERR Command not allowed inside a transaction")
            self.assertEqual(c.call("SET", "k", "v"), "QUEUED")
            self.assertEqual(c.call("EXEC"),
                             "EXECABORT Transaction discarded because of previous errors.")
            self.assertIsNone(c.call("GET", "k"))
            # a value over the small-argument buffer (64 KiB) is read apart and queued whole
            self.assertEqual(c.call("MULTI"), "OK")
            self.assertEqual(c.call("SET", "k", "x" * 70000), "QUEUED")
            self.assertEqual(c.call("EXEC"), ["OK"])
            self.assertEqual(len(c.call("GET", "k")), 70000)
        finally:
            c.close()

    @skip_if_tls
    def test_client_list_shows_multi(self):
        c, other = raw_client(self.proxy.port), raw_client(self.proxy.port)
        try:
            cid = c.call("CLIENT", "ID")
            c.call("WATCH", "w")
            other.call("SET", "w", "1")
            info = c.call("CLIENT", "INFO").decode()
            self.assertIn(" flags=d ", info)
            self.assertIn(" multi=-1 ", info)
            c.call("MULTI")
            c.call("GET", "w")
            c.call("GET", "w")
            line = [ln for ln in other.call("CLIENT", "LIST").decode().splitlines()
                    if ln.startswith("id=%d " % cid)][0]
            self.assertIn(" flags=xd ", line)
            self.assertIn(" multi=2 ", line)
            self.assertIsNone(c.call("EXEC"))
            info = c.call("CLIENT", "INFO").decode()
            self.assertIn(" flags=N ", info)
        finally:
            c.close()
            other.close()

    @skip_if_tls
    def test_disconnect_leaves_nothing_held(self):
        r = client(self.proxy.port)
        # gone in MULTI
        a = raw_client(self.proxy.port)
        a.call("MULTI")
        a.call("SET", "gone", "1")
        a.close()
        self.assertTrue(r.set("gone", "2"))
        self.assertEqual(r.get("gone"), b"2")
        # gone during EXEC: the array header came, the connection closes before the rest. The
        # commands already dispatched finish on their own and the keys are free at once, so a
        # store of the EXEC still in flight is concurrent with the commands below (either value
        # may be the last).
        a = raw_client(self.proxy.port)
        big = os.urandom(BIG)
        for cmd in [("MULTI",), ("SET", "gone", big), ("INCR", "gone-n"), ("GET", "gone")]:
            a.call(*cmd)
        a.send("EXEC")
        self.assertEqual(a._line(), b"*3")
        a.close()
        deadline = time.time() + 20
        self.assertTrue(r.set("gone", "3"))
        self.assertIn(r.get("gone"), (b"3", big))
        n = r.incr("gone-n")
        self.assertIn(n, (1, 2))  # the EXEC's INCR may have run before it went
        with r.pipeline() as p:
            p.watch("gone-n")
            p.multi()
            p.incr("gone-n")
            self.assertEqual(p.execute(), [n + 1])
        self.assertLess(time.time(), deadline)
        r.close()


if __name__ == "__main__":
    unittest.main()
