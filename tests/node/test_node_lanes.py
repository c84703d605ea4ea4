#!/usr/bin/python3
"""test_node_lanes.py -- black-box test of icnode's lanes (docs/PROTOCOL.md section 2, "Lanes"):
the test plays the Lambda Runtime API and a proxy that asks for LANES, as a proxy with one shard
per lane will, and checks every LANE proof against the documented formula (scripts/nodeauth.py,
Python's hmac module), the shared store, per-lane order, re-dialling, and the return policy."""
import os
import select
import ssl
import sys
import threading
import time
import traceback
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_node  # noqa: E402
from test_node import (BIN, MiB, Node, RuntimeAPI, accept, check_hello, cmd, cset,  # noqa: E402
                       listen, no_pending_connection, nodeauth, wait_for)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proxy"))


def accept_lanes(ls, count, node_id, instance, wrap=None, timeout=5.0):
    """Accepts `count` lane connections, sends each a challenge as the proxy does, reads its LANE
    and checks the proof as a proxy would; returns {lane number: connection}."""
    lanes = {}
    for _ in range(count):
        c = accept(ls, timeout=timeout, challenge=False)
        if wrap:
            c.s = wrap(c.s)
        c.challenge = nodeauth.new_challenge()
        c.send(nodeauth.challenge_message(c.challenge))
        lane = check_lane(c.read(), c.challenge, node_id, instance)
        assert lane not in lanes, "lane %d opened twice" % lane
        lanes[lane] = c
    return lanes


def check_lane(msg, challenge, node_id, instance):
    """LANE node_id instance lane proof, with proof = hex HMAC-SHA256(secret, "ic-lane-v1" ||
    F(challenge) || F(node_id) || F(instance) || F(lane)). Returns the lane number."""
    assert isinstance(msg, list) and len(msg) == 5 and msg[0] == b"LANE", "LANE shape: %r" % (msg,)
    assert msg[1] == str(node_id).encode() and msg[2] == instance.encode(), msg
    lane = int(msg[3])
    assert 1 <= lane <= 63 and msg[3] == str(lane).encode(), msg
    proof = msg[4].decode()
    assert proof == nodeauth.lane_proof(challenge, node_id, instance, lane), \
        "LANE proof does not verify: %r" % (msg,)
    # What a proxy refuses: the same proof for another lane, challenge, node or secret.
    assert proof != nodeauth.lane_proof(challenge, node_id, instance, lane + 1)
    assert proof != nodeauth.lane_proof(nodeauth.new_challenge(), node_id, instance, lane)
    assert proof != nodeauth.lane_proof(challenge, node_id + 1, instance, lane)
    assert proof != nodeauth.lane_proof(challenge, node_id, instance, lane,
                                        secret="another-secret-0123456789abcdef")
    return lane


def hello(c, node_id, invocation, instance):
    """Reads a HELLO and checks its proof and identity (the memory figures are test_node's)."""
    msg = c.read()
    assert isinstance(msg, list) and len(msg) == 9, msg
    check_hello(msg, node_id, int(msg[3]), int(msg[4]), int(msg[5]), invocation, instance)


def silent(c):
    """True when nothing waits to be read from c (no BYE, no reply)."""
    if c.buf:
        return False
    if hasattr(c.s, "pending") and c.s.pending():
        return False
    return not select.select([c.s], [], [], 0)[0]


def pipeline(lane, c, errors, count=120):
    """One shard's traffic: CSETs, CGETs, PINGs and CDELs of its own keys in one write, and every
    reply checked in order."""
    try:
        reqs, want = [], []
        for i in range(count):
            key = b"lane%d-key%d" % (lane, i)
            body = os.urandom(1 + (i * 7919 + lane * 104729) % 20000)
            reqs += [cset(key, 0, 5, body), cmd(b"CGET", key, 0, 5), cmd("PING"),
                     cmd(b"CGET", key, 0, 6), cmd(b"CDEL", key, 1, 5)]
            want += [("+", "OK"), [zlib.crc32(body), body], ("+", "PONG"), None, 0]
        c.send(b"".join(reqs))
        for n, w in enumerate(want):
            got = c.read(timeout=20)
            assert got == w, "lane %d reply %d: %r" % (lane, n, got if not isinstance(got, list)
                                                      else got[:1])
    except BaseException as e:  # reported by the caller
        errors.append((lane, e))


def test_lanes():
    """LANES 4: three lanes arrive with valid proofs; one store; pipelined traffic on all lanes;
    lane-0-only requests refused on lanes; a lane killed while frozen, or closed for malformed
    input, is dialled again; a REFUSED lane waits for the next invocation; LANES 1 closes them."""
    api = RuntimeAPI()
    ls = listen()
    proxy = "127.0.0.1:%d" % ls.getsockname()[1]
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "IC_NODE_RETURN_POLICY": "idle",
                 "IC_NODE_IDLE_RETURN_MS": "1500"}, api.api_env())
    lanes = {}
    try:
        rid = api.invoke({"cmd": "activate", "node_id": 5, "proxy": proxy})
        c0 = accept(ls)
        inst = check_hello(c0.read(), 5, 96 * MiB, 0, 0, 1)
        for bad in (b"65", b"0", b"x", b"02"):
            c0.send(cmd(b"LANES", bad))
            assert c0.read() == ("-", "ERR invalid lane count"), bad
        c0.send(cmd("LANES", 4))
        assert c0.read() == ("+", "OK")
        lanes = accept_lanes(ls, 3, 5, inst)
        assert sorted(lanes) == [1, 2, 3], sorted(lanes)
        lanes[0] = c0

        # One store: a CSET on lane 2 is read on lane 0, a CDEL on lane 3 seen on lane 1.
        body = os.urandom(70000)
        lanes[2].send(cset("shared", 1, 9, body))
        assert lanes[2].read() == ("+", "OK")
        c0.send(cmd("CGET", "shared", 1, 9))
        assert c0.read() == [zlib.crc32(body), body]
        lanes[3].send(cmd("CDEL", "shared", 1, 9))
        assert lanes[3].read() == 1
        lanes[1].send(cmd("CGET", "shared", 1, 9) + cmd("STATS"))
        assert lanes[1].read() is None
        assert lanes[1].read() == [96 * MiB, 0, 0, 1]

        # Pipelined traffic on the four lanes at once, each in order with the right bytes.
        errors = []
        threads = [threading.Thread(target=pipeline, args=(n, lanes[n], errors)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert not any(t.is_alive() for t in threads)

        # What concerns the node as a whole is lane 0's: refused on a lane, which stays usable.
        lanes[1].send(cmd("LANES", 2) + cmd("INVENTORY") + cmd("GOAWAY") + cmd("SYNCDONE") +
                      cmd("BACKUP", "127.0.0.1:1", "tok", "http://127.0.0.1:1") + cmd("PING"))
        for name in ("LANES", "INVENTORY", "GOAWAY", "SYNCDONE", "BACKUP"):
            assert lanes[1].read() == ("-", "ERR %s is served on lane 0 only" % name), name
        assert lanes[1].read() == ("+", "PONG")
        c0.send(cmd("INVENTORY"))
        inventory = c0.read()
        assert inventory.count(b"\n") == 4 * 120, len(inventory)

        # Idle: BYE on lane 0 alone, after the response, which counts every lane's requests.
        assert c0.read(timeout=10) == [b"BYE"]
        served = 4 + 1 + 5 + 4 * 120 * 5 + 6 + 1
        assert api.responses[rid]["served"] == served, (api.responses[rid], served)
        for n in (1, 2, 3):
            assert silent(lanes[n]), "lane %d got something at the return" % n

        # The proxy kills lane 2 while the instance is frozen: it is dialled again at the next
        # invocation (a new challenge, a new proof), lanes 1 and 3 stay as they are.
        lanes[2].s.close()
        rid = api.invoke({"cmd": "activate", "node_id": 5, "proxy": proxy})
        hello(c0, 5, 2, inst)
        again = accept_lanes(ls, 1, 5, inst)
        assert list(again) == [2], list(again)
        lanes[2] = again[2]
        for n in (1, 2, 3):
            lanes[n].send(cmd("CGET", "lane0-key7", 0, 5))
            got = lanes[n].read()
            assert isinstance(got, list) and len(got) == 2, (n, got)
        assert no_pending_connection(ls), "a lane dialled twice"

        # Malformed input on lane 1 closes lane 1 alone, which the node dials again at once
        # (after its back-off) while lanes 0, 2 and 3 go on.
        lanes[1].send(b"GARBAGE\r\n")
        lanes[1].expect_closed()
        for n in (0, 2, 3):
            lanes[n].send(cmd("PING"))
            assert lanes[n].read() == ("+", "PONG"), n
        again = accept_lanes(ls, 1, 5, inst)
        assert list(again) == [1], list(again)
        lanes[1] = again[1]
        lanes[1].send(cmd("PING"))
        assert lanes[1].read() == ("+", "PONG")

        # A proxy that refuses a lane's proof says REFUSED and closes it: the node does not dial
        # it again in this invocation, and lane 0 goes on.
        lanes[3].send(cmd(b"REFUSED", b"bad_proof"))
        lanes[3].expect_closed()
        c0.send(cmd("PING"))
        assert c0.read() == ("+", "PONG")
        assert c0.read(timeout=10) == [b"BYE"]
        api.response(rid)
        assert "event=lane_refused lane=3 reason=bad_proof" in node.output()
        assert no_pending_connection(ls), "a refused lane was dialled again in its invocation"
        # ... but at the next one it is.
        rid = api.invoke({"cmd": "activate", "node_id": 5, "proxy": proxy})
        hello(c0, 5, 3, inst)
        lanes[3] = accept_lanes(ls, 1, 5, inst)[3]

        # LANES 1 closes the extra lanes, and they stay closed.
        c0.send(cmd("LANES", 1))
        assert c0.read() == ("+", "OK")
        for n in (1, 2, 3):
            lanes[n].expect_closed()
        assert c0.read(timeout=10) == [b"BYE"]
        api.response(rid)
        rid = api.invoke({"cmd": "activate", "node_id": 5, "proxy": proxy})
        hello(c0, 5, 4, inst)
        assert c0.read(timeout=10) == [b"BYE"]
        api.response(rid)
        assert no_pending_connection(ls), "LANES 1 left a lane to dial"
    except BaseException:
        sys.stderr.write(node.output())
        raise
    finally:
        node.stop()
        api.stop()
        for c in lanes.values():
            c.s.close()
        ls.close()


def test_returns_when_all_lanes_idle():
    """The invocation returns only when every lane is idle: requests on lane 2 alone keep it
    going, a request half-read on lane 1 holds it until the deadline; the rest of that request is
    read at the next invocation."""
    api = RuntimeAPI()
    ls = listen()
    proxy = "127.0.0.1:%d" % ls.getsockname()[1]
    idle_ms = 600
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "IC_NODE_RETURN_POLICY": "idle",
                 "IC_NODE_IDLE_RETURN_MS": str(idle_ms)}, api.api_env())
    lanes = {}
    try:
        rid = api.invoke({"cmd": "activate", "node_id": 1, "proxy": proxy})
        c0 = accept(ls)
        inst = check_hello(c0.read(), 1, 96 * MiB, 0, 0, 1)
        c0.send(cmd("LANES", 3))
        assert c0.read() == ("+", "OK")
        lanes = accept_lanes(ls, 2, 1, inst)
        lanes[0] = c0
        t0 = time.monotonic()
        while True:
            lanes[2].send(cmd("PING"))
            assert lanes[2].read() == ("+", "PONG")
            last = time.monotonic()
            assert silent(c0), "BYE while lane 2 was busy"
            if last - t0 > 1.5:
                break
            time.sleep(idle_ms / 4000.0)  # pacing: a quarter of the idle spell between requests
        assert c0.read(timeout=5) == [b"BYE"]
        assert time.monotonic() - last >= idle_ms / 1000.0 * 0.8
        api.response(rid)

        # Half a request on lane 1: work in flight, so only the deadline ends the invocation.
        rid = api.invoke({"cmd": "activate", "node_id": 1, "proxy": proxy}, deadline_in_ms=2000)
        hello(c0, 1, 2, inst)
        half = cmd("CGET", "nothing", 0, 1)
        lanes[1].send(half[:10])
        t0 = time.monotonic()
        assert c0.read(timeout=5) == [b"BYE"]
        took = time.monotonic() - t0
        assert 1.2 < took < 3.0, took
        api.response(rid)
        rid = api.invoke({"cmd": "activate", "node_id": 1, "proxy": proxy})
        hello(c0, 1, 3, inst)
        lanes[1].send(half[10:])
        assert lanes[1].read() is None
        assert c0.read(timeout=5) == [b"BYE"]
        assert api.response(rid)["served"] == 1
        assert no_pending_connection(ls)
        # Idle footprint with two lanes open, once the node waits in /next.
        wait_for(lambda: api.waiting == 1 and api.events.empty(), what="the node waiting in /next")
        print("idle RSS with lane 0 and 2 lanes: %d KiB" % node.rss_kib())
    except BaseException:
        sys.stderr.write(node.output())
        raise
    finally:
        node.stop()
        api.stop()
        for c in lanes.values():
            c.s.close()
        ls.close()


def test_lane0_closing_drops_lanes():
    """Lanes belong to one lane-0 connection: when the proxy closes lane 0, the node closes every
    lane, and a new lane 0 starts with none (a proxy that never asks for lanes gets none)."""
    api = RuntimeAPI()
    ls = listen()
    proxy = "127.0.0.1:%d" % ls.getsockname()[1]
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "IC_NODE_RETURN_POLICY": "idle",
                 "IC_NODE_IDLE_RETURN_MS": "1000"}, api.api_env())
    lanes = {}
    try:
        rid = api.invoke({"cmd": "activate", "node_id": 2, "proxy": proxy})
        c0 = accept(ls)
        inst = check_hello(c0.read(), 2, 96 * MiB, 0, 0, 1)
        c0.send(cmd("LANES", 3))
        assert c0.read() == ("+", "OK")
        lanes = accept_lanes(ls, 2, 2, inst)
        c0.s.close()
        for n in (1, 2):
            lanes[n].expect_closed()
        api.response(rid)
        rid = api.invoke({"cmd": "activate", "node_id": 2, "proxy": proxy})
        c0 = accept(ls)
        lanes[0] = c0
        hello(c0, 2, 2, inst)
        assert c0.read(timeout=5) == [b"BYE"]
        api.response(rid)
        assert no_pending_connection(ls), "a lane of the old lane 0 was dialled"
        assert "event=lanes_dropped lanes=3 reason=lane0_closed" in node.output()
    except BaseException:
        sys.stderr.write(node.output())
        raise
    finally:
        node.stop()
        api.stop()
        for c in lanes.values():
            c.s.close()
        ls.close()


def test_lanes_over_tls():
    """With TLS on lane 0, the lanes dial with TLS too, verifying the proxy's certificate, and
    their handshakes do not block lane 0."""
    from tlscerts import Pki
    pki = Pki()
    api = RuntimeAPI()
    ls = listen()
    proxy = "127.0.0.1:%d" % ls.getsockname()[1]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.path("server.crt"), pki.path("server.key"))
    node = Node({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "IC_NODE_RETURN_POLICY": "idle",
                 "IC_NODE_IDLE_RETURN_MS": "1000", "IC_NODE_TLS_CA": pki.path("ca.crt")},
                api.api_env())
    lanes = {}

    def wrap(s):
        s.settimeout(5)
        return ctx.wrap_socket(s, server_side=True)
    try:
        rid = api.invoke({"cmd": "activate", "node_id": 7, "proxy": proxy, "tls": True})
        c0 = accept(ls, challenge=False)
        c0.s = wrap(c0.s)
        c0.challenge = nodeauth.new_challenge()
        test_node.CHALLENGES.append(c0.challenge)
        c0.send(nodeauth.challenge_message(c0.challenge))
        inst = check_hello(c0.read(), 7, 96 * MiB, 0, 0, 1)
        c0.send(cmd("LANES", 3) + cmd("PING"))
        assert c0.read() == ("+", "OK")
        assert c0.read() == ("+", "PONG")  # answered while the lanes' handshakes wait on us
        lanes = accept_lanes(ls, 2, 7, inst, wrap=wrap)
        assert sorted(lanes) == [1, 2]
        body = os.urandom(300000)
        lanes[1].send(cset("t", 0, 1, body))
        assert lanes[1].read() == ("+", "OK")
        lanes[2].send(cmd("CGET", "t", 0, 1))
        assert lanes[2].read() == [zlib.crc32(body), body]
        lanes[0] = c0
        assert c0.read(timeout=5) == [b"BYE"]
        api.response(rid)
        assert "event=lane_open lane=1" in node.output() and "tls=1" in node.output()
    except BaseException:
        sys.stderr.write(node.output())
        raise
    finally:
        node.stop()
        api.stop()
        for c in lanes.values():
            c.s.close()
        ls.close()
        pki.cleanup()


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
