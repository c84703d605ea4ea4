"""testlib.py -- the helpers every Python test shares: polling with a deadline and a free loopback
port. Test-kind helpers (proxytest, platlib, benchtest, tlscerts) import these and re-export them,
so each test keeps importing from the module it already uses."""
import socket
import subprocess
import time


def wait_for(cond, *how, timeout=20.0, interval=0.01, what="condition"):
    """Polls cond() until it returns a true value (returned) or the deadline passes (raises).
    Never a fixed sleep: a condition that holds at once costs one call. Positional arguments
    after cond may give, in any order, what (a string), then timeout and interval (numbers),
    the forms every test module used before they shared this one."""
    numbers = [a for a in how if isinstance(a, (int, float))]
    for a in how:
        if isinstance(a, str):
            what = a
    if numbers:
        timeout = numbers[0]
    if len(numbers) > 1:
        interval = numbers[1]
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def free_port():
    """A loopback port free right now (the kernel's pick; the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, timeout=15):
    """Stops a child the test started: SIGTERM, then SIGKILL if it has not gone within timeout
    seconds; always reaped, so no test leaves a process behind."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
