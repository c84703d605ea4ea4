#!/usr/bin/python3
"""test_bench_billing.py -- smoke run of bench/bench_billing.py (tiny counts, every stream, both
policies, 1 ms and 100 ms billing): it runs, every request is answered and billed, and the
platform passed the policy settings through to icnode. No timing is asserted. Also checks that
icnode refuses bad IC_NODE_RETURN_POLICY / IC_NODE_BILLING_MS values at start-up."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("IC_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BIN = os.environ.get("IC_BIN", "build/bin")
BUILD = os.path.dirname(os.path.abspath(BIN))
BENCH = os.path.join(SRC, "bench", "bench_billing.py")
sys.path.insert(0, os.path.join(SRC, "bench"))
import bench_billing  # noqa: E402  (the Platform helper)


def test_smoke(work):
    out_json = os.path.join(work, "results.json")
    p = subprocess.run([sys.executable, BENCH, "--build", BUILD, "--smoke", "--work-dir", work,
                        "--json", out_json], capture_output=True, text=True, timeout=240)
    sys.stdout.write(p.stdout)
    assert p.returncode == 0, "bench failed: %s" % p.stderr
    results = json.load(open(out_json))
    cases = {(r["stream"], r["billing_ms"], r["policy"]) for r in results}
    want = {(s, g, pol) for s in ("bursty", "sparse", "steady") for g in (1, 100)
            for pol in ("anticipatory", "idle")}
    assert cases == want, cases
    for r in results:
        want_requests = 6 if r["stream"] == "bursty" else 3
        assert r["requests"] == want_requests, r
        with open(r["billing_log"]) as f:
            records = [json.loads(line) for line in f if line.strip()]
        activates = [x for x in records if x["kind"] == "activate"]
        assert len(activates) == r["invocations"] >= 1, (r, records)
        for x in activates:
            assert x["outcome"] == "ok", x
            assert x["billed_ms"] >= r["billing_ms"], x
            assert x["billed_ms"] % r["billing_ms"] == 0, x
            assert x["duration_ms"] > 0, x
        assert abs(sum(x["billed_ms"] for x in activates) - r["billed_ms"]) < 1e-9, r
        # The platform passed the environment through: the node logged the policy it runs.
        log = open(os.path.join(work, r["case"] + ".platform.log"), errors="replace").read()
        line = "event=policy return_policy=%s billing_ms=%d " % (r["policy"], r["billing_ms"])
        assert line in log, "no '%s' in %s" % (line, r["case"])
        if r["policy"] == "anticipatory":
            mode = "boundary" if r["billing_ms"] == 100 else "idle-spell"
            assert "mode=" + mode in log, (r["case"], mode)
    print("PASS smoke: %d cases" % len(results))


def test_bad_settings(work):
    for env, text in (({"IC_NODE_RETURN_POLICY": "eager"}, "IC_NODE_RETURN_POLICY"),
                      ({"IC_NODE_RETURN_POLICY": ""}, "IC_NODE_RETURN_POLICY"),
                      ({"IC_NODE_BILLING_MS": "1001"}, "IC_NODE_BILLING_MS"),
                      ({"IC_NODE_BILLING_MS": "0"}, "IC_NODE_BILLING_MS"),
                      ({"IC_NODE_BILLING_MS": "100x"}, "IC_NODE_BILLING_MS"),
                      ({"IC_NODE_BILLING_MARGIN_MS": "-1"}, "IC_NODE_BILLING_MARGIN_MS")):
        name = "bad-%s" % "-".join("%s=%s" % kv for kv in env.items()).lower()
        plat = bench_billing.Platform(os.path.join(BIN, "icplatform"), os.path.join(BIN, "icnode"),
                                      work, name.replace("/", "_"), 1, 256, env)
        try:
            status, body = plat.invoke_sync({"cmd": "warmup"})
            assert text.encode() in body, (env, status, body)
        finally:
            plat.stop()
    print("PASS bad settings")


def main():
    for b in ("icplatform", "icnode"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            print("FAIL: %s/%s not built" % (BIN, b))
            return 1
    work = tempfile.mkdtemp(prefix="test-bench-billing.")
    ok = False
    try:
        test_smoke(work)
        test_bad_settings(work)
        ok = True
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("logs kept in %s" % work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
