#!/usr/bin/python3
"""Where icproxy's AWS keys come from, against local stand-ins only (never AWS): a stand-in
Lambda Invoke endpoint records each invocation's SigV4 Authorization header and security token,
a stand-in IMDS speaks IMDSv2 (a PUT for a session token, GETs refused without it), and a
stand-in container agent wants its authorization token. Checked: environment keys win over the
shared files; profile selection and the profile's region; credential_process; container
credentials; the EC2 instance role with short-lived keys that are rotated before they expire (and
kept when a refresh fails); --node-advertise auto; clear start errors when IMDS does not answer;
and no secret in anything the proxy writes or answers."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

sys.path.insert(0, os.path.dirname(__file__))
from proxytest import BIN, Proxy, free_port, nodeauth, wait_for  # noqa: E402

SECRETS = []  # every secret key and token handed out here: none may appear in proxy output


def secret(value):
    SECRETS.append(value)
    return value


class StandIn:
    """One loopback HTTP server for the three stand-ins (Lambda Invoke, IMDS, container agent)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.invocations = []  # (function, key id, region, security token, proxy address)
        self.imds_tokens = set()
        self.imds_puts = 0
        self.imds_refused = 0  # GETs without a valid session token
        self.imds_up = True
        self.imds_credentials_fail = False
        self.imds_lifetime = 3600.0
        self.imds_fetches = 0  # credential documents served
        self.local_ipv4 = "10.1.2.3"
        self.region = "eu-west-3"
        self.container_token = secret("container-auth-" + os.urandom(8).hex())
        self.container_requests = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, body=b"", ctype="text/plain"):
                if isinstance(body, str):
                    body = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/latest/api/token" or not stand_in.imds_up:
                    return self.reply(404)
                if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self.reply(400)
                token = "imds-session-" + os.urandom(8).hex()
                with stand_in.lock:
                    stand_in.imds_tokens.add(token)
                    stand_in.imds_puts += 1
                self.reply(200, token)

            def do_GET(self):
                if self.path == "/container/creds":
                    with stand_in.lock:
                        stand_in.container_requests += 1
                    if self.headers.get("Authorization") != stand_in.container_token:
                        return self.reply(403)
                    return self.reply(200, json.dumps({
                        "AccessKeyId": "ASIACONTAINER", "SecretAccessKey": CONTAINER_SECRET,
                        "Token": CONTAINER_TOKEN,
                        "Expiration": iso(time.time() + 3600)}), "application/json")
                if not self.path.startswith("/latest/") or not stand_in.imds_up:
                    return self.reply(404)
                with stand_in.lock:
                    if self.headers.get("X-aws-ec2-metadata-token") not in stand_in.imds_tokens:
                        stand_in.imds_refused += 1
                        return self.reply(401)
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path == base:
                    return self.reply(200, "icproxy-role\n")
                if self.path == base + "icproxy-role":
                    with stand_in.lock:
                        if stand_in.imds_credentials_fail:
                            return self.reply(500)
                        stand_in.imds_fetches += 1
                        n = stand_in.imds_fetches
                    return self.reply(200, json.dumps({
                        "Code": "Success", "Type": "AWS-HMAC",
                        "AccessKeyId": "ASIAIMDS%04d" % n,
                        "SecretAccessKey": imds_secret(n), "Token": imds_token(n),
                        "Expiration": iso(time.time() + stand_in.imds_lifetime)}),
                        "application/json")
                if self.path == "/latest/meta-data/placement/region":
                    return self.reply(200, stand_in.region)
                if self.path == "/latest/meta-data/local-ipv4":
                    return self.reply(200, stand_in.local_ipv4)
                self.reply(404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                m = re.match(r"/2015-03-31/functions/([^/]+)/invocations", self.path)
                if not m:
                    return self.reply(404)
                auth = self.headers.get("Authorization", "")
                cred = re.search(r"Credential=([^/]+)/\d{8}/([^/]+)/lambda/aws4_request", auth)
                inner = json.loads(json.loads(body)["signed"])
                with stand_in.lock:
                    stand_in.invocations.append((m.group(1), cred.group(1) if cred else None,
                                                 cred.group(2) if cred else None,
                                                 self.headers.get("X-Amz-Security-Token"),
                                                 inner.get("proxy")))
                self.reply(202)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def signed(self):
        with self.lock:
            return list(self.invocations)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def imds_secret(n):
    return "imds-secret-%04d-" % n + SESSION_SALT


def imds_token(n):
    return "imds-token-%04d-" % n + SESSION_SALT


SESSION_SALT = os.urandom(6).hex()
ENV_SECRET = secret("env-secret-" + SESSION_SALT)
ENV_TOKEN = secret("env-token-" + SESSION_SALT)
FILE_SECRET = secret("file-secret-" + SESSION_SALT)
WORK_SECRET = secret("work-secret-" + SESSION_SALT)
WORK_TOKEN = secret("work-token-" + SESSION_SALT)
PROCESS_SECRET = secret("process-secret-" + SESSION_SALT)
PROCESS_TOKEN = secret("process-token-" + SESSION_SALT)
CONTAINER_SECRET = secret("container-secret-" + SESSION_SALT)
CONTAINER_TOKEN = secret("container-token-" + SESSION_SALT)
for i in range(1, 20):
    secret(imds_secret(i))
    secret(imds_token(i))


def free_closed_port():
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class AwsCredentialsTest(unittest.TestCase):
    def setUp(self):
        self.stand_in = StandIn()
        self.dir = tempfile.mkdtemp(prefix="icawscreds-")
        self.log_path = os.path.join(self.dir, "proxy.log")
        self.log = open(self.log_path, "wb")
        self.proxies = []
        # A clean AWS environment: no keys or files of whoever runs the tests, no real IMDS.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env["HOME"] = self.dir
        self.env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(self.dir, "credentials")
        self.env["AWS_CONFIG_FILE"] = os.path.join(self.dir, "config")
        self.env["AWS_EC2_METADATA_DISABLED"] = "true"

    def tearDown(self):
        try:
            for p in self.proxies:
                p.stop()
        finally:
            self.stand_in.stop()
            self.log.close()
            try:
                self.assert_no_secret_in_log()
            finally:
                shutil.rmtree(self.dir)

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read()

    def assert_no_secret_in_log(self):
        text = self.read_log().decode(errors="replace")
        for s in SECRETS:
            self.assertNotIn(s, text, "a secret reached the proxy's output")

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, *args, **env):
        e = dict(self.env)
        e.update(env)
        p = Proxy("--platform-endpoint", self.stand_in.url, "--pool-size", "1", "--d", "1",
                  "--p", "0", "--ready-timeout", "100ms", "--invoke-retry", "200ms",
                  "--node-connect-timeout", "600s", "--warmup-interval", "0",
                  "--backup-interval", "0", *args, env=e, stderr=self.log)
        self.proxies.append(p)
        return p

    def start_fails(self, *args, **env):
        """Runs icproxy expected to refuse to start; returns its stderr."""
        e = dict(self.env)
        e.update(env)
        out = subprocess.run([os.path.join(BIN, "icproxy"), "--client-port", "0", "--node-port",
                              "0", "--relay-port", "0", "--pool-size", "1", "--d", "1", "--p", "0",
                              "--platform-endpoint", self.stand_in.url, "--node-secret-file",
                              nodeauth.write_secret_file(self.dir), *args],
                             env=e, capture_output=True, timeout=30)
        self.log.write(out.stdout + out.stderr)
        self.assertEqual(out.returncode, 2, out.stderr)
        return out.stderr.decode()

    def first_signed(self):
        return wait_for(lambda: self.stand_in.signed(), timeout=15, what="an invocation")[0]

    def info(self, proxy, section="all"):
        client = redis.Redis(port=proxy.port, socket_timeout=10)
        try:
            return client.info(section)
        finally:
            client.close()

    def assert_info_clean(self, proxy):
        info = str(self.info(proxy))
        for s in SECRETS:
            self.assertNotIn(s, info)

    def test_env_wins_over_files(self):
        self.write("credentials", "[default]\naws_access_key_id = AKIDFILE\n"
                                  "aws_secret_access_key = %s\n" % FILE_SECRET)
        self.write("config", "[default]\nregion = ap-south-1\n")
        p = self.start("--aws-sigv4", "auto", AWS_ACCESS_KEY_ID="AKIDENV",
                       AWS_SECRET_ACCESS_KEY=ENV_SECRET, AWS_SESSION_TOKEN=ENV_TOKEN,
                       AWS_REGION="us-west-2")
        _, key, region, token, _ = self.first_signed()
        self.assertEqual((key, region, token), ("AKIDENV", "us-west-2", ENV_TOKEN))
        # The log says where the keys came from (and is where the secret check looks).
        self.assertIn(b"event=aws_credentials source=env", self.read_log())
        self.assert_info_clean(p)

    def test_profile_selection(self):
        self.write("credentials", "[default]\naws_access_key_id = AKIDDEFAULT\n"
                                  "aws_secret_access_key = %s\n"
                                  "[work]\naws_access_key_id = AKIDWORK\n"
                                  "aws_secret_access_key = %s\naws_session_token = %s\n"
                                  % (FILE_SECRET, WORK_SECRET, WORK_TOKEN))
        self.write("config", "[default]\nregion = ap-south-1\n[profile work]\nregion = eu-central-1\n")
        self.start("--aws-sigv4", "auto")
        self.assertEqual(self.first_signed()[1:4], ("AKIDDEFAULT", "ap-south-1", None))
        # Cleared once the proxy is gone: until then it may still send (retries, warm-up).
        self.proxies.pop().stop()
        self.stand_in.invocations.clear()
        # --aws-profile, and AWS_PROFILE when the option is not given.
        self.start("--aws-sigv4", "auto", "--aws-profile", "work", AWS_PROFILE="default")
        self.assertEqual(self.first_signed()[1:4], ("AKIDWORK", "eu-central-1", WORK_TOKEN))
        # Cleared once the proxy is gone: until then it may still send (retries, warm-up).
        self.proxies.pop().stop()
        self.stand_in.invocations.clear()
        self.start("--aws-sigv4", "auto", AWS_PROFILE="work")
        self.assertEqual(self.first_signed()[1:4], ("AKIDWORK", "eu-central-1", WORK_TOKEN))
        # A profile that is nowhere is an error, not a fall-through to other sources.
        err = self.start_fails("--aws-sigv4", "auto", "--aws-profile", "nosuch")
        self.assertIn("profile nosuch", err)

    def test_credential_process(self):
        script = self.write("get-keys.py", "import json, sys\nprint(json.dumps({'Version': 1, "
                            "'AccessKeyId': 'ASIAPROCESS', 'SecretAccessKey': %r, "
                            "'SessionToken': %r, 'Expiration': '2099-01-01T00:00:00Z'}))\n"
                            % (PROCESS_SECRET, PROCESS_TOKEN))
        self.write("config", "[profile tool]\ncredential_process = /usr/bin/python3 %s\n" % script)
        p = self.start("--aws-sigv4", "aws:amz:us-east-2:lambda", "--aws-profile", "tool")
        self.assertEqual(self.first_signed()[1:4], ("ASIAPROCESS", "us-east-2", PROCESS_TOKEN))
        self.assert_info_clean(p)
        # A process that hangs is killed at the timeout; one that fails is a start error.
        self.write("config", "[profile slow]\ncredential_process = sleep 30\n"
                             "[profile bad]\ncredential_process = /bin/false\n")
        t0 = time.monotonic()
        err = self.start_fails("--aws-sigv4", "auto", "--aws-region", "us-east-1",
                               "--aws-profile", "slow", "--aws-process-timeout", "300ms")
        self.assertIn("did not finish within 300 ms", err)
        self.assertLess(time.monotonic() - t0, 20)
        # Closing its output does not end the wait: the process must exit in time too.
        self.write("config", "[profile quiet]\ncredential_process = exec 1>&-; sleep 30\n")
        err = self.start_fails("--aws-sigv4", "auto", "--aws-region", "us-east-1",
                               "--aws-profile", "quiet", "--aws-process-timeout", "300ms")
        self.assertIn("did not finish within 300 ms", err)
        self.write("config", "[profile bad]\ncredential_process = /bin/false\n")
        err = self.start_fails("--aws-sigv4", "auto", "--aws-region", "us-east-1",
                               "--aws-profile", "bad")
        self.assertIn("credential_process failed", err)

    def test_container_credentials(self):
        token_file = self.write("container-token", self.stand_in.container_token + "\n")
        full_uri = self.stand_in.url + "/container/creds"
        self.start("--aws-sigv4", "auto", AWS_CONTAINER_CREDENTIALS_FULL_URI=full_uri,
                   AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=token_file, AWS_REGION="sa-east-1")
        self.assertEqual(self.first_signed()[1:4], ("ASIACONTAINER", "sa-east-1", CONTAINER_TOKEN))
        # The token from the variable works too; a wrong one is refused by the agent.
        err = self.start_fails("--aws-sigv4", "auto", AWS_CONTAINER_CREDENTIALS_FULL_URI=full_uri,
                               AWS_CONTAINER_AUTHORIZATION_TOKEN="wrong", AWS_REGION="sa-east-1")
        self.assertIn("container credentials: HTTP 403", err)
        # Plain http to a host that is neither loopback nor the ECS/EKS agent is refused.
        err = self.start_fails("--aws-sigv4", "auto",
                               AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.1/creds",
                               AWS_REGION="sa-east-1")
        self.assertIn("must be https", err)

    def test_instance_role_rotation(self):
        self.env.pop("AWS_EC2_METADATA_DISABLED")
        self.stand_in.imds_lifetime = 4.0
        # The stand-in refuses IMDSv1: a GET without the session token gets 401.
        import urllib.error
        import urllib.request
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(self.stand_in.url + "/latest/meta-data/local-ipv4", timeout=5)
        self.assertEqual(ctx.exception.code, 401)
        refused_before = self.stand_in.imds_refused
        # No region anywhere but IMDS: --aws-sigv4 auto takes the instance's.
        metrics_port = free_port()
        p = self.start("--aws-sigv4", "auto", "--imds-endpoint", self.stand_in.url,
                       "--aws-refresh-margin", "1s", "--metrics-port", str(metrics_port))
        self.assertEqual(self.first_signed()[1:4], ("ASIAIMDS0001", "eu-west-3", imds_token(1)))
        # Rotated before expiry: later invocations carry the next keys.
        wait_for(lambda: any(k == "ASIAIMDS0002" and t == imds_token(2)
                             for _, k, _, t, _ in self.stand_in.signed()),
                 timeout=20, what="an invocation signed with the refreshed keys")
        self.assertGreaterEqual(self.stand_in.imds_puts, 2)
        self.assertEqual(self.stand_in.imds_refused, refused_before)  # always IMDSv2
        # A failed refresh is logged and the last keys stay in use.
        self.stand_in.imds_credentials_fail = True
        wait_for(lambda: b"event=aws_credentials_refresh_failed" in self.read_log(),
                 timeout=20, what="the refresh failure in the log")
        n = len(self.stand_in.signed())
        wait_for(lambda: len(self.stand_in.signed()) > n + 1, timeout=10, what="more invocations")
        last_key = self.stand_in.signed()[-1][1]
        self.assertRegex(last_key, r"^ASIAIMDS\d{4}$")
        self.assertEqual(int(last_key[-4:]), self.stand_in.imds_fetches)
        aws = self.info(p, "aws")
        self.assertEqual(aws["aws_credentials_source"], "imds")
        self.assertEqual(aws["aws_region"], "eu-west-3")
        self.assertEqual(aws["aws_key_id"], "..." + last_key[-4:])
        self.assertGreaterEqual(aws["aws_credentials_refreshes"], 1)
        self.assertGreaterEqual(aws["aws_credentials_refresh_failures"], 1)
        self.assert_info_clean(p)
        # The metrics say as much, and no more: no key, no token, not even the key id.
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port,
                                    timeout=10) as r:
            page = r.read().decode()
        refreshes = re.search(r"^infinicache_aws_credentials_refreshes_total (\d+)$", page, re.M)
        self.assertGreaterEqual(int(refreshes.group(1)), 1)
        failures = re.search(r"^infinicache_aws_credentials_refresh_failures_total (\d+)$", page,
                             re.M)
        self.assertGreaterEqual(int(failures.group(1)), 1)
        self.assertNotIn("ASIAIMDS", page)
        for s in SECRETS:
            self.assertNotIn(s, page)

    def test_node_advertise_auto(self):
        self.env.pop("AWS_EC2_METADATA_DISABLED")
        p = self.start("--node-advertise", "auto", AWS_EC2_METADATA_SERVICE_ENDPOINT=self.stand_in.url)
        proxy_addr = self.first_signed()[4]
        self.assertEqual(proxy_addr, "10.1.2.3:%d" % p.node_port)
        self.assertIsNone(self.first_signed()[1])  # no --aws-sigv4: unsigned

    def test_imds_down_is_a_clear_start_error(self):
        self.env.pop("AWS_EC2_METADATA_DISABLED")
        down = "http://127.0.0.1:%d" % free_closed_port()
        err = self.start_fails("--node-advertise", "auto", "--imds-endpoint", down,
                               "--aws-fetch-timeout", "500ms")
        self.assertIn("node-advertise auto: no private address from IMDS at " + down, err)
        err = self.start_fails("--aws-sigv4", "auto", "--imds-endpoint", down,
                               "--aws-fetch-timeout", "500ms")
        self.assertIn("no AWS credentials", err)
        self.assertIn("no instance role from IMDS", err)
        # IMDS that answers but refuses the session token (IMDSv1 only) is down for us too.
        self.stand_in.imds_up = False
        err = self.start_fails("--node-advertise", "auto", "--imds-endpoint", self.stand_in.url)
        self.assertIn("no IMDSv2 session token", err)
        # Disabled IMDS is said so.
        err = self.start_fails("--node-advertise", "auto", AWS_EC2_METADATA_DISABLED="true")
        self.assertIn("AWS_EC2_METADATA_DISABLED", err)


if __name__ == "__main__":
    unittest.main()
