#!/usr/bin/python3
"""test_platform_limits.py -- idle and hostile connections cannot starve invocations: thousands of
idle connections, connections beyond --max-connections (503), idle connections, slow or endless
bodies and junk are cut by --connection-timeout, while long polls and long invocations are not."""
import http.client
import json
import os
import resource
import socket
import threading
import time

from platlib import Platform, run, wait_for

IDLE = 5000


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft >= need, "RLIMIT_NOFILE hard limit %d is below the %d this test needs" % (soft, need)


def open_idle(port, count, partial_every=0):
    """count connections that say nothing (every partial_every-th sends half a request line)."""
    socks = []
    try:
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if partial_every and i % partial_every == 0:
                s.sendall(b"POST /2015-03-31/functions/icnode0/invocations HTTP/1.1\r\nHost: x")
            socks.append(s)
    except BaseException:
        close_all(socks)
        raise
    return socks


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def still_open(s):
    """True if the server has not closed s (nothing to read, no EOF)."""
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def closed_within(s, seconds):
    """Seconds until the server closes s (EOF or reset; replies are read past), or None."""
    start = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if s.recv(65536) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - start
    return None


def nofile_limits(pid):
    """(soft, hard) 'Max open files' of a process, from /proc/PID/limits."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return tuple(resource.RLIM_INFINITY if v == "unlimited" else int(v)
                             for v in line.split()[3:5])
    raise AssertionError("no Max open files in /proc/%d/limits" % pid)


def test_idle_connections_do_not_starve_invocations():
    raise_nofile(IDLE + 512)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def low_soft_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

    # Started with a soft limit of 1024 descriptors, the platform raises it to the hard limit
    # itself: the 5,000 connections below would not fit otherwise.
    with Platform("--max-instances", "2", preexec_fn=low_soft_limit) as p:
        assert nofile_limits(p.proc.pid) == (hard, hard), nofile_limits(p.proc.pid)
        idle = open_idle(p.port, IDLE, partial_every=5)
        try:
            start = time.monotonic()
            for i in range(20):
                assert p.call("icnode%d" % (i % 4), {"echo": i}) == i
                status, _, body = p.invoke("icnode%d" % (i % 4), {"echo": i}, kind="Event",
                                           timeout=10)
                assert status == 202, (status, body)
            wait_for(lambda: p.stats()["requests"] == 40, timeout=20, what="the Event invocations")
            took = time.monotonic() - start
            assert took < 20, took
            # The idle connections were held all along (not cut to make room).
            assert sum(still_open(s) for s in idle[::50]) == len(idle[::50])
        finally:
            close_all(idle)
        assert p.call("icnode0", {"echo": "after"}) == "after"


def test_beyond_max_connections_503():
    with Platform("--max-connections", "40") as p:
        pid = p.call("icnode0", {"pid": 1})["pid"]  # an instance waits in its long poll
        idle = open_idle(p.port, 40)
        try:
            # The platform counts connections as it accepts them: wait until it has all of ours.
            wait_for(lambda: p.request("GET", "/admin/stats")[0] == 503, timeout=10,
                     what="requests beyond --max-connections refused")
            c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
            c.request("POST", "/2015-03-31/functions/icnode0/invocations", body=b"{}")
            r = c.getresponse()
            body = r.read()
            assert r.status == 503, (r.status, body)
            doc = json.loads(body)
            assert doc["__type"] == "ServiceException" and "connections" in doc["message"], doc
            assert r.getheader("X-Amzn-ErrorType") == "ServiceException"
            c.close()
            # The Runtime API keeps its own budget: an instance's requests are still served
            # (here an unknown instance's, answered 410), so no long poll is refused.
            status, _, body = p.request("GET", "/i/999/2018-06-01/runtime/invocation/next")
            assert status == 410, (status, body)
        finally:
            close_all(idle)
        # Room again once they are gone, and the instance that waited all along serves it.
        wait_for(lambda: p.request("GET", "/admin/stats")[0] == 200, timeout=10,
                 what="room once the idle connections closed")
        assert p.call("icnode0", {"pid": 1})["pid"] == pid
        assert p.stats()["errors"] == 0 and "refused=connection" in p.log_text()


def test_idle_and_slow_connections_are_cut():
    with Platform("--connection-timeout", "1") as p:
        idle = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        half = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        half.sendall(b"GET /admin/stats HTTP/1.1\r\nHost: x\r\n")
        junk = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        junk.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64))
        # A body that trickles in forever: one byte every 0.2 s never leaves the connection idle.
        slow = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        slow.sendall(b"POST /2015-03-31/functions/icnode0/invocations HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 1000000\r\n\r\n{")
        stop = threading.Event()
        cut = {}

        def trickle(s, data, pause, name):
            start = time.monotonic()
            try:
                while not stop.is_set():
                    s.sendall(data)
                    time.sleep(pause)
            except OSError:
                cut[name] = time.monotonic() - start

        # And an endless chunked body sent as fast as it goes.
        flood = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        flood.sendall(b"POST /2015-03-31/functions/icnode0/invocations HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
        threads = [threading.Thread(target=trickle, args=(slow, b"a", 0.2, "slow")),
                   threading.Thread(target=trickle, args=(flood, b"4000\r\n" + b"b" * 0x4000
                                                          + b"\r\n", 0, "flood"))]
        for t in threads:
            t.start()
        try:
            for name, s in (("idle", idle), ("half", half), ("junk", junk)):
                took = closed_within(s, 5)
                assert took is not None, "%s connection still open after 5 s" % name
            wait_for(lambda: "slow" in cut and "flood" in cut, timeout=8,
                     what="the slow and the endless bodies cut")
            assert cut["slow"] < 5 and cut["flood"] < 5, cut
        finally:
            stop.set()
            for t in threads:
                t.join(10)
            for s in (idle, half, junk, slow, flood):
                s.close()
        assert p.call("icnode0", {"echo": "alive"}) == "alive"


def test_long_polls_and_long_invocations_outlive_the_timeout():
    with Platform("--connection-timeout", "1") as p:
        pid = p.call("icnode0", {"pid": 1})["pid"]
        # The instance now waits in GET /next far longer than the connection timeout (the
        # passing of time is what is tested here, so a plain sleep) ...
        time.sleep(3)
        # ... and still gets the next invocation: its long poll was not cut.
        assert p.call("icnode0", {"pid": 1})["pid"] == pid
        assert len(p.instances("icnode0")) == 1
        # A RequestResponse invocation longer than the timeout still gets its answer.
        start = time.monotonic()
        out = p.call("icnode0", {"hold_file": "/nonexistent/never", "hold_ms": 2500})
        assert out["held"] is False and out["pid"] == pid, out
        assert time.monotonic() - start >= 2.4
        assert p.stats()["errors"] == 0


def test_max_waiting_bounds_waiter_threads():
    # Each idle instance's long poll holds one waiter thread; with both of the budget taken, a
    # RequestResponse invocation (which would wait too) is refused with 429, while an Event
    # invocation (which does not wait) still runs. (Event invocations start the instances: a
    # synchronous one would need a third waiter while the new instance polls.)
    with Platform("--max-waiting", "2") as p:
        assert p.invoke("icnode0", {"echo": 0}, kind="Event")[0] == 202
        assert p.invoke("icnode1", {"echo": 1}, kind="Event")[0] == 202
        wait_for(lambda: p.stats()["requests"] == 2, timeout=10, what="two Event invocations")
        wait_for(lambda: [i["state"] for i in p.instances()] == ["idle", "idle"], timeout=10,
                 what="two idle instances in their long polls")
        status, headers, body = p.invoke("icnode0", {"echo": 2})
        assert status == 429, (status, body)
        assert json.loads(body)["__type"] == "TooManyRequestsException", body
        assert "max-waiting" in p.log_text()
        status, _, _ = p.invoke("icnode0", {"echo": 3}, kind="Event")
        assert status == 202
        wait_for(lambda: p.stats()["requests"] == 3, timeout=10, what="the Event invocation")
        assert len(p.instances()) == 2  # no instance was lost to the refusals


def test_big_headers_refused():
    with Platform() as p:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        try:
            s.sendall(b"POST /2015-03-31/functions/icnode0/invocations HTTP/1.1\r\nHost: x\r\n"
                      b"X-Big: " + b"h" * (64 * 1024) + b"\r\n\r\n{}")
            reply = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            reply = b""
        finally:
            s.close()
        assert reply == b"" or reply.split(b" ")[1].startswith(b"4"), reply[:100]
        assert p.call("icnode0", {"echo": "alive"}) == "alive"


if __name__ == "__main__":
    run([test_idle_connections_do_not_starve_invocations, test_beyond_max_connections_503,
         test_idle_and_slow_connections_are_cut,
         test_long_polls_and_long_invocations_outlive_the_timeout,
         test_max_waiting_bounds_waiter_threads, test_big_headers_refused])
