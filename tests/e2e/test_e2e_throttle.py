#!/usr/bin/python3
"""test_e2e_throttle.py -- the proxy retries Invoke calls that Lambda throttles: icplatform's
control plane deploys the pool from a zip holding icnode as its bootstrap (with the AWS CLI),
reserved concurrency 0 makes every invocation a 429, and once it is lifted a SET waiting on the
proxy's backoff goes through; INFO counts the throttles and the retries."""
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest
import zipfile

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proxy"))
from proxytest import BIN, Proxy, nodeauth, stop_process, wait_for  # noqa: E402

AWS = "/usr/bin/aws"


def aws(endpoint, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    r = subprocess.run([AWS, "lambda", "--endpoint-url", endpoint] + list(args), env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (args, r.stderr)
    return json.loads(r.stdout) if r.stdout.strip() else None


class ThrottleTest(unittest.TestCase):
    def test_proxy_retries_throttled_invocations(self):
        token = os.urandom(16).hex()
        env = dict(os.environ, IC_PLATFORM_ADMIN_TOKEN=token)
        # --max-queue 0: an Event invocation over the concurrency is refused with 429 at once
        # instead of waiting in the platform's queue.
        plat = subprocess.Popen([os.path.join(BIN, "icplatform"), "--port", "0",
                                 "--function-count", "0", "--max-queue", "0",
                                 "--update-delay", "0", "--log-level", "warn"],
                                stdout=subprocess.PIPE, env=env)
        try:
            line = plat.stdout.readline().decode()
            self.assertTrue(line.startswith("READY port="), line)
            endpoint = "http://127.0.0.1:%d" % int(line.split("=")[1])
            with tempfile.TemporaryDirectory() as d:
                zpath = os.path.join(d, "function.zip")
                with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
                    info = zipfile.ZipInfo("bootstrap")
                    info.external_attr = 0o100755 << 16
                    with open(os.path.join(BIN, "icnode"), "rb") as f:
                        z.writestr(info, f.read())
                variables = "Variables={IC_NODE_SECRET=%s,IC_NODE_RESERVED_MB=16}" % nodeauth.SECRET
                for i in range(2):
                    aws(endpoint, "create-function", "--function-name", "thr%d" % i, "--runtime",
                        "provided.al2023", "--role", "arn:aws:iam::1:role/icnode", "--handler",
                        "bootstrap", "--memory-size", "256", "--timeout", "60",
                        "--zip-file", "fileb://" + zpath, "--environment", variables)
                    aws(endpoint, "put-function-concurrency", "--function-name", "thr%d" % i,
                        "--reserved-concurrent-executions", "0")
            with Proxy("--pool-size", "2", "--function-prefix", "thr", "--d", "1", "--p", "1",
                       "--node-memory", "256", "--node-reserved", "16", "--warmup-interval", "0",
                       "--warm-on-start", "no", "--node-connect-timeout", "20s",
                       # Retries for ~15 s: room for the two AWS CLI calls below to lift the
                       # limit on a loaded machine.
                       "--invoke-attempts", "20", "--invoke-backoff", "100ms",
                       "--invoke-backoff-max", "2s", "--platform-endpoint", endpoint,
                       admin_token=token) as p:
                r = redis.Redis(port=p.port, socket_timeout=60)
                result = {}
                t = threading.Thread(target=lambda: result.update(ok=r.set("k", b"v" * 5000)))
                t.start()
                try:
                    wait_for(lambda: r.info("all")["invoke_throttled"] >= 2, timeout=20,
                             what="throttled invocations")
                    self.assertGreaterEqual(r.info("all")["invoke_retries"], 1)
                finally:
                    for i in range(2):
                        aws(endpoint, "delete-function-concurrency", "--function-name",
                            "thr%d" % i)
                    t.join(60)
                self.assertTrue(result.get("ok"), result)
                self.assertEqual(r.get("k"), b"v" * 5000)
                info = r.info("all")
                self.assertGreaterEqual(info["invoke_retries"], info["invoke_throttled"] - 2)
        finally:
            plat.stdout.close()
            stop_process(plat)


if __name__ == "__main__":
    unittest.main(verbosity=2)
