#!/usr/bin/python3
"""nodeauth.py -- the node secret's proofs for tests and benchmarks that play a proxy, a node or a relay
(docs/PROTOCOL.md: sealed events, CHALLENGE, HELLO, LANE and RELAY proofs). Written from the protocol
text with Python's own hmac module, so it checks the C code rather than repeating it."""
import hashlib
import hmac
import json
import os
import secrets
import time

# The secret tests give icnode (IC_NODE_SECRET) and icproxy (--node-secret-file).
SECRET = "test-node-secret-0123456789abcdef"


def mac(secret, label, parts):
    """hex HMAC-SHA256(secret, label || for each part: "\\n" len ":" bytes)."""
    h = hmac.new(secret.encode(), label.encode(), hashlib.sha256)
    for p in parts:
        if isinstance(p, str):
            p = p.encode()
        h.update(b"\n%d:" % len(p) + p)
    return h.hexdigest()


def seal(event, function, secret=SECRET, ts_ms=None, nonce=None):
    """A sealed event (bytes) for `function`, with "ts" and "nonce" added unless present."""
    event = dict(event)
    event.setdefault("ts", int(time.time() * 1000) if ts_ms is None else ts_ms)
    event.setdefault("nonce", nonce or secrets.token_hex(16))
    inner = json.dumps(event, separators=(",", ":"))
    return json.dumps({"signed": inner, "mac": mac(secret, "ic-event-v1", [function, inner])},
                      separators=(",", ":")).encode()


def challenge_message(nonce):
    return b"*2\r\n$9\r\nCHALLENGE\r\n$%d\r\n%s\r\n" % (len(nonce), nonce.encode())


def new_challenge():
    return secrets.token_hex(16)


def hello_proof(challenge, node_id, instance, secret=SECRET):
    return mac(secret, "ic-hello-v1", [challenge, str(node_id), instance])


def hello_epoch_proof(challenge, node_id, instance, epoch, secret=SECRET):
    """The proof of a HELLO that carries the node's takeover epoch (its ninth element)."""
    return mac(secret, "ic-hello-v2", [challenge, str(node_id), instance, str(epoch)])


def lane_proof(challenge, node_id, instance, lane, secret=SECRET):
    """The proof of a LANE message on an extra connection."""
    return mac(secret, "ic-lane-v1", [challenge, str(node_id), instance, str(lane)])


def relay_proof(challenge, token, role, secret=SECRET):
    return mac(secret, "ic-relay-v1", [challenge, token, role])


def write_secret_file(directory, secret=SECRET):
    """Writes secret to DIR/node-secret (mode 0600) and returns the path."""
    path = os.path.join(directory, "node-secret")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return path
