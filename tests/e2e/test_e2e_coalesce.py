#!/usr/bin/python3
"""End to end: GETs of a hot small key ride on a read already under way, and SETs of one key in
the same loop iteration supersede each other (docs/ARCHITECTURE.md, "Hot keys"). Checked against
what a linearizable store may answer: a GET never returns a value older than one whose SET had
completed before the GET was sent, a client sees its own writes in order, a superseded SET is
answered with its carrier's outcome (also when that outcome is an error), and a GET never
returns a value whose SET failed. Faults: every node instance killed (-9) under a storm of
coalesced SETs."""
import os
import signal
import socket
import sys
import threading
import time
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import Proxy, auth_command, skip_if_tls, wait_for  # noqa: E402


def value(tag, n, size=200):
    """A self-describing value: 'tag:n:' then filler derived from both, so a wrong or torn value
    cannot pass for a right one."""
    head = ("%s:%d:" % (tag, n)).encode()
    fill = (head * (size // len(head) + 1))[: size - len(head)]
    return head + fill


def parse(v):
    """(tag, n) of a value made by value(); fails the test on anything else."""
    tag, n, _ = v.split(b":", 2)
    if value(tag.decode(), int(n), len(v)) != v:
        raise AssertionError("torn or foreign value %r" % v[:40])
    return tag.decode(), int(n)


def stat(r, name):
    return int(r.info("stats")[name])


class CoalesceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy("--pool-size", "4", "--d", "2", "--p", "2", "--node-memory", "128",
                          "--node-reserved", "16", "--request-timeout", "5s")
        cls.port = cls.proxy.port

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def client(self):
        return redis.Redis(port=self.port, socket_timeout=30)

    def hot_reads(self, key, size, writes, readers, rounds, depth):
        """One writer overwrites `key` with `writes` values of `size` bytes in sequence while
        `readers` clients each pipeline `rounds` batches of `depth` GETs of it. Every GET must
        return a whole value at least as new as the last SET completed before its batch was sent
        (or seen earlier in the batch), and some GET must have ridden on another."""
        w = self.client()
        w.set(key, value("w", 0, size))
        completed = [0]  # the newest n whose SET has returned
        stop = threading.Event()
        errors = []
        coalesced_before = stat(w, "gets_coalesced")

        def writer():
            n = 0
            while not stop.is_set() and n < writes:
                n += 1
                w.set(key, value("w", n, size))
                completed[0] = n

        def reader():
            r = self.client()
            try:
                for _ in range(rounds):
                    last = completed[0]
                    p = r.pipeline(transaction=False)
                    for _ in range(depth):
                        p.get(key)
                    for v in p.execute():
                        if len(v) != size:
                            errors.append("a value of %d bytes" % len(v))
                            continue
                        _, n = parse(v)
                        if n < last:
                            errors.append("read %d after %d was complete or seen" % (n, last))
                        last = n
            except Exception as e:  # noqa: BLE001 -- reported below
                errors.append(repr(e))

        wt = threading.Thread(target=writer)
        threads = [threading.Thread(target=reader) for _ in range(readers)]
        wt.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        stop.set()
        wt.join(timeout=60)
        self.assertEqual(errors, [])
        self.assertGreater(stat(w, "gets_coalesced"), coalesced_before,
                           "no GET rode on another: the test did not exercise coalescing")

    def test_hot_key_reads_are_linearizable(self):
        self.hot_reads("hot", 200, writes=3000, readers=8, rounds=40, depth=16)

    def test_hot_large_key_reads_share_one_buffer(self):
        """Riders of a 1 MiB object are written from the carrier's buffer: none is torn."""
        self.hot_reads("bighot", 1 << 20, writes=60, readers=6, rounds=6, depth=6)

    def test_pipelined_sets_of_one_key(self):
        r = self.client()
        before = stat(r, "sets_coalesced")
        p = r.pipeline(transaction=False)
        for n in range(50):
            p.set("pk", value("p", n))
        p.get("pk")
        out = p.execute()
        self.assertEqual(out[:50], [True] * 50)
        self.assertEqual(parse(out[50]), ("p", 49))
        self.assertGreater(stat(r, "sets_coalesced"), before)
        # A GET between two SETs of the pipeline sees the first: nothing after it supersedes it.
        p = r.pipeline(transaction=False)
        p.set("pk", value("q", 1))
        p.get("pk")
        p.set("pk", value("q", 2))
        p.get("pk")
        p.set("pk", value("q", 3), nx=True)  # not coalesced: depends on the key's state
        p.get("pk")
        out = p.execute()
        self.assertEqual(parse(out[1]), ("q", 1))
        self.assertEqual(parse(out[3]), ("q", 2))
        self.assertIsNone(out[4])
        self.assertEqual(parse(out[5]), ("q", 2))
        # SETs of other keys in between do not disturb the order of either key.
        p = r.pipeline(transaction=False)
        for n in range(20):
            p.set("pa", value("a", n))
            p.set("pb", value("b", n))
        p.get("pa")
        p.get("pb")
        out = p.execute()
        self.assertEqual(parse(out[-2]), ("a", 19))
        self.assertEqual(parse(out[-1]), ("b", 19))

    @skip_if_tls
    def test_client_gone_while_its_sets_wait(self):
        """A client that sends SETs and hangs up at once (the proxy reads both in one go) leaves
        staged SETs behind: they are still stored, and the proxy keeps serving."""
        for n in range(40):
            s = socket.create_connection(("127.0.0.1", self.port))
            cmd = auth_command() + b"".join(
                b"*3\r\n$3\r\nSET\r\n$2\r\ngk\r\n$%d\r\n%s\r\n" % (len(v), v)
                for v in (value("g", 2 * n), value("g", 2 * n + 1)))
            s.sendall(cmd)
            s.close()
        r = self.client()
        # The SETs of clients that hung up are concurrent with each other (none was answered):
        # any of them may be the last stored, but one is, whole.
        wait_for(lambda: r.get("gk") is not None, timeout=15, what="a hung-up client's SET")
        self.assertEqual(parse(r.get("gk"))[0], "g")
        self.assertTrue(r.ping())

    def test_concurrent_writers_end_on_a_last_write(self):
        """Twelve clients pipeline 40 SETs each of one key at once: the value left is the last SET
        of one of them (each client's SETs keep their order), and every SET says OK."""
        errors = []

        def writer(tag):
            try:
                p = self.client().pipeline(transaction=False)
                for n in range(40):
                    p.set("cw", value(tag, n))
                if p.execute() != [True] * 40:
                    errors.append("%s: not all OK" % tag)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=writer, args=("c%d" % i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(errors, [])
        tag, n = parse(self.client().get("cw"))
        self.assertTrue(tag.startswith("c"))
        self.assertEqual(n, 39, "the value left must be some client's last SET")

    def test_superseded_sets_share_a_failure(self):
        """With every node instance frozen (SIGSTOP), a pipeline of SETs of one key times out: the
        carrier's error reaches every SET it superseded, and after the nodes thaw the key still
        holds its old value."""
        r = self.client()
        r.set("fz", value("old", 1))
        before = stat(r, "sets_coalesced")
        pids = [i["pid"] for i in self.proxy.instances() if i["pid"] > 0]
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            p = r.pipeline(transaction=False)
            for n in range(10):
                p.set("fz", value("new", n))
            out = p.execute(raise_on_error=False)
        finally:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        self.assertGreater(stat(r, "sets_coalesced"), before)
        for o in out:
            self.assertIsInstance(o, redis.exceptions.ResponseError, out)
        self.assertEqual(len({str(o) for o in out}), 1, "superseded SETs got other answers")
        self.assertEqual(parse(r.get("fz")), ("old", 1))

    def test_kill_all_nodes_under_coalesced_sets(self):
        """kill -9 of every node instance while eight clients pipeline SETs of one key: every
        reply is OK or an error, and afterwards the key holds a value whose SET said OK, or is a
        clean miss (its chunks died with the nodes), never a value whose SET failed."""
        ok, failed = set(), set()
        lock = threading.Lock()
        stop = threading.Event()
        errors = []

        def writer(tag):
            r = self.client()
            n = 0
            while not stop.is_set() and n < 2000:
                p = r.pipeline(transaction=False)
                batch = []
                for _ in range(8):
                    n += 1
                    batch.append(value(tag, n))
                    p.set("kk", batch[-1])
                try:
                    out = p.execute(raise_on_error=False)
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
                    errors.append(repr(e))
                    return
                with lock:
                    for v, o in zip(batch, out):
                        (ok if o is True else failed).add(v)

        threads = [threading.Thread(target=writer, args=("k%d" % i,)) for i in range(8)]
        for t in threads:
            t.start()
        wait_for(lambda: len(ok) > 200, timeout=60, what="SETs before the kill")
        pids = [i["pid"] for i in self.proxy.instances() if i["pid"] > 0]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)  # let the storm run into the dead nodes
        stop.set()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(errors, [])
        r = self.client()
        deadline = time.time() + 30
        while True:
            try:
                v = r.get("kk")
                break
            except redis.exceptions.ResponseError as e:  # "try again" while nodes come back
                if time.time() > deadline:
                    raise AssertionError("GET kept failing: %s" % e)
                time.sleep(0.1)
        if v is not None:
            parse(v)
            self.assertIn(v, ok, "a GET returned a value whose SET was not acknowledged")
            self.assertNotIn(v, failed)
        # The proxy still serves.
        self.assertTrue(r.set("after", b"1"))
        self.assertEqual(r.get("after"), b"1")


if __name__ == "__main__":
    unittest.main()
