#!/usr/bin/python3
"""test_deploy_plan.py -- icdeploy's planning logic against a fake AWS CLI runner: the diff of
wanted against actual, what --dry-run prints, throttling retries, the --create-role policies
(exactly), Lambda's errors passed on, and that the node secret is never printed."""
import base64
import hashlib
import io
import json
import os
import shlex
import sys
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "src", "deploy"))
import icdeploy  # noqa: E402
from icdeploy import AwsError  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/icnode"


def opt(args, name):
    return args[args.index(name) + 1]


def read_uri(value):
    """The value the CLI would read for a file:// or fileb:// parameter."""
    for scheme in ("fileb://", "file://"):
        if value.startswith(scheme):
            with open(value[len(scheme):], "rb") as f:
                data = f.read()
            return data if scheme == "fileb://" else data.decode()
    return value


class FakeLambda:
    """Lambda, IAM and STS as the AWS CLI would show them, in memory. fail[(op, name)] is a list
    of AwsErrors raised by the next calls of op on that function (None: the call succeeds)."""

    def __init__(self):
        self.functions = {}
        self.roles = {}
        self.calls = []
        self.fail = {}

    def __call__(self, service, op, args):
        name = opt(args, "--function-name") if "--function-name" in args else None
        self.calls.append((service, op, name))
        queue = self.fail.get((op, name)) or self.fail.get((op, None))
        if queue:
            err = queue.pop(0)
            if err is not None:
                raise err
        handler = getattr(self, "%s_%s" % (service, op.replace("-", "_")))
        return handler(args, name)

    def missing(self, name):
        return AwsError("ResourceNotFoundException",
                        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:%s"
                        % name)

    def get(self, name):
        if name not in self.functions:
            raise self.missing(name)
        return self.functions[name]

    def lambda_list_functions(self, args, name):
        return {"Functions": [dict(f["Configuration"]) for f in self.functions.values()]}

    def lambda_get_function(self, args, name):
        f = self.get(name)
        return {"Configuration": json.loads(json.dumps(f["Configuration"])),
                "Tags": dict(f["Tags"])}

    def lambda_get_function_event_invoke_config(self, args, name):
        f = self.get(name)
        if f["Event"] is None:
            raise AwsError("ResourceNotFoundException", "no EventInvokeConfig")
        return dict(f["Event"])

    def apply_configuration(self, conf, args):
        for flag, key, conv in (("--runtime", "Runtime", str), ("--role", "Role", str),
                                ("--handler", "Handler", str), ("--memory-size", "MemorySize", int),
                                ("--timeout", "Timeout", int)):
            if flag in args:
                conf[key] = conv(opt(args, flag))
        if "--environment" in args:
            conf["Environment"] = json.loads(read_uri(opt(args, "--environment")))
        if "--vpc-config" in args:
            conf["VpcConfig"] = json.loads(opt(args, "--vpc-config"))

    def lambda_create_function(self, args, name):
        if name in self.functions:
            raise AwsError("ResourceConflictException", "Function already exist: " + name,
                           "CreateFunction")
        code = read_uri(opt(args, "--zip-file"))
        conf = {"FunctionName": name, "State": "Active", "LastUpdateStatus": "Successful",
                "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:" + name,
                "CodeSha256": base64.b64encode(hashlib.sha256(code).digest()).decode(),
                "Architectures": [opt(args, "--architectures")]}
        self.apply_configuration(conf, args)
        self.functions[name] = {"Configuration": conf, "Event": None,
                                "Tags": json.loads(opt(args, "--tags"))}
        return conf

    def lambda_update_function_code(self, args, name):
        conf = self.get(name)["Configuration"]
        code = read_uri(opt(args, "--zip-file"))
        conf["CodeSha256"] = base64.b64encode(hashlib.sha256(code).digest()).decode()
        conf["Architectures"] = [opt(args, "--architectures")]
        return conf

    def lambda_update_function_configuration(self, args, name):
        conf = self.get(name)["Configuration"]
        self.apply_configuration(conf, args)
        return conf

    def lambda_put_function_event_invoke_config(self, args, name):
        f = self.get(name)
        f["Event"] = {"MaximumRetryAttempts": int(opt(args, "--maximum-retry-attempts")),
                      "MaximumEventAgeInSeconds": int(opt(args, "--maximum-event-age-in-seconds"))}
        return f["Event"]

    def lambda_tag_resource(self, args, name):
        fname = opt(args, "--resource").rsplit(":", 1)[1]
        self.get(fname)["Tags"].update(json.loads(opt(args, "--tags")))
        return {}

    def lambda_delete_function(self, args, name):
        self.get(name)
        del self.functions[name]
        return {}

    def lambda_wait(self, args, name):
        self.get(name)
        return {}

    def sts_get_caller_identity(self, args, name):
        return {"Account": "123456789012"}

    def iam_delete_role_policy(self, args, name):
        self.roles[opt(args, "--role-name")].pop("policy", None)
        return {}

    def iam_delete_role(self, args, name):
        del self.roles[opt(args, "--role-name")]
        return {}

    def iam_get_role(self, args, name):
        rn = opt(args, "--role-name")
        if rn not in self.roles:
            raise AwsError("NoSuchEntity", "The role with name %s cannot be found." % rn)
        return {"Role": self.roles[rn]}


class Run:
    """One icdeploy run: exit code, what it printed on stdout and stderr."""

    def __init__(self, fake, argv, sleeps=None):
        out, err = io.StringIO(), io.StringIO()
        self.sleeps = sleeps if sleeps is not None else []
        self.code = icdeploy.main(argv, runner=fake, out=out, err=err,
                                  sleep=self.sleeps.append)
        self.out, self.err = out.getvalue(), err.getvalue()


class PlanTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="icdeploy-test-")
        self.zip = self.make_zip("function.zip", b"#!/bin/sh\necho v1\n")
        self.state = os.path.join(self.tmp.name, "state")
        self.fake = FakeLambda()

    def tearDown(self):
        self.tmp.cleanup()

    def make_zip(self, name, bootstrap):
        path = os.path.join(self.tmp.name, name)
        with zipfile.ZipFile(path, "w") as z:
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o100755 << 16
            z.writestr(info, bootstrap)
        return path

    def up(self, *extra, zip_path=None, sleeps=None):
        return Run(self.fake, ["up", "--prefix", "tp", "--count", "3", "--memory", "512",
                               "--region", "us-east-1", "--zip", zip_path or self.zip,
                               "--state-dir", self.state, "--role-arn", ROLE, *extra], sleeps)

    def status(self, *extra):
        return Run(self.fake, ["status", "--prefix", "tp", "--state-dir", self.state, *extra])

    def secret(self):
        with open(os.path.join(self.state, "node-secret")) as f:
            return f.readline().strip()

    def writes(self):
        return [c for c in self.fake.calls if c[1] not in (
            "list-functions", "get-function", "get-function-event-invoke-config", "wait")]

    def test_up_creates_then_matches(self):
        r = self.up()
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(sorted(self.fake.functions), ["tp0", "tp1", "tp2"])
        secret_path = os.path.join(self.state, "node-secret")
        self.assertEqual(os.stat(secret_path).st_mode & 0o777, 0o600)
        conf = self.fake.functions["tp1"]["Configuration"]
        self.assertEqual((conf["MemorySize"], conf["Timeout"], conf["Runtime"], conf["Handler"],
                          conf["Role"]), (512, 300, "provided.al2023", "bootstrap", ROLE))
        self.assertEqual(conf["Environment"]["Variables"],
                         {"IC_NODE_SECRET": self.secret(), "IC_NODE_LOG_LEVEL": "info"})
        self.assertEqual(self.fake.functions["tp1"]["Event"],
                         {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60})
        self.assertEqual(self.fake.functions["tp1"]["Tags"]["icdeploy:prefix"], "tp")
        self.assertIn("function-prefix tp\npool-size 3\nnode-memory 512\n", r.out)
        # Again: nothing to do, under --dry-run and for real; status agrees (exit 0).
        before = len(self.writes())
        for extra in (["--dry-run"], []):
            r = self.up(*extra)
            self.assertEqual(r.code, 0, r.err)
            self.assertNotIn("would run", r.out)
            self.assertEqual(len(self.writes()), before)
        s = self.status()
        self.assertEqual(s.code, 0, s.out)
        self.assertIn("status: 3 match", s.out)

    def test_diff_and_repair(self):
        self.assertEqual(self.up().code, 0)
        secret = self.secret()
        f = self.fake.functions
        del f["tp0"]                                             # deleted behind its back
        f["tp1"]["Configuration"]["MemorySize"] = 1024           # memory changed
        f["tp1"]["Configuration"]["Environment"]["Variables"]["IC_NODE_SECRET"] = "x" * 32
        f["tp2"]["Event"] = None                                 # an interrupted up
        f["tp2"]["Configuration"]["State"] = "Pending"
        s = self.status()
        self.assertEqual(s.code, 1)
        self.assertIn("tp0  missing", s.out)
        self.assertIn("tp1  differs: MemorySize 1024 (wanted 512); "
                      "Environment IC_NODE_SECRET differs", s.out)
        self.assertIn("tp2  differs: no event-invoke config", s.out)
        self.assertIn("still being applied", s.out)
        self.assertIn("1 missing, 2 differ", s.out)
        self.assertNotIn("x" * 32, s.out)
        self.assertNotIn(secret, s.out + s.err)
        # The dry run names each call; the real run makes exactly those and repairs everything.
        d = self.up("--dry-run")
        would = [ln for ln in d.out.splitlines() if ln.startswith("would run:")]
        ops = sorted(" ".join(shlex.split(ln)[4:6]) for ln in would)
        self.assertEqual(ops, sorted([
            "create-function --function-name", "put-function-event-invoke-config --function-name",
            "wait function-active-v2",
            "update-function-configuration --function-name", "wait function-updated-v2",
            "wait function-updated-v2", "put-function-event-invoke-config --function-name"]), ops)
        self.assertNotIn(secret, d.out + d.err)
        f["tp2"]["Configuration"]["State"] = "Active"
        r = self.up()
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(self.status().code, 0)
        self.assertEqual(f["tp1"]["Configuration"]["MemorySize"], 512)
        self.assertEqual(f["tp1"]["Configuration"]["Environment"]["Variables"]["IC_NODE_SECRET"],
                         secret)

    def test_new_code_updates_only_code(self):
        self.assertEqual(self.up().code, 0)
        v2 = self.make_zip("v2.zip", b"#!/bin/sh\necho v2\n")
        self.fake.calls.clear()
        r = self.up(zip_path=v2)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(sorted(op for _, op, _ in self.writes()), ["update-function-code"] * 3)
        self.assertIn("3 differ", r.out)

    def test_foreign_and_extra_functions(self):
        self.assertEqual(self.up("--count", "5").code, 0)
        # Someone else's function under the pool's name: up refuses and says which.
        self.fake.functions["tp1"]["Tags"] = {}
        r = self.up()
        self.assertEqual(r.code, 2)
        self.assertIn("tp1", r.err)
        self.assertIn("without icdeploy's tag", r.err)
        s = self.status()
        self.assertIn("tp1  exists but was not made by icdeploy", s.out)
        del self.fake.functions["tp1"]
        # Ours beyond --count (5 -> 3): up deletes them.
        r = self.up()
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(sorted(self.fake.functions), ["tp0", "tp1", "tp2"])
        # down removes only ours.
        self.fake.functions["tp7"] = {"Configuration": {"FunctionName": "tp7"}, "Tags": {},
                                      "Event": None}
        d = Run(self.fake, ["down", "--prefix", "tp", "--state-dir", self.state])
        self.assertEqual(d.code, 0, d.err)
        self.assertEqual(sorted(self.fake.functions), ["tp7"])
        self.assertIn("tp7 was not made by icdeploy: left alone", d.out)

    def test_vpc_joined_and_left(self):
        self.assertEqual(self.up("--subnets", "subnet-b,subnet-a", "--security-groups", "sg-1").code,
                         0)
        self.assertEqual(self.fake.functions["tp0"]["Configuration"]["VpcConfig"],
                         {"SubnetIds": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]})
        self.assertEqual(self.status().code, 0)
        r = self.up("--subnets", "", "--security-groups", "")
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("VpcConfig subnets subnet-a,subnet-b security groups sg-1 (wanted none, "
                      "none)", r.out)
        self.assertEqual(self.fake.functions["tp0"]["Configuration"]["VpcConfig"],
                         {"SubnetIds": [], "SecurityGroupIds": []})
        self.assertEqual(self.status().code, 0)

    def test_down_finds_its_role_without_saved_options(self):
        self.fake.roles["tp-icnode"] = {"RoleName": "tp-icnode", "policy": "{}",
                                        "Tags": [{"Key": "icdeploy:prefix", "Value": "tp"}]}
        self.fake.roles["other-icnode"] = {"RoleName": "other-icnode", "Tags": []}
        d = Run(self.fake, ["down", "--prefix", "tp", "--state-dir", self.state])
        self.assertEqual(d.code, 0, d.err)
        self.assertEqual(list(self.fake.roles), ["other-icnode"])
        self.assertIn("and the role removed", d.out)
        d = Run(self.fake, ["down", "--prefix", "other", "--state-dir", self.state])
        self.assertIn("role other-icnode was not made by icdeploy: left alone", d.out)
        self.assertEqual(list(self.fake.roles), ["other-icnode"])
        # A deployer without IAM rights that never asked for a role: down still succeeds.
        self.fake.fail[("get-role", None)] = [AwsError("AccessDenied", "not authorized")]
        self.assertEqual(Run(self.fake, ["down", "--prefix", "x", "--state-dir",
                                         self.state]).code, 0)

    def test_throttling_is_retried(self):
        throttled = AwsError("TooManyRequestsException", "Rate exceeded", "CreateFunction")
        self.fake.fail[("create-function", "tp1")] = [throttled] * 3
        sleeps = []
        r = self.up(sleeps=sleeps)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(len(self.fake.functions), 3)
        self.assertIn("3 retried", r.out)
        self.assertGreaterEqual(len([s for s in sleeps if s > 0]), 1)
        # Busy (an update in progress) is retried too; past the attempts, a clear error.
        self.fake.fail[("update-function-configuration", None)] = [AwsError(
            "ResourceConflictException", "The operation cannot be performed at this time. An "
            "update is in progress for resource: x")] * 50
        r = self.up("--memory", "640")
        self.assertEqual(r.code, 2)
        self.assertIn("ResourceConflictException", r.err)
        self.assertIn("partly deployed", r.err)

    def test_lambda_errors_are_passed_on(self):
        self.fake.fail[("create-function", "tp2")] = [AwsError(
            "ResourceConflictException", "Function already exist: tp2", "CreateFunction")]
        r = self.up()
        self.assertEqual(r.code, 2)
        self.assertIn("create tp2 failed: ResourceConflictException (CreateFunction): "
                      "Function already exist: tp2", r.err)
        s = self.status()
        self.assertIn("tp2  missing", s.out)
        self.assertEqual(self.up().code, 0)
        self.assertEqual(self.status().code, 0)

    def test_create_role_policies_exactly(self):
        r = Run(self.fake, ["up", "--prefix", "tp", "--count", "2", "--region", "eu-west-1",
                            "--zip", self.zip, "--state-dir", self.state, "--create-role",
                            "--subnets", "subnet-1,subnet-2", "--security-groups", "sg-1",
                            "--dry-run"])
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(self.fake.roles, {})
        self.assertEqual(self.fake.functions, {})
        lines = {shlex.split(ln)[4]: shlex.split(ln)[5:]
                 for ln in r.out.splitlines() if ln.startswith("would run: aws iam")}
        self.assertEqual(sorted(lines), ["create-role", "put-role-policy"])
        trust = json.loads(opt(lines["create-role"], "--assume-role-policy-document"))
        self.assertEqual(trust, {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
             "Action": "sts:AssumeRole"}]})
        self.assertEqual(opt(lines["create-role"], "--role-name"), "tp-icnode")
        self.assertEqual(opt(lines["create-role"], "--tags"), "Key=icdeploy:prefix,Value=tp")
        policy = json.loads(opt(lines["put-role-policy"], "--policy-document"))
        self.assertEqual(policy, {"Version": "2012-10-17", "Statement": [
            {"Sid": "OwnLogs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/tp*",
                          "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/tp*"
                          ":log-stream:*"]},
            {"Sid": "BackupInvokesOwnFunctions", "Effect": "Allow",
             "Action": "lambda:InvokeFunction",
             "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:tp*"},
            {"Sid": "VpcNetworkInterfaces", "Effect": "Allow",
             "Action": ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses"],
             "Resource": "*"}]})
        # The functions would run as that role, in the VPC.
        creates = [shlex.split(ln)[5:] for ln in r.out.splitlines()
                   if ln.startswith("would run: aws lambda create-function")]
        self.assertEqual(len(creates), 2)
        self.assertEqual(opt(creates[0], "--role"), "arn:aws:iam::123456789012:role/tp-icnode")
        self.assertEqual(json.loads(opt(creates[0], "--vpc-config")),
                         {"SubnetIds": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]})
        # Without a VPC, the policy has no EC2 statement.
        self.assertEqual([s["Sid"] for s in icdeploy.node_policy("tp", "r", "1")["Statement"]],
                         ["OwnLogs", "BackupInvokesOwnFunctions"])

    def test_secret_never_printed(self):
        os.makedirs(self.state)
        path = os.path.join(self.state, "node-secret")
        with open(path, "w") as f:
            f.write("s3cr3t-value-of-the-test-0123456789\nold-secret-value-0123456789\n")
        outputs = []
        for extra in (["--dry-run", "--verbose"], ["--verbose"]):
            r = self.up(*extra)
            self.assertEqual(r.code, 0, r.err)
            outputs.append(r.out + r.err)
        conf = self.fake.functions["tp0"]["Configuration"]["Environment"]["Variables"]
        self.assertEqual(conf["IC_NODE_SECRET_PREVIOUS"], "old-secret-value-0123456789")
        self.fake.fail[("update-function-configuration", None)] = [AwsError(
            "InvalidParameterValueException",
            "bad env s3cr3t-value-of-the-test-0123456789")]
        self.fake.functions["tp0"]["Configuration"]["MemorySize"] = 128
        r = self.up()
        outputs.append(r.out + r.err)
        outputs.append(self.status("--verbose").out)
        for text in outputs:
            self.assertNotIn("s3cr3t-value-of-the-test", text)
            self.assertNotIn("old-secret-value", text)
        self.assertIn("<redacted>", outputs[2])


if __name__ == "__main__":
    unittest.main(verbosity=2)
