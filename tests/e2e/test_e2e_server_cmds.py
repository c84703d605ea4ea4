#!/usr/bin/python3
"""Connection and server commands against redis-server 7 in the same run: inline commands, HELLO
2/3 and RESP3 replies, CLIENT, RESET, CONFIG GET/SET/RESETSTAT/REWRITE, INFO sections, COMMAND
GETKEYS, TIME, WAIT, SELECT. Each exchange is sent as the same bytes to icproxy and to
redis-server and the raw replies compared byte for byte, after masking what differs by nature
(versions, ids, ports, clocks)."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import PASSWORD, Proxy, Raw, RedisServer, encode, skip_if_tls  # noqa: E402
from testlib import wait_for  # noqa: E402

POOL = ("--pool-size", "4", "--d", "2", "--p", "1", "--node-memory", "128", "--node-reserved", "16")
END = b"__end_of_exchange__"


class Session:
    """A raw connection: bytes in, every reply byte out up to a sentinel ECHO."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if PASSWORD:
            self.exchange(encode("AUTH", PASSWORD))

    def exchange(self, data):
        self.s.sendall(data + encode("ECHO", END))
        tail = b"$%d\r\n%s\r\n" % (len(END), END)
        out = b""
        while not out.endswith(tail):
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("closed after %r" % out)
            out += chunk
        return out[:-len(tail)]

    def until_closed(self, data):
        """Sends data and reads to the end of the connection (a protocol error closes it)."""
        self.s.sendall(data)
        out = b""
        while True:
            chunk = self.s.recv(65536)
            if not chunk:
                return out
            out += chunk

    def close(self):
        self.s.close()


MASKS = [
    (rb"\$\d+\r\n7\.0\.\d+\r\n", b"$V\r\nVERSION\r\n"),
    (rb"(\$2\r\nid\r\n):\d+", rb"\1:ID"),
    (rb"\$(\d+)\r\n(\d{10})\r\n\$(\d+)\r\n(\d+)\r\n", b"$S\r\nSECONDS\r\n$U\r\nMICROS\r\n"),
]


def mask(b):
    for pattern, repl in MASKS:
        b = re.sub(pattern, repl, b)
    return b


@skip_if_tls
class ServerCommandsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="icservercmds-")
        cls.conf = os.path.join(cls.dir.name, "icproxy.conf")
        with open(cls.conf, "w") as f:
            f.write("# kept by CONFIG REWRITE\ntimeout 0\n\nmax-pipeline 100\nmax-pipeline 99\n")
        cls.proxy = Proxy("--config", cls.conf, *POOL)
        cls.redis = RedisServer(*(("--requirepass", PASSWORD) if PASSWORD else ()))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.redis.stop()
        cls.dir.cleanup()

    def both(self, data, masked=True):
        """The replies of icproxy and redis-server to the same bytes on fresh connections."""
        out = []
        for port in (self.proxy.port, self.redis.port):
            s = Session(port)
            try:
                out.append(s.exchange(data))
            finally:
                s.close()
        return [mask(x) for x in out] if masked else out

    def same(self, data):
        ours, theirs = self.both(data)
        self.assertEqual(ours, theirs, data)
        return ours

    # ---- inline commands ----

    def test_inline_commands_split_as_redis(self):
        self.same(b"PING\r\nPING hello\n  ECHO   \"a b\\x41\\n\\t\"  \r\n")
        self.same(b"ECHO 'it\\'s'\r\nECHO \"\"\r\nECHO \"q\\\"q\"\r\n\r\n\r\nPING\r\n")
        self.same(b"SET \"k 1\" 'v 1'\r\nGET \"k 1\"\r\nDEL \"k 1\"\r\n")
        self.same(b"ECHO\r\nNOSUCHCOMMAND a 'b c'\r\n")

    def test_inline_protocol_errors_close_the_connection(self):
        for data in (b"ECHO \"abc\"d\r\n", b"ECHO 'abc\r\n", b"ECHO \"abc\r\nPING\r\n",
                     b"x" * (64 * 1024 + 10)):
            got = []
            for port in (self.proxy.port, self.redis.port):
                s = Session(port)
                try:
                    got.append(s.until_closed(data))
                finally:
                    s.close()
            self.assertEqual(got[0], got[1], data[:40])
            self.assertTrue(got[0].startswith(b"-ERR Protocol error: "), got[0])

    def test_inline_with_nc_style_session(self):
        s = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=10)
        try:
            if PASSWORD:
                s.sendall(b"AUTH %s\n" % PASSWORD.encode())
            s.sendall(b"SET greeting \"hello world\"\nGET greeting\n")
            want = (b"+OK\r\n" if PASSWORD else b"") + b"+OK\r\n$11\r\nhello world\r\n"
            got = b""
            while len(got) < len(want):
                got += s.recv(4096)
            self.assertEqual(got, want)
        finally:
            s.close()

    # ---- HELLO and RESP3 ----

    def test_hello_and_resp3_replies(self):
        self.same(b"HELLO 3\r\n")
        self.same(b"HELLO 2\r\n")
        self.same(b"HELLO 4\r\nHELLO x\r\nHELLO 3 FOO\r\nHELLO 3 SETNAME \"a b\"\r\n")
        # Every reply type after HELLO 3: maps, nulls (_), verbatim INFO-like strings, sets.
        self.same(b"HELLO 3\r\nGET nosuchkey\r\nCLIENT GETNAME\r\nCONFIG GET protected-mode\r\n"
                  b"COMMAND GETKEYS get k\r\nWAIT 0 0\r\nCOMMAND DOCS nosuchcommand\r\n"
                  b"CLIENT SETNAME n1\r\nCLIENT GETNAME\r\nHELLO 2\r\nGET nosuchkey\r\n")
        ours, theirs = self.both(b"HELLO 3\r\nCLIENT INFO\r\nINFO replication\r\n")
        for reply in (ours, theirs):
            self.assertIn(b"=", reply)
            self.assertIn(b"txt:id=", reply)
            self.assertIn(b"txt:# Replication\r\nrole:master\r\n", reply)
        ours, theirs = self.both(b"HELLO 3\r\nCOMMAND INFO get\r\n")
        self.assertIn(b"~", ours)

    def test_reset(self):
        self.same(b"HELLO 3 SETNAME x\r\nRESET\r\nCLIENT GETNAME\r\nGET nosuchkey\r\n")

    def test_reset_asks_for_auth_again(self):
        with Proxy("--requirepass", "pw", *POOL) as p:
            r = Raw(p.port)
            try:
                self.assertEqual(r.call("AUTH", "pw"), "OK")
                self.assertEqual(r.call("PING"), "PONG")
                self.assertEqual(r.call("RESET"), "RESET")
                self.assertTrue(r.call("PING").startswith("NOAUTH"))
            finally:
                r.close()

    # ---- CLIENT ----

    def test_client_errors_as_redis(self):
        self.same(b"CLIENT SETNAME\r\nCLIENT SETNAME \"a b\"\r\nCLIENT FOO\r\nCLIENT LIST TYPE x\r\n"
                  b"CLIENT KILL 1.2.3.4:5\r\nCLIENT KILL ID 0\r\nCLIENT KILL ID 999999\r\n"
                  b"CLIENT KILL ADDR 1.2.3.4:5 SKIPME maybe\r\nCLIENT KILL FOO bar\r\n"
                  b"CLIENT KILL USER nosuchuser\r\nCLIENT NO-EVICT maybe\r\nCLIENT NO-EVICT on\r\n"
                  b"CLIENT LIST ID abc\r\nCLIENT LIST ID 999999\r\nCLIENT GETNAME\r\n"
                  b"CLIENT SETNAME n\r\nCLIENT GETNAME\r\nCLIENT SETNAME \"\"\r\nCLIENT GETNAME\r\n"
                  b"CLIENT ID x\r\n")

    def test_client_list_fields_in_redis_order(self):
        def fields(port):
            r = Raw(port)
            try:
                if PASSWORD:
                    r.call("AUTH", PASSWORD)
                r.call("CLIENT", "SETNAME", "lister")
                line = r.call("CLIENT", "INFO").decode()
                listed = r.call("CLIENT", "LIST", "ID", r.call("CLIENT", "ID")).decode()
                # The same line but for the command that asked and its memory.
                drop = re.compile(r"(argv-mem|cmd|qbuf|qbuf-free|tot-mem|omem|obl|oll|events)=\S+ ")
                self.assertEqual(drop.sub("", line), drop.sub("", listed))
                return [kv.split("=", 1) for kv in line.split()]
            finally:
                r.close()
        ours, theirs = fields(self.proxy.port), fields(self.redis.port)
        their_names = [k for k, _ in theirs]
        # Redis 7.2 adds lib-name and lib-ver at the end; the rest as redis-server 7.0.
        self.assertEqual([k for k, _ in ours if k not in ("lib-name", "lib-ver")], their_names)
        ours, theirs = dict(ours), dict(theirs)
        for k in ("name", "db", "flags", "sub", "psub", "multi", "cmd", "user", "redir", "resp"):
            self.assertEqual(ours[k], theirs[k], k)

    def test_client_kill_and_id(self):
        victim, killer = Raw(self.proxy.port), Raw(self.proxy.port)
        try:
            if PASSWORD:
                victim.call("AUTH", PASSWORD)
                killer.call("AUTH", PASSWORD)
            vid = victim.call("CLIENT", "ID")
            self.assertEqual(killer.call("CLIENT", "KILL", "ID", vid), 1)
            self.assertTrue(victim.closed_within(5))
            self.assertEqual(killer.call("CLIENT", "KILL", "ID", vid), 0)
            # The old form by address; SKIPME no kills the caller after its reply.
            other = Raw(self.proxy.port)
            if PASSWORD:
                other.call("AUTH", PASSWORD)
            other.call("PING")  # accepted by now
            host, port = other.s.getsockname()
            self.assertEqual(killer.call("CLIENT", "KILL", "%s:%d" % (host, port)), "OK")
            self.assertTrue(other.closed_within(5))
            kid = killer.call("CLIENT", "ID")
            self.assertEqual(killer.call("CLIENT", "KILL", "ID", kid, "SKIPME", "no"), 1)
            self.assertTrue(killer.closed_within(5))
        finally:
            victim.close()
            killer.close()

    # ---- CONFIG ----

    def test_config_errors_as_redis(self):
        self.same(b"CONFIG SET timeout\r\nCONFIG SET timeout 1 timeout 2\r\nCONFIG SET nosuch 1\r\n"
                  b"CONFIG SET timeout abc\r\nCONFIG SET protected-mode maybe\r\nCONFIG FOO\r\n"
                  b"CONFIG GET\r\nCONFIG GET nosuch*\r\nCONFIG GET timeout\r\nCONFIG GET TIMEOUT\r\n"
                  b"CONFIG RESETSTAT\r\n")
        # Atomic: one bad pair and nothing changes.
        self.same(b"CONFIG SET timeout 7 protected-mode maybe\r\nCONFIG GET timeout\r\n")
        with Proxy(*POOL) as p:
            s = Session(p.port)
            try:
                self.assertEqual(s.exchange(b"CONFIG REWRITE\r\n"),
                                 b"-ERR The server is running without a config file\r\n")
                self.assertIn(b"can't set immutable config",
                              s.exchange(encode("CONFIG", "SET", "pool-size", "8")))
            finally:
                s.close()

    def test_config_get_globs_and_set_effects(self):
        r = Raw(self.proxy.port)
        try:
            if PASSWORD:
                r.call("AUTH", PASSWORD)
            got = r.call("CONFIG", "GET", "max-*", "timeout")
            pairs = dict(zip(got[::2], got[1::2]))
            self.assertEqual(set(pairs), {b"max-object-size", b"max-clients", b"max-pipeline",
                                          b"max-instances", b"timeout"})
            self.assertEqual(r.call("CONFIG", "SET", "timeout", "1", "max-clients", "500"), "OK")
            self.assertEqual(r.call("CONFIG", "GET", "max-clients"), [b"max-clients", b"500"])
            self.assertTrue(r.closed_within(10), "timeout 1 closes an idle client")
        finally:
            r.close()
        r = Raw(self.proxy.port)
        try:
            if PASSWORD:
                r.call("AUTH", PASSWORD)
            self.assertEqual(r.call("CONFIG", "SET", "timeout", "0", "max-clients", "10000"), "OK")
            r.call("PING")
            r.call("CONFIG", "RESETSTAT")
            stats = r.call("INFO", "stats").decode()
            self.assertIn("total_commands_processed:1\r\n", stats)
        finally:
            r.close()

    @unittest.skipIf(PASSWORD, "sets its own password")
    def test_config_set_requirepass(self):
        with Proxy(*POOL) as p:
            r = Raw(p.port)
            try:
                self.assertEqual(r.call("CONFIG", "SET", "requirepass", "s3cret"), "OK")
                self.assertEqual(r.call("PING"), "PONG")  # stays authenticated, as on Redis
                fresh = Raw(p.port)
                self.assertTrue(fresh.call("PING").startswith("NOAUTH"))
                self.assertEqual(fresh.call("AUTH", "s3cret"), "OK")
                fresh.close()
                self.assertEqual(r.call("CONFIG", "SET", "requirepass", ""), "OK")
                fresh = Raw(p.port)
                self.assertEqual(fresh.call("PING"), "PONG")
                fresh.close()
            finally:
                r.close()

    def test_config_rewrite_round_trip(self):
        r = Raw(self.proxy.port)
        try:
            if PASSWORD:
                r.call("AUTH", PASSWORD)
            self.assertEqual(r.call("CONFIG", "SET", "max-pipeline", "77", "log-level", "warn"), "OK")
            self.assertEqual(r.call("CONFIG", "REWRITE"), "OK")
            with open(self.conf) as f:
                text = f.read()
            self.assertIn("# kept by CONFIG REWRITE\n", text)
            self.assertIn("\nmax-pipeline 77\n", text)
            self.assertEqual(text.count("max-pipeline"), 1, text)
            self.assertIn("\nlog-level warn\n", text)
            r.call("CONFIG", "SET", "log-level", "info")
        finally:
            r.close()
        # The rewritten file starts a proxy with the same values.
        with Proxy("--config", self.conf, *POOL) as p:
            q = Raw(p.port)
            if PASSWORD:
                q.call("AUTH", PASSWORD)
            self.assertEqual(q.call("CONFIG", "GET", "max-pipeline"), [b"max-pipeline", b"77"])
            q.close()

    @unittest.skipIf(PASSWORD, "sets its own password")
    def test_config_rewrite_keeps_a_password_given_at_start(self):
        with tempfile.TemporaryDirectory(prefix="icrewrite-") as d:
            conf = os.path.join(d, "icproxy.conf")
            with open(conf, "w") as f:
                f.write("requirepass filepw\n")
            with Proxy("--config", conf, *POOL) as p:
                r = Raw(p.port)
                self.assertEqual(r.call("AUTH", "filepw"), "OK")
                self.assertEqual(r.call("CONFIG", "GET", "requirepass"), [b"requirepass", b""])
                self.assertEqual(r.call("CONFIG", "SET", "timeout", "9"), "OK")
                self.assertEqual(r.call("CONFIG", "REWRITE"), "OK")
                r.close()
            with open(conf) as f:
                text = f.read()
            self.assertIn("requirepass filepw\n", text)
            self.assertIn("timeout 9\n", text)

    # ---- INFO, COMMAND GETKEYS, TIME, WAIT, SELECT ----

    def test_info_sections(self):
        r = Raw(self.proxy.port)
        try:
            if PASSWORD:
                r.call("AUTH", PASSWORD)
            default = r.call("INFO").decode()
            for header in ("# Server", "# Clients", "# Memory", "# Persistence", "# Stats",
                           "# Replication", "# CPU", "# Pool", "# Lifecycle"):
                self.assertIn(header + "\r\n", default)
            self.assertNotIn("# Latencystats", default)
            self.assertIn("# Latencystats", r.call("INFO", "all").decode())
            self.assertIn("# Latencystats", r.call("INFO", "everything").decode())
            two = r.call("INFO", "server", "CPU").decode()
            self.assertEqual(re.findall(r"^# (\w+)", two, re.M), ["Server", "CPU"])
            self.assertIn("redis_version:7.", two)
            self.assertIn("role:master\r\n", r.call("INFO", "replication").decode())
            sections = re.compile(r"^# (\w+)", re.M)
            self.assertEqual(sections.findall(r.call("INFO", "default").decode()),
                             sections.findall(default))
        finally:
            r.close()
        self.same(b"INFO nosuchsection\r\n")

    def test_getkeys_time_wait_select(self):
        self.same(b"COMMAND GETKEYS get k\r\nCOMMAND GETKEYS del a b c\r\nCOMMAND GETKEYS ping x\r\n"
                  b"COMMAND GETKEYS nosuch a\r\nCOMMAND GETKEYS get\r\nCOMMAND GETKEYS get a b\r\n"
                  b"COMMAND GETKEYS\r\n")
        self.same(b"TIME\r\nTIME x\r\nWAIT 0 0\r\nWAIT 1 -1\r\nWAIT x 0\r\nWAIT 0 x\r\n"
                  b"SELECT 0\r\nSELECT x\r\n")
        ours, _ = self.both(b"SELECT 1\r\n")
        self.assertEqual(ours, b"-ERR DB index is out of range\r\n")

    # ---- SLOWLOG, LATENCY, MONITOR ----

    def test_slowlog_and_latency_as_redis(self):
        self.same(b"SLOWLOG GET x\r\nSLOWLOG GET -2\r\nSLOWLOG FOO\r\nSLOWLOG LEN x\r\n"
                  b"SLOWLOG RESET\r\nSLOWLOG GET 0\r\nCONFIG GET slowlog-max-len\r\n"
                  b"CONFIG GET slowlog-log-slower-than\r\nLATENCY HISTORY nosuchevent\r\n"
                  b"CONFIG GET latency-monitor-threshold\r\n")
        masked = []
        for port in (self.proxy.port, self.redis.port):
            s = Session(port)
            try:
                s.exchange(b"SLOWLOG RESET\r\nCONFIG SET slowlog-log-slower-than 0\r\n")
                s.exchange(b"CLIENT SETNAME slow\r\nECHO " + b"x" * 200 + b"\r\nAUTH a b\r\n")
                out = s.exchange(b"SLOWLOG GET 3\r\nSLOWLOG LEN\r\n")
                s.exchange(b"CONFIG SET slowlog-log-slower-than 10000\r\nSLOWLOG RESET\r\n")
            finally:
                s.close()
            out = re.sub(rb":\d+\r\n", b":N\r\n", out)
            masked.append(re.sub(rb"\$\d+\r\n127\.0\.0\.1:\d+", b"$P\r\nPEER", out))
        self.assertEqual(masked[0], masked[1])
        self.assertIn(b"... (72 more bytes)", masked[0])
        self.assertIn(b"(redacted)", masked[0])

    def test_monitor_streams_commands_as_redis(self):
        lines = []
        for port in (self.proxy.port, self.redis.port):
            m = Session(port)
            try:
                m.s.sendall(b"MONITOR\r\n")
                ok = b""
                while len(ok) < 5:
                    ok += m.s.recv(5 - len(ok))
                self.assertEqual(ok, b"+OK\r\n")
                s = Session(port)
                s.exchange(encode("SET", "mon key", b"v\x01\"\n") + encode("GET", "mon key") +
                           encode("AUTH", "user", "secret") + encode("DEL", "mon key"))
                s.close()
                got = b""
                while got.count(b"\r\n") < (6 if PASSWORD else 5):
                    got += m.s.recv(65536)
            finally:
                m.close()
            got = re.sub(rb"\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\]", b"+T [0 PEER]", got)
            # The sessions' own AUTH (IC_TEST_PASSWORD) and sentinel ECHOs are not compared.
            lines.append([x for x in got.split(b"\r\n")
                          if b'"ECHO"' not in x and (b'"AUTH"' not in x or b'"user"' in x or
                                                     b"(redacted)" in x)])
        self.assertEqual(lines[0], lines[1])
        self.assertIn(b'+T [0 PEER] "SET" "mon key" "v\\x01\\"\\n"', lines[0])
        self.assertIn(b'+T [0 PEER] "AUTH" "(redacted)" "(redacted)"', lines[0])
        self.assertNotIn(b"secret", b"".join(lines[0]))

    def test_redis_cli_stat(self):
        args = ["redis-cli", "-p", str(self.proxy.port), "--stat", "-i", "0.2"]
        if PASSWORD:
            args[1:1] = ["-a", PASSWORD, "--no-auth-warning"]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out = b""
            deadline = time.time() + 10
            while out.count(b"\n") < 4 and time.time() < deadline:
                out += os.read(proc.stdout.fileno(), 4096)
        finally:
            proc.kill()
            proc.wait()
        self.assertIn(b"keys", out)
        self.assertNotIn(b"ERR", out)


if __name__ == "__main__":
    unittest.main()
