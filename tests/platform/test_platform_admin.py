#!/usr/bin/python3
"""test_platform_admin.py -- the admin API answers only its bearer token, is off without one,
and the token never reaches an instance, the log or /proc/PID/environ."""
import json
import os
import subprocess

from platlib import ICPLATFORM, RUNTIME, Platform, run, write_token_file

ADMIN_GETS = ["/admin/stats", "/admin/instances"]
ADMIN_POSTS = ["/admin/reclaim?function=icnode0", "/admin/freeze?instance=1",
               "/admin/thaw?instance=1"]


def all_admin_requests():
    return [("GET", p) for p in ADMIN_GETS] + [("POST", p) for p in ADMIN_POSTS] + \
        [("GET", "/admin/unknown"), ("DELETE", "/admin/stats"), ("GET", "/admin")]


def test_off_without_a_token():
    with Platform(admin_token=False) as p:
        assert p.call("icnode0", {"echo": "up"}) == "up"
        for method, path in all_admin_requests():
            for headers in ({}, {"Authorization": "Bearer " + "x" * 32}):
                status, h, body = p.request(method, path, b"{}" if method == "POST" else None,
                                            headers=headers, auth=False)
                assert status == 403, (method, path, status, body)
                doc = json.loads(body)
                assert doc["__type"] == "AccessDeniedException", doc
                assert "admin API is off" in doc["message"], doc
                assert "--admin-token-file" in doc["message"], doc
        # Nothing was reclaimed: the instance that served the first call serves again.
        assert p.call("icnode0", {"echo": "still"}) == "still"
        assert p.log_text().count("admin api=off") == 1, p.log_text()


def expect_401(p, method, path, headers):
    status, h, body = p.request(method, path, b"{}" if method == "POST" else None,
                                headers=headers, auth=False)
    assert status == 401, (method, path, headers, status, body)
    assert h.get("www-authenticate") == "Bearer", h
    assert json.loads(body)["__type"] == "UnauthorizedException", body


def test_token_required():
    with Platform() as p:
        tok = p.admin_token
        assert p.call("icnode0", {"echo": 1}) == 1
        wrong_same_length = ("0" if tok[0] != "0" else "1") + tok[1:]
        for method, path in all_admin_requests():
            for headers in ({}, {"Authorization": "Bearer " + wrong_same_length},
                            {"Authorization": "Bearer " + tok[:-1]},
                            {"Authorization": "Bearer " + tok + "x"},
                            {"Authorization": "Basic " + tok}, {"Authorization": tok},
                            {"Authorization": "Bearer"}, {"Authorization": "Bearer  " + tok}):
                expect_401(p, method, path, headers)
        assert p.stats()["requests"] == 1  # the refused reclaims killed nothing
        assert p.stats()["reclaims_admin"] == 0
        # The right token (the scheme's case does not matter) opens every route.
        status, _, body = p.request("GET", "/admin/stats", auth=False,
                                    headers={"Authorization": "bearer " + tok})
        assert status == 200, (status, body)
        assert len(p.instances("icnode0")) == 1
        assert p.admin("reclaim", function="icnode0") == (200, {"reclaimed": 1})
        assert p.stats()["reclaims_admin"] == 1
        assert p.request("GET", "/admin/unknown")[0] == 404
        assert p.request("DELETE", "/admin/stats")[0] == 405
        assert tok not in p.log_text()


def test_token_from_the_environment_is_removed():
    env_token = os.urandom(20).hex()
    with Platform(admin_token=False, env={"IC_PLATFORM_ADMIN_TOKEN": env_token}) as p:
        p.admin_token = env_token
        assert p.stats()["requests"] == 0
        # The instance's environment does not hold it, nor does the platform's start-up block.
        assert p.call("icnode0", {"env": "IC_PLATFORM_ADMIN_TOKEN"})["value"] is None
        assert p.call("icnode0", {"env": "AWS_REGION"})["value"] == "us-east-1"  # env works
        with open("/proc/%d/environ" % p.proc.pid, "rb") as f:
            assert env_token.encode() not in f.read()
        assert env_token not in p.log_text()
    # With a file too, the file's token is the one, and the variable is still removed.
    path, file_token = write_token_file()
    try:
        with Platform("--admin-token-file", path, admin_token=False,
                      env={"IC_PLATFORM_ADMIN_TOKEN": env_token}) as p:
            expect_401(p, "GET", "/admin/stats", {"Authorization": "Bearer " + env_token})
            p.admin_token = file_token
            assert p.stats()["requests"] == 0
            assert p.call("icnode0", {"env": "IC_PLATFORM_ADMIN_TOKEN"})["value"] is None
    finally:
        os.unlink(path)


def test_bad_tokens_refuse_to_start():
    def start(args, env=None):
        full = dict(os.environ)
        full.pop("IC_PLATFORM_ADMIN_TOKEN", None)
        full.update(env or {})
        return subprocess.run([ICPLATFORM, "--handler", RUNTIME, "--port", "0"] + args,
                              capture_output=True, timeout=10, env=full)

    for content in ("", "\n", "short\n", "   fifteen-bytes  \n", "has a blank in it 0123456\n",
                    "x" * 513 + "\n", "tab\there-0123456789\n"):
        path, _ = write_token_file(content.rstrip("\n"))
        try:
            r = start(["--admin-token-file", path])
        finally:
            os.unlink(path)
        assert r.returncode == 2, (content, r)
        assert b"admin token" in r.stderr, r.stderr
        assert b"READY" not in r.stdout
    r = start(["--admin-token-file", "/nonexistent/token"])
    assert r.returncode == 2 and b"admin-token-file" in r.stderr, r
    for value in ("", "short", "0123456789abcde"):
        r = start([], env={"IC_PLATFORM_ADMIN_TOKEN": value})
        assert r.returncode == 2 and b"IC_PLATFORM_ADMIN_TOKEN" in r.stderr, (value, r)
        assert value.encode() not in r.stderr or value == ""
    # Blanks around the token (a trailing newline, CRLF) are trimmed; 16 bytes are enough.
    path, _ = write_token_file("  0123456789abcdef\r")
    try:
        with Platform("--admin-token-file", path, admin_token=False) as p:
            p.admin_token = "0123456789abcdef"
            assert p.stats()["requests"] == 0
    finally:
        os.unlink(path)


if __name__ == "__main__":
    run([test_off_without_a_token, test_token_required, test_token_from_the_environment_is_removed,
         test_bad_tokens_refuse_to_start])
