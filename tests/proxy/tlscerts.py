"""tlscerts.py -- throwaway PKI for TLS tests, made with the openssl command line in a temporary
directory: a CA, a server certificate for 127.0.0.1 and localhost, client certificates, and a
second CA that nobody trusts."""
import os
import sys
import socket
import subprocess
import tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import free_port  # noqa: E402,F401  (shared by every test; re-exported)


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Pki:
    """Files: ca.crt, server.crt/key, client.crt/key (signed by the CA), other-ca.crt,
    other-client.crt/key (signed by the other CA), expired-server.crt/key, and
    othername-server.crt/key (valid, but for other.invalid only)."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ictls")
        d = self.dir = self.tmp.name
        for ca in ("ca", "other-ca"):
            _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", ca + ".key", "-out", ca + ".crt", "-days", "2",
                 "-subj", "/CN=InfiniCache test " + ca, cwd=d)
        with open(os.path.join(d, "server.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth\n")
        with open(os.path.join(d, "client.ext"), "w") as f:
            f.write("extendedKeyUsage=clientAuth\n")
        with open(os.path.join(d, "othername.ext"), "w") as f:
            f.write("subjectAltName=DNS:other.invalid\nextendedKeyUsage=serverAuth\n")
        self._leaf("server", "ca", "server.ext")
        self._leaf("othername-server", "ca", "othername.ext")
        self._leaf("client", "ca", "client.ext")
        self._leaf("other-client", "other-ca", "client.ext")
        # Valid from 2000 to 2001: expired, though signed by the trusted CA.
        self._leaf("expired-server", "ca", "server.ext", dates=("20000101000000Z", "20010101000000Z"))

    def _leaf(self, name, ca, ext, dates=None):
        d = self.dir
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
        if dates:
            # `openssl ca` is the tool that takes explicit validity dates.
            os.makedirs(os.path.join(d, "db"), exist_ok=True)
            open(os.path.join(d, "db", "index.txt"), "w").close()
            with open(os.path.join(d, "ca.cnf"), "w") as f:
                f.write("[ca]\ndefault_ca=c\n[c]\ndatabase=db/index.txt\nnew_certs_dir=db\n"
                        "serial=db/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n"
                        "[p]\ncommonName=supplied\n")
            with open(os.path.join(d, "db", "serial"), "w") as f:
                f.write("1000\n")
            _run("ca", "-batch", "-config", "ca.cnf", "-cert", ca + ".crt", "-keyfile", ca + ".key",
                 "-in", name + ".csr", "-out", name + ".crt", "-startdate", dates[0],
                 "-enddate", dates[1], "-extfile", ext, "-notext", cwd=d)
        else:
            _run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
                 "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", ext, cwd=d)

    def path(self, name):
        return os.path.join(self.dir, name)

    def proxy_args(self, auth="yes"):
        """icproxy options for a TLS-only client port on a free port."""
        return ["--tls-port", str(free_port()), "--client-port", "0",
                "--tls-cert-file", self.path("server.crt"), "--tls-key-file", self.path("server.key"),
                "--tls-ca-cert-file", self.path("ca.crt"), "--tls-auth-clients", auth]

    def cleanup(self):
        self.tmp.cleanup()
