"""platlib.py -- helpers for the platform's black-box tests: start icplatform, invoke, poll, report."""
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import wait_for  # noqa: E402,F401  (shared by every test; re-exported)

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("IC_BIN") or os.path.join(HERE, "..", "..", "build", "bin")
ICPLATFORM = os.path.join(BIN, "icplatform")
RUNTIME = os.path.join(HERE, "echo_runtime.py")


def proc_state(pid):
    """The state letter of /proc/PID/stat, or None if the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2]


def release(path):
    """Creates path, ending the echo runtime invocations that hold on it ({"hold_file": path})."""
    open(path, "w").close()


def pid_gone(pid):
    """True once the process is fully gone (a zombie, not yet reaped, still counts as there)."""
    return proc_state(pid) is None


def children_of(pid):
    """Direct children of pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def write_token_file(token=None):
    """Writes a fresh admin token (or the given one) to a new file; returns (path, token)."""
    token = token if token is not None else os.urandom(32).hex()
    fd, path = tempfile.mkstemp(prefix="icplatform-token-")
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return path, token


class Platform:
    """A running icplatform with echo_runtime.py as the handler. Use as a context manager.
    The admin API is on with a fresh token (self.admin_token) unless admin_token=False; every
    request made through self.request carries it."""

    def __init__(self, *flags, env=None, handler=RUNTIME, admin_token=True, preexec_fn=None):
        self.log = tempfile.NamedTemporaryFile(prefix="icplatform-", suffix=".log", delete=False)
        args = [ICPLATFORM, "--handler", handler, "--function-count", "4", "--log-level", "debug"]
        self.admin_token = None
        self.token_file = None
        if admin_token:
            self.token_file, self.admin_token = write_token_file()
            args += ["--admin-token-file", self.token_file]
        args += [str(f) for f in flags]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, env=full_env,
                                     preexec_fn=preexec_fn)
        self.port = None
        deadline = time.monotonic() + 10
        line = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if r:
                line = self.proc.stdout.readline()
                break
            if self.proc.poll() is not None:
                break
        if not line.startswith(b"READY port="):
            self.stop()
            text = self.log_text()
            os.unlink(self.log.name)
            self.remove_token_file()
            raise AssertionError("icplatform did not print READY (got %r); log:\n%s"
                                 % (line, text))
        self.port = int(line.split(b"=")[1])

    def __enter__(self):
        return self

    def remove_token_file(self):
        if self.token_file and os.path.exists(self.token_file):
            os.unlink(self.token_file)

    def __exit__(self, *exc):
        code = self.stop()
        text = self.log_text()
        os.unlink(self.log.name)
        self.remove_token_file()
        if exc[0] is not None:
            sys.stderr.write("---- icplatform log tail ----\n" + text[-4000:] + "\n")
        elif code != 0 or "Sanitizer" in text or "runtime error:" in text:
            # A clean stop exits 0; a sanitizer report at exit fails the test that caused it.
            raise AssertionError("icplatform exited %s; log tail:\n%s" % (code, text[-4000:]))
        return False

    def discard(self):
        """Kills the platform if it still runs and removes its log (for tests without `with`)."""
        self.stop(signal.SIGKILL)
        if os.path.exists(self.log.name):
            os.unlink(self.log.name)
        self.remove_token_file()

    def log_text(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the platform (if running) and returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    # ---- HTTP ----
    def request(self, method, path, body=None, headers=None, timeout=30, auth=True):
        """One request on a fresh connection; with auth, /admin requests carry the admin token."""
        headers = dict(headers or {})
        if auth and self.admin_token and path.startswith("/admin"):
            headers.setdefault("Authorization", "Bearer " + self.admin_token)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            elif isinstance(body, str):
                body = body.encode()
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def invoke(self, fn, payload, kind=None, qualifier=None, timeout=30):
        path = "/2015-03-31/functions/%s/invocations" % fn
        if qualifier:
            path += "?Qualifier=" + qualifier
        headers = {"X-Amz-Invocation-Type": kind} if kind else {}
        return self.request("POST", path, payload, headers, timeout)

    def call(self, fn, payload):
        """A RequestResponse invocation that must succeed; returns the decoded result."""
        status, headers, body = self.invoke(fn, payload)
        assert status == 200, (status, body)
        assert "x-amz-function-error" not in headers, body
        return json.loads(body)

    def stats(self):
        status, _, body = self.request("GET", "/admin/stats")
        assert status == 200, (status, body)
        return json.loads(body)

    def instances(self, function=None):
        status, _, body = self.request("GET", "/admin/instances")
        assert status == 200, (status, body)
        out = json.loads(body)
        return [i for i in out if function is None or i["function"] == function]

    def admin(self, what, **args):
        q = "&".join("%s=%s" % kv for kv in args.items())
        status, _, body = self.request("POST", "/admin/%s?%s" % (what, q))
        return status, json.loads(body) if body else None


def run(tests):
    """Runs test functions in order; prints one line each and the closing 'N passed, N failed'."""
    passed = failed = 0
    for t in tests:
        start = time.monotonic()
        try:
            t()
            passed += 1
            print("ok   %s (%.2fs)" % (t.__name__, time.monotonic() - start), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % t.__name__, flush=True)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
