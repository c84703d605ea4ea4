#!/usr/bin/python3
"""icproxy as a user runs it: --help lists every option, a config file is honoured and flags
override it, a bad option is a clear error, the pool is warm when the banner appears, and
Ctrl-C (SIGINT) or SIGTERM stops the proxy, the platform and every node instance."""
import os
import signal
import subprocess
import sys
import tempfile
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, Proxy, wait_for  # noqa: E402


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def descendants(pid):
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children = {}
    for line in out.split("\n"):
        if line.strip():
            p, pp = map(int, line.split())
            children.setdefault(pp, []).append(p)
    result, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            result.append(c)
            todo.append(c)
    return result


class LifecycleTest(unittest.TestCase):
    def test_help_lists_every_option(self):
        out = subprocess.run([os.path.join(BIN, "icproxy"), "--help"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0)
        sample = subprocess.run([os.path.join(BIN, "icproxy"), "--sample-config"], capture_output=True,
                                text=True).stdout
        names = [l.split()[0] for l in sample.split("\n") if l and not l.startswith("#")]
        self.assertGreater(len(names), 20)
        for n in names:
            self.assertIn("--" + n, out.stdout)

    def test_bad_options_are_clear_errors(self):
        for args, text in [(["--pool-size", "0"], "out of range"), (["--bogus", "1"], "unknown option"),
                           (["--node-memory", "lots"], "cannot parse"), (["--d", "20", "--pool-size", "8"], "exceeds")]:
            out = subprocess.run([os.path.join(BIN, "icproxy"), *args], capture_output=True, text=True,
                                 timeout=20)
            self.assertEqual(out.returncode, 2, args)
            self.assertIn(text, out.stderr)

    def test_config_file_and_flag_override(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("# test config\npool-size 6\nd 3\np 1\nfunction-prefix cfgnode\nnode-memory 200\n")
            path = f.name
        try:
            with Proxy("--config", path, "--node-memory", "160") as p:
                info = redis.Redis(port=p.port).info("pool")
                self.assertEqual(info["pool_size"], 6)
                self.assertEqual(info["ec_d"], 3)
                self.assertEqual(info["function_prefix"], "cfgnode")
                self.assertEqual(info["node_memory_mb"], 160)
                self.assertEqual(info["nodes_down"] + info["nodes_invoking"], 0)  # warm at the banner
        finally:
            os.unlink(path)

    def test_eviction_when_the_pool_is_full(self):
        # 12 nodes x 32 MiB for chunks: 40 objects of 16 MiB (+20% parity) cannot all stay.
        with Proxy("--pool-size", "12", "--node-memory", "128", "--node-reserved", "96") as p:
            r = redis.Redis(port=p.port, socket_timeout=60)
            values = {}
            for i in range(40):
                values["obj%d" % i] = os.urandom(16 << 20) if i % 8 == 0 else bytes([i]) * (16 << 20)
                self.assertTrue(r.set("obj%d" % i, values["obj%d" % i]))
                r.get("obj0")  # keeps obj0 recently used: CLOCK should spare it
            stats = r.info("stats")
            self.assertGreater(stats["evicted_keys"], 10)
            kept = 0
            for k, v in values.items():
                got = r.get(k)
                self.assertIn(got, (v, None), k)  # evicted or exact, never other bytes
                kept += got is not None
            self.assertGreater(kept, 5)
            self.assertEqual(r.get("obj0"), values["obj0"])
            self.assertEqual(r.get("obj39"), values["obj39"])
            pool = r.info("pool")
            self.assertLessEqual(pool["placed_bytes"], pool["capacity_bytes"])

    def stop_leaves_nothing(self, sig):
        p = Proxy("--pool-size", "8", "--d", "4", "--p", "2")
        try:
            redis.Redis(port=p.port).set("k", os.urandom(100000))
            procs = descendants(p.proc.pid)
            self.assertGreaterEqual(len(procs), 9)  # the platform and 8 nodes at least
            p.proc.send_signal(sig)
            p.proc.wait(timeout=20)
            self.assertEqual(p.proc.returncode, 0)
            wait_for(lambda: not any(alive(x) for x in procs), timeout=10, what="every child to exit")
        finally:
            p.stop()

    def test_sigint_stops_everything(self):
        self.stop_leaves_nothing(signal.SIGINT)

    def test_sigterm_stops_everything(self):
        self.stop_leaves_nothing(signal.SIGTERM)


if __name__ == "__main__":
    unittest.main()
