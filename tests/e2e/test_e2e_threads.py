#!/usr/bin/python3
"""icproxy with byte movers (--threads N): large values through the Redis protocol and the
library come back byte for byte with the movers doing the moving (INFO says how much), a client
that leaves in the middle of a reply being written by a mover, and nodes frozen while movers
read their chunk bodies (the GET is answered from the others and the frozen bodies are taken back
from the movers). TLS connections are not given to movers, so the suite runs in plaintext."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, PASSWORD, TLS, Proxy, wait_for  # noqa: E402

MiB = 1 << 20


def stats(r):
    return r.info("all")


@unittest.skipIf(TLS, "TLS connections stay on the event-loop thread: nothing for movers")
class MoverTest(unittest.TestCase):
    def test_large_values_moved_by_threads(self):
        with Proxy("--threads", "3", "--mover-when", "always", "--pool-size", "8", "--d", "4", "--p", "2",
                   "--node-memory", "256") as p:
            r = redis.Redis(port=p.port, password=PASSWORD, socket_timeout=60)
            info = stats(r)
            self.assertEqual(info["threads"], 3)
            self.assertEqual(info["mover_threads"], 2)
            self.assertEqual(info["io_threads_active"], 1)
            self.assertIn("used_cpu_sys_main_thread", info)
            jobs0, bytes0 = info["mover_jobs"], info["mover_bytes"]
            values = {"big%d" % i: os.urandom(12 * MiB + i * 4099) for i in range(2)}
            for k, v in values.items():
                self.assertTrue(r.set(k, v))
            for k, v in values.items():
                self.assertEqual(r.get(k), v)
            self.assertEqual(r.getrange("big1", 5 * MiB, 7 * MiB - 1),
                             values["big1"][5 * MiB:7 * MiB])
            # The library's path: chunk bodies spliced client -> node and node -> client.
            with tempfile.TemporaryDirectory() as d:
                src, out = os.path.join(d, "in"), os.path.join(d, "out")
                with open(src, "wb") as f:
                    f.write(values["big0"])
                cli = [os.path.join(BIN, "iccli"), "--proxy", "127.0.0.1:%d" % p.port,
                       "--d", "4", "--p", "2"]
                env = dict(os.environ)
                if PASSWORD:
                    env["IC_PASSWORD"] = PASSWORD
                subprocess.run(cli + ["set", "libobj", src], check=True, env=env, timeout=60)
                subprocess.run(cli + ["get", "libobj", out], check=True, env=env, timeout=60)
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), values["big0"])
            info = stats(r)
            self.assertGreater(info["mover_jobs"], jobs0)
            # Every value crossed the proxy at least twice (in and out) in movers' hands.
            self.assertGreaterEqual(info["mover_bytes"] - bytes0, 2 * sum(map(len, values.values())))

    def test_client_leaves_mid_reply(self):
        with Proxy("--threads", "2", "--mover-when", "always", "--pool-size", "6", "--d", "4",
                   "--p", "2", "--node-memory", "256") as p:
            r = redis.Redis(port=p.port, password=PASSWORD, socket_timeout=60)
            v = os.urandom(48 * MiB)
            self.assertTrue(r.set("huge", v))
            for _ in range(5):
                s = socket.create_connection(("127.0.0.1", p.port), timeout=30)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
                if PASSWORD:
                    s.sendall(b"AUTH %s\r\n" % PASSWORD.encode())
                    self.assertTrue(s.recv(16).startswith(b"+OK"))
                s.sendall(b"GET huge\r\n")
                got = 0
                while got < MiB:
                    chunk = s.recv(65536)
                    self.assertTrue(chunk)
                    got += len(chunk)
                s.close()  # the rest of the reply has nowhere to go
            self.assertTrue(r.ping())
            self.assertEqual(r.get("huge"), v)

    def test_frozen_nodes_mid_body(self):
        # Slow nodes (4 MB/s each): a 4 MiB chunk takes about a second, so the freeze lands
        # while movers are reading bodies. Every node of the pool holds one of the 6 chunks.
        with Proxy("--threads", "2", "--mover-when", "always", "--pool-size", "6", "--d", "4",
                   "--p", "2", "--node-memory", "256", "--node-bandwidth", "4m",
                   "--request-timeout", "30s", "--warmup-interval", "0",
                   "--backup-interval", "0") as p:
            r = redis.Redis(port=p.port, password=PASSWORD, socket_timeout=60)
            v = os.urandom(16 * MiB)
            self.assertTrue(r.set("slow", v))
            before = stats(r)
            result = {}

            def get():
                c = redis.Redis(port=p.port, password=PASSWORD, socket_timeout=60)
                result["v"] = c.get("slow")

            t = threading.Thread(target=get)
            t.start()
            # The chunk bodies are being read once the movers have them.
            wait_for(lambda: stats(r)["mover_jobs"] >= before["mover_jobs"] + 6, timeout=20,
                     what="six chunk bodies handed to movers")
            frozen = [i["pid"] for i in p.instances() if i["pid"] > 0][:2]
            self.assertEqual(len(frozen), 2)
            try:
                for pid in frozen:
                    os.kill(pid, signal.SIGSTOP)
                t.join(60)
                self.assertFalse(t.is_alive())
                self.assertEqual(result.get("v"), v)
                # The frozen nodes' bodies were not needed: taken back from the movers.
                self.assertGreaterEqual(stats(r)["mover_jobs_taken_back"],
                                        before["mover_jobs_taken_back"] + 1)
            finally:
                for pid in frozen:
                    try:
                        os.kill(pid, signal.SIGCONT)
                    except ProcessLookupError:
                        pass
            self.assertEqual(r.get("slow"), v)

    def test_movers_follow_the_load(self):
        # The default (--mover-when busy): idle, the loop moves every byte itself; under a load
        # of large GETs that keeps it busy the movers take over, and let go once it is gone.
        with Proxy("--threads", "2", "--pool-size", "6", "--d", "4", "--p", "2",
                   "--node-memory", "256") as p:
            r = redis.Redis(port=p.port, password=PASSWORD, socket_timeout=60)
            v = os.urandom(16 * MiB)
            self.assertTrue(r.set("load", v))
            wait_for(lambda: stats(r)["mover_active"] == 0, timeout=10, what="movers idle")
            stop = threading.Event()
            bad = []

            def reader():
                c = redis.Redis(port=p.port, password=PASSWORD, socket_timeout=60)
                n = 0
                while not stop.is_set() and n < 2000:
                    n += 1
                    if c.get("load") != v:
                        bad.append(n)
            readers = [threading.Thread(target=reader) for _ in range(4)]
            for t in readers:
                t.start()
            try:
                wait_for(lambda: stats(r)["mover_active"] == 1, timeout=60,
                         what="movers switched on by the load")
            finally:
                stop.set()
                for t in readers:
                    t.join(120)
            self.assertEqual(bad, [])
            wait_for(lambda: stats(r)["mover_active"] == 0, timeout=20,
                     what="movers switched off once the load is gone")
            self.assertGreaterEqual(stats(r)["mover_switches"], 2)


if __name__ == "__main__":
    unittest.main()
