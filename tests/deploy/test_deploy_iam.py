#!/usr/bin/python3
"""test_deploy_iam.py -- `icdeploy up --create-role` and `down` through the real AWS CLI, against
the local platform for Lambda and a tiny stand-in IAM endpoint (the query protocol, XML answers,
only the calls icdeploy makes): the role gets exactly the trust and node policies, the functions
run as it, a second up changes nothing, and down removes the role with the functions."""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse
import zipfile
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import stop_process  # noqa: E402

BIN = os.environ.get("IC_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build",
                                                "bin")
ACCOUNT = "000000000000"
NS = "https://iam.amazonaws.com/doc/2010-05-08/"


class FakeIam(http.server.BaseHTTPRequestHandler):
    """IAM as the CLI sees it: form-encoded POSTs, XML answers. State in the server's .roles."""

    def log_message(self, *args):
        pass

    def answer(self, status, xml):
        body = xml.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def ok(self, action, result=""):
        self.answer(200, '<%sResponse xmlns="%s"><%sResult>%s</%sResult><ResponseMetadata>'
                    '<RequestId>1</RequestId></ResponseMetadata></%sResponse>'
                    % (action, NS, action, result, action, action))

    def error(self, status, code, message):
        self.answer(status, '<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code>'
                    '<Message>%s</Message></Error><RequestId>1</RequestId></ErrorResponse>'
                    % (NS, code, escape(message)))

    def role_xml(self, role):
        tags = "".join("<member><Key>%s</Key><Value>%s</Value></member>" % (escape(k), escape(v))
                       for k, v in role["tags"].items())
        return ("<Role><Path>/</Path><RoleName>%s</RoleName><RoleId>AROATEST</RoleId>"
                "<Arn>arn:aws:iam::%s:role/%s</Arn><CreateDate>2026-12-05T00:00:00Z</CreateDate>"
                "<AssumeRolePolicyDocument>%s</AssumeRolePolicyDocument><Tags>%s</Tags></Role>"
                % (role["name"], ACCOUNT, role["name"],
                   urllib.parse.quote(role["trust"]), tags))

    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        p = {k: v[0] for k, v in form.items()}
        action, roles = p.get("Action"), self.server.roles
        self.server.actions.append(action)
        if action == "GetCallerIdentity":
            return self.ok(action, "<Arn>arn:aws:iam::%s:user/t</Arn><UserId>U</UserId>"
                           "<Account>%s</Account>" % (ACCOUNT, ACCOUNT))
        name = p.get("RoleName")
        if action == "CreateRole":
            if name in roles:
                return self.error(409, "EntityAlreadyExists", "Role with name %s already exists."
                                  % name)
            tags = {p["Tags.member.%d.Key" % i]: p["Tags.member.%d.Value" % i]
                    for i in range(1, 10) if "Tags.member.%d.Key" % i in p}
            roles[name] = {"name": name, "trust": p["AssumeRolePolicyDocument"], "tags": tags,
                           "policies": {}}
            return self.ok(action, self.role_xml(roles[name]))
        if name not in roles:
            return self.error(404, "NoSuchEntity", "The role with name %s cannot be found." % name)
        role = roles[name]
        if action == "GetRole":
            return self.ok(action, self.role_xml(role))
        if action == "PutRolePolicy":
            role["policies"][p["PolicyName"]] = p["PolicyDocument"]
            return self.ok(action)
        if action in ("GetRolePolicy", "DeleteRolePolicy"):
            if p["PolicyName"] not in role["policies"]:
                return self.error(404, "NoSuchEntity", "The role policy cannot be found.")
            if action == "DeleteRolePolicy":
                del role["policies"][p["PolicyName"]]
                return self.ok(action)
            return self.ok(action, "<RoleName>%s</RoleName><PolicyName>%s</PolicyName>"
                           "<PolicyDocument>%s</PolicyDocument>"
                           % (name, p["PolicyName"],
                              urllib.parse.quote(role["policies"][p["PolicyName"]])))
        if action == "DeleteRole":
            if role["policies"]:
                return self.error(409, "DeleteConflict", "Cannot delete entity, must delete "
                                  "policies first.")
            del roles[name]
            return self.ok(action)
        return self.error(400, "InvalidAction", "not in the stand-in: %s" % action)


class IamTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="icdeploy-iam-")
        self.iam = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeIam)
        self.iam.roles, self.iam.actions = {}, []
        self.iam_thread = threading.Thread(target=self.iam.serve_forever, daemon=True)
        self.iam_thread.start()
        self.env = dict(os.environ, HOME=self.tmp.name, AWS_ACCESS_KEY_ID="test",
                        AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1",
                        AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="",
                        AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        self.log = open(os.path.join(self.tmp.name, "platform.log"), "w")
        self.platform = subprocess.Popen(
            [os.path.join(BIN, "icplatform"), "--port", "0", "--function-count", "0",
             "--update-delay", "100ms"], stdout=subprocess.PIPE, stderr=self.log, env=self.env)
        line = self.platform.stdout.readline().decode()
        self.assertTrue(line.startswith("READY port="), line)
        self.endpoint = "http://127.0.0.1:%d" % int(line.split("=")[1])
        self.zip = os.path.join(self.tmp.name, "f.zip")
        with zipfile.ZipFile(self.zip, "w") as z:
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o100755 << 16
            z.writestr(info, "#!/bin/sh\n")

    def tearDown(self):
        stop_process(self.platform)
        self.platform.stdout.close()
        self.log.close()
        self.iam.shutdown()
        self.iam.server_close()
        self.tmp.cleanup()

    def icdeploy(self, *args, expect=0):
        r = subprocess.run([os.path.join(BIN, "icdeploy"), *args, "--prefix", "iam",
                            "--endpoint-url", self.endpoint, "--iam-endpoint-url",
                            "http://127.0.0.1:%d" % self.iam.server_address[1],
                            "--state-dir", os.path.join(self.tmp.name, "state")],
                           env=self.env, capture_output=True, text=True, timeout=300,
                           cwd=self.tmp.name)
        self.assertEqual(r.returncode, expect, r.stdout + r.stderr)
        return r

    def test_create_role_up_and_down(self):
        self.icdeploy("up", "--count", "2", "--memory", "128", "--zip", self.zip, "--create-role")
        role = self.iam.roles["iam-icnode"]
        self.assertEqual(role["tags"], {"icdeploy:prefix": "iam"})
        self.assertEqual(json.loads(role["trust"])["Statement"][0]["Principal"],
                         {"Service": "lambda.amazonaws.com"})
        policy = json.loads(role["policies"]["iam-icnode"])
        self.assertEqual([s["Sid"] for s in policy["Statement"]],
                         ["OwnLogs", "BackupInvokesOwnFunctions"])
        self.assertEqual(policy["Statement"][1]["Resource"],
                         "arn:aws:lambda:us-east-1:%s:function:iam*" % ACCOUNT)
        r = subprocess.run(["/usr/bin/aws", "lambda", "get-function-configuration",
                            "--function-name", "iam1", "--endpoint-url", self.endpoint],
                           env=self.env, capture_output=True, text=True, timeout=60)
        self.assertEqual(json.loads(r.stdout)["Role"],
                         "arn:aws:iam::%s:role/iam-icnode" % ACCOUNT, r.stderr)
        # Nothing differs now, the role's policy included.
        r = self.icdeploy("up", "--dry-run")
        self.assertNotIn("would run", r.stdout)
        self.icdeploy("status")
        # The policy edited behind its back is put back.
        role["policies"]["iam-icnode"] = json.dumps({"Version": "2012-10-17", "Statement": []})
        r = self.icdeploy("up", "--dry-run")
        self.assertIn("would run: aws iam put-role-policy", r.stdout)
        self.icdeploy("up")
        self.assertEqual(json.loads(role["policies"]["iam-icnode"]), policy)
        self.icdeploy("down")
        self.assertEqual(self.iam.roles, {})
        self.assertIn("DeleteRole", self.iam.actions)


if __name__ == "__main__":
    if not os.path.exists("/usr/bin/aws"):
        print("SKIP: no AWS CLI at /usr/bin/aws")
        sys.exit(77)
    unittest.main(verbosity=2)
