#!/usr/bin/python3
"""redis-cli's tools and redis-benchmark against the proxy: --scan with a pattern finds exactly
the matching keys; --bigkeys and --memkeys run to completion (SCAN, TYPE, STRLEN, MEMORY USAGE)
and name the biggest string; --stat and --latency print their rounds; the argument hints of the
interactive prompt (redis-cli in a pseudo-terminal, answered from COMMAND DOCS) show what
follows a command's name; redis-benchmark's tests of the commands the proxy has finish without
an error. Every tool runs bounded in time."""
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import PASSWORD, Proxy, cli_auth_args  # noqa: E402

import redis  # noqa: E402

POOL = ("--pool-size", "4", "--d", "2", "--p", "1", "--node-memory", "128", "--node-reserved", "16")
TOOL_TIMEOUT = 60


def cli(port, *args, timeout=TOOL_TIMEOUT):
    return subprocess.run(["redis-cli", "-p", str(port), *cli_auth_args(), *args],
                          capture_output=True, timeout=timeout)


def read_lines(proc, want, seconds):
    """What a running tool printed until it printed `want` lines or the deadline passed."""
    out = b""
    deadline = time.time() + seconds
    fd = proc.stdout.fileno()
    while out.count(b"\n") < want and time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            out += chunk
    return out


class RedisToolsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy(*POOL)
        cls.port = cls.proxy.port
        cls.r = redis.Redis(port=cls.port, socket_timeout=30)
        # Strings of different sizes: kbig is the biggest, by length and by memory.
        cls.sizes = {"k1": 100, "k2": 2000, "kbig": 50000, "k3": 30, "other": 4000, "x": 1}
        for k, n in cls.sizes.items():
            cls.r.set(k, b"v" * n)

    @classmethod
    def tearDownClass(cls):
        cls.r.close()
        cls.proxy.stop()

    def test_scan_with_pattern(self):
        out = cli(self.port, "--scan", "--pattern", "k*")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sorted(out.stdout.decode().split()), ["k1", "k2", "k3", "kbig"])
        out = cli(self.port, "--scan", "--pattern", "nomatch*")
        self.assertEqual(out.stdout.strip(), b"")

    def test_bigkeys(self):
        out = cli(self.port, "--bigkeys")
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout.decode()
        self.assertIn("Sampled %d keys in the keyspace!" % len(self.sizes), text)
        self.assertIn("Biggest string found '\"kbig\"' has 50000 bytes", text)
        self.assertIn("%d strings with %d bytes" % (len(self.sizes), sum(self.sizes.values())),
                      text)

    def test_memkeys(self):
        out = cli(self.port, "--memkeys")
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout.decode()
        self.assertIn("Sampled %d keys in the keyspace!" % len(self.sizes), text)
        m = re.search(r"Biggest string found '\"(\w+)\"' has (\d+) bytes", text)
        self.assertIsNotNone(m, text)
        self.assertEqual(m.group(1), "kbig")
        self.assertEqual(int(m.group(2)), self.r.memory_usage("kbig"))
        self.assertGreaterEqual(int(m.group(2)), 50000)

    def test_stat_rounds(self):
        proc = subprocess.Popen(["redis-cli", "-p", str(self.port), *cli_auth_args(), "--stat",
                                 "-i", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out = read_lines(proc, 6, 20)  # redis-cli's output to a pipe comes in blocks
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        lines = out.decode().splitlines()
        self.assertIn("keys", lines[1] if len(lines) > 1 else "", out)
        # Each round: keys, memory, clients, blocked, requests (+delta), connections; the
        # header comes again every 20 rounds.
        rounds = [ln.split() for ln in lines if ln[:1].isdigit()]
        self.assertGreaterEqual(len(rounds), 3, out)
        for r in rounds:
            self.assertEqual(r[0], str(len(self.sizes)), out)
        self.assertNotIn(b"ERR", out)

    def test_latency(self):
        # Not on a terminal, --latency samples for the interval and prints one line: min, max,
        # avg, samples.
        out = cli(self.port, "--latency", "-i", "0.5", timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        fields = out.stdout.split()
        self.assertEqual(len(fields), 4, out.stdout)
        self.assertGreater(int(fields[3]), 0)
        self.assertLessEqual(float(fields[0]), float(fields[1]))

    def test_argument_hints(self):
        """redis-cli shows hints only on a terminal: it runs in a pseudo-terminal here, and the
        text after what is typed is what it built from COMMAND DOCS."""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
        proc = subprocess.Popen(["redis-cli", "-p", str(self.port), *cli_auth_args()],
                                stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                                env=dict(os.environ, TERM="xterm"))
        os.close(slave)

        def read_until(what, seconds=10):
            out = b""
            deadline = time.time() + seconds
            while what not in out and time.time() < deadline:
                r, _, _ = select.select([master], [], [], 0.1)
                if r:
                    try:
                        out += os.read(master, 4096)
                    except OSError:
                        break
            return out

        try:
            self.assertIn(b"> ", read_until(b"> "))
            for typed, hint in (
                    (b"SET ", b"key value [NX|XX] [GET] [EX seconds|PX milliseconds|"
                              b"EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
                    (b"CONFIG GET ", b"parameter [parameter ...]"),
                    (b"MSET ", b"key value [key value ...]"),
                    (b"CLIENT KILL ", b"ip:port|[ID client-id]"),
                    (b"ICGET ", b"key [ALL]")):
                os.write(master, b"\x15" + typed)  # ^U clears the line first
                self.assertIn(hint, read_until(hint), typed)
        finally:
            proc.kill()
            proc.wait()
            os.close(master)

    def test_redis_benchmark(self):
        # A proxy of its own: the benchmark's keys would change what the other tests find.
        with Proxy(*POOL) as p, redis.Redis(port=p.port, socket_timeout=30) as r:
            out = subprocess.run(["redis-benchmark", "-p", str(p.port),
                                  *(["-a", PASSWORD] if PASSWORD else []),  # no --no-auth-warning
                                  "-t", "ping,set,get,incr,mset", "-n", "2000", "-q"],
                                 capture_output=True, timeout=TOOL_TIMEOUT)
            counter = int(r.get("counter:__rand_int__"))
        self.assertEqual(out.returncode, 0, out.stderr)
        text = (out.stdout + out.stderr).decode().replace("\r", "\n")
        self.assertNotIn("ERR", text)
        self.assertNotIn("WARNING", text)  # it reads save and appendonly with CONFIG GET
        for test in ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"):
            self.assertRegex(text, r"\n%s: [\d.]+ requests per second" % re.escape(test))
        self.assertEqual(counter, 2000)  # every INCR counted


if __name__ == "__main__":
    unittest.main()
