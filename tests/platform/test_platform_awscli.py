#!/usr/bin/python3
"""test_platform_awscli.py -- the real AWS CLI (/usr/bin/aws) invokes functions on the platform."""
import json
import os
import subprocess
import tempfile

from platlib import Platform, run

AWS = "/usr/bin/aws"


def aws(port, *args, key="x"):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY="x",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    cmd = [AWS, "lambda", "--endpoint-url", "http://127.0.0.1:%d" % port] + list(args)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


def test_cli_invoke():
    with Platform() as p, tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.json")
        r = aws(p.port, "invoke", "--function-name", "icnode0", "--payload", '{"echo":{"x":42}}',
                "--cli-binary-format", "raw-in-base64-out", out)
        assert r.returncode == 0, r.stderr
        meta = json.loads(r.stdout)
        assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST", meta
        with open(out) as f:
            assert json.load(f) == {"x": 42}
        # A function error shows up as FunctionError in the CLI's output.
        r = aws(p.port, "invoke", "--function-name", "icnode0", "--payload", '{"fail":1}',
                "--cli-binary-format", "raw-in-base64-out", out)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["FunctionError"] == "Unhandled"
        # Event invocations.
        r = aws(p.port, "invoke", "--function-name", "icnode1", "--invocation-type", "Event",
                "--payload", '{"cmd":"warmup"}', "--cli-binary-format", "raw-in-base64-out", out)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["StatusCode"] == 202


def test_cli_not_found():
    with Platform() as p, tempfile.TemporaryDirectory() as d:
        r = aws(p.port, "invoke", "--function-name", "nosuch", "--payload", "{}",
                "--cli-binary-format", "raw-in-base64-out", os.path.join(d, "out.json"))
        assert r.returncode != 0
        assert "ResourceNotFoundException" in r.stderr, r.stderr
        assert "Function not found" in r.stderr, r.stderr


def test_cli_signed_only():
    """With --require-sigv4 KEY the platform takes what the CLI signs with KEY, and refuses the
    same call signed with another key or not signed at all, as Lambda does."""
    with Platform("--require-sigv4", "AKIDCLI") as p, tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.json")
        args = ["invoke", "--function-name", "icnode0", "--payload", '{"echo":{"y":1}}',
                "--cli-binary-format", "raw-in-base64-out", out]
        r = aws(p.port, *args, key="AKIDCLI")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["StatusCode"] == 200
        r = aws(p.port, *args, key="AKIDOTHER")
        assert r.returncode != 0
        assert "InvalidSignatureException" in r.stderr, r.stderr
        status, headers, body = p.request("POST", "/2015-03-31/functions/icnode0/invocations",
                                          b"{}")
        assert status == 403, (status, body)
        assert json.loads(body)["__type"] == "InvalidSignatureException", body
        assert headers["x-amzn-errortype"] == "InvalidSignatureException", headers


if __name__ == "__main__":
    run([test_cli_invoke, test_cli_not_found, test_cli_signed_only])
