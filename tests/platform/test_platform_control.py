#!/usr/bin/python3
"""test_platform_control.py -- the Lambda control plane of icplatform, driven by the real AWS CLI:
create, get, list (paging), update code and configuration, delete, concurrency, event-invoke
config, account settings, the state directory across restarts, Lambda's errors for bad input,
Event retries and the trace header."""
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile

from platlib import Platform, RUNTIME, release, run, wait_for, pid_gone

AWS = "/usr/bin/aws"
ROLE = "arn:aws:iam::123456789012:role/icnode"


def aws(port, *args, key="x"):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY="x",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    cmd = [AWS, "lambda", "--endpoint-url", "http://127.0.0.1:%d" % port] + list(args)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def ok(port, *args, **kw):
    r = aws(port, *args, **kw)
    assert r.returncode == 0, (args, r.stderr)
    return json.loads(r.stdout) if r.stdout.strip() else None


def fails(port, error_type, text, *args):
    r = aws(port, *args)
    assert r.returncode != 0, (args, r.stdout)
    assert error_type in r.stderr, (error_type, r.stderr)
    assert text in r.stderr, (text, r.stderr)
    return r.stderr


def make_zip(path, files):
    """files: {name: (bytes, mode)}; stored with Unix modes in the external attributes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return path


def echo_zip(d, name="f.zip", extra=None):
    with open(RUNTIME, "rb") as f:
        files = {"bootstrap": (f.read(), 0o755), "lib/.keep": (b"", 0o644)}
    files.update(extra or {})
    return make_zip(os.path.join(d, name), files)


def create(port, name, zpath, *extra):
    return ok(port, "create-function", "--function-name", name, "--runtime", "provided.al2023",
              "--role", ROLE, "--handler", "bootstrap", "--zip-file", "fileb://" + zpath, *extra)


def invoke(port, name, payload, d, *extra):
    out = os.path.join(d, "out.json")
    meta = ok(port, "invoke", "--function-name", name, "--payload", json.dumps(payload),
              "--cli-binary-format", "raw-in-base64-out", *extra, out)
    with open(out) as f:
        return meta, json.load(f)


def control_platform(*flags):
    return Platform("--function-count", "0", "--update-delay", "200ms", *flags)


def test_create_get_list_invoke_delete():
    with control_platform() as p, tempfile.TemporaryDirectory() as d:
        z = echo_zip(d)
        doc = create(p.port, "cp1", z, "--architectures", "arm64", "--memory-size", "256",
                     "--timeout", "30", "--environment", "Variables={GREETING=hello}",
                     "--tags", "owner=icdeploy")
        assert doc["State"] == "Pending" and doc["LastUpdateStatus"] == "InProgress", doc
        assert doc["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:cp1", doc
        assert doc["Architectures"] == ["arm64"] and doc["MemorySize"] == 256, doc
        assert doc["CodeSize"] == os.path.getsize(z), doc
        import base64, hashlib
        with open(z, "rb") as f:
            assert doc["CodeSha256"] == base64.b64encode(hashlib.sha256(f.read()).digest()).decode()
        assert doc["LastModified"].endswith("+0000") and len(doc["RevisionId"]) == 36, doc
        ok(p.port, "wait", "function-active-v2", "--function-name", "cp1")
        got = ok(p.port, "get-function", "--function-name", "cp1")
        assert got["Configuration"]["State"] == "Active", got
        assert got["Tags"] == {"owner": "icdeploy"}, got
        arn = doc["FunctionArn"]
        ok(p.port, "tag-resource", "--resource", arn, "--tags", "stage=test,team=cache")
        ok(p.port, "untag-resource", "--resource", arn, "--tag-keys", "team", "owner")
        assert ok(p.port, "list-tags", "--resource", arn)["Tags"] == {"stage": "test"}
        conf = ok(p.port, "get-function-configuration", "--function-name", "cp1")
        assert conf["Environment"]["Variables"] == {"GREETING": "hello"}, conf
        # The instance runs the zip's bootstrap with Lambda's environment.
        for var, want in [("GREETING", "hello"), ("AWS_LAMBDA_FUNCTION_NAME", "cp1"),
                          ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
                          ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"), ("_HANDLER", "bootstrap")]:
            _, out = invoke(p.port, "cp1", {"env": var}, d)
            assert out["value"] == want, (var, out)
        _, root = invoke(p.port, "cp1", {"env": "LAMBDA_TASK_ROOT"}, d)
        assert os.path.exists(os.path.join(root["value"], "bootstrap")), root
        _, ld = invoke(p.port, "cp1", {"env": "LD_LIBRARY_PATH"}, d)
        assert root["value"] + "/lib" in ld["value"].split(":"), ld
        # The platform's own environment does not leak into a created function.
        _, tok = invoke(p.port, "cp1", {"env": "IC_PLATFORM_ADMIN_TOKEN"}, d)
        assert tok["value"] is None, tok
        # Paging: three functions, pages of one.
        create(p.port, "cp2", z)
        create(p.port, "cp0", z)
        names, marker = [], None
        for _ in range(5):
            q = "/2015-03-31/functions/?MaxItems=1" + ("&Marker=" + marker if marker else "")
            status, _, body = p.request("GET", q)
            assert status == 200, body
            page = json.loads(body)
            names += [f["FunctionName"] for f in page["Functions"]]
            marker = page.get("NextMarker")
            if not marker:
                break
        assert names == ["cp0", "cp1", "cp2"], names
        listed = ok(p.port, "list-functions", "--max-items", "2")
        assert len(listed["Functions"]) == 2 and "NextToken" in listed, listed
        listed = ok(p.port, "list-functions")
        assert [f["FunctionName"] for f in listed["Functions"]] == ["cp0", "cp1", "cp2"]
        ok(p.port, "delete-function", "--function-name", "cp1")
        fails(p.port, "ResourceNotFoundException", "Function not found", "get-function",
              "--function-name", "cp1")
        status, _, body = p.invoke("cp1", {})
        assert status == 404, body
        assert not os.path.exists(root["value"]), "the code of a deleted function stays"


def test_bad_input():
    with control_platform("--code-storage", "20k") as p, tempfile.TemporaryDirectory() as d:
        z = echo_zip(d)
        nob = make_zip(os.path.join(d, "nob.zip"), {"main": (b"#!/bin/sh\n", 0o755)})
        fails(p.port, "InvalidParameterValueException", "Couldn't find valid bootstrap",
              "create-function", "--function-name", "b1", "--runtime", "provided.al2023",
              "--role", ROLE, "--handler", "x", "--zip-file", "fileb://" + nob)
        noexec = make_zip(os.path.join(d, "noexec.zip"), {"bootstrap": (b"#!/bin/sh\n", 0o644)})
        fails(p.port, "InvalidParameterValueException", "permission denied", "create-function",
              "--function-name", "b1", "--runtime", "provided.al2023", "--role", ROLE,
              "--handler", "x", "--zip-file", "fileb://" + noexec)
        # Not a zip (the CLI checks the file itself, so this one goes in raw).
        import base64
        status, headers, body = p.request("POST", "/2015-03-31/functions", {
            "FunctionName": "b1", "Runtime": "provided.al2023", "Role": ROLE, "Handler": "x",
            "Code": {"ZipFile": base64.b64encode(b"not a zip at all" * 100).decode()}})
        assert status == 400 and headers["x-amzn-errortype"] == "InvalidParameterValueException"
        assert b"Could not unzip uploaded file" in body, body
        base = ["create-function", "--function-name", "b1", "--role", ROLE, "--handler", "x",
                "--zip-file", "fileb://" + z]
        fails(p.port, "ValidationException", "at 'runtime' failed to satisfy constraint",
              *base, "--runtime", "cobol85")
        fails(p.port, "InvalidParameterValueException", "not supported", *base, "--runtime",
              "python3.12")
        fails(p.port, "ValidationException", "at 'architectures'", *base, "--runtime",
              "provided.al2", "--architectures", "x86")
        # The CLI checks the lower bound itself, so memory sizes go in raw.
        for mem, text in [(64, b"greater than or equal to 128"),
                          (10241, b"less than or equal to 10240")]:
            status, headers, body = p.request("POST", "/2015-03-31/functions", {
                "FunctionName": "b1", "Runtime": "provided.al2023", "Role": ROLE, "Handler": "x",
                "MemorySize": mem, "Code": {"ZipFile": base64.b64encode(open(z, "rb").read()).decode()}})
            assert status == 400 and headers["x-amzn-errortype"] == "ValidationException", body
            assert text in body, body
        create(p.port, "b1", z)
        fails(p.port, "ResourceConflictException", "Function already exist: b1", *base,
              "--runtime", "provided.al2023")
        # The account's code storage (--code-storage 20k) is full after a few zips.
        big = make_zip(os.path.join(d, "big.zip"), {"bootstrap": (b"#!/bin/sh\n", 0o755),
                                                   "blob": (os.urandom(30000), 0o644)})
        fails(p.port, "CodeStorageExceededException", "Code storage limit exceeded",
              "create-function", "--function-name", "b2", "--runtime", "provided.al2023",
              "--role", ROLE, "--handler", "x", "--zip-file", "fileb://" + big)
        fails(p.port, "ResourceNotFoundException", "Function not found", "update-function-code",
              "--function-name", "nosuch", "--zip-file", "fileb://" + z)
    # A 70 MB zip is over Lambda's 50 MB direct upload.
    with control_platform() as p, tempfile.TemporaryDirectory() as d:
        huge = os.path.join(d, "huge.zip")
        with zipfile.ZipFile(huge, "w", zipfile.ZIP_STORED) as zf:
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o100755 << 16
            zf.writestr(info, b"#!/bin/sh\n")
            zf.writestr("blob", os.urandom(70 * 1000 * 1000))
        fails(p.port, "RequestEntityTooLargeException",
              "Request must be smaller than 69905067 bytes for the CreateFunction operation",
              "create-function", "--function-name", "h1", "--runtime", "provided.al2023",
              "--role", ROLE, "--handler", "x", "--zip-file", "fileb://" + huge)
        status, _, _ = p.request("GET", "/2015-03-31/functions/")
        assert status == 200, "the platform must keep serving"


def test_update_code_and_configuration():
    with control_platform() as p, tempfile.TemporaryDirectory() as d:
        z1 = echo_zip(d, "v1.zip")
        create(p.port, "up", z1, "--memory-size", "256", "--timeout", "60")
        ok(p.port, "wait", "function-active-v2", "--function-name", "up")
        _, first = invoke(p.port, "up", {"env": "LAMBDA_TASK_ROOT"}, d)
        # An old instance keeps running its invocation across the update.
        hold = os.path.join(d, "hold")
        held = subprocess.Popen([AWS, "lambda", "--endpoint-url", "http://127.0.0.1:%d" % p.port,
                                 "invoke", "--function-name", "up", "--payload",
                                 json.dumps({"hold_file": hold}), "--cli-binary-format",
                                 "raw-in-base64-out", os.path.join(d, "held.json")],
                                env=dict(os.environ, AWS_ACCESS_KEY_ID="x",
                                         AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1",
                                         AWS_CONFIG_FILE="/dev/null",
                                         AWS_SHARED_CREDENTIALS_FILE="/dev/null"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: any(i["state"] == "busy" for i in p.instances("up")),
                     what="the held invocation")
            old_pid = [i["pid"] for i in p.instances("up")][0]
            z2 = echo_zip(d, "v2.zip", {"VERSION": (b"2", 0o644)})
            doc = ok(p.port, "update-function-code", "--function-name", "up", "--zip-file",
                     "fileb://" + z2, "--architectures", "arm64")
            assert doc["LastUpdateStatus"] == "InProgress", doc
            ok(p.port, "wait", "function-updated-v2", "--function-name", "up")
            conf = ok(p.port, "get-function-configuration", "--function-name", "up")
            assert conf["LastUpdateStatus"] == "Successful" and conf["Architectures"] == ["arm64"]
            assert conf["CodeSize"] == os.path.getsize(z2), conf
            _, second = invoke(p.port, "up", {"env": "LAMBDA_TASK_ROOT"}, d)
            assert second["value"] != first["value"], (first, second)
            assert os.path.exists(os.path.join(second["value"], "VERSION"))
            assert second["pid"] != old_pid
        finally:
            release(hold)
            out, err = held.communicate(timeout=60)
        assert held.returncode == 0, err
        with open(os.path.join(d, "held.json")) as f:
            assert json.load(f)["held"] is True
        # Having finished, the old instance is retired.
        wait_for(lambda: pid_gone(old_pid), what="the old instance to be retired")
        ok(p.port, "update-function-configuration", "--function-name", "up", "--memory-size",
           "1024", "--timeout", "60", "--environment", "Variables={MODE=two}")
        ok(p.port, "wait", "function-updated-v2", "--function-name", "up")
        _, mem = invoke(p.port, "up", {"env": "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"}, d)
        _, mode = invoke(p.port, "up", {"env": "MODE"}, d)
        assert mem["value"] == "1024" and mode["value"] == "two", (mem, mode)
        status, headers, body = p.request("PUT", "/2015-03-31/functions/up/configuration",
                                          {"MemorySize": 20000})
        assert status == 400 and headers["x-amzn-errortype"] == "ValidationException", body


def test_pending_refuses_invocations():
    # The update window must outlast two AWS CLI calls, which take seconds each on a busy machine.
    with Platform("--function-count", "0", "--update-delay", "10s") as p, \
            tempfile.TemporaryDirectory() as d:
        create(p.port, "slow", echo_zip(d))
        status, headers, body = p.invoke("slow", {})
        assert status == 409, (status, body)
        assert headers["x-amzn-errortype"] == "ResourceConflictException", headers
        ok(p.port, "wait", "function-active-v2", "--function-name", "slow")
        assert p.call("slow", {"echo": 5}) == 5
        # A second update while the first is in progress: 409, as on Lambda.
        z2 = echo_zip(d, "v2.zip", {"VERSION": (b"2", 0o644)})
        ok(p.port, "update-function-code", "--function-name", "slow", "--zip-file", "fileb://" + z2)
        fails(p.port, "ResourceConflictException", "An update is in progress",
              "update-function-configuration", "--function-name", "slow", "--memory-size", "512")
        ok(p.port, "wait", "function-updated-v2", "--function-name", "slow")


def test_state_survives_restart():
    with tempfile.TemporaryDirectory() as d:
        state = os.path.join(d, "state")
        z = echo_zip(d)
        with control_platform("--state-dir", state) as p:
            create(p.port, "keep", z, "--environment", "Variables={K=v}")
            ok(p.port, "put-function-concurrency", "--function-name", "keep",
               "--reserved-concurrent-executions", "3")
            ok(p.port, "wait", "function-active-v2", "--function-name", "keep")
        with control_platform("--state-dir", state) as p:
            got = ok(p.port, "get-function", "--function-name", "keep")
            assert got["Concurrency"]["ReservedConcurrentExecutions"] == 3, got
            _, out = invoke(p.port, "keep", {"env": "K"}, d)
            assert out["value"] == "v", out
        with control_platform("--state-dir", state, "--state-reset", "yes") as p:
            fails(p.port, "ResourceNotFoundException", "Function not found", "get-function",
                  "--function-name", "keep")


def test_concurrency_limits():
    with control_platform("--account-concurrency", "20", "--max-instances", "8") as p, \
            tempfile.TemporaryDirectory() as d:
        z = echo_zip(d)
        # A timeout far beyond the test's steps: the held invocation must still be running when
        # the AWS CLI (seconds per call on a busy machine) asks for a second one.
        create(p.port, "rc", z, "--timeout", "120")
        create(p.port, "other", z)
        ok(p.port, "wait", "function-active-v2", "--function-name", "other")
        r = ok(p.port, "put-function-concurrency", "--function-name", "rc",
               "--reserved-concurrent-executions", "1")
        assert r == {"ReservedConcurrentExecutions": 1}, r
        fails(p.port, "InvalidParameterValueException", "UnreservedConcurrentExecution",
              "put-function-concurrency", "--function-name", "other",
              "--reserved-concurrent-executions", "19")
        hold = os.path.join(d, "hold")
        p.invoke("rc", {"hold_file": hold}, kind="Event")
        wait_for(lambda: any(i["state"] == "busy" for i in p.instances("rc")), what="busy")
        status, headers, body = p.invoke("rc", {"echo": 1})
        assert status == 429, (status, body)
        doc = json.loads(body)
        assert doc["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded", doc
        assert doc["message"] == "Rate Exceeded." and headers["x-amzn-errortype"] == \
            "TooManyRequestsException", (doc, headers)
        fails(p.port, "TooManyRequestsException", "Rate Exceeded", "invoke", "--function-name",
              "rc", "--payload", "{}", "--cli-binary-format", "raw-in-base64-out",
              os.path.join(d, "o.json"))
        release(hold)
        wait_for(lambda: p.invoke("rc", {"echo": 2})[0] == 200, what="rc to run again")
        ok(p.port, "put-function-concurrency", "--function-name", "rc",
           "--reserved-concurrent-executions", "0")
        status, _, body = p.invoke("rc", {})
        assert status == 429 and b"ReservedFunctionConcurrentInvocationLimitExceeded" in body
        ok(p.port, "delete-function-concurrency", "--function-name", "rc")
        assert p.call("rc", {"echo": 3}) == 3
        settings = ok(p.port, "get-account-settings")
        assert settings["AccountLimit"]["ConcurrentExecutions"] == 20, settings
        assert settings["AccountUsage"]["FunctionCount"] == 2, settings
    # The account's limit: two running invocations of any functions, the third is refused.
    with control_platform("--account-concurrency", "2") as p, tempfile.TemporaryDirectory() as d:
        z = echo_zip(d)
        create(p.port, "a1", z)
        create(p.port, "a2", z)
        ok(p.port, "wait", "function-active-v2", "--function-name", "a2")
        hold = os.path.join(d, "hold")
        p.invoke("a1", {"hold_file": hold}, kind="Event")
        p.invoke("a2", {"hold_file": hold}, kind="Event")
        wait_for(lambda: len([i for i in p.instances() if i["state"] == "busy"]) == 2,
                 what="two busy")
        status, _, body = p.invoke("a1", {"echo": 1})
        assert status == 429 and json.loads(body)["Reason"] == "ConcurrentInvocationLimitExceeded"
        # An Event invocation is queued, not refused, and runs once there is room.
        touched = os.path.join(d, "touched")
        assert p.invoke("a2", {"touch": touched}, kind="Event")[0] == 202
        release(hold)
        wait_for(lambda: os.path.exists(touched), what="the queued event")
        assert p.stats()["throttles_account"] >= 1


def test_event_retries_follow_the_config():
    with control_platform("--event-retry-delay", "100ms") as p, \
            tempfile.TemporaryDirectory() as d:
        z = echo_zip(d)
        create(p.port, "ev", z)
        ok(p.port, "wait", "function-active-v2", "--function-name", "ev")
        # Default: a failing Event runs three times (two retries, after 100 ms and 200 ms).
        t0 = time.monotonic()
        assert p.invoke("ev", {"fail": 1}, kind="Event")[0] == 202
        wait_for(lambda: p.stats()["requests"] == 3, what="two retries")
        assert time.monotonic() - t0 >= 0.3, "retried before the delays"
        assert p.stats()["event_retries"] == 2
        fails(p.port, "ResourceNotFoundException", "doesn't have an EventInvokeConfig",
              "get-function-event-invoke-config", "--function-name", "ev")
        r = ok(p.port, "put-function-event-invoke-config", "--function-name", "ev",
               "--maximum-retry-attempts", "0", "--maximum-event-age-in-seconds", "60")
        assert r["MaximumRetryAttempts"] == 0 and r["MaximumEventAgeInSeconds"] == 60, r
        # GetFunctionEventInvokeConfig reads back what was put (a deployment tool diffs on it).
        got = ok(p.port, "get-function-event-invoke-config", "--function-name", "ev")
        assert got["MaximumRetryAttempts"] == 0 and got["MaximumEventAgeInSeconds"] == 60, got
        assert got["FunctionArn"].endswith(":function:ev:$LATEST"), got
        assert p.invoke("ev", {"fail": 1}, kind="Event")[0] == 202
        wait_for(lambda: p.stats()["requests"] == 4, what="the one attempt")
        # A sync invocation after it proves nothing else is coming (retries would run first:
        # they go to the head of the queue after 100 ms).
        time_limit = time.monotonic() + 0.5
        while time.monotonic() < time_limit:
            assert p.stats()["requests"] == 4, "retried despite MaximumRetryAttempts 0"
            time.sleep(0.05)
        fails(p.port, "ValidationException", "maximumRetryAttempts",
              "put-function-event-invoke-config", "--function-name", "ev",
              "--maximum-retry-attempts", "3")
        # The CLI checks the age itself, so this one goes in raw.
        status, headers, body = p.request("PUT", "/2019-09-25/functions/ev/event-invoke-config",
                                          {"MaximumEventAgeInSeconds": 10})
        assert status == 400 and headers["x-amzn-errortype"] == "ValidationException", body
        assert b"maximumEventAgeInSeconds" in body, body


def test_trace_header_handed_on():
    with control_platform() as p, tempfile.TemporaryDirectory() as d:
        create(p.port, "tr", echo_zip(d))
        ok(p.port, "wait", "function-active-v2", "--function-name", "tr")
        trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        status, _, body = p.request("POST", "/2015-03-31/functions/tr/invocations",
                                    {"trace": 1}, {"X-Amzn-Trace-Id": trace})
        assert status == 200 and json.loads(body)["trace"] == trace, body
        # Without one the platform makes one up, in the same shape.
        out = p.call("tr", {"trace": 1})
        assert out["trace"].startswith("Root=1-"), out


def test_log_tail():
    with control_platform() as p, tempfile.TemporaryDirectory() as d:
        create(p.port, "lt", echo_zip(d), "--memory-size", "512")
        ok(p.port, "wait", "function-active-v2", "--function-name", "lt")
        import base64
        meta, out = invoke(p.port, "lt", {"say": "hello from the tail"}, d, "--log-type", "Tail")
        assert out == {"said": "hello from the tail"}, out
        tail = base64.b64decode(meta["LogResult"]).decode()
        assert tail.startswith("START RequestId: "), tail
        assert "hello from the tail\n" in tail and "END RequestId: " in tail, tail
        assert "REPORT RequestId: " in tail and "Memory Size: 512 MB" in tail, tail
        # A long output: only the last 4 KB come back.
        meta, _ = invoke(p.port, "lt", {"say": "x" * 10000 + "LAST"}, d, "--log-type", "Tail")
        tail = base64.b64decode(meta["LogResult"]).decode()
        assert len(tail) <= 4096 and "LAST" in tail and "REPORT" in tail, len(tail)
        # Without it, no log.
        meta, _ = invoke(p.port, "lt", {"say": "quiet"}, d)
        assert "LogResult" not in meta, meta
        # What instances print still reaches the platform's log.
        wait_for(lambda: "hello from the tail" in p.log_text(), what="the output in the log")


def test_signed_control_plane():
    with control_platform("--require-sigv4", "AKIDCTL") as p, tempfile.TemporaryDirectory() as d:
        z = echo_zip(d)
        ok(p.port, "create-function", "--function-name", "s1", "--runtime", "provided.al2023",
           "--role", ROLE, "--handler", "x", "--zip-file", "fileb://" + z, key="AKIDCTL")
        r = aws(p.port, "list-functions", key="AKIDOTHER")
        assert r.returncode != 0 and "InvalidSignatureException" in r.stderr, r.stderr
        status, _, _ = p.request("GET", "/2015-03-31/functions/")
        assert status == 403


def test_preconfigured_functions_read_only():
    with Platform() as p, tempfile.TemporaryDirectory() as d:
        got = ok(p.port, "get-function", "--function-name", "icnode0")
        assert got["Configuration"]["State"] == "Active", got
        fails(p.port, "InvalidParameterValueException", "pre-configured", "delete-function",
              "--function-name", "icnode0")
        fails(p.port, "ResourceConflictException", "Function already exist", "create-function",
              "--function-name", "icnode1", "--runtime", "provided.al2023", "--role", ROLE,
              "--handler", "x", "--zip-file", "fileb://" + echo_zip(d))
        assert p.call("icnode0", {"echo": 7}) == 7


if __name__ == "__main__":
    run([test_create_get_list_invoke_delete, test_bad_input, test_update_code_and_configuration,
         test_pending_refuses_invocations, test_state_survives_restart, test_concurrency_limits,
         test_event_retries_follow_the_config, test_trace_header_handed_on, test_log_tail,
         test_signed_control_plane, test_preconfigured_functions_read_only])
