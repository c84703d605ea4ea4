"""proxytest.py -- helpers for black-box proxy tests: start icproxy on free ports, read its
ready banner, and always stop it (and everything it started)."""
import json
import os
import random
import re
import select
import signal
import subprocess
import time
import urllib.request

BIN = os.environ.get("IC_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin"))


class Proxy:
    def __init__(self, *args, ready_timeout=20.0):
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "icproxy"), "--client-port", "0", "--node-port", "0", "--relay-port", "0",
             *args],
            stdout=subprocess.PIPE, stderr=None)
        self.port = None
        self.tls_port = None
        self.node_port = None
        self.platform = None
        deadline = time.time() + ready_timeout
        banner = b""
        fd = self.proc.stdout.fileno()
        # Raw reads: a buffered reader would hide lines from select().
        while time.time() < deadline and (self.port is None or self.platform is None):
            r, _, _ = select.select([fd], [], [], 0.2)
            if not r:
                continue
            data = os.read(fd, 4096)
            if not data:
                break
            banner += data
            m = re.search(rb"clients on [^:]+:(\d+)", banner)
            if m:
                self.port = int(m.group(1))
            m = re.search(rb"TLS clients on (\d+)", banner)
            if m:
                self.tls_port = int(m.group(1))
            if re.search(rb"over TLS only", banner):
                self.tls_port = self.port
            m = re.search(rb"nodes dial [^:]+:(\d+)", banner)
            if m:
                self.node_port = int(m.group(1))
            m = re.search(rb"\nplatform: (\S+)", banner)
            if m:
                self.platform = m.group(1).decode()
        if self.port is None:
            self.stop()
            raise RuntimeError("icproxy did not become ready: %r" % banner)

    def stop(self):
        """Stops icproxy with SIGTERM; an unclean exit (crash, sanitizer report) fails the test."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("icproxy did not stop within 15 s of SIGTERM")
            if self.proc.returncode != 0:
                raise AssertionError("icproxy exited with status %d" % self.proc.returncode)
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


    def admin(self, path, method="GET"):
        """Calls the local platform's admin API and returns the decoded JSON."""
        req = urllib.request.Request(self.platform + path, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def kill_nodes(self, count):
        """SIGKILLs one instance each of `count` functions chosen at random, so the kills hit
        distinct nodes. Returns the pids."""
        by_function = {}
        for i in self.instances():
            if i["pid"] > 0:
                by_function.setdefault(i["function"], i["pid"])
        pids = random.sample(sorted(by_function.values()), count)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    def instances(self, function=None):
        return [i for i in self.admin("/admin/instances")
                if function is None or i["function"] == function]


def wait_for(cond, timeout=10.0, interval=0.01, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)
