#!/usr/bin/python3
"""icbench --generate-trace as a user runs it: a short trace to a file and to stdout, its
statistics printed, the file replayed by icbench itself against a redis-server (every record
parsed, none malformed), and bad lengths refused with exit 2."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SRC = os.environ.get("IC_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("IC_BIN", os.path.join(SRC, "build", "bin"))
ICBENCH = os.path.join(BIN, "icbench")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtest import free_port  # noqa: E402


class GenerateTraceTest(unittest.TestCase):
    def test_file_stdout_and_replay(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "trace.json")
            out = subprocess.run([ICBENCH, "--generate-trace", path, "--hours", "0.05",
                                  "--seed", "5"], capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            for word in ("large_byte_share", "large_gets_per_hour", "large_reused_within_hour"):
                self.assertIn(word, out.stdout)
            with open(path) as f:
                records = json.load(f)
            self.assertGreater(len(records), 100)
            for r in records:
                self.assertEqual(set(r), {"http.request.method", "http.request.uri",
                                          "http.response.written", "timestamp"})
            # To stdout: the same bytes, the report on stderr.
            again = subprocess.run([ICBENCH, "--generate-trace", "-", "--hours", "0.05",
                                    "--seed", "5"], capture_output=True, timeout=60)
            self.assertEqual(again.returncode, 0)
            with open(path, "rb") as f:
                self.assertEqual(again.stdout, f.read())
            self.assertIn(b"large_byte_share", again.stderr)
            # Replayed by icbench: small objects only (fast), every record parsed.
            redis_server = shutil.which("redis-server")
            if not redis_server:
                self.skipTest("redis-server not installed")
            port = free_port()
            srv = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1",
                                    "--save", "", "--appendonly", "no"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 10
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
                rep = subprocess.run([ICBENCH, "--target", "resp:127.0.0.1:%d" % port,
                                      "--trace", path, "--strict", "yes", "--max-size", "64k",
                                      "--requests", "300"],
                                     capture_output=True, text=True, timeout=120)
            finally:
                srv.terminate()
                srv.wait(timeout=10)
            self.assertEqual(rep.returncode, 0, rep.stdout + rep.stderr)
            self.assertIn(" 0 malformed", rep.stderr)
            self.assertIn("wrong_bytes=0", rep.stdout)

    def test_bad_length(self):
        for hours in ("-1", "1001", "x"):
            out = subprocess.run([ICBENCH, "--generate-trace", "/dev/null", "--hours", hours],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 2, hours)
            self.assertIn("hours", out.stderr)
        out = subprocess.run([ICBENCH, "--generate-trace", "/nonexistent/dir/t.json",
                              "--hours", "0.01"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn("cannot write", out.stderr)


if __name__ == "__main__":
    unittest.main()
