#!/usr/bin/python3
"""Client authentication, protected mode, idle timeout and request limits, black-box: icproxy with
--requirepass or --aclfile against redis-server 7 (same commands, same replies where the behaviour
is shared), redis-cli, python3-redis, hiredis-free raw sockets and iccli (the C library)."""
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import redis

# This file sets every password itself: the harness's IC_TEST_PASSWORD hook stays out of it.
os.environ.pop("IC_TEST_PASSWORD", None)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, Err, Proxy, Raw, RedisServer, encode, free_port, wait_for  # noqa: E402

SMALL_POOL = ("--pool-size", "4", "--d", "2", "--p", "1", "--node-memory", "128",
              "--node-reserved", "16")
# redis-server 7 reads the file without the comment line (its ACL files have none).
ACL_USERS = ("user default on >dpw ~* +@all\n"
             "user alice on >a1 >a2 ~* +@all\n"
             "\n"
             "user bob off >b ~* +@all\n")


def run_script(port, script):
    """Runs each list of commands on a fresh connection; returns the replies."""
    out = []
    for cmds in script:
        r = Raw(port)
        try:
            got = []
            for cmd in cmds:
                try:
                    got.append(r.call(*cmd))
                except EOFError:
                    got.append("<closed>")
                    break
            out.append(got)
        finally:
            r.close()
    return out


def hello_proto(reply):
    """The proto field of a HELLO reply (a flat key/value list), or the reply itself if not one."""
    if isinstance(reply, list):
        for i in range(0, len(reply) - 1, 2):
            if reply[i] == b"proto":
                return ("hello", reply[i + 1])
    return reply


# Interactions whose replies redis-server 7 and icproxy share, with requirepass "pw".
PASSWORD_SCRIPT = [
    [("GET", "x")],
    [("SET", "k", "v")],
    [("CLIENT", "SETNAME", "n")],
    [("AUTH", "wrong")],
    [("AUTH", "default", "wrong")],
    [("AUTH", "nobody", "pw")],
    [("AUTH", "a", "b", "c")],
    [("HELLO", "2")],
    [("HELLO", "2", "AUTH", "default", "wrong")],
    [("HELLO", "2", "AUTH", "default")],
    [("AUTH", "pw"), ("GET", "absent-key")],
    [("AUTH", "default", "pw"), ("AUTH", "default", "bad"), ("PING",)],  # a failure keeps auth
    [("HELLO", "2", "AUTH", "default", "pw", "SETNAME", "nm"), ("CLIENT", "GETNAME")],
    [("QUIT",)],
]


class AuthTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ic_auth_")
        self.acl = os.path.join(self.tmp, "users.acl")
        with open(self.acl, "w") as f:
            f.write("# users of the auth tests\n" + ACL_USERS)
        self.redis_acl = os.path.join(self.tmp, "redis.acl")
        with open(self.redis_acl, "w") as f:
            f.write(ACL_USERS)

    def compare(self, proxy_args, redis_args, script, normalize=hello_proto):
        ref = RedisServer(*redis_args)
        try:
            want = run_script(ref.port, script)
        finally:
            ref.stop()
        with Proxy(*SMALL_POOL, *proxy_args) as p:
            got = run_script(p.port, script)
        for cmds, w, g in zip(script, want, got):
            self.assertEqual([normalize(x) for x in g], [normalize(x) for x in w], cmds)
        return got

    def test_requirepass_replies_match_redis(self):
        got = self.compare(["--requirepass", "pw"], ["--requirepass", "pw"], PASSWORD_SCRIPT)
        self.assertEqual(got[0], ["NOAUTH Authentication required."])
        self.assertEqual(got[3], ["WRONGPASS invalid username-password pair or user is disabled."])
        self.assertEqual(got[11], ["OK", Err("WRONGPASS invalid username-password pair or user is "
                                             "disabled."), "PONG"])
        self.assertEqual(got[12][1], b"nm")

    def test_unauthenticated_requests_stay_small_as_on_redis(self):
        script = [[("SET", "k", b"x" * 20000)], [("GET",) + ("k",) * 11]]
        got = self.compare(["--requirepass", "pw"], ["--requirepass", "pw"], script)
        self.assertEqual(got[0][0], "ERR Protocol error: unauthenticated bulk length")
        self.assertEqual(got[1][0], "ERR Protocol error: unauthenticated multibulk length")

    def test_no_password_replies_match_redis(self):
        script = [[("AUTH", "x")], [("AUTH", "default", "anything"), ("PING",)],
                  [("AUTH", "nobody", "x")], [("HELLO", "2", "AUTH", "default", "x")]]
        got = self.compare([], [], script)
        self.assertEqual(got[0][0], "ERR AUTH <password> called without any password configured "
                                    "for the default user. Are you sure your configuration is "
                                    "correct?")

    def test_aclfile_replies_match_redis(self):
        script = [
            [("GET", "x")],
            [("AUTH", "alice", "a1"), ("PING",)],
            [("AUTH", "alice", "a2"), ("PING",)],
            [("AUTH", "alice", "a3")],
            [("AUTH", "bob", "b")],  # disabled user, right password
            [("AUTH", "dpw"), ("PING",)],
            [("AUTH", "default", "a1")],
            [("HELLO", "2", "AUTH", "alice", "a1"), ("PING",)],
            [("HELLO", "2", "AUTH", "bob", "b")],
        ]
        got = self.compare(["--aclfile", self.acl], ["--aclfile", self.redis_acl], script)
        self.assertEqual(got[4], ["WRONGPASS invalid username-password pair or user is disabled."])
        self.assertEqual(got[1], ["OK", "PONG"])

    def test_redis_cli_and_python_redis(self):
        with Proxy(*SMALL_POOL, "--aclfile", self.acl) as p:
            def cli(*args, env=None):
                e = {k: v for k, v in os.environ.items() if k not in ("REDISCLI_AUTH",)}
                e.update(env or {})
                out = subprocess.run(["redis-cli", "-p", str(p.port), *args], capture_output=True,
                                     text=True, timeout=30, env=e)
                return (out.stderr + out.stdout).strip()
            self.assertIn("NOAUTH", cli("ping"))
            self.assertEqual(cli("-a", "dpw", "--no-auth-warning", "ping"), "PONG")
            self.assertEqual(cli("--user", "alice", "--pass", "a2", "--no-auth-warning", "set", "k",
                                 "v"), "OK")
            self.assertEqual(cli("get", "k", env={"REDISCLI_AUTH": "dpw"}), "v")
            self.assertIn("WRONGPASS", cli("--user", "bob", "--pass", "b", "--no-auth-warning", "ping"))
            # HELLO 3 switches to RESP3; versions other than 2 and 3 are refused.
            self.assertIn("proto 3", cli("-a", "dpw", "--no-auth-warning", "HELLO", "3"))
            self.assertIn("NOPROTO", cli("-a", "dpw", "--no-auth-warning", "HELLO", "4"))

            r = redis.Redis(port=p.port, username="alice", password="a1", socket_timeout=30)
            self.assertTrue(r.set("py", b"1"))
            self.assertEqual(r.get("py"), b"1")
            self.assertEqual(redis.Redis(port=p.port, password="dpw").get("py"), b"1")
            for user, pw in (("alice", "nope"), ("bob", "b"), ("ghost", "x")):
                with self.assertRaisesRegex((redis.exceptions.ResponseError,
                                             redis.exceptions.AuthenticationError), "WRONGPASS"):
                    redis.Redis(port=p.port, username=user, password=pw).ping()
            with self.assertRaises(redis.exceptions.ResponseError) as cm:
                redis.Redis(port=p.port, username="default", password="dpw", db=0).execute_command(
                    "AUTH", "x", "y", "z")
            self.assertIn("syntax error", str(cm.exception))

    def test_library_via_iccli(self):
        with Proxy(*SMALL_POOL, "--aclfile", self.acl) as p:
            addr = "127.0.0.1:%d" % p.port
            base = {k: v for k, v in os.environ.items() if k not in ("IC_PASSWORD", "REDISCLI_AUTH")}

            def iccli(*args, stdin=None, env=None):
                e = dict(base)
                e.update(env or {})
                return subprocess.run([os.path.join(BIN, "iccli"), "--proxy", addr, "--d", "2", "--p",
                                   "1", *args],
                                      input=stdin, capture_output=True, timeout=60, env=e)
            value = os.urandom(300000)
            out = iccli("--user", "alice", "--pass", "a1", "set", "lib", "-", stdin=value)
            self.assertEqual(out.returncode, 0, out.stderr)
            out = iccli("--pass", "dpw", "get", "lib")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout, value)
            self.assertEqual(iccli("exists", "lib", env={"IC_PASSWORD": "dpw"}).returncode, 0)
            self.assertEqual(iccli("exists", "lib", env={"REDISCLI_AUTH": "dpw"}).returncode, 0)
            # --pass wins over the environment.
            self.assertEqual(iccli("--pass", "dpw", "exists", "lib",
                                   env={"IC_PASSWORD": "bad"}).returncode, 0)
            for args, env, text in ((("--pass", "bad"), None, "WRONGPASS"),
                                    (("--user", "bob", "--pass", "b"), None, "WRONGPASS"),
                                    ((), None, "NOAUTH"),
                                    ((), {"IC_PASSWORD": "bad"}, "WRONGPASS")):
                out = iccli(*args, "get", "lib", env=env)
                self.assertEqual(out.returncode, 2, (args, out.stderr))
                self.assertIn(b"authentication failed", out.stderr)
                self.assertIn(text.encode(), out.stderr)
                self.assertNotIn(b"bad", out.stderr.replace(b"bad options", b""))

    def test_failures_counted_and_logged_without_password(self):
        log = os.path.join(self.tmp, "proxy.log")
        with open(log, "w") as f, Proxy(*SMALL_POOL, "--requirepass", "pw", stderr=f) as p:
            for guess in ("guess-one-7f3a", "guess-two-7f3a"):
                self.assertIsInstance(Raw(p.port).call("AUTH", "mallory", guess), Err)
            info = redis.Redis(port=p.port, password="pw").info("stats")
            self.assertEqual(info["auth_failures"], 2)
            wait_for(lambda: "event=auth_failed" in open(log).read(), what="auth_failed log line")
        text = open(log).read()
        self.assertIn('user="mallory"', text)
        self.assertNotIn("7f3a", text)
        self.assertNotIn(" pw", text)

    def test_config_file_and_command_line_hide_nothing(self):
        """requirepass from a config file works; one from the command line is blanked in what ps
        shows once the proxy has read it."""
        conf = os.path.join(self.tmp, "icproxy.conf")
        with open(conf, "w") as f:
            f.write("requirepass from-file-9d2c\n")
        with Proxy(*SMALL_POOL, "--config", conf) as p:
            self.assertEqual(Raw(p.port).call("GET", "x"), "NOAUTH Authentication required.")
            self.assertEqual(Raw(p.port).call("AUTH", "from-file-9d2c"), "OK")
        with Proxy(*SMALL_POOL, "--requirepass", "on-the-line-9d2c") as p:
            with open("/proc/%d/cmdline" % p.proc.pid, "rb") as f:
                cmdline = f.read()
            self.assertNotIn(b"on-the-line-9d2c", cmdline)
            self.assertIn(b"--requirepass", cmdline)
            self.assertEqual(Raw(p.port).call("AUTH", "on-the-line-9d2c"), "OK")

    def test_startup_refuses_bad_configuration(self):
        cases = []
        bad = os.path.join(self.tmp, "bad.acl")
        with open(bad, "w") as f:
            f.write("user alice on >a ~* +@all\nuser carol on >c ~cache:* +@all\n")
        cases.append((["--aclfile", bad], "line 2: unsupported rule"))
        cases.append((["--aclfile", self.acl, "--requirepass", "pw"], "cannot be used together"))
        cases.append((["--aclfile", os.path.join(self.tmp, "missing.acl")], "missing.acl"))
        for args, text in cases:
            out = subprocess.run([os.path.join(BIN, "icproxy"), "--client-port", "0", "--node-port",
                                  "0", "--relay-port", "0", *args], capture_output=True, text=True,
                                 timeout=30)
            self.assertEqual(out.returncode, 2, (args, out.stderr))
            self.assertIn(text, out.stderr)

    def test_protected_mode(self):
        # Loopback clients are served with bind 0.0.0.0 and no password.
        with Proxy(*SMALL_POOL, "--bind", "0.0.0.0") as p:
            self.assertEqual(Raw(p.port).call("PING"), "PONG")
            other = local_non_loopback_address()
            if other:
                # The machine's own non-loopback address: the connection stays on this host.
                s = socket.create_connection((other, p.port), timeout=10)
                got = b""
                while not got.endswith(b"\r\n"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                self.assertTrue(got.startswith(b"-DENIED icproxy is running in protected mode"), got)
                self.assertEqual(s.recv(1), b"")  # and closed
                s.close()
                info = redis.Redis(port=p.port).info("stats")
                self.assertGreaterEqual(info["protected_mode_refused"], 1)
            else:
                print("no non-loopback address: DENIED is covered by test_proxy_auth only")


def local_non_loopback_address():
    """This host's outbound IPv4 address, if it has one (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            a = s.getsockname()[0]
            return None if a.startswith("127.") else a
    except OSError:
        return None


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy(*SMALL_POOL, "--requirepass", "pw", "--max-object-size", "1m",
                          "--timeout", "1", "--client-output-limit", "64k", "--max-pipeline", "8")
        cls.port = cls.proxy.port

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def authed(self, timeout=10):
        r = Raw(self.port, timeout=timeout)
        self.assertEqual(r.call("AUTH", "pw"), "OK")
        return r

    def test_oversized_bulk_answered_before_its_body(self):
        other = self.authed()
        for header in (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n",
                       b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2147483648\r\n",
                       b"*1\r\n$2147483648\r\n"):
            r = self.authed(timeout=5)
            r.s.sendall(header)  # no body byte is sent: the reply must come from the header alone
            reply = r.reply()
            self.assertIsInstance(reply, Err, header)
            self.assertTrue(reply.startswith("ERR "), reply)
            if b"SET" in header:
                self.assertIn("max-object-size", reply)
            self.assertEqual(other.call("PING"), "PONG")  # the proxy serves other clients
            r.close()
        # The body is drained, so the connection stays in sync for the next command.
        r = self.authed()
        r.s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n")
        self.assertIn("max-object-size", r.reply())
        r.s.sendall(b"y" * 1048577 + b"\r\n" + encode("SET", "k", "small") + encode("GET", "k"))
        self.assertEqual(r.reply(), "OK")
        self.assertEqual(r.reply(), b"small")
        r.close()
        other.close()

    def test_idle_client_closed_busy_client_kept(self):
        idle = self.authed()
        busy = self.authed()
        deadline = time.time() + 3.5
        while time.time() < deadline:
            self.assertEqual(busy.call("PING"), "PONG")
            time.sleep(0.2)
        self.assertTrue(idle.closed_within(5))
        self.assertEqual(busy.call("PING"), "PONG")
        unauth = Raw(self.port)
        self.assertTrue(unauth.closed_within(5))
        info = redis.Redis(port=self.port, password="pw").info("stats")
        self.assertGreaterEqual(info["idle_clients_closed"], 2)
        busy.close()

    def test_unread_replies_pause_reading(self):
        """A client that pipelines GETs of 256 KiB values and reads nothing is not read past
        client-output-limit: its commands wait in the socket, not as replies in memory."""
        r = redis.Redis(port=self.port, password="pw", socket_timeout=30)
        value = os.urandom(256 * 1024)
        for i in range(4):
            r.set("big%d" % i, value)
        before = r.info("stats")["total_commands_processed"]
        lazy = self.authed(timeout=30)
        before += 1  # its AUTH
        n = 200
        lazy.s.sendall(b"".join(encode("GET", "big%d" % (i % 4)) for i in range(n)))
        # Give the proxy time to read everything it is willing to: commands processed stop growing.
        seen = []  # GETs processed so far: the count less this test's own SETs and INFO calls

        def settled():
            seen.append(r.info("stats")["total_commands_processed"] - before - 1 - len(seen))
            return len(seen) > 20 and seen[-1] == seen[-20]
        wait_for(settled, timeout=20, interval=0.05, what="the proxy to stop reading")
        processed = seen[-1]
        self.assertLess(processed, n // 4, "a client that reads nothing got %d GETs served" % processed)
        for i in range(n):
            self.assertEqual(lazy.reply(), value)
        lazy.close()


class TimeoutWaitingTest(unittest.TestCase):
    def test_client_waiting_for_its_reply_is_not_idle(self):
        """With every node frozen, a GET waits longer than the idle timeout: its client is not
        closed, and gets its answer when the nodes come back."""
        with Proxy(*SMALL_POOL, "--timeout", "1", "--request-timeout", "5s",
                   "--invoke-retry", "0", "--ping-idle", "1h") as p:
            r = redis.Redis(port=p.port, socket_timeout=30)
            r.set("w", b"v" * 1000)
            pids = [i["pid"] for i in p.instances() if i["pid"] > 0]
            self.assertTrue(pids)
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            try:
                c = Raw(p.port, timeout=30)
                t0 = time.time()
                c.send("GET", "w")
                c.s.settimeout(2.5)
                try:
                    early = c.s.recv(1)
                except socket.timeout:
                    early = None
                self.assertIsNone(early, "the waiting client got %r (closed?) within 2.5 s" % early)
            finally:
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)
            c.s.settimeout(30)
            reply = c.reply()  # an answer, not a closed connection
            self.assertGreater(time.time() - t0, 2.0)
            self.assertTrue(reply in (b"v" * 1000, None) or isinstance(reply, Err), reply)
            c.close()


class IdleCostTest(unittest.TestCase):
    def test_thousand_idle_clients_are_cheap(self):
        with open(os.path.join(BIN, "icproxy"), "rb") as f:
            if b"__asan_init" in f.read():
                self.skipTest("memory figures of a sanitizer build say nothing about the real one")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 2200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        with Proxy(*SMALL_POOL) as p:
            def rss_kib():
                with open("/proc/%d/status" % p.proc.pid) as f:
                    return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
            warm = [Raw(p.port) for _ in range(50)]
            for w in warm:
                w.call("PING")
                w.close()
            before = rss_kib()
            clients = [Raw(p.port) for _ in range(1000)]
            for c in clients:
                self.assertEqual(c.call("PING"), "PONG")
            wait_for(lambda: redis.Redis(port=p.port).info("clients")["connected_clients"] >= 1001,
                     what="1000 clients")
            after = rss_kib()
            per = (after - before) / 1000.0
            print("1000 idle clients: RSS %d -> %d KiB, %.1f KiB each" % (before, after, per))
            self.assertLess(per, 8.0)
            for c in clients:
                c.close()


if __name__ == "__main__":
    unittest.main()
