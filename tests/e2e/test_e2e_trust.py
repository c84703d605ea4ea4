#!/usr/bin/python3
"""test_e2e_trust.py -- only holders of the node secret get in (docs/SECURITY.md): impostor nodes
with no or a wrong proof are refused and never given a chunk, also right after their function's
instance was reclaimed and after a proxy restart; impostors at the relay port are refused; a node
with another secret is refused and counted; a rotated secret is accepted; a proxy reachable
beyond loopback will not start without a configured secret."""
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import redis

# The impostors speak plaintext to the node and relay ports: the proxies here keep node TLS off
# even under IC_TEST_TLS (clients still get TLS); the node secret is what these tests exercise.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, ExternalPlatform, Proxy, nodeauth, wait_for  # noqa: E402

POOL = 6
BASE = ["--pool-size", str(POOL), "--d", "3", "--p", "1", "--node-memory", "128",
        "--warmup-interval", "0", "--backup-interval", "0", "--log-level", "warn"]
OTHER = "another-secret-that-is-not-the-proxys-0123"


class Impostor:
    """A process at the node (or relay) port that does not hold the node secret. Records every
    byte the proxy sends it."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.got = b""

    def challenge(self):
        while self.got.count(b"\r\n") < 5:
            d = self.s.recv(4096)
            if not d:
                break
            self.got += d
        lines = self.got.split(b"\r\n")
        assert lines[2] == b"CHALLENGE", self.got
        return lines[4].decode()

    def send_cmd(self, *args):
        args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a)
                                                          for a in args))

    def drain(self, timeout=5):
        """Reads until the proxy closes; returns everything received."""
        end = time.time() + timeout
        while time.time() < end:
            self.s.settimeout(max(0.01, end - time.time()))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if not d:
                break
            self.got += d
        else:
            raise AssertionError("the proxy kept the impostor's connection open: %r" % self.got)
        self.s.close()
        return self.got


def hello_args(node_id, instance, proof):
    return ["HELLO", node_id, instance, 100 << 20, 0, 0, 1] + ([proof] if proof else [])


def fill(r, n, seed):
    rnd = random.Random(seed)
    vals = {}
    for i in range(n):
        vals["k%d" % i] = rnd.randbytes(rnd.choice([50, 3000, 200000]))
        assert r.set("k%d" % i, vals["k%d" % i])
    return vals


class ImpostorNodeTest(unittest.TestCase):
    def test_impostors_refused_and_never_served(self):
        with Proxy(*BASE, "--node-tls", "no") as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            vals = fill(r, 24, 1)
            refused0 = r.info("all")["nodes_refused"]
            cases = []
            # No proof at all; a proof made with another secret; a proof replayed from another
            # challenge; something other than HELLO first.
            imp = Impostor(p.node_port)
            imp.challenge()
            imp.send_cmd(*hello_args(0, "feedfacefeedface", None))
            cases.append(("no proof", imp))
            imp = Impostor(p.node_port)
            ch = imp.challenge()
            imp.send_cmd(*hello_args(1, "feedfacefeedface",
                                     nodeauth.hello_proof(ch, 1, "feedfacefeedface", OTHER)))
            cases.append(("wrong secret", imp))
            imp = Impostor(p.node_port)
            imp.challenge()
            stale = nodeauth.hello_proof(nodeauth.new_challenge(), 2, "feedfacefeedface")
            imp.send_cmd(*hello_args(2, "feedfacefeedface", stale))
            cases.append(("proof over another challenge", imp))
            imp = Impostor(p.node_port)
            imp.challenge()
            imp.s.sendall(b"*2\r\n:7\r\n$3\r\nabc\r\n")
            cases.append(("not HELLO", imp))
            imp = Impostor(p.node_port)
            imp.challenge()
            imp.send_cmd("BYE")
            cases.append(("BYE first", imp))
            for name, imp in cases:
                got = imp.drain()
                self.assertNotIn(b"CSET", got, name)
                self.assertNotIn(b"CGET", got, name)
                self.assertNotIn(b"INVENTORY", got, name)
            self.assertGreaterEqual(r.info("all")["nodes_refused"] - refused0, 4)
            for k, v in vals.items():
                self.assertEqual(r.get(k), v, k)

    def test_impostor_right_after_reclaim(self):
        """The attack that worked: reclaim a node's instance (its connection drops) and say HELLO
        with its id before the next instance does. Refused; every GET is exact."""
        with Proxy(*BASE, "--node-tls", "no") as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            vals = fill(r, 30, 2)
            forged = b"forged!" * 1000
            for victim in range(POOL):
                imp = Impostor(p.node_port)
                ch = imp.challenge()
                p.admin("/admin/reclaim?function=icnode%d" % victim, method="POST")
                imp.send_cmd(*hello_args(victim, "0badc0de0badc0de",
                                         nodeauth.hello_proof(ch, victim, "0badc0de0badc0de",
                                                              OTHER)))
                got = imp.drain()
                self.assertTrue(got.endswith(b"REFUSED\r\n$9\r\nbad_proof\r\n"), got[-80:])
                self.assertNotIn(forged[:7], got)
                for k, v in vals.items():
                    g = r.get(k)
                    # A reclaimed node loses its chunks: a miss is allowed, wrong bytes never.
                    self.assertIn(g, (v, None), k)
                    if g is None:
                        vals[k] = None
            # Writes still go to genuine nodes.
            r.set("after", b"x" * 5000)
            self.assertEqual(r.get("after"), b"x" * 5000)


class RestartAndSecretsTest(unittest.TestCase):
    def test_impostor_first_after_restart(self):
        """After a proxy restart an impostor that says HELLO first, announcing a real key, is
        refused; the real object comes back from the real nodes."""
        plat = ExternalPlatform(POOL, node_log_level="info", capture_log=True)
        try:
            args = BASE + ["--platform-endpoint", plat.endpoint]
            with Proxy(*args, "--node-tls", "no") as p1:
                r = redis.Redis(port=p1.port, socket_timeout=30)
                vals = fill(r, 12, 3)
                p1.proc.send_signal(signal.SIGKILL)
                p1.proc.wait()
            # The restarted proxy on a known node port, so the impostor is there first.
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                node_port = probe.getsockname()[1]
            imps = []
            with Proxy(*args, "--node-port", str(node_port), "--ready-timeout", "30s",
                       "--node-tls", "no") as p2:
                for nid in range(POOL):
                    imp = Impostor(p2.node_port)
                    ch = imp.challenge()
                    imp.send_cmd(*hello_args(nid, "1337133713371337",
                                             nodeauth.hello_proof(ch, nid, "1337133713371337",
                                                                  OTHER)))
                    imps.append(imp)
                for imp in imps:
                    self.assertNotIn(b"INVENTORY", imp.drain())
                r = redis.Redis(port=p2.port, socket_timeout=30)
                self.assertEqual(r.info("all")["rebuilt_objects"], len(vals))
                for k, v in vals.items():
                    self.assertEqual(r.get(k), v, k)
                self.assertGreaterEqual(r.info("all")["nodes_refused"], POOL)
        finally:
            plat.close()

    def test_node_with_another_secret(self):
        """A node whose secret differs entirely cannot verify the proxy's events and never dials
        (its log says why); one that accepts the proxy's secret only as its previous one dials,
        proves its current secret, and is refused and counted in nodes_refused."""
        plat = ExternalPlatform(POOL, node_log_level="info", capture_log=True, IC_NODE_SECRET=OTHER)
        try:
            with Proxy(*BASE, "--platform-endpoint", plat.endpoint, "--ready-timeout", "2s",
                       "--node-tls", "no") as p:
                r = redis.Redis(port=p.port, socket_timeout=30)
                with self.assertRaises(redis.ResponseError):
                    r.set("k", b"v")
                wait_for(lambda: "event MAC does not verify" in plat.output(), timeout=10,
                         what="the node's log to say why")
                self.assertNotIn(nodeauth.SECRET, plat.output())
                self.assertNotIn(OTHER, plat.output())
        finally:
            plat.close()
        plat = ExternalPlatform(POOL, node_log_level="info", capture_log=True, IC_NODE_SECRET=OTHER,
                                IC_NODE_SECRET_PREVIOUS=nodeauth.SECRET)
        try:
            with Proxy(*BASE, "--platform-endpoint", plat.endpoint, "--ready-timeout", "2s",
                       "--node-tls", "no") as p:
                r = redis.Redis(port=p.port, socket_timeout=30)
                with self.assertRaises(redis.ResponseError):
                    r.set("k", b"v")
                wait_for(lambda: r.info("all")["nodes_refused"] > 0, what="nodes_refused")
                wait_for(lambda: "refused_by_proxy" in plat.output(), timeout=10,
                         what="the node's log to say it was refused")
        finally:
            plat.close()

    def test_rotation(self):
        """Rotation: the proxy lists the new secret and the old one; nodes still on the old one
        (with the new as previous, or not yet) keep working."""
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "secret")
            with open(path, "w") as f:
                f.write("rotated-secret-0123456789abcdef\n%s\n" % nodeauth.SECRET)
            plat = ExternalPlatform(POOL, node_log_level="info", capture_log=True,
                                    IC_NODE_SECRET=nodeauth.SECRET,
                                    IC_NODE_SECRET_PREVIOUS="rotated-secret-0123456789abcdef")
            try:
                with Proxy(*BASE, "--platform-endpoint", plat.endpoint,
                           "--node-secret-file", path, "--node-tls", "no") as p:
                    r = redis.Redis(port=p.port, socket_timeout=30)
                    vals = fill(r, 6, 4)
                    for k, v in vals.items():
                        self.assertEqual(r.get(k), v)
                    self.assertEqual(r.info("all")["nodes_refused"], 0)
            finally:
                plat.close()


class SilentConnectionTest(unittest.TestCase):
    def test_silent_node_connection_is_closed(self):
        """A connection to the node port that never proves itself is closed after
        node-connect-timeout, so idle sockets cannot pile up."""
        with Proxy(*BASE, "--node-connect-timeout", "400ms", "--node-tls", "no") as p:
            imp = Impostor(p.node_port)
            imp.challenge()
            t0 = time.time()
            got = imp.drain(timeout=5)
            self.assertLess(time.time() - t0, 4)
            self.assertTrue(got.endswith(b"no_hello_in_time\r\n"), got)


class RelayImpostorTest(unittest.TestCase):
    def test_relay_intro_needs_the_secret(self):
        with Proxy(*BASE, "--node-tls", "no") as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            before = r.info("all")["nodes_refused"]
            imp = Impostor(p.relay_port)
            ch = imp.challenge()
            imp.send_cmd("RELAY", "guessed-token", "peer",
                         nodeauth.relay_proof(ch, "guessed-token", "peer", OTHER))
            self.assertEqual(imp.drain(), imp.got)
            imp = Impostor(p.relay_port)
            imp.challenge()
            imp.send_cmd("RELAY", "guessed-token", "source")  # the old form, no proof
            imp.drain()
            wait_for(lambda: r.info("all")["nodes_refused"] - before >= 2, what="counted")


class StartupTest(unittest.TestCase):
    def run_proxy(self, *args):
        return subprocess.run([os.path.join(BIN, "icproxy"), "--client-port", "0",
                               "--node-port", "0", "--relay-port", "0", *args],
                              capture_output=True, timeout=20)

    def test_refuses_without_secret(self):
        p = self.run_proxy("--bind", "0.0.0.0")
        self.assertEqual(p.returncode, 2, p)
        self.assertIn(b"not a loopback address: set --node-secret-file", p.stderr)
        p = self.run_proxy("--platform-endpoint", "http://127.0.0.1:1")
        self.assertEqual(p.returncode, 2, p)
        self.assertIn(b"--platform-endpoint needs --node-secret-file", p.stderr)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s")
            with open(path, "w") as f:
                f.write("short\n")
            p = self.run_proxy("--node-secret-file", path)
            self.assertEqual(p.returncode, 2, p)
            self.assertIn(b"16 to 256 characters", p.stderr)
            self.assertNotIn(b"short", p.stderr.replace(b"short ", b""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
