#!/usr/bin/python3
"""test_platform_invoke.py -- Invoke API: sync, Event, DryRun, 404, function errors, timeout, 429, queueing."""
import json
import os
import tempfile
import threading
import time

from platlib import Platform, pid_gone, release, run, wait_for


def test_sync_echo_and_headers():
    with Platform() as p:
        status, headers, body = p.invoke("icnode0", {"echo": {"a": [1, 2]}})
        assert status == 200, (status, body)
        assert json.loads(body) == {"a": [1, 2]}
        assert headers["content-type"] == "application/json"
        assert headers["x-amz-executed-version"] == "$LATEST"
        assert len(headers["x-amzn-requestid"]) == 36
        # Explicit RequestResponse, ?Qualifier=, NAME:QUALIFIER and full ARN all reach the function.
        assert p.invoke("icnode1", {"echo": 1}, kind="RequestResponse")[2] == b"1"
        assert p.invoke("icnode1", {"echo": 2}, qualifier="$LATEST")[2] == b"2"
        assert p.invoke("icnode1:$LATEST", {"echo": 3})[2] == b"3"
        arn = "arn:aws:lambda:us-east-1:000000000000:function:icnode1"
        assert p.invoke(arn, {"echo": 4})[2] == b"4"
        # An empty payload is the empty object, as on Lambda.
        assert json.loads(p.invoke("icnode2", b"")[2]) == {"ok": True, "event": {}}


def test_unknown_function_404():
    with Platform() as p:
        for name in ("icnode4", "nosuch", "icnode01"):
            status, headers, body = p.invoke(name, {})
            assert status == 404, (name, status)
            assert headers["x-amzn-errortype"] == "ResourceNotFoundException"
            assert headers["content-type"] == "application/json"
            assert json.loads(body) == {
                "Type": "User",
                "message": "Function not found: arn:aws:lambda:us-east-1:000000000000:function:"
                + name,
                "__type": "ResourceNotFoundException"}
        assert p.stats()["cold_starts"] == 0


def test_event_202_and_dispatched():
    with Platform() as p:
        status, headers, body = p.invoke("icnode0", {"put": "k", "val": "from-event"}, kind="Event")
        assert status == 202 and body == b"", (status, body)
        wait_for(lambda: p.stats()["requests"] == 1, what="the Event invocation to run")
        # The Event ran on the instance a later sync invocation reuses.
        assert p.call("icnode0", {"take": "k"})["value"] == "from-event"


def test_dry_run():
    with Platform() as p:
        status, _, body = p.invoke("icnode0", {}, kind="DryRun")
        assert status == 204 and body == b""
        assert p.invoke("icnode9", {}, kind="DryRun")[0] == 404
        assert p.stats()["requests"] == 0 and p.instances() == []


def test_function_error_unhandled():
    with Platform() as p:
        status, headers, body = p.invoke("icnode0", {"fail": 1})
        assert status == 200
        assert headers["x-amz-function-error"] == "Unhandled"
        assert json.loads(body) == {"errorMessage": "asked to fail", "errorType": "EchoFailure"}
        # The instance stays warm after a handled error.
        pid = p.instances()[0]["pid"]
        assert p.call("icnode0", {"pid": 1})["pid"] == pid
        assert p.stats()["errors"] == 1


def test_timeout_kills_instance():
    with Platform("--timeout", "500ms") as p:
        pid = p.call("icnode0", {"pid": 1})["pid"]
        start = time.monotonic()
        status, headers, body = p.invoke("icnode0", {"sleep_ms": 5000})
        elapsed = time.monotonic() - start
        assert status == 200 and headers["x-amz-function-error"] == "Unhandled"
        msg = json.loads(body)["errorMessage"]
        assert msg.endswith("Task timed out after 0.50 seconds"), msg
        assert headers["x-amzn-requestid"] in msg
        assert 0.4 < elapsed < 3, elapsed
        wait_for(lambda: p.instances() == [], what="the timed-out instance to be gone")
        wait_for(lambda: pid_gone(pid), what="the process to be reaped")
        s = p.stats()
        assert s["timeouts"] == 1 and s["billed_ms"] >= 500
        # Memory is gone: the next invocation is a cold start on a new process.
        assert p.call("icnode0", {"pid": 1})["pid"] != pid
        assert p.stats()["cold_starts"] == 2


def test_sync_over_capacity_429():
    with tempfile.TemporaryDirectory() as d, Platform("--max-instances", "1") as p:
        p.call("icnode0", {"pid": 1})
        hold = os.path.join(d, "busy")
        t = threading.Thread(target=p.invoke, args=("icnode0", {"hold_file": hold}))
        t.start()
        wait_for(lambda: p.instances()[0]["state"] == "busy", what="the instance to be busy")
        status, headers, body = p.invoke("icnode0", {"echo": 1})
        assert status == 429, (status, body)
        assert headers["x-amzn-errortype"] == "TooManyRequestsException"
        assert json.loads(body)["__type"] == "TooManyRequestsException"
        # Another function is not affected.
        assert p.call("icnode1", {"echo": 5}) == 5
        release(hold)
        t.join()
        assert p.stats()["throttles"] == 1


def test_event_queue_over_capacity():
    with Platform("--max-instances", "1") as p:
        for i in range(4):
            assert p.invoke("icnode0", {"sleep_ms": 100}, kind="Event")[0] == 202
        s = p.stats()
        assert s["queued"] >= 2, s
        wait_for(lambda: p.stats()["requests"] == 4, timeout=10, what="the queue to drain")
        assert p.stats()["cold_starts"] == 1 and p.stats()["queued"] == 0
        assert p.instances()[0]["invocations"] == 4


if __name__ == "__main__":
    run([test_sync_echo_and_headers, test_unknown_function_404, test_event_202_and_dispatched,
         test_dry_run, test_function_error_unhandled, test_timeout_kills_instance,
         test_sync_over_capacity_429, test_event_queue_over_capacity])
