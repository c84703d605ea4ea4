#!/usr/bin/python3
"""test_platform_billing.py -- per-invocation billing: rounding (1 ms / 100 ms), kinds, totals, log file."""
import json
import os
import tempfile

from platlib import Platform, run, wait_for


def read_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_billing_100ms_and_log():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "billing.jsonl")
        with Platform("--billing", "100ms", "--billing-log", log, "--memory", "1024",
                      "--timeout", "1s") as p:
            p.call("icnode0", {"cmd": "activate", "echo": 1})
            p.call("icnode0", {"cmd": "warmup", "sleep_ms": 120})
            p.call("icnode1", {"cmd": "backup"})
            p.call("icnode3", {"cmd": "backup-peer"})  # both ends of a backup bill as backup
            p.invoke("icnode1", {"cmd": "other", "fail": 1})
            p.invoke("icnode2", {"sleep_ms": 3000})  # times out
            s = p.stats()
            assert s["billing"] == "100ms"
            assert s["requests"] == 6
            assert s["requests_by_kind"] == {"activate": 1, "warmup": 1, "backup": 2, "other": 2}
            assert s["timeouts"] == 1 and s["errors"] == 1
            recs = read_log(log)
            assert len(recs) == 6
            for r in recs:
                assert r["billed_ms"] % 100 == 0 and r["billed_ms"] >= r["duration_ms"], r
                assert r["memory_mb"] == 1024 and r["end_ms"] >= r["start_ms"]
                assert len(r["request_id"]) == 36 and r["instance"] > 0
            assert [r["function"] for r in recs if r["kind"] == "backup"] == ["icnode1", "icnode3"]
            by_kind = {r["kind"]: r for r in recs if r["outcome"] == "ok"}
            assert by_kind["activate"]["billed_ms"] == 100
            assert by_kind["warmup"]["billed_ms"] >= 200  # 120 ms of work rounds up to 200
            timeout = [r for r in recs if r["outcome"] == "timeout"][0]
            assert timeout["billed_ms"] == 1000 and timeout["function"] == "icnode2"
            assert [r["outcome"] for r in recs].count("error") == 1
            total = sum(r["billed_ms"] for r in recs)
            assert s["billed_ms"] == total
            assert abs(s["gb_seconds"] - total / 1000.0) < 1e-6  # 1024 MiB = 1 GB
            for kind in ("activate", "warmup", "backup", "other"):
                billed = sum(r["billed_ms"] for r in recs if r["kind"] == kind)
                assert s["billed_ms_by_kind"][kind] == billed, (kind, s)
                assert abs(s["gb_seconds_by_kind"][kind] - billed / 1000.0) < 1e-6, (kind, s)
            assert s["billed_ms_by_kind"]["backup"] == 200  # two invocations, 100 ms each


def test_billing_1ms():
    with Platform("--memory", "512") as p:
        p.call("icnode0", {"echo": 1})
        p.call("icnode0", {"sleep_ms": 50})
        s = p.stats()
        assert s["billing"] == "1ms" and s["requests"] == 2
        assert s["requests_by_kind"]["other"] == 2
        # 1 ms rounding: roughly the real duration, far from 100 ms units.
        assert 50 <= s["billed_ms"] < 150, s
        assert abs(s["gb_seconds"] - s["billed_ms"] / 1000.0 * 0.5) < 1e-6
        assert s["billed_ms_by_kind"] == {"activate": 0, "warmup": 0, "backup": 0,
                                          "other": s["billed_ms"]}, s
        assert abs(s["gb_seconds_by_kind"]["other"] - s["gb_seconds"]) < 1e-9, s


def test_event_invocations_are_billed():
    with Platform() as p:
        for _ in range(3):
            assert p.invoke("icnode0", {"cmd": "warmup"}, kind="Event")[0] == 202
        wait_for(lambda: p.stats()["requests"] == 3, what="three Event invocations billed")
        assert p.stats()["requests_by_kind"]["warmup"] == 3


if __name__ == "__main__":
    run([test_billing_100ms_and_log, test_billing_1ms, test_event_invocations_are_billed])
