#!/usr/bin/python3
"""iccluster -- operate a Redis Cluster of icproxy servers: print the slot map, and move slots
from one proxy to another while they keep being served (docs/CLUSTER.md).

  iccluster check HOST:PORT [--config FILE]
  iccluster move --from HOST:PORT --to HOST:PORT SLOTS FIRST-LAST [FIRST-LAST ...]
                 [--config FILE [--write-config]] [--batch N] [--timeout MS]

move runs Redis's sequence for each slot: CLUSTER SETSLOT IMPORTING on the target, MIGRATING on
the source, then GETKEYSINSLOT and MIGRATE ... KEYS until the source holds none of the slot's
keys, then SETSLOT NODE on the target, the source and every other proxy. SETSLOT changes the
running map only: the new config lines are printed (and written over FILE with --write-config),
so that a restarted proxy starts with the same map. --password PW (or IC_PASSWORD, then
REDISCLI_AUTH) authenticates every connection. Standard library only."""
import argparse
import hashlib
import os
import socket
import sys

SLOTS = 16384


class RespError(Exception):
    pass


class Conn:
    """One RESP2 connection: call() sends a command and returns its decoded reply."""

    def __init__(self, addr, password=None, timeout=30):
        host, _, port = addr.rpartition(":")
        self.addr = addr
        self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        self.buf = b""
        if password:
            self.call("AUTH", password)

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("%s closed the connection" % self.addr)
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            data = self.sock.recv(max(65536, n + 2 - len(self.buf)))
            if not data:
                raise ConnectionError("%s closed the connection" % self.addr)
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n + 2:]
        return out

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RespError("unexpected reply from %s: %r" % (self.addr, line[:40]))

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._reply()


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def parse_ranges(words):
    slots = []
    for w in words:
        first, _, last = w.partition("-")
        first, last = int(first), int(last or first)
        if not 0 <= first <= last < SLOTS:
            raise SystemExit("iccluster: bad slot range %r (slots are 0-%d)" % (w, SLOTS - 1))
        slots.extend(range(first, last + 1))
    return slots


def node_map(conn):
    """{id: "host:port"} and the owner id of each slot, from CLUSTER NODES and CLUSTER SLOTS."""
    nodes = {}
    for line in text(conn.call("CLUSTER", "NODES")).splitlines():
        f = line.split()
        if len(f) >= 2:
            nodes[f[0]] = f[1].split("@")[0]
    owner = [None] * SLOTS
    for first, last, master, *_ in conn.call("CLUSTER", "SLOTS"):
        for s in range(first, last + 1):
            owner[s] = text(master[2])
    return nodes, owner


def runs(slots):
    """"0-5460 6000" from a sorted list of slots."""
    out, start = [], None
    for i, s in enumerate(slots):
        if start is None:
            start = s
        if i + 1 == len(slots) or slots[i + 1] != s + 1:
            out.append(str(start) if start == s else "%d-%d" % (start, s))
            start = None
    return " ".join(out)


def names_from_config(path):
    """{id: name} of the proxies in a cluster config file (an id is the SHA-1 of the name)."""
    names = {}
    if path:
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) >= 2 and w[0] == "proxy":
                    names[hashlib.sha1(w[1].encode()).hexdigest()] = w[1]
    return names


def config_lines(nodes, owner, names):
    lines = []
    for nid, addr in nodes.items():
        mine = [s for s in range(SLOTS) if owner[s] == nid]
        if mine:
            lines.append("proxy %s %s SLOTS %s" % (names.get(nid, nid), addr, runs(mine)))
    return lines


def cmd_check(args, password):
    c = Conn(args.proxy, password)
    nodes, owner = node_map(c)
    names = names_from_config(args.config)
    for line in config_lines(nodes, owner, names):
        print(line)
    open_slots = [ln for ln in text(c.call("CLUSTER", "NODES")).splitlines() if "[" in ln]
    for ln in open_slots:
        print("# slots on the move at %s: %s" % (ln.split()[1].split("@")[0],
                                                 " ".join(w for w in ln.split() if "[" in w)))
    missing = [s for s in range(SLOTS) if owner[s] is None]
    if missing:
        print("# slots served by no proxy: %s" % runs(missing))
        return 1
    return 0


def cmd_move(args, password):
    src, dst = Conn(args.src, password), Conn(args.dst, password)
    src_id, dst_id = text(src.call("CLUSTER", "MYID")), text(dst.call("CLUSTER", "MYID"))
    nodes, owner = node_map(src)
    slots = parse_ranges(args.ranges)
    others = [Conn(addr, password) for nid, addr in nodes.items() if nid not in (src_id, dst_id)]
    host, _, port = args.dst.rpartition(":")
    auth = ["AUTH", password] if password else []
    moved = 0
    for s in slots:
        if owner[s] != src_id:
            raise SystemExit("iccluster: slot %d is not served by %s" % (s, args.src))
        dst.call("CLUSTER", "SETSLOT", s, "IMPORTING", src_id)
        src.call("CLUSTER", "SETSLOT", s, "MIGRATING", dst_id)
        while True:
            keys = src.call("CLUSTER", "GETKEYSINSLOT", s, args.batch)
            if not keys:
                break
            # REPLACE: the source is the authority for a key it still holds.
            src.call("MIGRATE", host, port, "", 0, args.timeout, "REPLACE", *auth, "KEYS", *keys)
            moved += len(keys)
        for c in [dst, src] + others:
            c.call("CLUSTER", "SETSLOT", s, "NODE", dst_id)
    print("# moved %d slots (%d keys) from %s to %s" % (len(slots), moved, args.src, args.dst))
    nodes, owner = node_map(src)
    lines = config_lines(nodes, owner, names_from_config(args.config))
    print("# the running map; SETSLOT does not change the config files: use these lines")
    for line in lines:
        print(line)
    if args.write_config:
        if not args.config:
            raise SystemExit("iccluster: --write-config needs --config FILE")
        with open(args.config + ".tmp", "w") as f:
            f.write("# written by iccluster move\n" + "\n".join(lines) + "\n")
        os.replace(args.config + ".tmp", args.config)
        print("# written to %s" % args.config)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="iccluster", description=__doc__.split("\n\n")[0])
    p.add_argument("--password", default=os.environ.get("IC_PASSWORD") or
                   os.environ.get("REDISCLI_AUTH"))
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="print the slot map as cluster config lines")
    c.add_argument("proxy", metavar="HOST:PORT")
    c.add_argument("--config", help="the cluster config file, for the proxies' names")
    m = sub.add_parser("move", help="move slots from one proxy to another")
    m.add_argument("--from", dest="src", required=True, metavar="HOST:PORT")
    m.add_argument("--to", dest="dst", required=True, metavar="HOST:PORT")
    m.add_argument("--config", help="the cluster config file, for the proxies' names")
    m.add_argument("--write-config", action="store_true", help="rewrite --config with the new map")
    m.add_argument("--batch", type=int, default=100, help="keys per MIGRATE (default 100)")
    m.add_argument("--timeout", type=int, default=10000, help="MIGRATE timeout in ms")
    m.add_argument("slots_word", metavar="SLOTS", choices=["SLOTS", "slots"])
    m.add_argument("ranges", nargs="+", metavar="FIRST-LAST")
    args = p.parse_args(argv)
    try:
        return cmd_check(args, args.password) if args.cmd == "check" else cmd_move(args,
                                                                                 args.password)
    except (RespError, OSError) as e:
        print("iccluster: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
