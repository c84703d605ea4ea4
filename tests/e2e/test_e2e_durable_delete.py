#!/usr/bin/python3
"""Deletes that last: a proxy that restarts against a running platform rebuilds its metadata
from the nodes, and must not bring back a key deleted before it went down, even when some nodes
lost their memory and came back from their backup peer (which held the key from a backup taken
before the delete). The nodes' tombstones, listed in their inventories, carry the delete."""
import os
import random
import signal
import sys
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
sys.path.insert(0, os.path.dirname(__file__))
from proxytest import ExternalPlatform, Proxy, wait_for  # noqa: E402
from test_e2e_backup import primaries  # noqa: E402

POOL = 6
BASE = ["--pool-size", str(POOL), "--d", "4", "--p", "2", "--node-memory", "256",
        "--node-reserved", "16", "--small-object-max", "1k", "--request-timeout", "5s",
        "--node-connect-timeout", "5s", "--warmup-interval", "0", "--backup-interval", "1s"]


class DurableDeleteTest(unittest.TestCase):
    def test_deleted_keys_stay_deleted_across_proxy_restart(self):
        admin_token = os.urandom(16).hex()  # the test reclaims instances through /admin
        plat = ExternalPlatform(POOL, memory_mb=256, admin_token=admin_token)
        try:
            endpoint = plat.endpoint
            args = BASE + ["--platform-endpoint", endpoint]
            rnd = random.Random(11)
            # Small values (one chunk and two replicas: any one copy would bring a key back)
            # and a few coded ones.
            vals = {"k%02d" % i: rnd.randbytes(700 if i % 6 else 60000 + i) for i in range(60)}
            deleted = sorted(vals)[::5] + sorted(vals)[1::5] + sorted(vals)[2::5]
            self.assertEqual(len(deleted), 36)
            with Proxy(*args, admin_token=admin_token) as p1:
                r = redis.Redis(port=p1.port, socket_timeout=30)
                for k, v in vals.items():
                    self.assertTrue(r.set(k, v))
                # Every node backs up (its peer now holds every key), then a quiet moment.
                wait_for(lambda: r.info("lifecycle")["backups_ok"] >= 2 * POOL, timeout=60,
                         what="a backup of every node")
                wait_for(lambda: r.info("lifecycle")["backups_active"] == 0, timeout=20,
                         what="no backup running")
                prim = primaries(p1, p1.node_port)
                self.assertEqual(len(prim), POOL, prim)
                self.assertEqual(r.delete(*deleted), 36)
                # Two nodes lose their memory right away: their peers, with the backup taken
                # before the delete, take over.
                by_pid = {i["pid"]: i["id"] for i in p1.instances()}
                for fn in sorted(prim)[:2]:
                    p1.admin("/admin/reclaim?instance=%d" % by_pid[prim[fn]], method="POST")
                p1.proc.send_signal(signal.SIGKILL)  # no goodbye
                p1.proc.wait()
            with Proxy(*args, admin_token=admin_token) as p2:
                r = redis.Redis(port=p2.port, socket_timeout=30)
                back = [k for k in deleted if r.get(k) is not None]
                self.assertEqual(back, [], "deleted keys came back")
                for k, v in vals.items():
                    if k not in deleted:
                        self.assertEqual(r.get(k), v, k)
                self.assertEqual(r.dbsize(), 24)
                # Versions after the restart pass the tombstones: a deleted key set again lives.
                self.assertTrue(r.set(deleted[0], b"again"))
                self.assertEqual(r.get(deleted[0]), b"again")
        finally:
            plat.close()


if __name__ == "__main__":
    unittest.main()
