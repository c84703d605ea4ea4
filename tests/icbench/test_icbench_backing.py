#!/usr/bin/python3
"""test_icbench_backing.py -- icbench's backing store for misses against a real redis-server: files
appear, a miss is fetched, filled and hit next time; a corrupted file is reported and not cached;
an unusable directory is refused before the run; --backing none and the temporary default; the
same through a tiny S3-compatible stand-in that requires SigV4-shaped requests."""
import http.server
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchtest  # noqa: E402
from benchtest import free_port, results, start, stop_all, wait_for  # noqa: E402


def redis(port, *words):
    """One command by the inline protocol; the first reply line."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b" ".join(w.encode() for w in words) + b"\r\n")
        return s.recv(65536)


def up(port):
    try:
        return redis(port, "PING").startswith(b"+PONG")
    except OSError:
        return False


KEY_ID = "AKIDICBENCHTEST"
SIGV4 = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([a-z0-9-]+)/s3/aws4_request, "
                   r"SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$")


class S3StandIn(http.server.BaseHTTPRequestHandler):
    """Path-style GET and PUT of /BUCKET/KEY, objects in memory; 404 NoSuchKey; 403 unless the
    request carries a SigV4-shaped Authorization for KEY_ID and an x-amz-date."""
    objects = {}
    requests = []

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", code=None):
        if code:
            body = b"<?xml version=\"1.0\"?><Error><Code>%s</Code></Error>" % code.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        m = SIGV4.match(self.headers.get("Authorization", ""))
        date = self.headers.get("x-amz-date", "")
        S3StandIn.requests.append((self.command, self.path, bool(m)))
        return (m and m.group(1) == KEY_ID and m.group(3) == "us-east-1"
                and "host" in m.group(4).split(";") and "x-amz-date" in m.group(4).split(";")
                and date.startswith(m.group(2)))

    def do_GET(self):
        if not self.authorized():
            return self.answer(403, code="SignatureDoesNotMatch")
        if self.path not in S3StandIn.objects:
            return self.answer(404, code="NoSuchKey")
        self.answer(200, S3StandIn.objects[self.path])

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.authorized():
            return self.answer(403, code="SignatureDoesNotMatch")
        S3StandIn.objects[self.path] = body
        self.answer(200)


def icbench(*args, expect=0, env=None):
    """(the one target's result fields, the CompletedProcess)."""
    p = benchtest.icbench(*args, expect=expect, timeout=120, env=env)
    res = results(p.stdout)
    return (next(iter(res.values())) if res else {}), p


def main():
    tmp = tempfile.mkdtemp(prefix="icbench_backing_")
    port = free_port()
    start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: up(port), "redis-server")
    target = "resp:127.0.0.1:%d" % port
    common = ["--target", target, "--size-dist", "fixed:10k", "--keys", "3", "--zipf", "0",
              "--get-ratio", "1", "--requests", "30", "--seed", "5"]

    # Misses fetch from the directory (files created on first need), fill, then hit.
    store = os.path.join(tmp, "store")
    res, out = icbench(*common, "--backing", store, "--key-prefix", "b1")
    files = sorted(os.listdir(store))
    assert len(files) == 3 and all(len(f) == 16 for f in files), files
    assert all(os.path.getsize(os.path.join(store, f)) == 10240 for f in files)
    assert res["misses"] == "3" and res["fetches"] == "3" and res["fills"] == "3", res
    assert res["hits"] == "27" and res["wrong_bytes"] == "0" and res["errors"] == "0", res
    assert any(l.split()[1:2] == ["FETCH"] for l in out.stdout.splitlines() if l.startswith(target))
    assert "filled from " + store in out.stdout, out.stdout

    # A corrupted file is reported (exit 1) and never cached: its key misses every time.
    victim = os.path.join(store, files[0])
    with open(victim, "r+b") as f:
        f.seek(5000)
        b = f.read(1)
        f.seek(5000)
        f.write(bytes([b[0] ^ 0x10]))
    res, out = icbench(*common, "--backing", store, "--key-prefix", "b2", expect=1)
    assert int(res["wrong_bytes"]) >= 1 and res["errors"] == "0", res
    assert "backing store" in out.stderr and files[0] in out.stderr and "not cached" in out.stderr
    assert int(res["hits"]) + int(res["wrong_bytes"]) + 2 == 30, res
    assert redis(port, "EXISTS", "b20:" + files[0]).startswith(b":0"), "corrupt object cached"
    assert sum(redis(port, "EXISTS", "b20:" + f).startswith(b":1") for f in files[1:]) == 2

    # SETs of the workload write the store too (the next miss reads what was set).
    store2 = os.path.join(tmp, "store2")
    res, out = icbench("--target", target, "--size-dist", "fixed:3k", "--keys", "4",
                       "--get-ratio", "0", "--requests", "8", "--backing", store2,
                       "--key-prefix", "b3")
    assert res["sets"] == "8" and res["fetches"] == "0", res
    assert 1 <= len(os.listdir(store2)) <= 4, os.listdir(store2)

    # An unusable directory is refused before anything runs.
    plain_file = os.path.join(tmp, "a_file")
    open(plain_file, "w").close()
    bad_dirs = [os.path.join(plain_file, "sub")]
    if os.geteuid() != 0:  # root writes anywhere
        ro = os.path.join(tmp, "readonly")
        os.mkdir(ro, 0o555)
        bad_dirs.append(ro)
    for bad in bad_dirs:
        res, out = icbench(*common, "--backing", bad, "--key-prefix", "b4", expect=2)
        assert "backing store" in out.stderr and bad in out.stderr, out.stderr
        assert "result " not in out.stdout, out.stdout

    # S3-compatible: the same through the stand-in, signed with the environment's credentials.
    s3 = http.server.ThreadingHTTPServer(("127.0.0.1", 0), S3StandIn)
    threading.Thread(target=s3.serve_forever, daemon=True).start()
    spec = "s3://icb-bucket@http://127.0.0.1:%d" % s3.server_address[1]
    creds = dict(os.environ, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY="secret")
    creds.pop("AWS_REGION", None)
    res, out = icbench(*common, "--backing", spec, "--key-prefix", "s1", env=creds)
    assert res["misses"] == "3" and res["fetches"] == "3" and res["hits"] == "27", res
    assert res["wrong_bytes"] == "0" and res["errors"] == "0", (res, out.stderr)
    names = sorted(S3StandIn.objects)
    assert len(names) == 3 and all(re.match(r"^/icb-bucket/[0-9a-f]{16}$", n) for n in names), names
    assert all(len(v) == 10240 for v in S3StandIn.objects.values())
    assert all(signed for _, _, signed in S3StandIn.requests), S3StandIn.requests
    # A corrupted object is reported and not cached.
    victim = names[0]
    S3StandIn.objects[victim] = S3StandIn.objects[victim][:100] + b"X" + S3StandIn.objects[victim][101:]
    res, out = icbench(*common, "--backing", spec, "--key-prefix", "s2", env=creds, expect=1)
    assert int(res["wrong_bytes"]) >= 1 and victim[-16:] in out.stderr, (res, out.stderr)
    assert redis(port, "EXISTS", "s20:" + victim[-16:]).startswith(b":0")
    # Refused before the run: no credentials, credentials the store rejects, a bad spec.
    nocreds = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    _, out = icbench(*common, "--backing", spec, env=nocreds, expect=2)
    assert "AWS_ACCESS_KEY_ID" in out.stderr and "result " not in out.stdout, out.stderr
    _, out = icbench(*common, "--backing", spec, expect=2,
                     env=dict(creds, AWS_ACCESS_KEY_ID="SOMEONEELSE"))
    assert "HTTP 403" in out.stderr and "SignatureDoesNotMatch" in out.stderr, out.stderr
    for bad in ("s3://B@http://127.0.0.1:1", "s3://bucket", "s3://bucket@ftp://127.0.0.1:1"):
        _, out = icbench(*common, "--backing", bad, env=creds, expect=2)
        assert "expected s3://BUCKET@http://HOST:PORT" in out.stderr, out.stderr
    _, out = icbench(*common, "--backing", "s3://bucket@http://127.0.0.1:%d" % free_port(),
                     env=creds, expect=2)
    assert "backing store" in out.stderr and "result " not in out.stdout, out.stderr
    s3.shutdown()
    s3.server_close()

    # --backing none fills from generated bytes; the default directory is temporary.
    res, out = icbench(*common, "--backing", "none", "--key-prefix", "b5")
    assert res["fills"] == "3" and res["fetches"] == "0" and res["hits"] == "27", res
    scratch = os.path.join(tmp, "scratch")
    os.mkdir(scratch)
    res, out = icbench(*common, "--key-prefix", "b6", env=dict(os.environ, TMPDIR=scratch))
    assert res["fetches"] == "3" and res["hits"] == "27", res
    assert "icbench-backing." in out.stdout, out.stdout
    assert os.listdir(scratch) == [], os.listdir(scratch)
    print("ok")


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
