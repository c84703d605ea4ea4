#!/usr/bin/python3
"""test_icbench_resp.py -- icbench's own RESP client against a fake server that answers GET with
nil, error replies, malformed, oversized and truncated replies, a reset or silence: every case is
a clear error (or a miss, or wrong bytes), never a crash or a mis-parse."""
import os
import socket
import struct
import subprocess
import threading

BIN = os.environ["IC_BIN"]
ICBENCH = os.path.join(BIN, "icbench")


def read_command(f):
    """One RESP array of bulks from the client, or None at EOF."""
    line = f.readline()
    if not line:
        return None
    assert line.startswith(b"*"), line
    args = []
    for _ in range(int(line[1:])):
        n = int(f.readline()[1:])
        args.append(f.read(n + 2)[:-2])
    return args


class FakeServer:
    """Answers PING with +PONG (so icbench's reachability check passes), SET with +OK, and GET
    with `get_reply`: bytes to send, or a callable given the socket."""

    def __init__(self, get_reply):
        self.get_reply = get_reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.done = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.done:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.talk, args=(conn,), daemon=True).start()

    def talk(self, conn):
        f = conn.makefile("rb")
        try:
            while True:
                cmd = read_command(f)
                if cmd is None:
                    break
                if cmd[0] == b"PING":
                    conn.sendall(b"+PONG\r\n")
                elif cmd[0] == b"SET":
                    conn.sendall(b"+OK\r\n")
                elif callable(self.get_reply):
                    if self.get_reply(conn) == "closed":
                        return
                else:
                    conn.sendall(self.get_reply)
        except OSError:
            pass
        finally:
            f.close()
            conn.close()

    def stop(self):
        self.done = True
        self.sock.close()


def run(server, *extra, expect=0):
    args = [ICBENCH, "--target", "resp:127.0.0.1:%d" % server.port, "--size-dist", "fixed:100",
            "--keys", "1", "--get-ratio", "1", "--requests", "1", *extra]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == expect, (p.returncode, expect, p.stdout, p.stderr)
    res = {}
    for line in p.stdout.splitlines():
        if line.startswith("result "):
            res = dict(f.split("=", 1) for f in line.split()[1:])
    return res, p.stderr


def close_after(data, reset=False):
    def reply(conn):
        conn.sendall(data)
        if reset:  # an RST instead of a FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        return "closed"
    return reply


def main():
    # nil is a miss, filled by a SET.
    s = FakeServer(b"$-1\r\n")
    res, _ = run(s)
    assert res["misses"] == "1" and res["fills"] == "1" and res["errors"] == "0", res
    s.stop()

    # Every bad reply is one error with a reason, and the run ends normally.
    cases = [
        (b"-ERR boom\r\n", "unexpected reply to GET: ERR boom"),
        (b"+OK\r\n", "unexpected reply to GET: not a bulk string"),
        (b"$99999999999999\r\n", "over the limits"),
        (b"$-7\r\n", "protocol error"),
        (b"$12abc\r\n", "protocol error"),
        (b"!3\r\nabc\r\n", "protocol error"),
        (b"$3\r\nabcXY", "not followed by CRLF"),
        (b"$100\r\n" + b"x" * 100 + b"ZZ", "not followed by CRLF"),
        (b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", "unexpected array"),
        (b"+" + b"x" * 10000 + b"\r\n", "over the limits"),
        (close_after(b"$100\r\nabc"), "connection closed by the server"),
        (close_after(b"$5000000\r\n" + b"y" * 100000), "connection closed by the server"),
        (close_after(b""), "connection closed by the server"),
        (close_after(b"$100\r\nab", reset=True), "connection lost"),
        (lambda conn: None, "timed out"),  # no answer at all
    ]
    for reply, reason in cases:
        s = FakeServer(reply)
        res, err = run(s, "--timeout", "300ms")
        assert res.get("errors") == "1" and res["wrong_bytes"] == "0", (reply, res, err)
        assert reason in err, (reply, reason, err)
        s.stop()

    # A well-formed bulk with the wrong bytes, small or in many pieces, is wrong_bytes (exit 1).
    def slow_big(conn):
        conn.sendall(b"$3000000\r\n")
        for _ in range(30):
            conn.sendall(b"z" * 100000)
        conn.sendall(b"\r\n")
    for reply in (b"$100\r\n" + b"w" * 100 + b"\r\n", slow_big):
        s = FakeServer(reply)
        res, err = run(s, "--size-dist", "fixed:3000000", expect=1)
        assert res["wrong_bytes"] == "1" and res["errors"] == "0", (res, err)
        s.stop()

    # A server that does not answer PING with PONG is refused before the run.
    bad = socket.socket()
    bad.bind(("127.0.0.1", 0))
    bad.listen(4)
    port = bad.getsockname()[1]

    def refuse():
        c, _ = bad.accept()
        c.recv(100)
        c.sendall(b"-NOAUTH Authentication required.\r\n")
        c.close()
    t = threading.Thread(target=refuse, daemon=True)
    t.start()
    p = subprocess.run([ICBENCH, "--target", "resp:127.0.0.1:%d" % port], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "PING not answered with PONG: NOAUTH" in p.stderr, p.stderr
    t.join(timeout=10)
    bad.close()
    print("ok")


if __name__ == "__main__":
    main()
