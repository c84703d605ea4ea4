#!/usr/bin/python3
"""COMMAND DOCS, INFO, LIST and COUNT against redis-server 7 in the same run. For every command
both answer, COMMAND DOCS must be the same tree in RESP2 and in RESP3 (maps, sets and arrays
where Redis puts them, fields in Redis's order), except the fields the proxy words on purpose for
itself: summary and complexity (they describe the proxy: a GET reads chunks from nodes), and
history (the proxy keeps none). Subcommands are compared where both have them. COMMAND INFO's
arity and key positions must be Redis's; COMMAND LIST, COUNT and INFO must agree with each
other."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import PASSWORD, Proxy, Raw, RedisServer, skip_if_tls  # noqa: E402

POOL = ("--pool-size", "4", "--d", "2", "--p", "1", "--node-memory", "128", "--node-reserved", "16")
WORDED_FOR_THE_PROXY = {"summary", "complexity", "history"}


class Typed(Raw):
    """A Raw client whose replies keep RESP's types: ("map", [(k, v)...]), ("set", [...]),
    ("array", [...]), ("simple", s), ("bulk", b), ("int", n), ("null",), ("error", s)."""

    def typed(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return ("simple", rest.decode())
        if t == b"-":
            return ("error", rest.decode())
        if t == b":":
            return ("int", int(rest))
        if t == b"_":
            return ("null",)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return ("null",)
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return ("bulk", v.decode())
        if t in (b"*", b"~"):
            n = int(rest)
            if n < 0:
                return ("null",)
            return ("array" if t == b"*" else "set", [self.typed() for _ in range(n)])
        if t == b"%":
            return ("map", [(self.typed(), self.typed()) for _ in range(int(rest))])
        raise AssertionError("unexpected reply line %r" % line)

    def ask(self, *args):
        self.send(*args)
        return self.typed()


def connect(port, resp3):
    c = Typed(port, timeout=30)
    if PASSWORD:
        assert c.ask("AUTH", PASSWORD) == ("simple", "OK")
    if resp3:
        assert c.ask("HELLO", "3")[0] == "map"
    return c


def pairs(reply):
    """The (key, value) pairs of a map, or of the flat array a RESP2 map is."""
    kind, items = reply
    if kind == "map":
        return [(k[1], v) for k, v in items]
    assert kind == "array", reply
    return [(items[i][1], items[i + 1]) for i in range(0, len(items), 2)]


def strip(doc, keep_subcommands):
    """A command's documentation without the fields the proxy words for itself, and with only
    the subcommands in keep_subcommands; the rest as it came (kinds and order included)."""
    out = []
    for key, value in pairs(doc):
        if key in WORDED_FOR_THE_PROXY:
            continue
        if key == "subcommands":
            # Redis lists subcommands in its hash table's order: compared by name.
            value = sorted((name, strip(sub, keep_subcommands)) for name, sub in pairs(value)
                           if name in keep_subcommands)
        out.append((key, value))
    return out


def names(reply):
    return sorted(x[1] for x in reply[1])


@skip_if_tls
class CommandDocsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy(*POOL)
        cls.redis = RedisServer(*(("--requirepass", PASSWORD) if PASSWORD else ()))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.redis.stop()

    def ask_both(self, *args, resp3=False):
        out = []
        for port in (self.proxy.port, self.redis.port):
            c = connect(port, resp3)
            try:
                out.append(c.ask(*args))
            finally:
                c.close()
        return out

    def shared_commands(self):
        ours, theirs = self.ask_both("COMMAND", "LIST")
        return sorted(set(names(ours)) & set(names(theirs)))

    def test_docs_of_shared_commands_are_redis_s(self):
        shared = self.shared_commands()
        self.assertGreater(len(shared), 55)
        for resp3 in (False, True):
            ours, theirs = self.ask_both("COMMAND", "DOCS", *shared, resp3=resp3)
            ours, theirs = dict(pairs(ours)), dict(pairs(theirs))
            self.assertEqual(sorted(ours), shared)
            for name in shared:
                their_subs = {k for k, _ in pairs(dict(pairs(theirs[name])).get(
                    "subcommands", ("array", [])))}
                our_subs = {k for k, _ in pairs(dict(pairs(ours[name])).get(
                    "subcommands", ("array", [])))}
                both = our_subs & their_subs
                self.assertEqual(strip(ours[name], both), strip(theirs[name], both),
                                 "%s (RESP%d)" % (name, 3 if resp3 else 2))

    def test_every_command_has_real_docs(self):
        c = connect(self.proxy.port, True)
        try:
            listed = names(c.ask("COMMAND", "LIST"))
            docs = dict(pairs(c.ask("COMMAND", "DOCS")))
            self.assertEqual(sorted(docs), listed)
            for name, doc in docs.items():
                fields = dict(pairs(doc))
                for field in ("summary", "since", "group"):
                    self.assertIn(field, fields, name)
                    self.assertTrue(fields[field][1], name)
            # What redis-cli reads for its hints: the arguments of each command and subcommand.
            args = dict(pairs(docs["set"]))["arguments"][1]
            self.assertEqual([dict(pairs(a))["name"][1] for a in args],
                             ["key", "value", "condition", "get", "expiration"])
            subs = dict(pairs(dict(pairs(docs["config"]))["subcommands"]))
            self.assertIn("arguments", dict(pairs(subs["config|get"])))
            self.assertIn("arguments", dict(pairs(docs["icset"])))
            # Single names, a subcommand's name, any case; unknown names are left out.
            one = pairs(c.ask("COMMAND", "DOCS", "GeT", "config|SET", "nosuch"))
            self.assertEqual([k for k, _ in one], ["get", "config|set"])
        finally:
            c.close()

    def test_info_arity_and_keys_are_redis_s(self):
        shared = self.shared_commands()
        ours, theirs = self.ask_both("COMMAND", "INFO", *shared)
        for o, t in zip(ours[1], theirs[1]):
            name = o[1][0][1]
            # name, arity, first key, last key, step
            self.assertEqual([o[1][i] for i in (0, 1, 3, 4, 5)], [t[1][i] for i in (0, 1, 3, 4, 5)],
                             name)
            our_subs = {s[1][0][1]: s[1][1] for s in o[1][9][1]}
            their_subs = {s[1][0][1]: s[1][1] for s in t[1][9][1]}
            for sub in set(our_subs) & set(their_subs):
                self.assertEqual(our_subs[sub], their_subs[sub], sub)  # arity
        ours, theirs = self.ask_both("COMMAND", "INFO", "config|get", "object|encoding")
        for o, t in zip(ours[1], theirs[1]):
            self.assertEqual([o[1][i] for i in (0, 1, 3, 4, 5)], [t[1][i] for i in (0, 1, 3, 4, 5)])

    def test_count_list_info_agree(self):
        c = connect(self.proxy.port, False)
        try:
            count = c.ask("COMMAND", "COUNT")[1]
            listed = names(c.ask("COMMAND", "LIST"))
            info = c.ask("COMMAND", "INFO")[1]
            everything = c.ask("COMMAND")[1]
            self.assertEqual(count, len(listed))
            self.assertEqual(sorted(x[1][0][1] for x in info), listed)
            self.assertEqual(sorted(x[1][0][1] for x in everything), listed)
            # Key specifications follow the key positions; subcommands are listed with their own.
            get = dict((x[1][0][1], x[1]) for x in info)["get"]
            spec = dict(pairs(get[8][1][0]))
            self.assertEqual(dict(pairs(dict(pairs(spec["begin_search"]))["spec"]))["index"][1], 1)
            config_subs = [s[1][0][1] for s in dict((x[1][0][1], x[1]) for x in info)["config"][9][1]]
            self.assertIn("config|get", config_subs)
            self.assertIn(("simple", "@string"), get[6][1])
            # FILTERBY, as Redis answers it.
            for filt in (("PATTERN", "conf*"), ("PATTERN", "*et*"), ("ACLCAT", "keyspace"),
                         ("ACLCAT", "nosuch"), ("MODULE", "x")):
                got = names(c.ask("COMMAND", "LIST", "FILTERBY", *filt))
                if filt[0] == "PATTERN":
                    import fnmatch
                    want = [n for n in listed if fnmatch.fnmatchcase(n, filt[1])]
                    self.assertTrue(set(want) <= set(got), filt)
                self.assertEqual(len(got), len(set(got)))
            self.assertIn("config|get", names(c.ask("COMMAND", "LIST", "FILTERBY", "PATTERN",
                                                    "conf*")))
            self.assertEqual(names(c.ask("COMMAND", "LIST", "FILTERBY", "MODULE", "x")), [])
            self.assertEqual(c.ask("COMMAND", "LIST", "x")[0], "error")
        finally:
            c.close()

    def test_filterby_of_shared_commands_is_redis_s(self):
        shared = set(self.shared_commands())
        for filt in (("PATTERN", "conf*"), ("PATTERN", "s*"), ("PATTERN", "*ex*"),
                     ("ACLCAT", "nosuch")):
            ours, theirs = self.ask_both("COMMAND", "LIST", "FILTERBY", *filt)
            self.assertEqual(set(names(ours)) & shared, set(names(theirs)) & shared, filt)


if __name__ == "__main__":
    unittest.main()
