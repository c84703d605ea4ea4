#!/usr/bin/python3
"""test_platform_reclaim.py -- random reclaims, time compression and their flags and counters."""
import re
import subprocess
import time

from platlib import ICPLATFORM, RUNTIME, Platform, pid_gone, run, wait_for

# 3600 reclaims per instance-hour at x100: 100 per real second, a mean idle life of 10 ms.
FAST_RANDOM = ("--reclaim-rate", "3600", "--time-compression", "100")


def draws(text):
    """The random reclaim waiting times drawn, by instance id, from a debug log."""
    out = {}
    for m in re.finditer(r"reclaim-draw function=\S+ instance=(\d+) after_us=(\d+)", text):
        out.setdefault(int(m.group(1)), []).append(int(m.group(2)))
    return out


def test_random_reclaim_kills_idle_instances():
    with Platform(*FAST_RANDOM, "--seed", "42") as p:
        pids = [p.call("icnode%d" % f, {"pid": 1})["pid"] for f in range(4)]
        wait_for(lambda: p.stats()["reclaims_random"] >= 4, timeout=10,
                 what="four random reclaims")
        wait_for(lambda: p.instances() == [], what="no instance left")
        for pid in pids:
            wait_for(lambda: pid_gone(pid), what="reclaimed process %d reaped" % pid)
        s = p.stats()
        assert s["reclaims_random"] == 4 and s["reclaims_idle"] == 0, s
        assert s["reclaims_admin"] == 0 and s["instances"] == 0, s
        assert s["reclaim_rate"] == 3600 and s["time_compression"] == 100 and s["seed"] == 42, s
        # A reclaim is not a failed invocation: nothing was running.
        assert s["errors"] == 0 and s["requests"] == 4, s
        assert p.log_text().count("reason=random") == 4
        # The function simply cold-starts again.
        assert p.call("icnode0", {"echo": 5}) == 5
        assert p.stats()["cold_starts"] == 5


def test_busy_instances_are_not_reclaimed():
    with Platform(*FAST_RANDOM) as p:
        # 600 ms at 100 reclaims per second: an idle instance would be gone ~60 times over.
        r = p.call("icnode0", {"sleep_ms": 600})
        assert r["slept_ms"] == 600
        status, headers, body = p.invoke("icnode0", {"sleep_ms": 300}, kind="Event")
        assert status == 202
        wait_for(lambda: p.stats()["requests"] == 2, what="the Event invocation finished")
        s = p.stats()
        assert s["errors"] == 0 and s["timeouts"] == 0, s
        wait_for(lambda: p.stats()["instances"] == 0, what="each idle instance reclaimed")
        s = p.stats()
        assert s["reclaims_random"] == s["cold_starts"] >= 1, s


def test_seed_repeats_the_draws():
    runs = []
    for seed in ("7", "7", "8"):
        with Platform("--reclaim-rate", "36", "--time-compression", "1000", "--seed", seed) as p:
            p.call("icnode0", {"pid": 1})
            p.call("icnode1", {"pid": 1})
            wait_for(lambda: len(draws(p.log_text())) == 2, what="a draw for each instance")
            runs.append({k: v[0] for k, v in draws(p.log_text()).items()})
    assert runs[0] == runs[1], runs  # same seed, same instance ids: the same waiting times
    assert runs[0] != runs[2], runs
    assert runs[0][1] != runs[0][2], runs  # instances draw from their own streams


def test_time_compression_scales_idle_reclaim():
    # 10 s of simulated idle time at x20 is 500 ms; the 1 s function timeout is not scaled.
    with Platform("--idle-reclaim", "10s", "--time-compression", "20", "--timeout", "1s") as p:
        r = p.call("icnode0", {"sleep_ms": 300})  # would time out if the timeout were scaled
        idle_from = time.monotonic()
        assert r["slept_ms"] == 300
        wait_for(lambda: p.instances() == [], timeout=5, what="the idle instance reclaimed")
        idle = time.monotonic() - idle_from
        assert 0.45 <= idle < 5, idle
        wait_for(lambda: pid_gone(r["pid"]), what="the reclaimed process reaped")
        s = p.stats()
        assert s["reclaims_idle"] == 1 and s["reclaims_random"] == 0, s
        assert s["time_compression"] == 20 and s["timeouts"] == 0, s


def test_defaults():
    with Platform() as p:
        p.call("icnode0", {"pid": 1})
        s = p.stats()
        assert s["reclaim_rate"] == 0 and s["time_compression"] == 1, s
        assert isinstance(s["seed"], int) and 0 < s["seed"] < 2 ** 53, s  # from the clock
        assert "seed=%d" % s["seed"] in p.log_text()
        assert s["reclaims_idle"] == s["reclaims_random"] == s["reclaims_admin"] == 0
        assert "reclaim-draw" not in p.log_text()


def test_bad_flags():
    bad = [("--reclaim-rate", v) for v in ("abc", "-1", "1e7", "nan", "inf", "", " 1", "0x10",
                                             "1" * 40, "1.5.5")]
    bad += [("--time-compression", v) for v in ("0.5", "0", "-3", "abc", "2000000", "")]
    bad += [("--seed", v) for v in ("-1", "x", "99999999999999999999")]
    for flag, value in bad:
        r = subprocess.run([ICPLATFORM, "--handler", RUNTIME, flag, value], capture_output=True,
                           timeout=10)
        assert r.returncode == 2, (flag, value, r.returncode, r.stderr)
        assert b"READY" not in r.stdout and r.stderr, (flag, value)
    r = subprocess.run([ICPLATFORM, "--help"], capture_output=True, timeout=10)
    for flag in (b"--reclaim-rate", b"--time-compression", b"--seed"):
        assert flag in r.stdout + r.stderr, flag


if __name__ == "__main__":
    run([test_random_reclaim_kills_idle_instances, test_busy_instances_are_not_reclaimed,
         test_seed_repeats_the_draws, test_time_compression_scales_idle_reclaim, test_defaults,
         test_bad_flags])
