"""backingtest.py -- the backing-store tests' helpers: s3rver (an S3-compatible store from the npm
registry, installed by scripts/install-deps.sh into tools/s3rver) on a free loopback port with
a bucket, the AWS CLI pointed at it, the proxy's options for it, and a forwarder in front of it
that fails chosen requests (a store that drops one request of many)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import http.client
import http.server

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import free_port, stop_process, wait_for  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
S3RVER = os.path.join(ROOT, "tools", "s3rver", "node_modules", "s3rver", "bin", "s3rver.js")
BUCKET = "icbacking"
# s3rver's default keys: the proxy finds them in its environment, as it would real ones.
ENV = dict(os.environ, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER",
           AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1",
           AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
ENV.pop("AWS_SESSION_TOKEN", None)
ENV.pop("AWS_PROFILE", None)


class S3rver:
    """s3rver on a free loopback port, its data in a fresh directory, with bucket BUCKET.
    Restartable on the same port and directory (the store coming back after an outage)."""

    def __init__(self):
        if not os.path.exists(S3RVER):
            raise AssertionError("s3rver is not installed: run scripts/install-deps.sh")
        self.dir = tempfile.mkdtemp(prefix="s3rver-")
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["node", S3RVER, "-d", self.dir, "-a", "127.0.0.1", "-p", str(self.port), "--silent",
             "--configure-bucket", BUCKET],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("s3rver exited with %s" % self.proc.returncode)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, timeout=30, what="s3rver listening")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def close(self):
        if self.proc:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGCONT)
            stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- the AWS CLI against it ----
    def aws(self, *args, check=True):
        return subprocess.run(["/usr/bin/aws", "--endpoint-url", self.endpoint, "s3api", *args],
                              env=ENV, capture_output=True, timeout=60, check=check)

    def put(self, key, data):
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            self.aws("put-object", "--bucket", BUCKET, "--key", key, "--body", f.name)

    def get(self, key):
        """The object's bytes, or None when the store has none."""
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "obj")
            r = self.aws("get-object", "--bucket", BUCKET, "--key", key, out, check=False)
            if r.returncode != 0:
                if b"NoSuchKey" in r.stderr or b"Not Found" in r.stderr:
                    return None
                raise AssertionError("aws get-object %s: %s" % (key, r.stderr.decode()))
            with open(out, "rb") as f:
                return f.read()

    def delete(self, key):
        self.aws("delete-object", "--bucket", BUCKET, "--key", key)

    def args(self, prefix=""):
        """The proxy's options for this store."""
        return ["--backing", "s3://%s%s" % (BUCKET, "/" + prefix if prefix else ""),
                "--backing-endpoint", self.endpoint]


class FaultyForwarder:
    """An HTTP forwarder on a free loopback port in front of `store` (an S3rver): each request
    goes on unchanged (its Host header too, so SigV4 signatures still verify), except that
    fail(method, path_and_query, headers) returning True answers it 500 InternalError instead.
    self.seen lists (method, path) of every request."""

    def __init__(self, store, fail):
        fwd = self
        self.seen = []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with fwd.lock:
                    fwd.seen.append((self.command, self.path))
                    refuse = fail(self.command, self.path, self.headers)
                if refuse:
                    err = (b"<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>"
                           b"injected by the test</Message></Error>")
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(err)))
                    self.end_headers()
                    self.wfile.write(err)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", store.port, timeout=60)
                headers = {k: v for k, v in self.headers.items()}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def args(self, prefix=""):
        return ["--backing", "s3://%s%s" % (BUCKET, "/" + prefix if prefix else ""),
                "--backing-endpoint", self.endpoint]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
