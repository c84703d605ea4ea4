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

# IC_TEST_TLS=1 runs a suite with TLS on: every icproxy started here serves clients over TLS only
# (a throwaway CA and certificates, client certificates required) and its nodes over TLS too
# (node-tls yes; they find the CA in IC_NODE_TLS_CA), every redis.Redis made in the
# process speaks TLS, redis-cli and redis-benchmark found on PATH get --tls and the certificates,
# and iccli_args() gives library tools theirs. Raw sockets stay plaintext (they then meet a TLS
# port: tests that speak raw RESP are skipped with skip_if_tls).
TLS = os.environ.get("IC_TEST_TLS") == "1"
_pki = None


def pki():
    """The process's test PKI (made on first use, removed at exit)."""
    global _pki
    if _pki is None:
        import atexit
        from tlscerts import Pki
        _pki = Pki()
        atexit.register(_pki.cleanup)
    return _pki


def iccli_args():
    """Options iccli (or any tool on the library) needs to reach a harness proxy."""
    if not TLS:
        return []
    p = pki().path
    return ["--tls", "--cacert", p("ca.crt"), "--cert", p("client.crt"), "--key", p("client.key")]


def skip_if_tls(test):
    """For tests that speak raw RESP over a plain socket."""
    import unittest
    return unittest.skipIf(TLS, "speaks plaintext RESP on a raw socket (IC_TEST_TLS=1)")(test)


def _enable_tls_clients():
    p = pki().path
    try:
        import redis
    except ImportError:
        redis = None
    if redis is not None and not getattr(redis.Redis, "_ic_tls", False):
        init = redis.Redis.__init__

        def tls_init(self, *args, **kw):
            kw.setdefault("ssl", True)
            kw.setdefault("ssl_ca_certs", p("ca.crt"))
            kw.setdefault("ssl_certfile", p("client.crt"))
            kw.setdefault("ssl_keyfile", p("client.key"))
            init(self, *args, **kw)

        redis.Redis.__init__ = tls_init
        redis.Redis._ic_tls = True
    # Wrappers ahead on PATH, so subprocess calls to the Redis tools need no change.
    wrap = os.path.join(pki().dir, "bin")
    os.makedirs(wrap, exist_ok=True)
    for tool in ("redis-cli", "redis-benchmark"):
        real = None
        for d in os.environ.get("PATH", "").split(os.pathsep):
            if d != wrap and os.access(os.path.join(d, tool), os.X_OK):
                real = os.path.join(d, tool)
                break
        if real:
            with open(os.path.join(wrap, tool), "w") as f:
                f.write('#!/bin/sh\nexec %s --tls --cacert %s --cert %s --key %s "$@"\n'
                        % (real, p("ca.crt"), p("client.crt"), p("client.key")))
            os.chmod(os.path.join(wrap, tool), 0o755)
    os.environ["PATH"] = wrap + os.pathsep + os.environ.get("PATH", "")
    # Nodes started under the embedded platform inherit the proxy's environment.
    os.environ.setdefault("IC_NODE_TLS_CA", p("ca.crt"))


if TLS:
    _enable_tls_clients()


class Proxy:
    def __init__(self, *args, ready_timeout=20.0, env=None, stderr=None, harness_tls=True):
        """env: the environment (default this process's; the embedded platform and its nodes
        inherit it); stderr: a file for the logs of icproxy and everything it starts;
        harness_tls=False: never add IC_TEST_TLS's options (a test that sets up TLS itself, or
        whose client speaks only plaintext)."""
        # A test that configures TLS itself keeps its own certificates.
        tls = []
        if TLS and harness_tls and "--tls-port" not in args:
            tls = pki().proxy_args("yes")
            if "--node-tls" not in args:
                tls += ["--node-tls", "yes"]
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "icproxy"), "--client-port", "0", "--node-port", "0", "--relay-port", "0",
             *args, *tls],
            stdout=subprocess.PIPE, stderr=stderr, env=env)
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
