#!/usr/bin/python3
"""echo_runtime.py -- a tiny Lambda custom runtime for the platform tests; obeys its event.

Events: {"echo": X} returns X; {"pid": 1} returns the process id; {"put": k, "val": v} stores
in process memory and {"take": k} reads it back (proves warm reuse keeps memory);
{"sleep_ms": N} busy-works N ms;
{"hold_file": PATH, "hold_ms": N} stays in the invocation until the file PATH exists, at most
N ms (default 30000), so a test decides when it ends; returns {"held": <PATH appeared>, "pid": ...};
{"env": NAME} returns the environment variable NAME; {"trace": 1} returns the invocation's
Lambda-Runtime-Trace-Id header; {"say": TEXT} prints TEXT on stdout and returns it; {"fail": 1} posts /error; {"exit": 1} exits mid-invocation;
{"exit_once": PATH} exits the first time and writes PATH.done when run again (a retry).
{"touch": PATH} creates the file PATH holding the process id.
{"invoke_self": EVENT, "wait_file": PATH, "wait_ms": N} posts an Event invocation of its own
function (AWS_LAMBDA_FUNCTION_NAME) with EVENT to the Invoke API (same host and port as the
Runtime API), then, still inside this invocation, waits up to N ms for PATH to exist; returns
{"status": <HTTP status>, "saw_file": bool, "pid": ...}. With EVENT {"touch": PATH} this proves
that the self-invocation ran concurrently on another instance.
Anything else returns {"ok": true, "event": <event>}.
With ECHO_RUNTIME_INIT_ERROR=1 in the environment it posts /runtime/init/error and waits;
with ECHO_RUNTIME_HANG_INIT=1 it never asks for an invocation.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
memory = {}
current_trace = None


def post(path, body, headers=None):
    req = urllib.request.Request(API + path, data=body, method="POST", headers=headers or {})
    with urllib.request.urlopen(req) as r:
        r.read()


def invoke_self(event):
    host_port = os.environ["AWS_LAMBDA_RUNTIME_API"].split("/", 1)[0]
    url = "http://%s/2015-03-31/functions/%s/invocations" % (
        host_port, os.environ["AWS_LAMBDA_FUNCTION_NAME"])
    req = urllib.request.Request(url, data=json.dumps(event["invoke_self"]).encode(),
                                 method="POST", headers={"X-Amz-Invocation-Type": "Event"})
    try:
        with urllib.request.urlopen(req) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    path = event.get("wait_file")
    deadline = time.monotonic() + event.get("wait_ms", 0) / 1000.0
    saw = bool(path) and os.path.exists(path)
    while path and not saw and time.monotonic() < deadline:
        time.sleep(0.01)
        saw = os.path.exists(path)
    return {"status": status, "saw_file": saw, "pid": os.getpid()}


def handle(event):
    """Returns (result, is_error)."""
    if not isinstance(event, dict):
        return {"ok": True, "event": event}, False
    if "echo" in event:
        return event["echo"], False
    if "trace" in event:
        return {"trace": current_trace}, False
    if "say" in event:
        print(event["say"], flush=True)
        return {"said": event["say"]}, False
    if "env" in event:
        return {"value": os.environ.get(event["env"]), "pid": os.getpid()}, False
    if "pid" in event:
        return {"pid": os.getpid()}, False
    if "put" in event:
        memory[event["put"]] = event.get("val")
        return {"stored": event["put"], "pid": os.getpid()}, False
    if "take" in event:
        return {"value": memory.get(event["take"]), "pid": os.getpid()}, False
    if "sleep_ms" in event:
        end = time.monotonic() + event["sleep_ms"] / 1000.0
        while time.monotonic() < end:
            pass
        return {"slept_ms": event["sleep_ms"], "pid": os.getpid()}, False
    if "hold_file" in event:
        deadline = time.monotonic() + event.get("hold_ms", 30000) / 1000.0
        seen = os.path.exists(event["hold_file"])
        while not seen and time.monotonic() < deadline:
            time.sleep(0.005)
            seen = os.path.exists(event["hold_file"])
        return {"held": seen, "pid": os.getpid()}, False
    if "fail" in event:
        return {"errorMessage": "asked to fail", "errorType": "EchoFailure"}, True
    if "exit" in event:
        os._exit(3)
    if "exit_once" in event:
        # Crashes the first time (leaving PATH behind), succeeds when retried: PATH.done.
        path = event["exit_once"]
        if not os.path.exists(path):
            open(path, "w").close()
            os._exit(3)
        with open(path + ".done.tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(path + ".done.tmp", path + ".done")
        return {"retried": True, "pid": os.getpid()}, False
    if "touch" in event:
        # Written beside and renamed, so that whoever sees the file sees the pid in it.
        with open(event["touch"] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(event["touch"] + ".tmp", event["touch"])
        return {"touched": event["touch"], "pid": os.getpid()}, False
    if "invoke_self" in event:
        return invoke_self(event), False
    return {"ok": True, "event": event}, False


def main():
    if os.environ.get("ECHO_RUNTIME_INIT_ERROR") == "1":
        post("/init/error", json.dumps({"errorMessage": "init failed on purpose",
                                        "errorType": "EchoInitError"}).encode(),
             {"Lambda-Runtime-Function-Error-Type": "EchoInitError"})
        time.sleep(60)
        return
    if os.environ.get("ECHO_RUNTIME_HANG_INIT") == "1":
        time.sleep(60)
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            deadline = r.headers.get("Lambda-Runtime-Deadline-Ms")
            global current_trace
            current_trace = r.headers.get("Lambda-Runtime-Trace-Id")
            body = r.read()
        assert deadline is not None and int(deadline) > 0
        try:
            event = json.loads(body) if body else {}
        except ValueError:
            event = body.decode(errors="replace")
        result, is_error = handle(event)
        kind = "error" if is_error else "response"
        post("/invocation/%s/%s" % (request_id, kind), json.dumps(result).encode())


if __name__ == "__main__":
    sys.exit(main())
