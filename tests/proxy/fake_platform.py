#!/usr/bin/python3
"""fake_platform.py -- an in-process stand-in for the function platform and its cache nodes,
for proxy tests that need to steer faults exactly (refused invocations, silent or corrupting
nodes). Speaks the Invoke API over HTTP and the node protocol (docs/PROTOCOL.md) over TCP."""
import json
import os
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import nodeauth  # noqa: E402


class FakeNode(threading.Thread):
    """One cache node instance: dials the proxy, says HELLO, serves chunk requests."""

    def __init__(self, platform, node_id, proxy_addr, tls=False):
        super().__init__(daemon=True)
        self.tls = tls  # the event said "tls": true: dial with TLS, verify as icnode does
        self.platform = platform
        self.node_id = node_id
        self.proxy_addr = proxy_addr
        self.instance = uuid.uuid4().hex[:16]
        self.chunks = {}
        self.tombs = {}  # key -> highest version deleted with CDEL ... TOMB
        self.sock = None
        self.challenge = None  # the proxy's, once read
        self.invocations = 0
        self.wake = threading.Event()
        self.dead = False
        self.send_lock = threading.Lock()

    def send(self, data):
        with self.send_lock:
            if self.sock is None:
                return  # still dialing: its own HELLO follows once connected
            self.sock.sendall(data)

    @staticmethod
    def bulk(b):
        return b"$%d\r\n%s\r\n" % (len(b), b)

    def hello(self):
        if self.challenge is None:
            return  # still connecting: run() says HELLO once the challenge is in
        self.invocations += 1
        used = sum(len(v[1]) for v in self.chunks.values())
        proof = nodeauth.hello_proof(self.challenge, self.node_id, self.instance)
        args = [b"HELLO", str(self.node_id).encode(), self.instance.encode(), str(200 << 20).encode(),
                str(used).encode(), str(len(self.chunks)).encode(), str(self.invocations).encode(),
                proof.encode()]
        self.send(b"*%d\r\n" % len(args) + b"".join(self.bulk(a) for a in args))

    def run(self):
        host, port = self.proxy_addr.rsplit(":", 1)
        try:
            sock = socket.create_connection((host, int(port)))
            if self.tls:
                ctx = ssl.create_default_context(cafile=os.environ["IC_NODE_TLS_CA"])
                sock = ctx.wrap_socket(sock, server_hostname=host)
            self.sock = sock
        except (OSError, KeyError):
            return  # the proxy is gone (a late invocation after it stopped)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = self.sock.makefile("rb")
        try:
            # The proxy's challenge comes first; HELLO proves the node secret over it.
            first = [f.readline() for _ in range(5)]
            if first[2] != b"CHALLENGE\r\n":
                return
            self.challenge = first[4].strip().decode()
            self.hello()
            while not self.dead:
                line = f.readline()
                if not line:
                    return
                n = int(line[1:])
                args = []
                for _ in range(n):
                    ln = int(f.readline()[1:])
                    args.append(f.read(ln + 2)[:-2])
                self.handle(args)
        except (OSError, ValueError):
            return

    def handle(self, args):
        mode = self.platform.node_mode.get(self.node_id, "ok")
        if mode == "silent":
            return
        cmd = args[0].upper()
        if cmd == b"PING":
            self.send(b"+PONG\r\n")
        elif cmd == b"CSET":
            key = (args[1], int(args[2]), int(args[3]))
            if mode == "refuse":
                self.send(b"-NOMEM chunk does not fit\r\n")
                return
            if mode == "full_once":
                # Full of chunks the proxy does not know of: one refusal with the real figures.
                self.platform.node_mode[self.node_id] = "ok"
                self.send(b"-NOMEM chunk of %d bytes (footprint %d) does not fit: used %d of %d\r\n" % (
                    len(args[9]), len(args[9]) + len(args[1]) + 128, 200 << 20, 200 << 20))
                return
            # CSET key index version crc size d p expire_ms chunk
            self.chunks[key] = (int(args[4]), args[9], [int(a) for a in args[5:9]])
            self.send(b"+OK\r\n")
        elif cmd == b"INVENTORY":
            lines = []
            for (k, idx, ver), (crc, body, obj) in list(self.chunks.items()):
                if mode == "forget":
                    continue
                lines.append(b"%d %d %d %d %d %d %d %d %d:%s\n" % (
                    idx, ver, crc, len(body), obj[0], obj[1], obj[2], obj[3], len(k), k))
            for k, ver in list(self.tombs.items()):
                lines.append(b"T %d %d %d:%s\n" % (ver, int(time.time() * 1000) + 3600000,
                                                    len(k), k))
            self.send(self.bulk(b"".join(lines)))
        elif cmd == b"CGET":
            key = (args[1], int(args[2]), int(args[3]))
            if key not in self.chunks or mode == "forget":
                self.send(b"$-1\r\n")
                return
            crc, body, _ = self.chunks[key]
            if mode == "straggle":
                # A straggler: the reply comes late, and so does everything behind it.
                time.sleep(self.platform.straggle_delay)
            if mode == "corrupt":
                body = bytes([body[0] ^ 0xFF]) + body[1:] if body else body
            self.send(b"*2\r\n:%d\r\n" % crc + self.bulk(body))
        elif cmd == b"CDEL":
            key = (args[1], int(args[2]), int(args[3]))
            if mode == "slow_del":
                time.sleep(0.3)  # a busy node: the delete lands well after it was sent
            if len(args) == 5 and args[4].upper() == b"TOMB":
                self.tombs[args[1]] = max(self.tombs.get(args[1], 0), int(args[3]))
            self.send(b":%d\r\n" % (1 if self.chunks.pop(key, None) else 0))
        else:
            self.send(b"-ERR unknown command\r\n")

    def drop_connection(self):
        """Closes the connection but keeps the instance (and its memory): the next invocation
        dials again as this instance, or as a new one holding the same chunks (a backup peer
        taking over) when the node id is in platform.rename_on_redial."""
        with self.platform.lock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
                self.sock.close()
            except OSError:
                pass
            self.join(timeout=10)

    def kill(self):
        self.dead = True
        if self.sock is None:
            return
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
        except OSError:
            pass


class FakePlatform:
    def __init__(self):
        self.nodes = {}
        self.node_mode = {}  # node id -> ok, silent, refuse, forget, corrupt or straggle
        self.straggle_delay = 2.0  # seconds a straggling node holds each CGET reply
        self.refuse = set()  # node ids whose invocations get HTTP 500
        self.rename_on_redial = set()  # node ids that dial again as a new instance (same chunks)
        self.invocations = 0
        self.lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                body = json.dumps({"requests": platform.invocations}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                event = json.loads(self.rfile.read(length) or b"{}")
                # Events are sealed with the node secret (PROTOCOL.md section 3): checked here as
                # a node would, so a proxy that sent anything else fails these tests.
                function = self.path.split("/")[3]
                inner = event.get("signed", "")
                assert event.get("mac") == nodeauth.mac(nodeauth.SECRET, "ic-event-v1",
                                                        [function, inner]), event
                event = json.loads(inner)
                nid = event.get("node_id")
                with platform.lock:
                    platform.invocations += 1
                if nid in platform.refuse:
                    body = b'{"__type":"ServiceException","message":"refused by test"}'
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if event.get("cmd") not in ("activate", "backup"):
                    return  # warm-up: nothing to do
                with platform.lock:
                    node = platform.nodes.get(nid)
                    if node is None or node.dead:
                        # No instance, or it was reclaimed: a new one, with an empty store.
                        node = FakeNode(platform, nid, event["proxy"], event.get("tls") is True)
                        platform.nodes[nid] = node
                        node.start()
                    elif not node.is_alive():
                        # The instance lives on but lost its connection (the proxy went away):
                        # it dials again, keeping its memory, as icnode does.
                        again = FakeNode(platform, nid, event["proxy"], event.get("tls") is True)
                        again.chunks, again.tombs = node.chunks, node.tombs
                        if nid not in platform.rename_on_redial:
                            again.instance = node.instance
                        again.invocations = node.invocations
                        platform.nodes[nid] = again
                        again.start()
                    else:
                        node.hello()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.httpd.shutdown()
        for n in self.nodes.values():
            n.kill()
