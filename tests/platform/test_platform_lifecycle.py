#!/usr/bin/python3
"""test_platform_lifecycle.py -- instances: warm reuse, LIFO choice, cold starts (also for a
function invoking itself), freezing, exits, init errors, reclaim."""
import json
import os
import tempfile
import threading
import time

from platlib import Platform, pid_gone, proc_state, release, run, wait_for


def test_warm_reuse_keeps_memory():
    with Platform() as p:
        r = p.call("icnode0", {"put": "k", "val": "v1"})
        assert p.call("icnode0", {"take": "k"}) == {"value": "v1", "pid": r["pid"]}
        assert p.call("icnode0", {"take": "k"})["value"] == "v1"
        s = p.stats()
        assert s["cold_starts"] == 1 and s["instances"] == 1
        inst = p.instances("icnode0")
        assert len(inst) == 1 and inst[0]["invocations"] == 3 and inst[0]["pid"] == r["pid"]
        # Functions do not share instances.
        assert p.call("icnode1", {"take": "k"})["value"] is None
        assert p.stats()["cold_starts"] == 2


def test_busy_function_gets_new_instance():
    with tempfile.TemporaryDirectory() as d, Platform() as p:
        first = p.call("icnode0", {"put": "k", "val": "first"})["pid"]
        results = []
        hold = os.path.join(d, "first")
        t = threading.Thread(target=lambda: results.append(p.call("icnode0", {"hold_file": hold})))
        t.start()
        wait_for(lambda: p.instances()[0]["state"] == "busy", what="the first instance busy")
        second = p.call("icnode0", {"take": "k"})
        assert second["pid"] != first and second["value"] is None  # a fresh instance, no memory
        release(hold)
        t.join()
        assert results[0] == {"held": True, "pid": first}, results
        assert p.stats()["cold_starts"] == 2 and len(p.instances("icnode0")) == 2


def call_in_thread(p, fn, payload, results, name):
    t = threading.Thread(target=lambda: results.__setitem__(name, p.call(fn, payload)))
    t.start()
    return t


def busy_pids(p):
    return {i["pid"] for i in p.instances("icnode0") if i["state"] == "busy"}


def test_warm_choice_is_lifo():
    """Of several idle instances, an invocation goes to the one that finished last: after a
    backup, that is the primary, which holds the newest data. The test decides the order in which
    invocations end (hold_file), so a slow cold start cannot reorder them."""
    with tempfile.TemporaryDirectory() as d, Platform() as p:
        r = {}
        # The older instance finishes last.
        t = call_in_thread(p, "icnode0", {"hold_file": os.path.join(d, "old")}, r, "old")
        # A cold start: seconds on a loaded machine, so a generous deadline (met at once when not).
        wait_for(lambda: len(busy_pids(p)) == 1, timeout=20, what="the first instance busy")
        old = busy_pids(p).pop()
        new = p.call("icnode0", {"pid": 1})["pid"]  # a cold start beside it, done at once
        assert new != old and old in busy_pids(p), "the held invocation is not running"
        release(os.path.join(d, "old"))
        t.join()
        assert r["old"] == {"held": True, "pid": old}, r
        assert p.call("icnode0", {"pid": 1})["pid"] == old
        # Now the newer instance finishes last: both warm, the second starts while the first
        # runs and ends after it.
        t1 = call_in_thread(p, "icnode0", {"hold_file": os.path.join(d, "a")}, r, "a")
        wait_for(lambda: busy_pids(p) == {old}, what="the most recent instance busy")
        t2 = call_in_thread(p, "icnode0", {"hold_file": os.path.join(d, "b")}, r, "b")
        wait_for(lambda: busy_pids(p) == {old, new}, what="both instances busy")
        release(os.path.join(d, "a"))
        t1.join()
        release(os.path.join(d, "b"))
        t2.join()
        assert r["a"] == {"held": True, "pid": old} and r["b"] == {"held": True, "pid": new}, r
        assert p.call("icnode0", {"pid": 1})["pid"] == new
        assert p.call("icnode0", {"pid": 1})["pid"] == new
        assert p.stats()["cold_starts"] == 2


def test_self_invocation_starts_second_instance():
    """A function that, inside an invocation, sends an Event invocation of itself gets a second
    instance running at the same time (the first is busy, the limit not reached)."""
    with tempfile.TemporaryDirectory() as d, Platform() as p:
        marker = os.path.join(d, "inner")
        r = p.call("icnode0", {"invoke_self": {"touch": marker}, "wait_file": marker,
                               "wait_ms": 10000})
        assert r["status"] == 202 and r["saw_file"] is True, r
        with open(marker) as f:
            inner = int(f.read())
        assert inner != r["pid"]
        wait_for(lambda: p.stats()["requests"] == 2, what="both invocations finished")
        s = p.stats()
        assert s["cold_starts"] == 2 and s["errors"] == 0 and s["queued"] == 0, s


def test_self_invocation_queues_at_max_instances():
    """With one instance allowed, the self-invocation waits for the first to finish and then runs
    on the same instance."""
    with tempfile.TemporaryDirectory() as d, Platform("--max-instances", "1") as p:
        marker = os.path.join(d, "inner")
        r = p.call("icnode0", {"invoke_self": {"touch": marker}, "wait_file": marker,
                               "wait_ms": 500})
        assert r["status"] == 202 and r["saw_file"] is False, r
        wait_for(lambda: os.path.exists(marker), what="the queued self-invocation to run")
        with open(marker) as f:
            assert int(f.read()) == r["pid"]
        wait_for(lambda: p.stats()["requests"] == 2, what="both invocations finished")
        assert p.stats()["cold_starts"] == 1


def test_frozen_between_invocations():
    with tempfile.TemporaryDirectory() as d, Platform() as p:
        pid = p.call("icnode0", {"pid": 1})["pid"]
        wait_for(lambda: proc_state(pid) == "T", what="the idle instance to be stopped")
        inst = p.instances()[0]
        assert inst["state"] == "idle" and inst["frozen"] is True
        # While busy it runs (not stopped), then it is frozen again.
        hold = os.path.join(d, "busy")
        t = threading.Thread(target=p.call, args=("icnode0", {"hold_file": hold}))
        t.start()
        wait_for(lambda: p.instances()[0]["state"] == "busy", what="busy")
        wait_for(lambda: proc_state(pid) in ("R", "S"), what="the instance to run while busy")
        release(hold)
        t.join()
        wait_for(lambda: proc_state(pid) == "T", what="the instance to be stopped again")
        assert p.call("icnode0", {"pid": 1})["pid"] == pid


def test_exit_mid_invocation():
    with Platform() as p:
        pid = p.call("icnode0", {"pid": 1})["pid"]
        status, headers, body = p.invoke("icnode0", {"exit": 1})
        assert status == 200 and headers["x-amz-function-error"] == "Unhandled"
        doc = json.loads(body)
        assert doc["errorType"] == "Runtime.ExitError", doc
        assert "Runtime exited" in doc["errorMessage"] and "exit status 3" in doc["errorMessage"]
        wait_for(lambda: pid_gone(pid), what="the exited instance to be reaped")
        wait_for(lambda: p.instances() == [], what="the instance list to be empty")
        assert p.call("icnode0", {"pid": 1})["pid"] != pid
        assert p.stats()["errors"] == 1


def test_event_retried_when_runtime_dies():
    # An Event whose runtime dies mid-invocation runs again on another instance after the retry
    # delay (Lambda retries asynchronous invocations); a RequestResponse one is not retried (the
    # caller saw the error).
    with Platform("--event-retry-delay", "300ms") as p, tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "once")
        t0 = time.monotonic()
        status, _, _ = p.invoke("icnode0", {"exit_once": path}, kind="Event")
        assert status == 202
        wait_for(lambda: os.path.exists(path + ".done"), what="the retried event to run")
        assert time.monotonic() - t0 >= 0.3, "retried before its delay"
        wait_for(lambda: p.stats()["requests"] == 2, what="both attempts billed")
        # A killed instance: the event it ran is retried too.
        status, _, _ = p.invoke("icnode0", {"exit": 1}, kind="Event")
        wait_for(lambda: p.stats()["requests"] == 5, what="the first attempt and two retries")
        time.sleep(0.6)  # twice the delay: no fourth attempt may follow
        assert p.stats()["requests"] == 5
        status, _, _ = p.invoke("icnode0", {"exit": 1})
        assert status == 200
        assert p.stats()["requests"] == 6


def test_crash_while_idle_is_reaped():
    with Platform() as p:
        pid = p.call("icnode0", {"pid": 1})["pid"]
        os.kill(pid, 9)
        wait_for(lambda: pid_gone(pid) and p.instances() == [], what="the killed idle instance reaped")
        assert p.call("icnode0", {"echo": 1}) == 1


def test_init_error():
    with Platform(env={"ECHO_RUNTIME_INIT_ERROR": "1"}) as p:
        status, headers, body = p.invoke("icnode0", {"echo": 1})
        assert status == 200 and headers["x-amz-function-error"] == "Unhandled"
        assert json.loads(body) == {"errorMessage": "init failed on purpose",
                                    "errorType": "EchoInitError"}
        wait_for(lambda: p.instances() == [], what="the failed instance to be gone")
        assert p.stats()["errors"] == 1


def test_init_timeout():
    with Platform("--init-timeout", "300ms", env={"ECHO_RUNTIME_HANG_INIT": "1"}) as p:
        status, headers, body = p.invoke("icnode0", {"echo": 1})
        assert status == 200 and headers["x-amz-function-error"] == "Unhandled"
        assert json.loads(body)["errorType"] == "Runtime.InitTimeout"
        wait_for(lambda: p.instances() == [], what="the hung instance to be killed")


def test_idle_reclaim():
    with Platform("--idle-reclaim", "400ms") as p:
        pid = p.call("icnode0", {"pid": 1})["pid"]
        assert len(p.instances()) == 1
        wait_for(lambda: p.instances() == [], timeout=5, what="the idle instance to be reclaimed")
        wait_for(lambda: pid_gone(pid), what="the reclaimed process to be reaped")
        assert "reason=idle" in p.log_text()
        s = p.stats()
        assert s["reclaims_idle"] == 1 and s["reclaims_random"] == 0 and s["reclaims_admin"] == 0
        # A busy instance is not reclaimed however long it runs.
        r = p.call("icnode0", {"sleep_ms": 700})
        assert r["slept_ms"] == 700


def test_admin_reclaim():
    with Platform() as p:
        a = p.call("icnode0", {"pid": 1})["pid"]
        b = p.call("icnode1", {"pid": 1})["pid"]
        c = p.call("icnode2", {"pid": 1})["pid"]
        inst = {i["function"]: i for i in p.instances()}
        assert p.admin("reclaim", instance=inst["icnode0"]["id"]) == (200, {"reclaimed": 1})
        assert p.admin("reclaim", function="icnode1") == (200, {"reclaimed": 1})
        assert p.admin("reclaim", function="icnode3") == (200, {"reclaimed": 0})
        assert p.admin("reclaim", instance=999)[0] == 404
        assert p.admin("reclaim", function="nosuch")[0] == 404
        assert p.admin("reclaim")[0] == 400
        wait_for(lambda: pid_gone(a) and pid_gone(b), what="reclaimed processes reaped")
        assert not pid_gone(c)
        assert [i["function"] for i in p.instances()] == ["icnode2"]
        s = p.stats()
        assert s["reclaims_admin"] == 2 and s["reclaims_idle"] == 0 and s["reclaims_random"] == 0


def test_admin_freeze_busy_instance_times_out():
    with tempfile.TemporaryDirectory() as d, Platform("--timeout", "800ms") as p:
        pid = p.call("icnode0", {"pid": 1})["pid"]
        iid = p.instances()[0]["id"]
        results = []
        hold = os.path.join(d, "busy")
        t = threading.Thread(
            target=lambda: results.append(p.invoke("icnode0", {"hold_file": hold})))
        t.start()
        wait_for(lambda: p.instances()[0]["state"] == "busy", what="busy")
        assert p.admin("freeze", instance=iid) == (200, {"ok": True})
        wait_for(lambda: proc_state(pid) == "T", what="the frozen busy instance to stop")
        release(hold)  # a running instance would now answer at once; a stopped one cannot
        t.join()
        status, headers, body = results[0]
        assert headers["x-amz-function-error"] == "Unhandled"
        assert b"Task timed out" in body
        assert p.admin("freeze", instance=iid)[0] == 404  # killed by the timeout


def test_admin_freeze_thaw_idle():
    with Platform() as p:
        pid = p.call("icnode0", {"put": "x", "val": 1})["pid"]
        iid = p.instances()[0]["id"]
        # Idle means back in its long poll, where the platform stops it: a thaw before that
        # would be undone by the idle stop that follows.
        wait_for(lambda: p.instances()[0]["frozen"], what="the instance idle in its long poll")
        assert p.admin("freeze", instance=iid)[0] == 200
        assert p.admin("thaw", instance=iid)[0] == 200
        wait_for(lambda: proc_state(pid) in ("S", "R"), what="thawed")
        assert p.call("icnode0", {"take": "x"}) == {"value": 1, "pid": pid}
        assert p.admin("thaw", instance=12345)[0] == 404
        assert p.admin("freeze")[0] == 400


def test_environment():
    with Platform("--memory", "512", env={"PLATFORM_TEST_PASSTHROUGH": "yes"}) as p:
        env = lambda name: p.call("icnode3", {"env": name})["value"]
        assert env("AWS_LAMBDA_FUNCTION_NAME") == "icnode3"
        assert env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") == "512"
        assert env("AWS_LAMBDA_FUNCTION_VERSION") == "$LATEST"
        assert env("AWS_REGION") == "us-east-1"
        assert env("_HANDLER") == "echo_runtime.py"
        assert "[$LATEST]" in env("AWS_LAMBDA_LOG_STREAM_NAME")
        iid = p.instances()[0]["id"]
        assert env("AWS_LAMBDA_RUNTIME_API") == "127.0.0.1:%d/i/%d" % (p.port, iid)
        assert env("PLATFORM_TEST_PASSTHROUGH") == "yes"


def test_runtime_api_checks():
    with Platform() as p:
        p.call("icnode0", {"pid": 1})
        iid = p.instances()[0]["id"]
        base = "/i/%d/2018-06-01/runtime" % iid
        # A response for a request id that is not running is refused; the instance is unharmed.
        status, _, body = p.request("POST", base + "/invocation/nosuch/response", b"{}")
        assert status == 400 and json.loads(body)["errorType"] == "InvalidRequestID"
        status, _, body = p.request("GET", "/i/999/2018-06-01/runtime/invocation/next")
        assert status == 410, status
        status, _, _ = p.request("POST", "/i/999/2018-06-01/runtime/init/error", b"{}")
        assert status == 410
        assert p.call("icnode0", {"echo": 7}) == 7


if __name__ == "__main__":
    run([test_warm_reuse_keeps_memory, test_busy_function_gets_new_instance,
         test_warm_choice_is_lifo, test_self_invocation_starts_second_instance,
         test_self_invocation_queues_at_max_instances,
         test_frozen_between_invocations, test_exit_mid_invocation,
         test_event_retried_when_runtime_dies, test_crash_while_idle_is_reaped,
         test_init_error, test_init_timeout, test_idle_reclaim, test_admin_reclaim,
         test_admin_freeze_busy_instance_times_out, test_admin_freeze_thaw_idle, test_environment,
         test_runtime_api_checks])
