#!/usr/bin/python3
"""test_platform_signals.py -- SIGTERM/SIGINT leave no instance behind; instances die with the platform."""
import http.client
import json
import signal
import subprocess
import sys
import threading
import time

from platlib import ICPLATFORM, RUNTIME, Platform, children_of, pid_gone, run, wait_for


def start_instances(p):
    """Two idle (frozen) instances and one busy one; returns their pids."""
    pids = [p.call("icnode0", {"pid": 1})["pid"], p.call("icnode1", {"pid": 1})["pid"]]
    def busy():
        try:
            p.invoke("icnode2", {"sleep_ms": 5000})
        except OSError:
            pass  # the platform is stopped under this invocation on purpose

    threading.Thread(target=busy, daemon=True).start()
    wait_for(lambda: len(p.instances()) == 3 and p.instances("icnode2")[0]["pid"] > 0,
             what="three instances")
    pids.append(p.instances("icnode2")[0]["pid"])
    return pids


def check_stop(sig):
    p = Platform()
    try:
        pids = start_instances(p)
        assert sorted(children_of(p.proc.pid)) == sorted(pids)
        start = time.monotonic()
        code = p.stop(sig)
        assert code == 0, "icplatform exited %s; log tail:\n%s" % (code, p.log_text()[-4000:])
        assert time.monotonic() - start < 5
        for pid in pids:
            assert pid_gone(pid), "instance %d survived" % pid
    finally:
        p.discard()


def test_sigterm_reaps_everything():
    check_stop(signal.SIGTERM)


def test_sigint_reaps_everything():
    check_stop(signal.SIGINT)


def test_instances_die_with_killed_platform():
    p = Platform()
    try:
        pids = start_instances(p)
        p.stop(signal.SIGKILL)  # no clean-up possible: PR_SET_PDEATHSIG must do it
        wait_for(lambda: all(pid_gone(pid) for pid in pids), what="instances to die")
    finally:
        p.discard()


def test_platform_dies_with_parent():
    # A middle process starts icplatform and prints its READY line; killing the middle process
    # must make icplatform exit (PR_SET_PDEATHSIG(SIGTERM)) and take its instances with it.
    code = ("import subprocess,sys\n"
            "p = subprocess.Popen([%r, '--handler', %r, '--function-count', '1'], stdout=subprocess.PIPE)\n"
            "line = p.stdout.readline()\n"
            "sys.stdout.write('%%d %%s' %% (p.pid, line.decode()))\n"
            "sys.stdout.flush()\n"
            "p.wait()\n") % (ICPLATFORM, RUNTIME)
    middle = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        line = middle.stdout.readline().decode()
        plat_pid, ready = line.split(" ", 1)
        plat_pid = int(plat_pid)
        port = int(ready.strip().split("=")[1])
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", "/2015-03-31/functions/icnode0/invocations", body=b'{"pid":1}')
        inst = json.loads(c.getresponse().read())["pid"]
        c.close()
        middle.kill()
        middle.wait()
        wait_for(lambda: pid_gone(plat_pid) or open("/proc/%d/stat" % plat_pid).read().split(") ")[1][0] == "Z",
                 what="icplatform to exit with its parent")
        wait_for(lambda: pid_gone(inst), what="the instance to die too")
    finally:
        if middle.poll() is None:
            middle.kill()
            middle.wait()


if __name__ == "__main__":
    run([test_sigterm_reaps_everything, test_sigint_reaps_everything,
         test_instances_die_with_killed_platform, test_platform_dies_with_parent])
