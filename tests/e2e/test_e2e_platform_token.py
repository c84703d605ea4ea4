#!/usr/bin/python3
"""The proxy and its embedded platform's admin token: the proxy gives the platform a token (its
own fresh one, or --platform-admin-token-file's) through the environment, reads /admin/stats with
it for INFO, and nobody else (no header, an instance, the command line) gets in."""
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, Proxy, wait_for  # noqa: E402

BASE = ["--pool-size", "2", "--d", "1", "--p", "1", "--node-memory", "128",
        "--node-reserved", "16"]


def platform_pid(proxy_pid):
    """The icplatform child of icproxy."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == proxy_pid and b"icplatform" in cmd:
            return int(d)
    return None


def admin_status(base, path, token=None):
    headers = {"Authorization": "Bearer " + token} if token else {}
    req = urllib.request.Request(base + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


class PlatformTokenTest(unittest.TestCase):
    def check(self, p):
        """INFO shows the platform's figures (read with the token); others are refused."""
        r = redis.Redis(port=p.port, socket_timeout=30)
        self.assertTrue(r.set("k", b"v"))
        wait_for(lambda: "platform_requests" in r.info("all"), timeout=15,
                 what="INFO shows the platform's stats")
        self.assertEqual(admin_status(p.platform, "/admin/stats"), 401)
        self.assertEqual(admin_status(p.platform, "/admin/stats", "f" * 64), 401)
        pid = platform_pid(p.proc.pid)
        self.assertIsNotNone(pid)
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read()
        with open("/proc/%d/environ" % pid, "rb") as f:
            environ = f.read()
        # The platform wiped the value in its start-up environment block (the name may stay).
        at = environ.find(b"IC_PLATFORM_ADMIN_TOKEN=")
        if at >= 0:
            self.assertEqual(environ[at + len(b"IC_PLATFORM_ADMIN_TOKEN=")], 0, environ[at:at + 90])
        self.assertNotIn(b"token", cmdline.lower())
        # The nodes (the platform's instances) do not inherit it either.
        nodes = [int(d) for d in os.listdir("/proc") if d.isdigit()
                 and self.parent_of(int(d)) == pid]
        self.assertTrue(nodes)
        for n in nodes:
            with open("/proc/%d/environ" % n, "rb") as f:
                self.assertNotIn(b"IC_PLATFORM_ADMIN_TOKEN", f.read())
        return r

    @staticmethod
    def parent_of(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
        except OSError:
            return None
        return int(stat[stat.rindex(")") + 2:].split()[1])

    def test_fresh_token(self):
        with Proxy(*BASE, admin_token=False) as p:
            self.check(p)

    def test_token_file(self):
        with Proxy(*BASE) as p:
            self.check(p)
            self.assertEqual(admin_status(p.platform, "/admin/stats", p.admin_token), 200)
            with open("/proc/%d/environ" % platform_pid(p.proc.pid), "rb") as f:
                self.assertNotIn(p.admin_token.encode(), f.read())

    def test_bad_token_file(self):
        with tempfile.NamedTemporaryFile("w", prefix="icproxy-token-") as f:
            f.write("short\n")
            f.flush()
            r = subprocess.run([os.path.join(BIN, "icproxy"), "--client-port", "0",
                                "--node-port", "0", "--relay-port", "0",
                                "--platform-admin-token-file", f.name], capture_output=True,
                               timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"platform-admin-token-file", r.stderr)


if __name__ == "__main__":
    unittest.main()
