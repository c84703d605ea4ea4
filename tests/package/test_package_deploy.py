#!/usr/bin/python3
"""test_package_deploy.py -- icdeploy drives the real AWS CLI against the local platform (SigV4
required, no network): it deploys a pool from build/function-x86_64.zip, icproxy serves from it
with the options icdeploy wrote, values round-trip through redis-cli and iccli, a second `up`
changes nothing, a new zip reaches new instances, drift and an interrupted `up` are explained by
`status` and repaired by `up`, bad input stops with Lambda's error, and `down` leaves nothing."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.request
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))
from proxytest import BIN, Proxy, stop_process, wait_for  # noqa: E402

ZIP = os.path.join(BIN, "..", "function-x86_64.zip")
ICDEPLOY = os.path.join(BIN, "icdeploy")
AWS = "/usr/bin/aws"
KEY = "AKIDDEPLOYTEST"
ROLE = "arn:aws:iam::123456789012:role/icnode"
COUNT = 3


class DeployTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="icdeploy-bb-")
        self.dir = self.tmp.name
        self.admin_token = os.urandom(16).hex()
        # The AWS CLI with test credentials only: no profile, no instance metadata, no pager.
        # TMPDIR inside the test's directory: the up killed on purpose cannot remove its own.
        self.env = dict(os.environ, HOME=self.dir, TMPDIR=self.dir, AWS_ACCESS_KEY_ID=KEY,
                        AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1",
                        AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="",
                        AWS_CONFIG_FILE=os.path.join(self.dir, "aws-config"),
                        AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.dir, "aws-credentials"))
        self.log = open(os.path.join(self.dir, "platform.log"), "w+")
        self.platform = subprocess.Popen(
            [os.path.join(BIN, "icplatform"), "--port", "0", "--function-count", "0",
             "--max-waiting", "256", "--update-delay", "100ms", "--log-level", "info",
             "--require-sigv4", KEY],
            stdout=subprocess.PIPE, stderr=self.log,
            env=dict(self.env, IC_PLATFORM_ADMIN_TOKEN=self.admin_token))
        line = self.platform.stdout.readline().decode()
        self.assertTrue(line.startswith("READY port="), line)
        self.endpoint = "http://127.0.0.1:%d" % int(line.split("=")[1])
        self.background = None

    def tearDown(self):
        if self.background and self.background.poll() is None:
            os.killpg(self.background.pid, signal.SIGKILL)
            self.background.wait()
        if self.platform.poll() is None:
            stop_process(self.platform)
        self.platform.stdout.close()
        self.log.close()
        self.tmp.cleanup()

    # ---- helpers ----
    def icdeploy(self, *args, prefix="icd", expect=None):
        r = subprocess.run([ICDEPLOY, *args, "--prefix", prefix, "--endpoint-url", self.endpoint,
                            "--state-dir", os.path.join(self.dir, "state-" + prefix)],
                           env=self.env, capture_output=True, text=True, timeout=600, cwd=self.dir)
        if expect is not None:
            self.assertEqual(r.returncode, expect, "icdeploy %s: %s%s" % (args, r.stdout, r.stderr))
        return r

    def up(self, *args, prefix="icd", expect=0):
        return self.icdeploy("up", "--count", str(COUNT), "--memory", "256", "--role-arn", ROLE,
                             *args, prefix=prefix, expect=expect)

    def aws(self, *args):
        r = subprocess.run([AWS, "lambda", "--endpoint-url", self.endpoint, *args], env=self.env,
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout) if r.stdout.strip() else None

    def function_names(self):
        return sorted(f["FunctionName"] for f in self.aws("list-functions")["Functions"])

    def instances(self):
        req = urllib.request.Request(self.endpoint + "/admin/instances",
                                     headers={"Authorization": "Bearer " + self.admin_token})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def task_root(self, pid):
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        except OSError:
            return None
        return env.get(b"LAMBDA_TASK_ROOT", b"").decode() or None

    def new_zip(self):
        """The package with one more file: other bytes, so other code, the same bootstrap."""
        path = os.path.join(self.dir, "function-v2.zip")
        with zipfile.ZipFile(ZIP) as src, zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                dst.writestr(info, src.read(info))
            dst.writestr("VERSION", "v2\n")
        return path

    def round_trip(self, proxy, tag):
        """A value through redis-cli both ways, and one through iccli both ways."""
        value = os.urandom(300000 + len(tag))
        src = os.path.join(self.dir, "value-" + tag)
        with open(src, "wb") as f:
            f.write(value)
        with open(src, "rb") as f:
            r = subprocess.run(["redis-cli", "-p", str(proxy.port), "-x", "set", "r-" + tag],
                               stdin=f, capture_output=True, timeout=60)
        self.assertEqual(r.stdout.strip(), b"OK", r)
        r = subprocess.run(["redis-cli", "-p", str(proxy.port), "--raw", "get", "r-" + tag],
                           capture_output=True, timeout=60)
        self.assertEqual(r.stdout[:-1], value, "redis-cli GET returned other bytes")
        iccli = [os.path.join(BIN, "iccli"), "--proxy", "127.0.0.1:%d" % proxy.port,
                 "--d", "2", "--p", "1"]
        subprocess.run(iccli + ["set", "i-" + tag, src], check=True, timeout=60)
        out = os.path.join(self.dir, "out-" + tag)
        subprocess.run(iccli + ["get", "i-" + tag, out], check=True, timeout=60)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), value, "iccli GET returned other bytes")

    # ---- the test ----
    def test_deploy_serve_update_repair_down(self):
        try:
            self.run_deploy()
        except Exception:
            self.log.seek(0)
            sys.stderr.write("platform log (tail):\n" + self.log.read()[-5000:])
            raise

    def run_deploy(self):
        conf = os.path.join(self.dir, "icproxy.conf")
        r = self.up("--proxy-config", conf)
        self.assertIn("function-prefix icd\npool-size 3\nnode-memory 256\n", r.stdout)
        secret = os.path.join(self.dir, "state-icd", "node-secret")
        self.assertEqual(os.stat(secret).st_mode & 0o777, 0o600)
        with open(secret) as f:
            self.assertNotIn(f.read().strip(), r.stdout + r.stderr)
        self.assertEqual(self.function_names(), ["icd0", "icd1", "icd2"])
        ev = self.aws("get-function-event-invoke-config", "--function-name", "icd1")
        self.assertEqual((ev["MaximumRetryAttempts"], ev["MaximumEventAgeInSeconds"]), (0, 60))
        # Again: nothing would change, and nothing does.
        r = self.up("--dry-run")
        self.assertNotIn("would run", r.stdout)
        self.assertIn("0 function(s) would change (3 match)", r.stdout)
        self.icdeploy("status", expect=0)

        # icproxy with the options icdeploy wrote serves from the pool (signed, as on AWS).
        with Proxy("--config", conf, "--d", "2", "--p", "1", "--small-object-max", "1k",
                   "--node-connect-timeout", "20s", env=self.env, harness_tls=False,
                   admin_token=False, ready_timeout=60) as proxy:
            self.round_trip(proxy, "v1")
            # New code: up updates only the code, and new instances run it.
            v2 = self.new_zip()
            r = self.up("--zip", v2)
            self.assertIn("3 differ", r.stdout)
            self.assertEqual(r.stdout.count("differs: code"), 3, r.stdout)

            poke = os.path.join(self.dir, "poke")
            with open(poke, "wb") as f:
                f.write(os.urandom(8192))

            def on_new_code():
                # Requests make the proxy invoke; old instances retire after their invocation.
                # An erasure-coded value touches every function of this pool of d+p.
                with open(poke, "rb") as f:
                    subprocess.run(["redis-cli", "-p", str(proxy.port), "-x", "set", "poke"],
                                   stdin=f, capture_output=True, timeout=60)
                roots = [self.task_root(i["pid"]) for i in self.instances()
                         if i["pid"] > 0 and i["function"].startswith("icd")]
                fresh = {i["function"] for i in self.instances()
                         if i["pid"] > 0 and self.task_root(i["pid"]) and
                         os.path.exists(os.path.join(self.task_root(i["pid"]), "VERSION"))}
                return roots and fresh == {"icd0", "icd1", "icd2"}
            wait_for(on_new_code, timeout=120, interval=0.5,
                     what="instances of every function running the new code")
            self.round_trip(proxy, "v2")

        # Drift behind icdeploy's back: status explains, up repairs.
        self.aws("delete-function", "--function-name", "icd0")
        self.aws("update-function-configuration", "--function-name", "icd1", "--memory-size",
                 "512")
        self.aws("wait", "function-updated-v2", "--function-name", "icd1")
        r = self.icdeploy("status", "--zip", v2, expect=1)
        self.assertIn("icd0  missing", r.stdout)
        self.assertIn("icd1  differs: MemorySize 512 (wanted 256)", r.stdout)
        self.assertIn("1 match, 1 missing, 1 differ", r.stdout)
        self.up("--zip", v2)
        self.icdeploy("status", expect=0)

        # An interrupted up (killed once it has created a function): status explains, up ends it.
        self.background = subprocess.Popen(
            [ICDEPLOY, "up", "--prefix", "icd", "--count", "5", "--endpoint-url", self.endpoint,
             "--state-dir", os.path.join(self.dir, "state-icd")],
            env=self.env, cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        def platform_log():
            with open(self.log.name) as f:
                return f.read()
        wait_for(lambda: "create function=icd3" in platform_log()
                 or self.background.poll() is not None, timeout=120, interval=0.05,
                 what="the interrupted up's first create")
        interrupted = self.background.poll() is None
        os.killpg(self.background.pid, signal.SIGKILL)
        self.background.wait()
        self.background = None
        r = self.icdeploy("status")
        self.assertIn("5 wanted", r.stdout)  # the interrupted up's options were saved first
        if interrupted:
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertRegex(r.stdout, r"icd[34]  (missing|differs: no event-invoke config)")
        self.icdeploy("up", expect=0)
        self.icdeploy("status", expect=0)
        self.assertEqual(self.function_names(), ["icd%d" % i for i in range(5)])

        # Bad input: Lambda's error type and message, a stop, a state status explains and up
        # repairs. A function of another owner under the pool's name is refused, not taken.
        nob = os.path.join(self.dir, "nob.zip")
        with zipfile.ZipFile(nob, "w") as z:
            z.writestr("main", "#!/bin/sh\n")
        noexec = os.path.join(self.dir, "noexec.zip")
        with zipfile.ZipFile(noexec, "w") as z:
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o100644 << 16
            z.writestr(info, "#!/bin/sh\n")
        huge = os.path.join(self.dir, "huge.zip")
        with zipfile.ZipFile(huge, "w", zipfile.ZIP_STORED) as z:
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o100755 << 16
            z.writestr(info, "#!/bin/sh\n")
            z.writestr("blob", os.urandom(70 * 1000 * 1000))
        cases = [
            (["--zip", nob], "InvalidParameterValueException",
             "Couldn't find valid bootstrap(s)"),
            (["--zip", noexec], "InvalidParameterValueException", "permission denied"),
            (["--zip", huge], "RequestEntityTooLargeException",
             "Request must be smaller than 69905067 bytes for the CreateFunction operation"),
            (["--runtime", "cobol85"], "ValidationException", "at 'runtime' failed to satisfy"),
            (["--arch", "x86", "--zip", ZIP], "ValidationException", "at 'architectures'"),
            (["--memory", "10241"], "ValidationException", "less than or equal to 10240"),
            (["--memory", "64"], "", "MemorySize"),  # the CLI refuses this one itself
        ]
        for extra, error_type, message in cases:
            # One call at a time: the first failure stops it before another 70 MB upload.
            args = ["up", "--count", "2", "--role-arn", ROLE, "--parallel", "1"]
            if "--memory" not in extra:
                args += ["--memory", "256"]
            r = self.icdeploy(*args, *extra, prefix="bad", expect=2)
            self.assertIn(error_type, r.stderr)
            self.assertIn(message, r.stderr)
            self.assertIn("icdeploy status --prefix bad", r.stderr)
            os.unlink(os.path.join(self.dir, "state-bad", "deployment.json"))
        r = self.icdeploy("status", "--count", "2", prefix="bad", expect=1)
        self.assertIn("bad0  missing", r.stdout)
        self.aws("create-function", "--function-name", "bad1", "--runtime", "provided.al2023",
                 "--role", ROLE, "--handler", "x", "--zip-file", "fileb://" + ZIP)
        r = self.up("--count", "2", prefix="bad", expect=2)
        self.assertIn("bad1", r.stderr)
        self.assertIn("without icdeploy's tag", r.stderr)
        r = self.icdeploy("status", prefix="bad", expect=1)
        self.assertIn("bad1  exists but was not made by icdeploy", r.stdout)
        self.aws("delete-function", "--function-name", "bad1")
        self.up("--count", "2", prefix="bad")
        self.icdeploy("status", prefix="bad", expect=0)

        # down: everything icdeploy made is gone; someone else's function stays.
        self.aws("create-function", "--function-name", "icd9", "--runtime", "provided.al2023",
                 "--role", ROLE, "--handler", "x", "--zip-file", "fileb://" + ZIP)
        r = self.icdeploy("down", "--dry-run", expect=0)
        self.assertEqual(r.stdout.count("would run: aws lambda delete-function"), 5, r.stdout)
        self.assertEqual(len(self.function_names()), 8)
        self.icdeploy("down", expect=0)
        self.icdeploy("down", prefix="bad", expect=0)
        self.assertEqual(self.function_names(), ["icd9"])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "state-icd", "deployment.json")))


if __name__ == "__main__":
    if not os.path.exists(ZIP):
        sys.exit("no %s: the package_build_x86_64 fixture (scripts/package.sh) makes it" % ZIP)
    if not os.path.exists(AWS):
        print("SKIP: no AWS CLI at %s (Debian's awscli)" % AWS)
        sys.exit(77)
    unittest.main(verbosity=2)
