#!/usr/bin/python3
"""Backups end to end on the local platform with real icnode instances: a node syncs its chunks
to a peer instance of its own function; when every primary is killed the peers serve every
object; overwrites during backups are never served stale; a backup whose peer never comes fails
cleanly; killing the source or the peer mid-backup loses nothing that was synced; a proxy that
restarts against a running platform rebuilds its metadata from the nodes."""
import os
import random
import signal
import subprocess
import sys
import time
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, ExternalPlatform, Proxy, nodeauth, wait_for  # noqa: E402

POOL = 6
BASE = ["--pool-size", str(POOL), "--d", "4", "--p", "2", "--node-memory", "256",
        "--node-reserved", "16", "--small-object-max", "1k", "--request-timeout", "5s",
        "--node-connect-timeout", "5s", "--warmup-interval", "0"]


def socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(link[8:-1])
    except OSError:
        pass
    return out


def connected_to(port):
    """Inodes of established TCP sockets whose remote port is `port`."""
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            f = ln.split()
            if f[3] == "01" and int(f[2].rsplit(":", 1)[1], 16) == port:
                inodes.add(f[9])
    return inodes


def primaries(proxy, port):
    """function -> pid of the instance holding the proxy connection (the primary)."""
    conns = connected_to(port)
    out = {}
    for inst in proxy.instances():
        if inst["pid"] > 0 and socket_inodes(inst["pid"]) & conns:
            out[inst["function"]] = inst["pid"]
    return out


class BackupTest(unittest.TestCase):
    proxy = None

    def tearDown(self):
        if self.proxy:
            self.proxy.stop()

    def start(self, *extra):
        self.proxy = Proxy(*BASE, *extra)
        self.r = redis.Redis(port=self.proxy.port, socket_timeout=30)
        return self.proxy

    def info(self):
        return self.r.info("all")

    def fill(self, count, size=200000, prefix="k", seed=3):
        rnd = random.Random(seed)
        vals = {}
        for i in range(count):
            v = rnd.randbytes(size + i)
            self.assertTrue(self.r.set("%s%d" % (prefix, i), v))
            vals["%s%d" % (prefix, i)] = v
        return vals

    def wait_backups(self, at_least, timeout=30):
        wait_for(lambda: self.info()["backups_ok"] >= at_least, timeout=timeout,
                 what="%d backups" % at_least)

    def test_peers_serve_after_every_primary_is_killed(self):
        p = self.start("--backup-interval", "2s")
        vals = self.fill(12)
        # Every node backs up every 2 s, at most two at a time: after three rounds' worth every
        # node has finished at least one backup since the writes.
        self.wait_backups(3 * POOL)
        # Wait for a quiet moment (no backup running), then kill every primary: 6 nodes down,
        # far more than p. Only the peers can serve now.
        wait_for(lambda: self.info()["backups_active"] == 0, timeout=20, what="no backup running")
        port = p.node_port
        prim = primaries(p, port)
        self.assertEqual(len(prim), POOL, prim)
        peers = [i for i in p.instances() if i["pid"] > 0 and i["pid"] not in prim.values()]
        self.assertGreaterEqual(len(peers), POOL, "every function has a peer instance")
        before = self.info()["inventories"]
        # The provider reclaims every primary right after its backup (the platform's admin hook
        # kills the instance, its memory with it).
        by_pid = {i["pid"]: i["id"] for i in p.instances()}
        for pid in prim.values():
            p.admin("/admin/reclaim?instance=%d" % by_pid[pid], method="POST")
        # The proxy sees each connection close and wakes the function at once; the instance
        # that answers is the peer, whose inventory it checks.
        wait_for(lambda: self.info()["inventories"] >= before + POOL, timeout=20,
                 what="the peers announced")
        for k, v in vals.items():
            self.assertEqual(self.r.get(k), v, k)
        i = self.info()
        self.assertEqual(i["objects_lost"], 0)
        self.assertEqual(i["chunks_lost"], 0, "the peers held every chunk")
        self.assertEqual(i["chunks_repaired"], 0)

    def test_overwrites_during_backups_are_never_stale(self):
        p = self.start("--backup-interval", "300ms")
        latest = {}
        history = {}
        rnd = random.Random(5)
        deadline = time.time() + 6
        n = 0
        while time.time() < deadline and n < 400:
            k = "w%d" % rnd.randrange(10)
            v = b"%d:" % n + rnd.randbytes(50000)
            self.assertTrue(self.r.set(k, v))
            history.setdefault(k, []).append(v)
            latest[k] = v
            if n % 7 == 0:
                self.r.delete(k)
                latest[k] = None
            n += 1
        # Backups ran while the keys were overwritten (on a loaded machine the first may end
        # just after the writes).
        wait_for(lambda: self.info()["backups_ok"] > 0, timeout=20, what="a backup")
        prim = primaries(p, p.node_port)
        for pid in prim.values():
            os.kill(pid, signal.SIGKILL)
        for k, v in latest.items():
            # While the functions' next instances come up a GET may answer "try again" (too
            # few chunks readable yet): a clear, transient error, retried within a deadline.
            def answered():
                try:
                    return (self.r.get(k),)
                except redis.ResponseError as e:
                    self.assertIn("try again", str(e))
                    return None
            got = wait_for(answered, timeout=30, what="an answer for " + k)[0]
            # The latest value, or a miss when too few of its chunks reached a peer: never an
            # older value, never a deleted one.
            self.assertIn(got, (v, None), k)

    def test_backup_without_a_peer_fails_cleanly(self):
        # One instance per function: the self-invocation cannot start a peer.
        self.start("--backup-interval", "500ms", "--max-instances", "1",
                   "--node-connect-timeout", "1s")
        vals = self.fill(6, size=30000)
        wait_for(lambda: self.info()["backups_failed"] >= 2, timeout=30, what="failed backups")
        self.assertEqual(self.info()["backups_ok"], 0)
        for k, v in vals.items():
            self.assertEqual(self.r.get(k), v, k)

    def test_kill_source_or_peer_mid_backup(self):
        p = self.start("--backup-interval", "1s", "--node-memory", "512")
        vals = self.fill(24, size=4 << 20)  # ~24 MiB per node: a backup takes a moment
        for victim in ("source", "peer"):
            wait_for(lambda: self.info()["backups_active"] > 0, timeout=30, what="a backup")
            prim = primaries(p, p.node_port)
            fn = next(iter(sorted(prim)))
            if victim == "source":
                pid = prim[fn]
            else:
                others = [i["pid"] for i in p.instances(fn) if i["pid"] not in prim.values()
                          and i["pid"] > 0]
                if not others:
                    continue
                pid = others[0]
            os.kill(pid, signal.SIGKILL)
            # Service goes on; every object reads back exact (repair covers a killed source).
            for k, v in vals.items():
                self.assertEqual(self.r.get(k), v, k)
        wait_for(lambda: self.info()["backups_ok"] >= 2, timeout=60, what="backups resume")


class WarmupTest(unittest.TestCase):
    def test_idle_functions_are_warmed_and_billed_as_warmup(self):
        # 6 s compressed 20x: a warm-up round every 300 ms.
        with Proxy(*BASE[:-2], "--warmup-interval", "6s", "--time-compression", "20") as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            wait_for(lambda: r.info("all")["warmups"] >= 3 * POOL, timeout=20, what="warm-ups")
            wait_for(lambda: p.admin("/admin/stats")["requests_by_kind"]["warmup"] >= 3 * POOL,
                     timeout=20, what="warm-ups billed")
            # Warm-ups reuse the warm instances: no new instance per warm-up.
            self.assertLessEqual(len(p.instances()), POOL)
            wait_for(lambda: "platform_requests_warmup" in r.info("all"), timeout=5,
                     what="INFO shows warm-up invocations")


class RestartTest(unittest.TestCase):
    def test_proxy_restart_rebuilds_from_nodes(self):
        plat = ExternalPlatform(POOL, memory_mb=256)
        try:
            endpoint = plat.endpoint
            args = BASE + ["--platform-endpoint", endpoint]
            vals = {}
            rnd = random.Random(9)
            with Proxy(*args) as p1:
                r = redis.Redis(port=p1.port, socket_timeout=30)
                for i in range(15):
                    vals["r%d" % i] = rnd.randbytes(100000 + i)
                    r.set("r%d" % i, vals["r%d" % i])
                r.set("tiny", b"t")
                vals["tiny"] = b"t"
                # A TTL, and one kept over an overwrite (KEEPTTL): both survive the rebuild.
                r.set("ttl", b"a", ex=1000)
                r.set("kept", b"b", ex=2000)
                r.set("kept", b"c", keepttl=True)
                vals["ttl"], vals["kept"] = b"a", b"c"
                p1.proc.send_signal(signal.SIGKILL)  # no goodbye
                p1.proc.wait()
            with Proxy(*args) as p2:
                r = redis.Redis(port=p2.port, socket_timeout=30)
                self.assertEqual(r.info("all")["rebuilt_objects"], len(vals))
                for k, v in vals.items():
                    self.assertEqual(r.get(k), v, k)
                self.assertEqual(r.dbsize(), len(vals))
                self.assertTrue(900 < r.ttl("ttl") <= 1000, r.ttl("ttl"))
                self.assertTrue(1900 < r.ttl("kept") <= 2000, r.ttl("kept"))
                self.assertEqual(r.ttl("tiny"), -1)
        finally:
            plat.close()


class SignedInvokeTest(unittest.TestCase):
    """As on AWS: the platform takes only SigV4-signed Invoke requests (icplatform
    --require-sigv4), the proxy signs its own with --aws-sigv4, and a node signs the invocation
    that starts its backup peer with the credentials its function's environment holds."""
    KEY = "AKIDSIGNEDTEST"
    TOKEN = "session-token-of-the-role"

    def run_backups(self, node_env, backup_invocations=0):
        """Starts the platform with node_env for its instances, a signing proxy against it, writes
        a few objects and waits for two backups to end (and for INFO to show at least
        backup_invocations of the platform's backup invocations: its figures come from the
        platform and may trail). Returns INFO and the platform's log."""
        env = dict(os.environ, IC_NODE_RESERVED_MB="16", IC_NODE_LOG_LEVEL="info",
                   IC_NODE_SECRET=nodeauth.SECRET)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        env.update(node_env)
        admin_token = os.urandom(16).hex()  # INFO's platform figures come from its /admin/stats
        env["IC_PLATFORM_ADMIN_TOKEN"] = admin_token
        plat = subprocess.Popen([os.path.join(BIN, "icplatform"), "--port", "0",
                                 "--function-count", "2", "--memory", "256", "--log-level", "info",
                                 "--require-sigv4", self.KEY + ":" + self.TOKEN],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                "AWS_SESSION_TOKEN")}
        try:
            line = plat.stdout.readline().decode()
            self.assertTrue(line.startswith("READY port="), line)
            endpoint = "http://127.0.0.1:%d" % int(line.split("=")[1])
            # The proxy's own credentials (Proxy() passes its environment on).
            os.environ["AWS_ACCESS_KEY_ID"] = self.KEY
            os.environ["AWS_SECRET_ACCESS_KEY"] = "proxy-secret"
            os.environ["AWS_SESSION_TOKEN"] = self.TOKEN
            with Proxy("--pool-size", "2", "--d", "1", "--p", "1", "--node-memory", "256",
                       "--node-reserved", "16", "--warmup-interval", "0",
                       "--backup-interval", "1s", "--node-connect-timeout", "5s",
                       "--aws-sigv4", "aws:amz:us-east-1:lambda",
                       "--platform-endpoint", endpoint, admin_token=admin_token) as p:
                r = redis.Redis(port=p.port, socket_timeout=30)
                vals = {"s%d" % i: os.urandom(50000 + i) for i in range(4)}
                for k, v in vals.items():
                    self.assertTrue(r.set(k, v))
                wait_for(lambda: r.info("all")["backups_ok"] + r.info("all")["backups_failed"]
                         >= 2, timeout=40, what="two backups ended")
                for k, v in vals.items():
                    self.assertEqual(r.get(k), v, k)
                wait_for(lambda: r.info("all").get("platform_requests_backup", 0)
                         >= backup_invocations, timeout=20, what="the platform's backup count")
                info = r.info("all")
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            plat.terminate()
            try:
                _, err = plat.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                plat.kill()
                _, err = plat.communicate()
        return info, err.decode(errors="replace")

    def test_nodes_sign_their_backup_invocations(self):
        info, _ = self.run_backups({"AWS_ACCESS_KEY_ID": self.KEY,
                                    "AWS_SECRET_ACCESS_KEY": "function-secret",
                                    "AWS_SESSION_TOKEN": self.TOKEN,
                                    "AWS_REGION": "us-east-1"}, backup_invocations=2)
        self.assertGreaterEqual(info["backups_ok"], 2, info)
        self.assertEqual(info["backups_failed"], 0)
        self.assertGreaterEqual(info["platform_requests_backup"], 2)

    def test_a_node_with_a_stale_token_cannot_start_a_backup(self):
        info, _ = self.run_backups({"AWS_ACCESS_KEY_ID": self.KEY,
                                    "AWS_SECRET_ACCESS_KEY": "function-secret",
                                    "AWS_SESSION_TOKEN": "an-expired-token"})
        self.assertEqual(info["backups_ok"], 0)
        self.assertGreaterEqual(info["backups_failed"], 2)

    def test_a_node_without_credentials_cannot_start_a_backup(self):
        # The proxy signs (its pool comes up); the nodes have no credentials to sign with.
        info, log = self.run_backups({})
        self.assertEqual(info["backups_ok"], 0)
        self.assertGreaterEqual(info["backups_failed"], 2)


if __name__ == "__main__":
    unittest.main()
