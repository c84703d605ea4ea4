#!/usr/bin/python3
"""TLS on the client port, with Redis's option names: redis-cli and python3-redis over TLS,
large values through the TLS transport, client certificate policy (tls-auth-clients yes, no,
optional), certificates the client must refuse (unknown CA, expired), plaintext and silence on
the TLS port (closed, counted, server unharmed), and start-up errors for bad TLS settings."""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import BIN, Proxy, wait_for  # noqa: E402
from tlscerts import Pki, free_port  # noqa: E402

SMALL_POOL = ("--pool-size", "3", "--d", "2", "--p", "1", "--node-memory", "128",
              "--node-reserved", "16")


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        # Both ports: plaintext on client-port, TLS on tls-port.
        # Both ports: plaintext on a free client port (Proxy passes --client-port 0 first; a
        # later value wins), TLS on tls-port.
        args = cls.pki.proxy_args("yes")
        args[args.index("--client-port") + 1] = str(free_port())
        cls.proxy = Proxy(*SMALL_POOL, *args, "--tls-handshake-timeout", "500ms")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.pki.cleanup()

    def tls_client(self, port=None, ca="ca.crt", cert="client.crt", key="client.key"):
        p = self.pki.path
        return redis.Redis(port=port or self.proxy.tls_port, ssl=True, ssl_ca_certs=p(ca),
                           ssl_certfile=p(cert) if cert else None,
                           ssl_keyfile=p(key) if key else None, socket_timeout=30)

    def cli(self, *args, port=None, ca="ca.crt", cert="client.crt", key="client.key"):
        p = self.pki.path
        cmd = ["redis-cli", "-p", str(port or self.proxy.tls_port), "--tls", "--cacert", p(ca)]
        if cert:
            cmd += ["--cert", p(cert), "--key", p(key)]
        return subprocess.run(cmd + list(args), capture_output=True, timeout=60)

    def stat(self, name):
        plain = redis.Redis(port=self.proxy.port, ssl=False, socket_timeout=30)
        return int(plain.info("stats")[name])

    def test_both_ports_serve(self):
        self.assertNotEqual(self.proxy.port, self.proxy.tls_port)
        self.assertTrue(redis.Redis(port=self.proxy.port, ssl=False).set("plain", "p"))
        self.assertEqual(self.tls_client().get("plain"), b"p")
        info = self.tls_client().info("server")
        self.assertEqual(int(info["tls_port"]), self.proxy.tls_port)

    def test_redis_cli_roundtrip(self):
        out = self.cli("set", "cli-key", "over tls")
        self.assertEqual(out.stdout.strip(), b"OK", out.stderr)
        self.assertEqual(self.cli("get", "cli-key").stdout.strip(), b"over tls")

    def test_python_large_values(self):
        r = self.tls_client()
        for size in (1 << 20, 5 << 20, 0, 17, 65537):
            v = os.urandom(size)
            self.assertTrue(r.set("big%d" % size, v))
            self.assertEqual(r.get("big%d" % size), v, "size %d" % size)

    def test_pipelined_small_commands(self):
        """Many replies in few records, many commands per record: input that a TLS record holds
        beyond one read must not wait for an event that never comes."""
        r = self.tls_client()
        pipe = r.pipeline(transaction=False)
        for i in range(400):
            pipe.set("pl%d" % i, b"v" * (i * 37 % 3000))
        for i in range(400):
            pipe.get("pl%d" % i)
        res = pipe.execute()
        self.assertEqual(res[400:], [b"v" * (i * 37 % 3000) for i in range(400)])

    def test_command_behind_a_large_body_in_one_record(self):
        """A large SET's body is read straight into its buffer; the command that follows in the
        same TLS record stays decrypted in the TLS layer, where no socket event announces it."""
        r = self.tls_client()
        for size in (200000, (1 << 20) + 5, 3 << 20):
            v = os.urandom(size)
            pipe = r.pipeline(transaction=False)
            pipe.set("behind%d" % size, v)
            pipe.get("behind%d" % size)
            pipe.ping()
            self.assertEqual(pipe.execute(), [True, v, True])

    def test_client_refuses_unknown_ca(self):
        with self.assertRaises(redis.ConnectionError) as e:
            self.tls_client(ca="other-ca.crt").ping()
        self.assertIn("certificate verify failed", str(e.exception))
        out = self.cli("ping", ca="other-ca.crt")
        self.assertNotIn(b"PONG", out.stdout)

    def test_client_cert_from_other_ca_refused(self):
        before = self.stat("tls_handshake_failures")
        with self.assertRaises(redis.ConnectionError):
            self.tls_client(cert="other-client.crt", key="other-client.key").ping()
        wait_for(lambda: self.stat("tls_handshake_failures") > before, what="failure counted")

    def test_no_client_cert_refused_when_required(self):
        with self.assertRaises(redis.ConnectionError):
            self.tls_client(cert=None, key=None).ping()
        self.assertNotIn(b"PONG", self.cli("ping", cert=None).stdout)

    def test_plaintext_to_tls_port(self):
        before = self.stat("tls_handshake_failures")
        s = socket.create_connection(("127.0.0.1", self.proxy.tls_port), timeout=10)
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        data = b""
        while True:  # the server closes; whatever it sends is a TLS alert, never PONG
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertNotIn(b"PONG", data)
        wait_for(lambda: self.stat("tls_handshake_failures") > before, what="failure counted")
        self.assertEqual(self.tls_client().ping(), True)

    def test_silent_client_is_closed_after_handshake_timeout(self):
        before = self.stat("tls_handshake_failures")
        s = socket.create_connection(("127.0.0.1", self.proxy.tls_port), timeout=10)
        t0 = time.time()
        self.assertEqual(s.recv(1), b"")  # closed by the server, no bytes
        self.assertLess(time.time() - t0, 8)
        s.close()
        wait_for(lambda: self.stat("tls_handshake_failures") > before, what="timeout counted")

    def test_server_prefers_aes_128_gcm(self):
        """The proxy applies its own suite order (tls-ciphersuites): a client that lists
        AES-256-GCM first still gets AES-128-GCM, the faster of the two here."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.pki.path("ca.crt"))
        ctx.load_cert_chain(self.pki.path("client.crt"), self.pki.path("client.key"))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        with socket.create_connection(("127.0.0.1", self.proxy.tls_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                self.assertEqual(s.cipher()[0], "TLS_AES_128_GCM_SHA256", s.cipher())

    def test_tls_1_1_refused(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.pki.path("ca.crt"))
        ctx.load_cert_chain(self.pki.path("client.crt"), self.pki.path("client.key"))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        except ValueError:
            self.skipTest("this Python cannot offer TLS 1.1")
        with socket.create_connection(("127.0.0.1", self.proxy.tls_port), timeout=10) as raw:
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                ctx.wrap_socket(raw, server_hostname="127.0.0.1").do_handshake()


class LibraryTlsTest(unittest.TestCase):
    """The C library (through iccli) over TLS: ICSET/ICGET bodies through the TLS transport at
    both ends, certificate and host checks with clear errors."""

    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        cls.proxy = Proxy("--pool-size", "6", "--d", "4", "--p", "2", "--node-memory", "256",
                          "--node-reserved", "16", *cls.pki.proxy_args("yes"))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.pki.cleanup()

    def iccli(self, *args, host="127.0.0.1", ca="ca.crt", port=None, stdin=None):
        p = self.pki.path
        cmd = [os.path.join(BIN, "iccli"), "--proxy", "%s:%d" % (host, port or self.proxy.port),
               "--d", "4", "--p", "2", "--timeout", "20000", "--tls", "--cacert", p(ca),
               "--cert", p("client.crt"), "--key", p("client.key")]
        return subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=120)

    def test_roundtrip_sizes(self):
        """10 MiB and more: several chunk bodies per ICSET arrive in one TLS record with the next
        chunk's header, which stays in the TLS layer after the body is relayed to its node."""
        for size in (0, 1000, 200003, (10 << 20) + 7, 23 << 20):
            v = os.urandom(size)
            out = self.iccli("set", "lib%d" % size, "-", stdin=v)
            self.assertEqual(out.returncode, 0, out.stderr)
            out = self.iccli("get", "lib%d" % size, "-")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout, v, "size %d" % size)
        self.assertEqual(self.iccli("exists", "lib1000", host="localhost").returncode, 0)
        self.assertEqual(self.iccli("del", "lib1000").returncode, 0)
        self.assertEqual(self.iccli("get", "lib1000", "-").returncode, 1)

    def test_wrong_ca_is_a_clear_error(self):
        out = self.iccli("get", "x", "-", ca="other-ca.crt")
        self.assertEqual(out.returncode, 2)
        self.assertIn(b"certificate verify failed", out.stderr)
        out = self.iccli("get", "x", "-", ca="missing.crt")
        self.assertEqual(out.returncode, 2)
        self.assertIn(b"cannot load CA bundle", out.stderr)

    def test_plaintext_library_to_tls_port_fails(self):
        out = subprocess.run([os.path.join(BIN, "iccli"), "--proxy", "127.0.0.1:%d" % self.proxy.port,
                              "--timeout", "3000", "get", "x", "-"], capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 2)

    def test_host_must_match_the_certificate(self):
        args = self.pki.proxy_args("no")
        args[args.index("--tls-cert-file") + 1] = self.pki.path("othername-server.crt")
        args[args.index("--tls-key-file") + 1] = self.pki.path("othername-server.key")
        with Proxy(*SMALL_POOL, *args) as px:
            out = self.iccli("exists", "k", port=px.port)
            self.assertEqual(out.returncode, 2)
            self.assertIn(b"IP address mismatch", out.stderr)
            out = self.iccli("exists", "k", port=px.port, host="localhost")
            self.assertIn(b"hostname mismatch", out.stderr)


class NodeTlsTest(unittest.TestCase):
    """node-tls yes: nodes dial the proxy with TLS, verify it against IC_NODE_TLS_CA (given to
    them through the environment the embedded platform passes on), and refuse otherwise."""

    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()

    @classmethod
    def tearDownClass(cls):
        cls.pki.cleanup()

    def start(self, ca, *extra, ready_timeout=20.0):
        env = dict(os.environ)
        env.pop("IC_NODE_TLS_CA", None)
        if ca:
            env["IC_NODE_TLS_CA"] = self.pki.path(ca)
        p = self.pki.path
        self.log = tempfile.NamedTemporaryFile(prefix="ictls-log")
        self.addCleanup(self.log.close)
        return Proxy("--pool-size", "6", "--d", "4", "--p", "2", "--node-memory", "256",
                     "--node-reserved", "16", "--node-tls", "yes",
                     "--tls-cert-file", p("server.crt"), "--tls-key-file", p("server.key"),
                     *extra, env=env, stderr=self.log, ready_timeout=ready_timeout,
                     harness_tls=False)

    def logs(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def test_roundtrip_over_node_tls(self):
        with self.start("ca.crt") as px:
            r = redis.Redis(port=px.port, ssl=False, socket_timeout=30)
            for size in (10, 70000, 5 << 20):
                v = os.urandom(size)
                self.assertTrue(r.set("n%d" % size, v))
                self.assertEqual(r.get("n%d" % size), v, "size %d" % size)
            # ICSET/ICGET: chunk bodies relayed between a plaintext client and TLS nodes.
            v = os.urandom((12 << 20) + 1)
            cli = [os.path.join(BIN, "iccli"), "--proxy", "127.0.0.1:%d" % px.port, "--d", "4",
                   "--p", "2", "--timeout", "20000"]
            out = subprocess.run(cli + ["set", "lib", "-"], input=v, capture_output=True,
                                 timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            out = subprocess.run(cli + ["get", "lib", "-"], capture_output=True, timeout=120)
            self.assertEqual(out.stdout, v)
            self.assertGreaterEqual(int(r.info("stats")["tls_connections"]), 6)
            self.assertEqual(int(r.info("stats")["tls_handshake_failures"]), 0)

    def test_backup_relay_speaks_tls_only(self):
        """With node-tls the relay port is TLS only, like the node port: backups (source and
        peer both dial it with TLS) succeed, a plaintext caller gets no challenge
        and counts as a failed handshake, and a TLS caller gets its challenge inside TLS."""
        with self.start("ca.crt", "--backup-interval", "300ms") as px:
            r = redis.Redis(port=px.port, ssl=False, socket_timeout=30)
            vals = {"b%d" % i: os.urandom(100000 + i) for i in range(8)}
            for k, v in vals.items():
                self.assertTrue(r.set(k, v))
            wait_for(lambda: int(r.info("all")["backups_ok"]) >= 6, timeout=30,
                     what="backups over the TLS relay")
            self.assertNotIn("relay_tls_failed", self.logs())
            failures = int(r.info("stats")["tls_handshake_failures"])

            with socket.create_connection(("127.0.0.1", px.relay_port), timeout=5) as s:
                s.sendall(b"*4\r\n$5\r\nRELAY\r\n$1\r\nt\r\n$4\r\npeer\r\n$1\r\nx\r\n")
                got = b""
                try:
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        got += chunk
                except (ConnectionResetError, socket.timeout):
                    pass
                self.assertNotIn(b"CHALLENGE", got)
            wait_for(lambda: int(r.info("stats")["tls_handshake_failures"]) > failures,
                     what="the plaintext relay caller counted")

            ctx = ssl.create_default_context(cafile=self.pki.path("ca.crt"))
            with socket.create_connection(("127.0.0.1", px.relay_port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    got = b""
                    while got.count(b"\r\n") < 5:
                        chunk = s.recv(256)
                        self.assertTrue(chunk, "closed before the challenge")
                        got += chunk
                    self.assertRegex(got, rb"^\*2\r\n\$9\r\nCHALLENGE\r\n\$32\r\n[0-9a-f]{32}\r\n$")

            # The restore from such a backup (every primary killed) is e2e_backup's, which
            # `make test-secure` runs with node-tls on.
            for k, v in vals.items():
                self.assertEqual(r.get(k), v, k)

    def test_node_without_a_ca_refuses_to_dial(self):
        with self.start(None, "--ready-timeout", "1s", "--node-connect-timeout", "1s") as px:
            r = redis.Redis(port=px.port, ssl=False, socket_timeout=30)
            with self.assertRaises(redis.ResponseError):
                r.set("k", "v")
            wait_for(lambda: "Node.TlsNotConfigured" in self.logs(), what="the node's error")
            self.assertIn("IC_NODE_TLS_CA", self.logs())

    def test_node_with_another_ca_refuses_the_proxy(self):
        with self.start("other-ca.crt", "--ready-timeout", "1s",
                        "--node-connect-timeout", "1s") as px:
            r = redis.Redis(port=px.port, ssl=False, socket_timeout=30)
            with self.assertRaises(redis.ResponseError):
                r.set("k", "v")
            wait_for(lambda: "proxy_tls_failed" in self.logs(), what="the node's refusal")
            self.assertRegex(self.logs(), r"proxy_tls_failed .*certificate verify failed")

    def test_plaintext_node_event_field(self):
        """Without node-tls the event has no "tls" field and nodes dial plaintext, even with a CA
        in their environment."""
        env = dict(os.environ, IC_NODE_TLS_CA=self.pki.path("ca.crt"))
        with Proxy("--pool-size", "3", "--d", "2", "--p", "1", "--node-memory", "128",
                   "--node-reserved", "16", env=env, harness_tls=False) as px:
            r = redis.Redis(port=px.port, ssl=False, socket_timeout=30)
            self.assertTrue(r.set("k", "v"))
            self.assertEqual(int(r.info("stats")["tls_connections"]), 0)


class TlsAuthModesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()

    @classmethod
    def tearDownClass(cls):
        cls.pki.cleanup()

    def client(self, port, cert):
        p = self.pki.path
        return redis.Redis(port=port, ssl=True, ssl_ca_certs=p("ca.crt"),
                           ssl_certfile=p(cert + ".crt") if cert else None,
                           ssl_keyfile=p(cert + ".key") if cert else None, socket_timeout=30)

    def test_auth_no_and_optional(self):
        for mode in ("no", "optional"):
            with Proxy(*SMALL_POOL, *self.pki.proxy_args(mode)) as px:
                # TLS only: the banner's client port is the TLS port, no plaintext listener.
                self.assertEqual(px.port, px.tls_port)
                r = self.client(px.port, None)
                self.assertTrue(r.set("k", "v"), mode)
                self.assertEqual(r.get("k"), b"v")
                self.assertEqual(self.client(px.port, "client").get("k"), b"v")
                if mode == "optional":  # presented, so verified: another CA's is refused
                    with self.assertRaises(redis.ConnectionError):
                        self.client(px.port, "other-client").ping()
                else:
                    self.assertTrue(self.client(px.port, "other-client").ping())
                # No plaintext port at all.
                self.assertEqual(int(r.info("server")["tls_port"]), px.port)
                self.assertEqual(int(r.info("server")["tcp_port"]), 0)

    def test_expired_server_certificate_refused(self):
        args = self.pki.proxy_args("no")
        args[args.index("--tls-cert-file") + 1] = self.pki.path("expired-server.crt")
        args[args.index("--tls-key-file") + 1] = self.pki.path("expired-server.key")
        with Proxy(*SMALL_POOL, *args) as px:
            with self.assertRaises(redis.ConnectionError) as e:
                self.client(px.port, None).ping()
            self.assertIn("expired", str(e.exception))

    def test_bad_settings_stop_start_up(self):
        p = self.pki.path
        cases = [
            (["--tls-port", str(free_port())], "certificate"),
            (["--tls-port", str(free_port()), "--tls-cert-file", p("server.crt"),
              "--tls-key-file", p("client.key"), "--tls-auth-clients", "no"], "mismatch"),
            (["--tls-port", str(free_port()), "--tls-cert-file", p("server.crt"),
              "--tls-key-file", p("server.key")], "CA"),
            (["--tls-port", str(free_port()), "--tls-cert-file", p("server.crt"),
              "--tls-key-file", p("server.key"), "--tls-auth-clients", "maybe"], "maybe"),
            (["--tls-port", str(free_port()), "--tls-cert-file", p("nope.crt"),
              "--tls-key-file", p("server.key"), "--tls-auth-clients", "no"], "nope.crt"),
            (["--tls-port", str(free_port()), "--tls-cert-file", p("server.crt"),
              "--tls-key-file", p("server.key"), "--tls-auth-clients", "no",
              "--tls-ciphersuites", "TLS_NO_SUCH_SUITE"], "tls-ciphersuites"),
        ]
        for args, needle in cases:
            out = subprocess.run([os.path.join(BIN, "icproxy"), "--client-port", "0",
                                  "--node-port", "0", "--relay-port", "0", *args],
                                 capture_output=True, timeout=30)
            self.assertEqual(out.returncode, 2, (args, out.stderr))
            self.assertIn(needle, out.stderr.decode(), args)


if __name__ == "__main__":
    unittest.main()
