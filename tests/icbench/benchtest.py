"""benchtest.py -- what the black-box tests of icbench share: the binary's path, free loopback
ports, polling with a deadline, servers started and stopped by pid, icbench runs and their
`result` lines."""
import os
import sys
import signal
import socket
import subprocess
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import free_port, wait_for  # noqa: E402,F401  (shared by every test; re-exported)

SRC = os.environ.get("IC_SRC", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = os.environ.get("IC_BIN", os.path.join(SRC, "build", "bin"))
ICBENCH = os.path.join(BIN, "icbench")
HERE = os.path.dirname(os.path.abspath(__file__))

procs = []  # every server a test started, stopped by stop_all()


def ask(port, request, expect):
    """Whether the server on port answers request with a reply starting with expect."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(request)
            return s.recv(1024).startswith(expect)
    except OSError:
        return False


def start(args, **kw):
    p = subprocess.Popen(args, **kw)
    procs.append(p)
    return p


def stop_all():
    """SIGTERM to every server started, SIGKILL to any still there after 15 s; all reaped."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def icbench(*args, expect=0, timeout=240, env=None):
    """Runs icbench; fails unless it exits with expect. The CompletedProcess."""
    p = subprocess.run([ICBENCH, *args], capture_output=True, text=True, timeout=timeout, env=env)
    if p.returncode != expect:
        raise AssertionError("icbench %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s"
                             % (args, p.returncode, expect, p.stdout, p.stderr))
    return p


def results(out):
    """The key=value `result` line of each target, by target."""
    res = {}
    for line in out.splitlines():
        if line.startswith("result "):
            fields = dict(f.split("=", 1) for f in line.split()[1:])
            res[fields["target"]] = fields
    return res
