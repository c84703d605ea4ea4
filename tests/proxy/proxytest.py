"""proxytest.py -- helpers for black-box proxy tests: start icproxy on free ports, read its
ready banner, and always stop it (and everything it started)."""
import json
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import nodeauth  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tlscerts import free_port  # noqa: E402,F401  (one home for the helper; tests import it here)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import stop_process, wait_for  # noqa: E402,F401  (shared by every test; re-exported)

BIN = os.environ.get("IC_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin"))

# IC_TEST_PASSWORD=PASS runs every proxy the harness starts with --requirepass PASS (unless the
# test gives --requirepass or --aclfile itself), and makes the harness's clients authenticate:
# python3-redis clients (redis.Redis gets password=PASS by default), iccli and redis-cli (through
# IC_PASSWORD / REDISCLI_AUTH in the environment they inherit), raw sockets opened with connect()
# or prefixed with auth_command(), and command lines built with cli_auth_args().
PASSWORD = os.environ.get("IC_TEST_PASSWORD") or None
# IC_TEST_THREADS=N runs every icproxy the harness starts with --threads N (unless the test sets
# its own), and at N > 1 with --mover-when always: byte movers take every long transfer, not only
# while the loop is busy (which a test's light load would seldom make it).
THREADS = os.environ.get("IC_TEST_THREADS") or None
if PASSWORD:
    os.environ.setdefault("IC_PASSWORD", PASSWORD)
    os.environ.setdefault("REDISCLI_AUTH", PASSWORD)
    try:
        import redis as _redis

        _redis_init = _redis.Redis.__init__

        def _init_with_password(self, *args, **kwargs):
            if kwargs.get("password") is None and kwargs.get("username") is None:
                kwargs["password"] = PASSWORD
            _redis_init(self, *args, **kwargs)

        _redis.Redis.__init__ = _init_with_password
    except ImportError:
        pass


def auth_command():
    """The RESP AUTH command to send first on a raw connection (b"" when no password is set)."""
    if not PASSWORD:
        return b""
    pw = PASSWORD.encode()
    return b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(pw), pw)


def cli_auth_args():
    """Arguments that make redis-cli / redis-benchmark / hiredis_roundtrip authenticate."""
    return ["-a", PASSWORD, "--no-auth-warning"] if PASSWORD else []


def connect(port, timeout=None):
    """A raw socket to the proxy's client port, authenticated when IC_TEST_PASSWORD is set."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if PASSWORD:
        s.sendall(auth_command())
        got = b""
        while not got.endswith(b"\r\n"):
            chunk = s.recv(1)
            if not chunk:
                break
            got += chunk
        if got != b"+OK\r\n":
            s.close()
            raise AssertionError("AUTH with IC_TEST_PASSWORD failed: %r" % got)
    return s


def raw_client(port, timeout=30):
    """A Raw client of the proxy (or of a RedisServer), authenticated when IC_TEST_PASSWORD is
    set."""
    c = Raw(port, timeout=timeout)
    if PASSWORD:
        assert c.call("AUTH", PASSWORD) == "OK"
    return c


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
    """A running icproxy. Its embedded platform's admin API token is self.admin_token (admin_token,
    or a fresh one), written to a file given as --platform-admin-token-file; with an external
    platform (--platform-endpoint) pass that platform's token to read its stats. admin_token=False
    gives no such file (the proxy draws a token of its own and self.admin_token is None). With
    IC_TEST_PASSWORD set it runs with --requirepass unless the test sets its own users."""

    def __init__(self, *args, ready_timeout=20.0, admin_token=None, env=None, stderr=None,
                 harness_tls=True):
        """env: the environment (default this process's; the embedded platform and its nodes
        inherit it); stderr: a file for the logs of icproxy and everything it starts;
        harness_tls=False: never add IC_TEST_TLS's options (a test that sets up TLS itself, or
        whose client speaks only plaintext)."""
        if PASSWORD and "--requirepass" not in args and "--aclfile" not in args:
            args = ("--requirepass", PASSWORD) + tuple(args)
        if THREADS and "--threads" not in args:
            args = ("--threads", THREADS) + tuple(args)
            if int(THREADS) > 1 and "--mover-when" not in args:
                args = ("--mover-when", "always") + tuple(args)
        self.admin_token = self.token_file = None
        token_args = []
        if admin_token is not False:
            self.admin_token = admin_token or os.urandom(32).hex()
            fd, self.token_file = tempfile.mkstemp(prefix="icproxy-token-")
            with os.fdopen(fd, "w") as f:
                f.write(self.admin_token + "\n")
            token_args = ["--platform-admin-token-file", self.token_file]
        # A proxy in front of a platform started elsewhere, or bound beyond loopback, needs the
        # deployment's node secret; the tests' platforms and nodes hold nodeauth.SECRET.
        bind = args[args.index("--bind") + 1] if "--bind" in args else "127.0.0.1"
        beyond_loopback = not (bind.startswith("127.") or bind in ("::1", "localhost"))
        if ("--platform-endpoint" in args or beyond_loopback) and "--node-secret-file" not in args:
            self.secret_dir = tempfile.TemporaryDirectory(prefix="icsecret-")
            args = (*args, "--node-secret-file", nodeauth.write_secret_file(self.secret_dir.name))
        # A test that configures TLS itself keeps its own certificates.
        tls = []
        if TLS and harness_tls and "--tls-port" not in args:
            tls = pki().proxy_args("yes")
            if "--node-tls" not in args:
                tls += ["--node-tls", "yes"]
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "icproxy"), "--client-port", "0", "--node-port", "0", "--relay-port", "0",
             *token_args, *args, *tls],
            stdout=subprocess.PIPE, stderr=stderr, env=env)
        self.port = None
        self.tls_port = None
        self.node_port = None
        self.relay_port = None
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
            m = re.search(rb"relay on (\d+)", banner)
            if m:
                self.relay_port = int(m.group(1))
            m = re.search(rb"\nplatform: (\S+)", banner)
            if m:
                self.platform = m.group(1).decode()
        if self.port is None:
            self.stop()
            raise RuntimeError("icproxy did not become ready: %r" % banner)

    def stop(self):
        """Stops icproxy with SIGTERM; an unclean exit (crash, sanitizer report) fails the test."""
        if self.token_file and os.path.exists(self.token_file):
            os.unlink(self.token_file)
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
        headers = {"Authorization": "Bearer " + self.admin_token} if self.admin_token else {}
        req = urllib.request.Request(self.platform + path, method=method, headers=headers)
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


# ---- raw RESP, and redis-server as the reference ----

class Err(str):
    """An error reply; compares equal to its text."""


def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Raw:
    """A plain socket speaking RESP: nothing sent that the test did not write."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self._record = None  # reply_bytes: the bytes received since the reply began

    def close(self):
        self.s.close()

    def send(self, *args):
        self.s.sendall(encode(*args))

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk
        if self._record is not None:
            self._record += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return Err(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        if t == b"%":  # RESP3 map (redis-server after HELLO 3): flattened
            return [self.reply() for _ in range(2 * int(rest))]
        if t in (b"~", b">"):  # RESP3 set, push
            return [self.reply() for _ in range(int(rest))]
        if t == b"=":  # RESP3 verbatim string: the bytes after "txt:"
            n = int(rest)
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[4:n], self.buf[n + 2:]
            return v
        if t == b"_":
            return None
        if t == b"#":
            return rest == b"t"
        if t == b",":
            return float(rest)
        if t == b"(":
            return int(rest)
        raise AssertionError("unexpected reply line %r" % line)

    def call(self, *args):
        self.send(*args)
        return self.reply()

    def reply_bytes(self):
        """The next reply as the exact bytes that carried it (read by reply(), so any type)."""
        self._record = self.buf
        try:
            self.reply()
            return self._record[:len(self._record) - len(self.buf)]
        finally:
            self._record = None

    def wire(self, *args):
        """Sends a command; its reply's exact bytes (tests comparing replies with Redis's)."""
        self.send(*args)
        return self.reply_bytes()

    def closed_within(self, seconds):
        """True if the peer closes the connection within the deadline (no data expected)."""
        self.s.settimeout(seconds)
        try:
            return self.s.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True


class ExternalPlatform:
    """icplatform started by the test rather than by the proxy, so its instances (and their
    chunks) outlive a proxy: the restart tests. Its nodes hold nodeauth.SECRET unless node_env
    says otherwise; admin_token turns its admin API on (give the proxy the same one); with
    capture_log its log goes to a file that output() reads, else to the test's stderr."""

    def __init__(self, pool, memory_mb=128, admin_token=None, node_log_level="warn",
                 capture_log=False, **node_env):
        env = dict(os.environ, IC_NODE_SECRET=nodeauth.SECRET, IC_NODE_RESERVED_MB="16",
                   IC_NODE_LOG_LEVEL=node_log_level)
        if admin_token:
            env["IC_PLATFORM_ADMIN_TOKEN"] = admin_token
        env.update(node_env)
        self.log = (tempfile.NamedTemporaryFile(prefix="icplatform-", suffix=".log", delete=False)
                    if capture_log else None)
        self.proc = subprocess.Popen([os.path.join(BIN, "icplatform"), "--port", "0",
                                      "--function-count", str(pool), "--memory", str(memory_mb),
                                      "--log-level", "warn"],
                                     stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY port="):
            self.close()
            raise AssertionError("icplatform did not start: %r" % line)
        self.endpoint = "http://127.0.0.1:%d" % int(line.split("=")[1])
        self.admin_token = admin_token

    def instances(self):
        """The platform's instances (its admin API: give admin_token)."""
        req = urllib.request.Request(self.endpoint + "/admin/instances",
                                     headers={"Authorization": "Bearer " + self.admin_token})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def close(self):
        self.proc.stdout.close()
        stop_process(self.proc)
        if self.log:
            self.log.close()
            os.unlink(self.log.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RedisServer:
    """redis-server 7 on a free loopback port, the reference for shared behaviour."""

    def __init__(self, *args):
        self.port = free_port()
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                r = Raw(self.port, timeout=1)
                r.call("PING")
                r.close()
                return True
            except OSError:
                return False
        try:
            wait_for(up, timeout=10, what="redis-server")
        except Exception:
            self.stop()
            raise

    def stop(self):
        if self.proc.poll() is None:
            stop_process(self.proc, 10)
