#!/usr/bin/python3
"""test_node.py -- black-box test of icnode: the test plays the Lambda Runtime API (a threaded HTTP
server) and the proxy (a listening socket speaking RESP), and checks the exact bytes."""
import http.server
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import nodeauth  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import wait_for  # noqa: E402,F401  (shared by every test; re-exported)

FUNCTION = "icnode-test"  # AWS_LAMBDA_FUNCTION_NAME of the nodes here; events are sealed for it
CHALLENGES = []  # every challenge this test's proxy sent, to check HELLO proofs against
BIN = os.path.join(os.environ.get("IC_BIN", "build/bin"), "icnode")
MiB = 1 << 20
ENTRY_OVERHEAD = 128  # CHUNK_FOOTPRINT_OVERHEAD in src/common/footprint.h


class RuntimeAPI:
    """The Lambda Runtime API for one instance under a path prefix, recording what it is sent."""

    def __init__(self, prefix="/i/inst1"):
        self.prefix = prefix
        self.events = queue.Queue()
        self.lock = threading.Lock()
        self.responses = {}  # request id -> parsed JSON body
        self.errors = {}  # request id -> (error type header, parsed JSON body)
        self.init_errors = []
        self.next_calls = 0
        self.waiting = 0  # /next calls currently held open
        self.stopping = False
        self.seq = 0
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != api.prefix + "/2018-06-01/runtime/invocation/next":
                    return self.reply(404, b"{}")
                with api.lock:
                    api.next_calls += 1
                    api.waiting += 1
                while not api.stopping:
                    try:
                        rid, body, deadline = api.events.get(timeout=0.1)
                    except queue.Empty:
                        continue
                    with api.lock:
                        api.waiting -= 1
                    return self.reply(200, body, [
                        ("Lambda-Runtime-Aws-Request-Id", rid),
                        ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                        ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:local:0:function:n"),
                        ("Content-Type", "application/json")])

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                base = api.prefix + "/2018-06-01/runtime/"
                if not self.path.startswith(base):
                    return self.reply(404, b"{}")
                rest = self.path[len(base):]
                with api.lock:
                    if rest == "init/error":
                        api.init_errors.append(json.loads(body))
                    elif rest.startswith("invocation/") and rest.endswith("/response"):
                        api.responses[rest.split("/")[1]] = json.loads(body)
                    elif rest.startswith("invocation/") and rest.endswith("/error"):
                        api.errors[rest.split("/")[1]] = (
                            self.headers.get("Lambda-Runtime-Function-Error-Type"), json.loads(body))
                    else:
                        return self.reply(404, b"{}")
                self.reply(202, b'{"status":"OK"}')

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def api_env(self):
        return "127.0.0.1:%d%s" % (self.port, self.prefix)

    def invoke(self, payload, deadline_in_ms=60000):
        """Queues an event and returns its request id."""
        self.seq += 1
        rid = "req-%d-%d" % (self.port, self.seq)
        body = payload if isinstance(payload, bytes) else nodeauth.seal(payload, FUNCTION)
        self.events.put((rid, body, int(time.time() * 1000) + deadline_in_ms))
        return rid

    def response(self, rid, timeout=5.0):
        return wait_for(lambda: self.responses.get(rid), timeout, "response to " + rid)

    def stop(self):
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def cset(key, index, version, body, crc=None, size=None, d=2, p=2, expire_ms=0):
    """CSET key index version crc size d p expire_ms chunk (defaults: RS(2+2), no expiry)."""
    return cmd(b"CSET", key, index, version, zlib.crc32(body) if crc is None else crc,
               len(body) * d if size is None else size, d, p, expire_ms, body)


class RespConn:
    """One accepted node connection with a RESP reader."""

    def __init__(self, sock):
        self.s = sock
        self.buf = bytearray()
        self.bills = []  # BILL messages, which read() sets aside (they come just before BYE)

    def _fill(self, end):
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out reading from the node")
        self.s.settimeout(left)
        d = self.s.recv(4 * MiB)
        if not d:
            raise EOFError("node closed the connection")
        self.buf += d

    def _line(self, end):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill(end)

    def _value(self, end):
        line = self._line(end)
        t, rest = line[:1], line[1:]
        if t == b"+":
            return ("+", rest.decode())
        if t == b"-":
            return ("-", rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill(end)
            data = bytes(self.buf[:n])
            assert self.buf[n:n + 2] == b"\r\n", "bulk not followed by CRLF"
            del self.buf[:n + 2]
            return data
        if t == b"*":
            return [self._value(end) for _ in range(int(rest))]
        raise AssertionError("bad RESP type byte in %r" % line)

    def read(self, timeout=5.0):
        end = time.monotonic() + timeout
        while True:
            v = self._value(end)
            if not (isinstance(v, list) and v and v[0] == b"BILL"):
                return v
            self.bills.append(v)

    def send(self, data):
        self.s.sendall(data)

    def expect_closed(self, timeout=5.0):
        end = time.monotonic() + timeout
        try:
            while True:
                self._fill(end)
        except (EOFError, ConnectionResetError):
            return


class Node:
    """An icnode process; stderr goes to a file shown when a test fails."""

    def __init__(self, env_extra, api_env=None):
        self.log = tempfile.NamedTemporaryFile(prefix="icnode-", suffix=".log", delete=False)
        env = {"PATH": "/usr/bin:/bin", "IC_NODE_SECRET": nodeauth.SECRET,
               "AWS_LAMBDA_FUNCTION_NAME": FUNCTION}
        if api_env is not None:
            env["AWS_LAMBDA_RUNTIME_API"] = api_env
        env.update(env_extra)
        self.proc = subprocess.Popen([BIN], env=env, stdout=self.log, stderr=self.log)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def sanitized(self):
        """True for an ASan build, whose shadow memory makes RSS meaningless."""
        with open("/proc/%d/maps" % self.proc.pid) as f:
            return "asan" in f.read()

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.unlink(self.log.name)


def listen():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    return ls


def accept(ls, timeout=5.0, challenge=True):
    """Accepts the node's connection and, as the proxy does, sends it a fresh challenge."""
    ls.settimeout(timeout)
    s, _ = ls.accept()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = RespConn(s)
    if challenge:
        c.challenge = nodeauth.new_challenge()
        CHALLENGES.append(c.challenge)
        s.sendall(nodeauth.challenge_message(c.challenge))
    return c


def no_pending_connection(ls):
    ls.settimeout(0)
    try:
        s, _ = ls.accept()
    except BlockingIOError:
        return True
    s.close()
    return False


def check_hello(msg, node_id, limit, used, chunks, invocation, instance=None, epoch=0):
    assert isinstance(msg, list) and len(msg) == 9, "HELLO shape: %r" % (msg,)
    assert msg[0] == b"HELLO", msg
    assert msg[7] == str(epoch).encode(), "HELLO epoch %r, want %d" % (msg[7], epoch)
    proof = msg[8].decode()
    assert any(nodeauth.hello_epoch_proof(ch, node_id, msg[2].decode(), epoch) == proof
               for ch in CHALLENGES), "HELLO proof does not verify: %r" % (msg,)
    assert msg[1] == str(node_id).encode(), msg
    inst = msg[2].decode()
    assert len(inst) == 16 and all(c in "0123456789abcdef" for c in inst), msg
    if instance is not None:
        assert inst == instance, (inst, instance)
    got = [int(x) for x in msg[3:7]]
    assert got == [limit, used, chunks, invocation], "HELLO fields %r, want %r" % (
        got, [limit, used, chunks, invocation])
    return inst


def cost(key, body):
    return len(body) + len(key) + ENTRY_OVERHEAD


def test_main_flow():
    api = RuntimeAPI()
    ls = listen()
    proxy = "127.0.0.1:%d" % ls.getsockname()[1]
    limit = 16 * MiB
    # The idle return is long enough that a loaded CI machine pausing this script between two
    # requests does not end the invocation in the middle of the flow.
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "64", "IC_NODE_RESERVED_MB": "48",
                 "IC_NODE_RETURN_POLICY": "idle", "IC_NODE_IDLE_RETURN_MS": "1500"},
                api.api_env())
    try:
        # Invocation 1: dial, HELLO, serve.
        rid = api.invoke({"cmd": "activate", "node_id": 3, "proxy": proxy})
        c = accept(ls)
        inst = check_hello(c.read(), 3, limit, 0, 0, 1)

        binary = bytes(range(256)) * 40 + b"\r\n\x00$-1\r\n"
        big = os.urandom(3 * MiB + 7)
        chunks = {(b"k\x00\xffbin", 0, 1): binary, (b"empty", 1, 1): b"", (b"big", 2, 7): big}
        # Pipelined: every CSET in one write, plus a PING, answered in order.
        c.send(b"".join(cset(k, i, v, b) for (k, i, v), b in chunks.items())
               + cmd("PING"))
        for _ in chunks:
            assert c.read() == ("+", "OK")
        assert c.read() == ("+", "PONG")
        c.send(b"".join(cmd(b"CGET", k, i, v) for (k, i, v) in chunks))
        for (k, i, v), b in chunks.items():
            assert c.read() == [zlib.crc32(b), b], "CGET %r" % (k,)
        used = sum(cost(k, b) for (k, i, v), b in chunks.items())
        c.send(cmd("CGET", "big", 2, 8) + cmd("CGET", "big", 3, 7) + cmd("STATS"))
        assert c.read() is None and c.read() is None
        assert c.read() == [limit, used, 3, 1]
        # A chunk over the limit is refused, its body skipped, and the next request still parsed.
        over = b"x" * (limit - used + 1)
        c.send(cset("over", 0, 1, over, crc=0) + cmd("PING"))
        want = "NOMEM chunk of %d bytes (footprint %d) does not fit: used %d of %d" % (
            len(over), cost("over", over), used, limit)
        assert c.read(timeout=10) == ("-", want)
        assert c.read() == ("+", "PONG")
        c.send(cmd("FLUSHALL") + cmd("CDEL", "empty", 1, 1) + cmd("CDEL", "empty", 1, 1))
        assert c.read() == ("-", "ERR unknown command 'FLUSHALL'")
        assert c.read() == 1 and c.read() == 0
        del chunks[(b"empty", 1, 1)]
        used = sum(cost(k, b) for (k, i, v), b in chunks.items())
        served1 = 3 + 1 + 3 + 3 + 2 + 3
        # Idle: the response is posted, and only then BYE arrives.
        assert c.read(timeout=5) == [b"BYE"]
        assert rid in api.responses, "BYE before the invocation response"
        assert api.responses[rid] == {"node_id": 3, "instance": inst, "served": served1}

        # Requests sent while the node is frozen are answered after the next HELLO.
        c.send(cmd("PING"))
        rid = api.invoke({"cmd": "activate", "node_id": 3, "proxy": proxy})
        check_hello(c.read(), 3, limit, used, 2, 2, inst)
        assert c.read() == ("+", "PONG")
        assert no_pending_connection(ls), "redialed although connected"
        # Many pipelined requests in one write, answered in order.
        reqs, want = [], []
        for n in range(300):
            if n % 3 == 0:
                reqs.append(cmd("PING"))
                want.append(("+", "PONG"))
            elif n % 3 == 1:
                reqs.append(cmd(b"CGET", b"k\x00\xffbin", 0, 1))
                want.append([zlib.crc32(binary), binary])
            else:
                reqs.append(cmd("STATS"))
                want.append([limit, used, 2, 2])
        c.send(b"".join(reqs))
        for n, w in enumerate(want):
            assert c.read() == w, "pipelined reply %d" % n
        assert c.read() == [b"BYE"]
        assert api.responses[rid]["served"] == 301

        # Warmup returns at once and leaves the proxy connection alone: the next thing the proxy
        # reads is the HELLO of the following activate.
        t0 = time.monotonic()
        rid = api.invoke({"cmd": "warmup"})
        r = api.response(rid)
        assert r["served"] == 0 and r["instance"] == inst, r
        assert time.monotonic() - t0 < 2.0

        # Bad payloads are answered on /error and the node keeps going.
        bad1 = api.invoke(b"not json")
        bad2 = api.invoke({"cmd": "migrate", "node_id": 3})
        wait_for(lambda: bad1 in api.errors and bad2 in api.errors, what="invocation errors")
        assert api.errors[bad1][1]["errorMessage"] == "payload is not valid JSON"
        assert "unknown cmd" in api.errors[bad2][1]["errorMessage"], api.errors[bad2]
        assert api.errors[bad2][0] == "Node.InvalidEvent"

        # A deadline ends an invocation even while a request is half-read; the rest of the request
        # is read in the next invocation.
        rid = api.invoke({"cmd": "activate", "node_id": 3, "proxy": proxy}, deadline_in_ms=1500)
        check_hello(c.read(), 3, limit, used, 2, 6, inst)
        half = cmd(b"CGET", b"k\x00\xffbin", 0, 1)
        c.send(half[:9])
        t0 = time.monotonic()
        assert c.read(timeout=5) == [b"BYE"]
        assert 1.0 < time.monotonic() - t0 < 3.0, time.monotonic() - t0
        assert rid in api.responses
        rid = api.invoke({"cmd": "activate", "node_id": 3, "proxy": proxy})
        check_hello(c.read(), 3, limit, used, 2, 7, inst)
        c.send(half[9:])
        assert c.read() == [zlib.crc32(binary), binary]
        assert c.read() == [b"BYE"]

        # Malformed input: the node closes the connection (and keeps its chunks)...
        rid = api.invoke({"cmd": "activate", "node_id": 3, "proxy": proxy})
        check_hello(c.read(), 3, limit, used, 2, 8, inst)
        c.send(b"GARBAGE\r\n")
        c.expect_closed()
        api.response(rid)
        # ... and redials on the next invocation with its data intact.
        rid = api.invoke({"cmd": "activate", "node_id": 4, "proxy": proxy})
        c = accept(ls)
        check_hello(c.read(), 4, limit, used, 2, 9, inst)
        c.send(cmd("CGET", "big", 2, 7))
        assert c.read() == [zlib.crc32(big), big]
        # Clean up the store and measure the idle footprint once the node waits in /next.
        c.send(cmd("CDEL", "big", 2, 7) + cmd(b"CDEL", b"k\x00\xffbin", 0, 1) + cmd("STATS"))
        assert c.read() == 1 and c.read() == 1
        assert c.read() == [limit, 0, 0, 9]
        assert c.read() == [b"BYE"]
        api.response(rid)
        wait_for(lambda: api.waiting == 1 and api.events.empty(), what="the node waiting in /next")
        rss = node.rss_kib()
        print("idle RSS after 9 invocations: %d KiB" % rss)
        if node.sanitized():
            print("sanitizer build: idle RSS not checked")
        else:
            assert rss <= 4 * 1024, "idle RSS %d KiB is over 4 MiB" % rss

        # The proxy goes away while the node is frozen: the next activate redials at once.
        c.s.close()
        rid = api.invoke({"cmd": "activate", "node_id": 4, "proxy": proxy})
        c = accept(ls)
        check_hello(c.read(), 4, limit, 0, 0, 10, inst)
        assert c.read() == [b"BYE"]
        assert node.proc.poll() is None
    except BaseException:
        sys.stderr.write(node.output())
        raise
    finally:
        node.stop()
        api.stop()
        ls.close()


def test_bad_environment():
    # Memory size that is not a number, and one that leaves nothing after the reserve: both go to
    # /init/error and exit 1.
    for mem, reserve, text in (("abc", "32", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
                               ("32", "32", "leaves nothing for chunks"),
                               ("128", "lots", "IC_NODE_RESERVED_MB")):
        api = RuntimeAPI("/i/bad")
        node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": mem, "IC_NODE_RESERVED_MB": reserve},
                    api.api_env())
        try:
            assert node.proc.wait(timeout=10) == 1
            assert len(api.init_errors) == 1, api.init_errors
            assert text in api.init_errors[0]["errorMessage"], api.init_errors
            assert api.next_calls == 0
        except BaseException:
            sys.stderr.write(node.output())
            raise
        finally:
            node.stop()
            api.stop()
    # Without a Runtime API there is nobody to tell: exit 1.
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}, None)
    try:
        assert node.proc.wait(timeout=10) == 1
        assert "AWS_LAMBDA_RUNTIME_API" in node.output()
    finally:
        node.stop()


def test_unreachable_proxy():
    api = RuntimeAPI()
    ls = listen()
    port = ls.getsockname()[1]
    ls.close()  # nothing listens there now
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}, api.api_env())
    try:
        rid = api.invoke({"cmd": "activate", "node_id": 1, "proxy": "127.0.0.1:%d" % port})
        wait_for(lambda: rid in api.errors, what="dial error")
        assert "cannot connect to proxy" in api.errors[rid][1]["errorMessage"]
        rid = api.invoke({"cmd": "warmup"})
        api.response(rid)
    except BaseException:
        sys.stderr.write(node.output())
        raise
    finally:
        node.stop()
        api.stop()


def test_default_idle_return():
    """With the default 20 ms idle return, an untouched invocation ends quickly."""
    api = RuntimeAPI()
    ls = listen()
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}, api.api_env())
    try:
        rid = api.invoke({"cmd": "activate", "node_id": 0, "proxy": "127.0.0.1:%d" %
                          ls.getsockname()[1]})
        c = accept(ls)
        t0 = time.monotonic()
        hello = c.read()
        assert hello[0] == b"HELLO" and int(hello[3]) == (128 - 32) * MiB, hello
        assert c.read() == [b"BYE"]
        assert time.monotonic() - t0 < 1.0
        assert api.responses[rid]["served"] == 0
    except BaseException:
        sys.stderr.write(node.output())
        raise
    finally:
        node.stop()
        api.stop()
        ls.close()


def check_bill(bill, seq, kind, memory_mb, max_ms=5000):
    """A BILL's fields: the invocation's number and kind, a duration billed up to the next ms."""
    assert len(bill) == 8 and bill[0] == b"BILL", bill
    _, b_seq, b_kind, dur_us, billed_ms, mem, rss_kb, dropped = bill
    assert int(b_seq) == seq and b_kind == kind.encode(), (bill, seq, kind)
    assert 0 <= int(dur_us) <= max_ms * 1000, bill
    assert int(billed_ms) == max(1, -(-int(dur_us) // 1000)), bill
    assert int(mem) == memory_mb and int(rss_kb) > 0 and int(dropped) == 0, bill


def test_billing_records():
    """Every invocation's BILL goes out on lane 0 just before BYE. A warm-up has no connection,
    and an invocation whose connection is gone at its end cannot send: their records wait, in
    order, for the next invocation that reaches the proxy."""
    api = RuntimeAPI()
    ls = listen()
    proxy = "127.0.0.1:%d" % ls.getsockname()[1]
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "IC_NODE_RETURN_POLICY": "idle",
                 "IC_NODE_IDLE_RETURN_MS": "50"}, api.api_env())
    try:
        api.invoke({"cmd": "activate", "node_id": 0, "proxy": proxy})
        c = accept(ls)
        assert c.read()[0] == b"HELLO"
        t0 = time.monotonic()
        assert c.read() == [b"BYE"]
        assert len(c.bills) == 1, c.bills
        check_bill(c.bills[0], 1, "activate", 128)
        # The idle return of 50 ms is in the billed time.
        assert int(c.bills[0][3]) >= 50000, c.bills[0]

        api.response(api.invoke({"cmd": "warmup"}))  # invocation 2: nothing sent
        # Invocation 3: the proxy's side closes the connection while the node serves.
        rid = api.invoke({"cmd": "activate", "node_id": 0, "proxy": proxy})
        assert c.read()[0] == b"HELLO"
        c.s.close()
        api.response(rid)
        # Invocation 4 dials again and brings the three records, oldest first.
        api.invoke({"cmd": "activate", "node_id": 0, "proxy": proxy})
        c = accept(ls)
        assert c.read()[0] == b"HELLO"
        assert c.read() == [b"BYE"]
        assert [b[1:3] for b in c.bills] == [[b"2", b"warmup"], [b"3", b"activate"],
                                             [b"4", b"activate"]], c.bills
        check_bill(c.bills[0], 2, "warmup", 128)
        check_bill(c.bills[1], 3, "activate", 128)
        check_bill(c.bills[2], 4, "activate", 128)
        assert time.monotonic() - t0 < 10
        # Sent once: the next invocation brings only its own.
        api.invoke({"cmd": "activate", "node_id": 0, "proxy": proxy})
        c.bills = []
        assert c.read()[0] == b"HELLO"
        assert c.read() == [b"BYE"]
        assert [b[1] for b in c.bills] == [b"5"], c.bills
    except BaseException:
        sys.stderr.write(node.output())
        raise
    finally:
        node.stop()
        api.stop()
        ls.close()


def test_forged_events_refused():
    """A node obeys no event that fails the seal: forged MAC, another secret, another function,
    an address changed after sealing, a replayed nonce, a stale or future timestamp, an unsealed
    event. None of them makes it dial anything; a good event still works afterwards."""
    api = RuntimeAPI()
    ls = listen()
    attacker = listen()
    proxy = "127.0.0.1:%d" % ls.getsockname()[1]
    evil = "127.0.0.1:%d" % attacker.getsockname()[1]
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}, api.api_env())
    try:
        good = {"cmd": "activate", "node_id": 2, "proxy": proxy}
        now = int(time.time() * 1000)
        sealed = json.loads(nodeauth.seal(good, FUNCTION))
        tampered = dict(sealed, signed=sealed["signed"].replace(proxy, evil))
        replay = nodeauth.seal(good, FUNCTION)
        cases = {
            "unsealed": json.dumps(dict(good, proxy=evil)).encode(),
            "wrong mac": json.dumps(dict(sealed, mac="0" * 64)).encode(),
            "other secret": nodeauth.seal(dict(good, proxy=evil), FUNCTION,
                                          secret="another-secret-0123456789abcdef"),
            "other function": nodeauth.seal(dict(good, proxy=evil), "icnode-other"),
            "other proxy address": json.dumps(tampered).encode(),
            "stale": nodeauth.seal(dict(good, proxy=evil), FUNCTION, ts_ms=now - 10 * 60 * 1000),
            "future": nodeauth.seal(dict(good, proxy=evil), FUNCTION, ts_ms=now + 10 * 60 * 1000),
            "backup-peer to an attacker relay": nodeauth.seal(
                {"cmd": "backup-peer", "node_id": 2, "relay": evil, "token": "t"}, FUNCTION,
                secret="another-secret-0123456789abcdef"),
        }
        # The genuine event first, then its exact replay.
        rid = api.invoke(replay)
        c = accept(ls)
        check_hello(c.read(), 2, (128 - 32) * MiB, 0, 0, 1)
        assert c.read() == [b"BYE"]
        api.response(rid)
        cases["replayed nonce"] = replay
        rids = {name: api.invoke(body) for name, body in cases.items()}
        for name, r in rids.items():
            wait_for(lambda r=r: r in api.errors, what="refusal of " + name)
            kind, body = api.errors[r]
            assert kind == "Node.Unauthenticated", (name, kind, body)
            assert "refused" in body["errorMessage"], (name, body)
        assert no_pending_connection(attacker), "a forged event made the node dial the attacker"
        assert nodeauth.SECRET not in node.output()
        # Still obeys a genuine event, on the connection it keeps.
        rid = api.invoke(good)
        check_hello(c.read(), 2, (128 - 32) * MiB, 0, 0, len(cases) + 2)
        assert c.read() == [b"BYE"]
        api.response(rid)
    except BaseException:
        sys.stderr.write(node.output())
        raise
    finally:
        node.stop()
        api.stop()
        ls.close()
        attacker.close()


def test_no_secret_no_service():
    """Without IC_NODE_SECRET the node refuses to start, and says why."""
    api = RuntimeAPI()
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "IC_NODE_SECRET": ""}, api.api_env())
    try:
        assert node.proc.wait(timeout=10) == 1
        wait_for(lambda: api.init_errors, what="init error")
        assert "IC_NODE_SECRET is not set" in node.output()
    finally:
        node.stop()
        api.stop()


def test_refused_by_proxy():
    """A proxy that does not accept the node's proof says REFUSED: the invocation fails with
    Node.AuthRefused, and a listener that sends no challenge gets no HELLO at all."""
    api = RuntimeAPI()
    ls = listen()
    proxy = "127.0.0.1:%d" % ls.getsockname()[1]
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "IC_NODE_CONNECT_TIMEOUT_MS": "300"},
                api.api_env())
    try:
        rid = api.invoke({"cmd": "activate", "node_id": 1, "proxy": proxy})
        c = accept(ls)
        check_hello(c.read(), 1, (128 - 32) * MiB, 0, 0, 1)
        c.send(cmd(b"REFUSED", b"bad_proof"))
        c.s.close()
        wait_for(lambda: rid in api.errors, what="refusal")
        assert api.errors[rid][0] == "Node.AuthRefused", api.errors[rid]
        assert "check IC_NODE_SECRET" in api.errors[rid][1]["errorMessage"]
        # Something that listens but sends no challenge is not this system's proxy.
        rid = api.invoke({"cmd": "activate", "node_id": 1, "proxy": proxy})
        c = accept(ls, challenge=False)
        wait_for(lambda: rid in api.errors, what="no challenge")
        c.s.settimeout(0.5)
        try:
            data = c.s.recv(100)
        except socket.timeout:
            data = b""
        assert b"HELLO" not in data, data
        assert "no_challenge" in node.output()
    except BaseException:
        sys.stderr.write(node.output())
        raise
    finally:
        node.stop()
        api.stop()
        ls.close()


def closed(c, timeout=5.0):
    """True once the node has closed connection c (whatever it sent before is left unread)."""
    c.s.settimeout(timeout)
    try:
        while c.s.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True


def test_takeover_epoch():
    """Takeover fencing (docs/STANDBY.md): a node takes the epoch of each event; an event of a
    higher epoch naming another proxy makes it leave the proxy it was connected to, telling it so
    with a HELLO that carries the new epoch; an event of a lower epoch is refused (Node.Fenced),
    and the proxy it names, dialed on a connection of its own, gets only that HELLO; a higher
    epoch at the same address (a restart there) keeps the connection."""
    api = RuntimeAPI()
    old, new = listen(), listen()
    old_addr = "127.0.0.1:%d" % old.getsockname()[1]
    new_addr = "127.0.0.1:%d" % new.getsockname()[1]
    limit = (128 - 32) * MiB
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "IC_NODE_CONNECT_TIMEOUT_MS": "500"},
                api.api_env())
    try:
        rid = api.invoke({"cmd": "activate", "node_id": 2, "proxy": old_addr, "epoch": 100})
        c1 = accept(old)
        inst = check_hello(c1.read(), 2, limit, 0, 0, 1, epoch=100)
        api.response(rid)
        assert c1.read() == [b"BYE"]
        rid = api.invoke({"cmd": "activate", "node_id": 2, "proxy": new_addr, "epoch": 200})
        check_hello(c1.read(), 2, limit, 0, 0, 2, inst, epoch=200)
        assert closed(c1)
        c2 = accept(new)
        check_hello(c2.read(), 2, limit, 0, 0, 2, inst, epoch=200)
        api.response(rid)
        assert c2.read() == [b"BYE"]
        # The replaced proxy invokes again: refused, and told on a connection of its own.
        rid = api.invoke({"cmd": "activate", "node_id": 2, "proxy": old_addr, "epoch": 100})
        c3 = accept(old)
        check_hello(c3.read(), 2, limit, 0, 0, 3, inst, epoch=200)
        assert closed(c3)
        wait_for(lambda: rid in api.errors, what="refusal")
        assert api.errors[rid][0] == "Node.Fenced", api.errors[rid]
        # An event without an epoch (a proxy of an earlier release: epoch 0) is refused too; a
        # refused warm-up dials nobody.
        rid = api.invoke({"cmd": "warmup"})
        wait_for(lambda: rid in api.errors, what="warm-up refusal")
        assert api.errors[rid][0] == "Node.Fenced", api.errors[rid]
        assert no_pending_connection(old)
        # The new proxy's connection was left alone: its next invocation says HELLO on it, and
        # so does one of a higher epoch at the same address (the proxy restarted there).
        rid = api.invoke({"cmd": "activate", "node_id": 2, "proxy": new_addr, "epoch": 200})
        check_hello(c2.read(), 2, limit, 0, 0, 5, inst, epoch=200)
        api.response(rid)
        assert c2.read() == [b"BYE"]
        rid = api.invoke({"cmd": "activate", "node_id": 2, "proxy": new_addr, "epoch": 300})
        check_hello(c2.read(), 2, limit, 0, 0, 6, inst, epoch=300)
        api.response(rid)
        assert c2.read() == [b"BYE"]
        assert no_pending_connection(new)
        # A backup source of a lower epoch (it serves a replaced proxy) cannot sync its store
        # over this one: the peer refuses before dialing the relay.
        relay = listen()
        relay_addr = "127.0.0.1:%d" % relay.getsockname()[1]
        rid = api.invoke({"cmd": "backup-peer", "node_id": 2, "relay": relay_addr, "token": "t1",
                          "epoch": 200})
        wait_for(lambda: rid in api.errors, what="backup-peer refusal")
        assert api.errors[rid][0] == "Node.Fenced", api.errors[rid]
        assert no_pending_connection(relay)
        # One of a higher epoch is obeyed, and the proxy of the lower one is left, told why.
        rid = api.invoke({"cmd": "backup-peer", "node_id": 2, "relay": relay_addr, "token": "t2",
                          "epoch": 400})
        check_hello(c2.read(), 2, limit, 0, 0, 8, inst, epoch=400)
        assert closed(c2)
        r = accept(relay)
        intro = r.read()
        assert intro[:3] == [b"RELAY", b"t2", b"peer"], intro
        r.s.close()
        api.response(rid)
        relay.close()
    except BaseException:
        sys.stderr.write(node.output())
        raise
    finally:
        node.stop()
        api.stop()
        old.close()
        new.close()


def main():
    if not os.access(BIN, os.X_OK):
        print("missing binary " + BIN)
        return 1
    failed = 0
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn):
            t0 = time.monotonic()
            try:
                fn()
                print("PASS %s (%.2fs)" % (name, time.monotonic() - t0))
            except BaseException:
                failed += 1
                print("FAIL %s" % name)
                traceback.print_exc()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
