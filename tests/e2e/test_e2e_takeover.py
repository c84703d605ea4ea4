#!/usr/bin/python3
"""Replacing a failed proxy (docs/STANDBY.md): another proxy, on other ports, against the same
platform and with the same node secret, takes the pool over and rebuilds every acknowledged object
from the nodes' inventories; an old proxy that comes back is fenced by the nodes and never serves
an old value as current nor touches the new proxy's chunks; a party without the secret cannot take
the pool."""
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import (BIN, TLS, ExternalPlatform, Proxy, encode, iccli_args,  # noqa: E402
                       nodeauth, pki, raw_client, wait_for)

POOL = 6
BASE = ["--pool-size", str(POOL), "--d", "4", "--p", "2", "--node-memory", "256",
        "--node-reserved", "16", "--small-object-max", "4k", "--request-timeout", "5s",
        "--node-connect-timeout", "5s", "--warmup-interval", "0", "--ready-timeout", "20s"]


def info(port):
    return redis.Redis(port=port, socket_timeout=30).info("all")


class Iccli:
    """The C library, through iccli, against one proxy."""

    def __init__(self, port):
        self.port = port

    def run(self, *args, stdin=None):
        cmd = [os.path.join(BIN, "iccli"), *iccli_args(), "--proxy", "127.0.0.1:%d" % self.port,
               "--d", "3", "--p", "2", "--small-max", "4096"]
        return subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=120)

    def set(self, key, value):
        out = self.run("set", key, "-", stdin=value)
        if out.returncode != 0:
            raise AssertionError("iccli set %s: %r" % (key, out.stderr))

    def get(self, key):
        """The value, or None on a miss (exit status 1); anything else fails the test."""
        out = self.run("get", key)
        if out.returncode == 1:
            return None
        if out.returncode != 0:
            raise AssertionError("iccli get %s: status %d %r" % (key, out.returncode, out.stderr))
        return out.stdout


def kill_hard(proxy):
    """kill -9: no goodbye to the nodes or the clients."""
    proxy.proc.send_signal(signal.SIGKILL)
    proxy.proc.wait()


def write_mixed(r, lib, rnd, prefix, count):
    """count objects of mixed sizes: small replicated ones and large coded ones through
    redis-py (the proxy codes them), large ones through the library (the client codes them).
    Returns {key: (path, value)} of every acknowledged write."""
    out = {}
    for i in range(count):
        key = "%s%d" % (prefix, i)
        kind = i % 3
        if kind == 0:
            v = rnd.randbytes(rnd.randrange(1, 4000))  # at most small-object-max: replicated
            assert r.set(key, v)
            out[key] = ("redis", v)
        elif kind == 1:
            v = rnd.randbytes(rnd.randrange(20000, 300000))  # coded by the proxy
            assert r.set(key, v)
            out[key] = ("redis", v)
        else:
            v = rnd.randbytes(rnd.randrange(50000, 400000))  # coded by the library
            lib.set(key, v)
            out[key] = ("lib", v)
    return out


def read_back(r, lib, written):
    """(lost keys, wrong keys): a lost key is a clean miss; a wrong one any other answer."""
    lost, wrong = [], []
    for key, (path, v) in written.items():
        got = r.get(key) if path == "redis" else lib.get(key)
        if got is None:
            lost.append(key)
        elif got != v:
            wrong.append(key)
    return lost, wrong


class TakeoverTest(unittest.TestCase):
    def test_kill_9_and_take_over_on_other_ports(self):
        """kill -9 of the proxy, another on other client and node ports takes the pool over:
        every object acknowledged before the kill reads back byte for byte (none is lost: there
        was no fault but the proxy's), and new writes work."""
        plat = ExternalPlatform(POOL, memory_mb=256)
        try:
            args = BASE + ["--platform-endpoint", plat.endpoint]
            rnd = random.Random(14)
            with Proxy(*args) as p1:
                r1 = redis.Redis(port=p1.port, socket_timeout=30)
                written = write_mixed(r1, Iccli(p1.port), rnd, "k", 30)
                old_ports = (p1.port, p1.node_port)
                kill_hard(p1)
            with Proxy(*args) as p2:
                self.assertNotEqual(p2.port, old_ports[0])
                self.assertNotEqual(p2.node_port, old_ports[1])
                r2 = redis.Redis(port=p2.port, socket_timeout=30)
                lib = Iccli(p2.port)
                st = r2.info("all")
                self.assertEqual(st["nodes_down"] + st["nodes_invoking"], 0, st)
                self.assertEqual(st["rebuilt_objects"], len(written))
                lost, wrong = read_back(r2, lib, written)
                self.assertEqual(wrong, [])
                self.assertEqual(lost, [])
                self.assertEqual(r2.dbsize(), len(written))
                # New writes, and overwrites of rebuilt objects, work.
                more = write_mixed(r2, lib, rnd, "n", 9)
                more.update(write_mixed(r2, lib, rnd, "k", 6))
                lost, wrong = read_back(r2, lib, more)
                self.assertEqual((lost, wrong), ([], []))
        finally:
            plat.close()

    def test_kill_9_mid_write(self):
        """kill -9 while a client is writing (new keys and overwrites of coded objects): after
        the takeover every write acknowledged before the kill reads back byte for byte; the one
        in flight reads as its new value, the key's previous value, or (a new key) a clean miss,
        never anything else."""
        plat = ExternalPlatform(POOL, memory_mb=256)
        try:
            args = BASE + ["--platform-endpoint", plat.endpoint]
            rnd = random.Random(17)
            acked, inflight = {}, []
            with Proxy(*args) as p1:
                r1 = redis.Redis(port=p1.port, socket_timeout=30)
                stop = threading.Event()

                def writer():
                    i = 0
                    while not stop.is_set():
                        key = "w%d" % (i % 15)  # from the 16th write on, overwrites
                        v = rnd.randbytes(rnd.randrange(100000, 400000))
                        inflight[:] = [(key, v, acked.get(key))]
                        try:
                            r1.set(key, v)
                        except redis.exceptions.ConnectionError:
                            return
                        acked[key] = v
                        inflight.clear()
                        i += 1

                t = threading.Thread(target=writer)
                t.start()
                try:
                    wait_for(lambda: len(acked) >= 15 and inflight, timeout=60,
                             what="writes under way")
                    kill_hard(p1)
                finally:
                    stop.set()
                    t.join(60)
            with Proxy(*args) as p2:
                r2 = redis.Redis(port=p2.port, socket_timeout=30)
                pending = {k: (v, prev) for k, v, prev in inflight}
                lost = []
                for key, v in acked.items():
                    got = r2.get(key)
                    if key in pending:
                        self.assertIn(got, (pending[key][0], pending[key][1]), key)
                    elif got is None:
                        lost.append(key)
                    else:
                        self.assertEqual(got, v, key)
                for key, (v, prev) in pending.items():
                    if key not in acked:
                        self.assertIn(r2.get(key), (v, None), key)
                self.assertEqual(lost, [])  # no fault but the proxy's: nothing acknowledged lost
        finally:
            plat.close()

    def test_frozen_old_proxy_is_fenced(self):
        """The old proxy is only frozen (SIGSTOP: a partition, a paused VM) while another takes
        over and overwrites every key. What is guaranteed, and checked here: once the new proxy
        has acknowledged a write of a key, the old one, resumed, never answers that key's old
        value, whether the request reached it before it resumed or after; every command it
        gets is an error (-FENCED, or its connection closed), never a value; and nothing it does
        changes what the new proxy serves (no chunk of the new proxy is overwritten or deleted,
        none is lost)."""
        plat = ExternalPlatform(POOL, memory_mb=256, admin_token=os.urandom(16).hex())
        try:
            args = BASE + ["--platform-endpoint", plat.endpoint]
            rnd = random.Random(15)
            p1 = Proxy(*args)
            stopped = False
            try:
                r1 = redis.Redis(port=p1.port, socket_timeout=30)
                old = write_mixed(r1, Iccli(p1.port), rnd, "k", 12)
                # A connection made before the freeze, whose requests arrive while p1 is frozen
                # (a raw socket: plaintext only, so not with IC_TEST_TLS).
                early = None if TLS else raw_client(p1.port)
                if early:
                    self.assertEqual(early.call("PING"), "PONG")
                p1.proc.send_signal(signal.SIGSTOP)
                stopped = True
                # The frozen proxy's nodes end their invocations once idle (the node's idle
                # return). A new proxy that invoked a function still busy with the old one would
                # be given a second, empty instance, and the data would read as clean misses:
                # allowed, but not what this test is about.
                wait_for(lambda: all(i["state"] == "idle" for i in plat.instances()), timeout=20,
                         what="the frozen proxy's nodes to return")
                with Proxy(*args) as p2:
                    r2 = redis.Redis(port=p2.port, socket_timeout=30)
                    lib2 = Iccli(p2.port)
                    st = r2.info("all")
                    self.assertEqual(st["nodes_down"] + st["nodes_invoking"], 0, st)
                    self.assertGreater(st["epoch"], 0)
                    self.assertEqual(read_back(r2, lib2, old), ([], []))
                    new = {}
                    for key, (path, v) in old.items():
                        nv = rnd.randbytes(len(v))
                        if path == "redis":
                            self.assertTrue(r2.set(key, nv))
                        else:
                            lib2.set(key, nv)
                        new[key] = (path, nv)
                    redis_keys = [k for k, (path, _) in old.items() if path == "redis"]
                    for key in redis_keys if early else []:
                        early.send("GET", key)
                    p1.proc.send_signal(signal.SIGCONT)
                    stopped = False
                    # Requests sent while it was frozen: errors or a closed connection.
                    for key in redis_keys if early else []:
                        try:
                            got = early.reply()
                        except (EOFError, OSError):
                            break
                        # Normally -FENCED; a node request that failed first may say so instead.
                        self.assertIsInstance(got, str, "old proxy answered %s with a value" % key)
                    if early:
                        early.close()
                    wait_for(lambda: info(p1.port)["fenced"] == 1, timeout=20,
                             what="the old proxy to learn it was replaced")
                    st1 = info(p1.port)
                    self.assertLess(st1["epoch"], st["epoch"])
                    self.assertEqual(st1["fenced_by_epoch"], st["epoch"])
                    # After: every command but INFO is refused, for every key.
                    r1 = redis.Redis(port=p1.port, socket_timeout=30)
                    lib1 = Iccli(p1.port)
                    for key, (path, v) in old.items():
                        if path == "redis":
                            with self.assertRaisesRegex(redis.ResponseError, "^FENCED"):
                                r1.get(key)
                        else:
                            out = lib1.run("get", key)
                            self.assertNotEqual(out.returncode, 0, key)
                            self.assertNotEqual(out.stdout, v)
                        with self.assertRaisesRegex(redis.ResponseError, "^FENCED"):
                            r1.set(key, b"from the old proxy")
                    with self.assertRaisesRegex(redis.ResponseError, "^FENCED"):
                        r1.delete(*old.keys())
                    with self.assertRaisesRegex(redis.ResponseError, "^FENCED"):
                        r1.flushall()
                    with self.assertRaisesRegex(redis.ResponseError, "^FENCED"):
                        r1.ping()
                    # The new proxy serves what it acknowledged; nothing of it was touched.
                    self.assertEqual(read_back(r2, lib2, new), ([], []))
                    st = r2.info("all")
                    self.assertEqual(st["chunks_lost"], 0)
                    self.assertEqual(st["fenced"], 0)
                    self.assertEqual(r2.dbsize(), len(new))
            finally:
                if stopped:
                    p1.proc.send_signal(signal.SIGCONT)
                p1.stop()
        finally:
            plat.close()

    def test_standby_whose_clock_is_behind(self):
        """Epochs are start times. A standby whose epoch is below the one the nodes serve (its
        clock is behind the old proxy's) is refused by every node and fenced at once, and says
        so; started with --epoch above it, it takes the pool over."""
        plat = ExternalPlatform(POOL, memory_mb=256)
        try:
            args = BASE + ["--platform-endpoint", plat.endpoint]
            rnd = random.Random(18)
            ahead = int(time.time() * 1000) + 3600 * 1000  # the old proxy's clock: an hour ahead
            with Proxy(*args, "--epoch", str(ahead)) as p1:
                r1 = redis.Redis(port=p1.port, socket_timeout=30)
                self.assertEqual(r1.info("pool")["epoch"], ahead)
                written = write_mixed(r1, Iccli(p1.port), rnd, "k", 6)
                kill_hard(p1)
            with Proxy(*args) as p2:
                st = info(p2.port)
                self.assertEqual((st["fenced"], st["fenced_by_epoch"]), (1, ahead))
                self.assertLess(st["epoch"], ahead)
                with self.assertRaisesRegex(redis.ResponseError, "^FENCED"):
                    redis.Redis(port=p2.port, socket_timeout=30).get("k0")
            with Proxy(*args, "--epoch", str(ahead + 1)) as p3:
                r3 = redis.Redis(port=p3.port, socket_timeout=30)
                st = r3.info("all")
                self.assertEqual((st["fenced"], st["epoch"]), (0, ahead + 1))
                self.assertEqual(read_back(r3, Iccli(p3.port), written), ([], []))
        finally:
            plat.close()

    def test_takeover_without_the_secret_fails(self):
        """A proxy started with another secret cannot take the pool: the nodes refuse its events
        (they never dial it), so it rebuilds nothing and cannot write, and the proxy that holds
        the pool is not fenced and serves every object. A HELLO claiming a higher epoch without a
        valid proof fences nobody either."""
        plat = ExternalPlatform(POOL, memory_mb=256)
        try:
            args = BASE + ["--platform-endpoint", plat.endpoint]
            rnd = random.Random(16)
            with Proxy(*args) as p1, tempfile.TemporaryDirectory() as d:
                r1 = redis.Redis(port=p1.port, socket_timeout=30)
                written = write_mixed(r1, Iccli(p1.port), rnd, "k", 9)
                other = nodeauth.write_secret_file(d, "another-secret-0123456789abcdef")
                with Proxy(*BASE, "--platform-endpoint", plat.endpoint, "--node-secret-file",
                           other, "--ready-timeout", "2s", "--node-connect-timeout", "1s") as p3:
                    r3 = redis.Redis(port=p3.port, socket_timeout=30)
                    st = r3.info("all")
                    self.assertEqual(st["rebuilt_objects"], 0)
                    self.assertEqual(st["nodes_awake"] + st["nodes_asleep"], 0, st)
                    self.assertEqual(r3.dbsize(), 0)
                    with self.assertRaises(redis.ResponseError):
                        r3.set("k0", b"impostor")
                    # A forged fence notice on the real proxy's node port.
                    s = socket.create_connection(("127.0.0.1", p1.node_port), timeout=10)
                    if TLS:  # node-tls: the node port speaks TLS only
                        ctx = ssl.create_default_context(cafile=pki().path("ca.crt"))
                        ctx.check_hostname = False
                        s = ctx.wrap_socket(s)
                    s.recv(4096)  # the challenge
                    s.sendall(encode("HELLO", "0", "feedfacefeedface", "1", "0", "0", "1",
                                     str(2 ** 62), "0" * 64))
                    wait_for(lambda: info(p1.port)["nodes_refused"] >= 1, what="nodes_refused")
                    s.close()
                st = r1.info("all")
                self.assertEqual(st["fenced"], 0)
                self.assertEqual(read_back(r1, Iccli(p1.port), written), ([], []))
        finally:
            plat.close()


if __name__ == "__main__":
    unittest.main()
