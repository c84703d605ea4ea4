#!/usr/bin/python3
"""test_iccli.py -- iccli black-box: exit codes, file/stdin/stdout, a byte-identical 20 MiB round trip,
against the fake proxy process (tests/client/fake_proxy.c) on a free loopback port."""
import os
import subprocess
import sys
import tempfile
import time

import redis
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import wait_for  # noqa: E402,F401  (shared by every test; re-exported)

BIN = os.environ["IC_BIN"]
ICCLI = os.path.join(BIN, "iccli")
FAKE = os.path.join(BIN, "fake_icproxy")


def run(args, stdin=None, expect=0, timeout=60):
    p = subprocess.run([ICCLI, "--proxy", ADDR] + args, input=stdin, capture_output=True, timeout=timeout)
    if p.returncode != expect:
        raise AssertionError("iccli %s: exit %d, want %d; stderr: %s" % (args, p.returncode, expect, p.stderr.decode()))
    return p


def main():
    global ADDR
    tmp = tempfile.mkdtemp(prefix="iccli_test_")
    portfile = os.path.join(tmp, "port")
    fake = subprocess.Popen([FAKE, portfile])
    try:
        port = int(wait_for(lambda: os.path.exists(portfile) and open(portfile).read().strip(), "fake proxy port"))
        ADDR = "127.0.0.1:%d" % port
        r = redis.Redis(host="127.0.0.1", port=port)
        wait_for(lambda: r.ping(), "fake proxy ping")

        # Help and usage errors.
        p = subprocess.run([ICCLI, "--help"], capture_output=True)
        assert p.returncode == 0 and b"usage: iccli" in p.stdout
        for bad in (["frobnicate"], ["get"], ["set"], ["--d"], ["--d", "x", "info"], ["del", "a", "b"]):
            p = subprocess.run([ICCLI] + bad, capture_output=True)
            assert p.returncode == 2, (bad, p.returncode)
            assert p.stderr, bad
        # A number past its option's type is refused, not wrapped (2^32 + 10 is not --d 10).
        for bad in (["--d", "4294967306", "info"], ["--timeout", "99999999999", "info"]):
            p = subprocess.run([ICCLI] + bad, capture_output=True)
            assert p.returncode == 2 and b"bad number" in p.stderr, (bad, p.returncode, p.stderr)

        # Small value from stdin to stdout.
        run(["set", "greeting", "-"], stdin=b"hello world\n")
        assert run(["get", "greeting"]).stdout == b"hello world\n"
        assert run(["get", "greeting", "-"]).stdout == b"hello world\n"
        run(["exists", "greeting"])
        run(["exists", "nothing"], expect=1)
        p = run(["get", "nothing"], expect=1)
        assert p.stdout == b"" and b"not found" in p.stderr

        # Empty value.
        run(["set", "empty"], stdin=b"")
        assert run(["get", "empty"]).stdout == b""

        # 20 MiB from a file (mmap'd) to a file, byte-identical, RS(10+2).
        big = os.path.join(tmp, "big.bin")
        data = os.urandom(20 * 1024 * 1024 + 13)
        with open(big, "wb") as f:
            f.write(data)
        run(["set", "big", big])
        out = os.path.join(tmp, "out.bin")
        run(["get", "big", out])
        with open(out, "rb") as f:
            assert f.read() == data, "20 MiB round trip differs"
        assert run(["get", "big"]).stdout == data

        # Other d/p via flags; the fake records what the library sent.
        run(["--d", "4", "--p", "1", "set", "coded", big])
        assert run(["get", "coded"]).stdout == data
        # A parity chunk among the first d and a lost data chunk: still identical, and repaired.
        r.execute_command("FAKE", "ORDER", *[str(i) for i in (4, 3, 2, 1, 0)])
        r.execute_command("FAKE", "STATE", "1", "2")
        assert run(["get", "coded"]).stdout == data
        assert r.execute_command("FAKE", "REPAIRS") == 1
        rep = r.execute_command("FAKE", "REPAIR", "0")
        assert rep[0] == b"coded" and rep[2] == 1
        cs = (len(data) + 3) // 4
        cs = (cs + 63) // 64 * 64
        assert rep[4] == data[cs:2 * cs], "repaired chunk bytes differ"
        r.execute_command("FAKE", "RESET")

        # Errors: -ERR from the proxy, and too few chunks.
        r.execute_command("FAKE", "MODE", "err")
        p = run(["get", "big"], expect=2)
        assert b"fake failure" in p.stderr, p.stderr
        r.execute_command("FAKE", "MODE", "normal")
        for i in (0, 1, 2):
            r.execute_command("FAKE", "STATE", str(i), "2")
        run(["get", "big"], expect=1)
        r.execute_command("FAKE", "RESET")

        # del, info, no proxy.
        run(["del", "big"])
        run(["del", "big"], expect=1)
        run(["get", "big"], expect=1)
        assert b"fake_proxy:1" in run(["info"]).stdout
        run(["set", "x", "/nonexistent/file"], expect=2)
        p = subprocess.run([ICCLI, "--proxy", "127.0.0.1:1", "get", "x"], capture_output=True)
        assert p.returncode == 2 and b"connect" in p.stderr
        print("iccli black-box: ok")
    finally:
        fake.kill()
        fake.wait()
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)


if __name__ == "__main__":
    main()
