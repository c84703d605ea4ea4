#!/usr/bin/python3
"""The command table seen from a client: COMMAND (COUNT, LIST, INFO) describes every command the
proxy runs; every command called with one argument too few (and, where its arity is exact or
bounded, one too many) gets Redis's arity error; the rows of commands redis-server 7 also has
agree with redis-server's own COMMAND INFO (arity and key positions), in the same run."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "proxy"))
from proxytest import Err, Proxy, Raw, RedisServer, raw_client, skip_if_tls  # noqa: E402

# Commands of this proxy that redis-server 7 does not have.
OWN_COMMANDS = {"icset", "icget", "icgetchunks", "icrepair", "icdel"}


@skip_if_tls
class CommandTableTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy("--pool-size", "4", "--d", "2", "--p", "1", "--node-memory", "128",
                          "--node-reserved", "16")
        cls.redis = RedisServer()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.redis.stop()

    def setUp(self):
        self.raw = raw_client(self.proxy.port)

    def tearDown(self):
        self.raw.close()

    def table(self):
        """{name: (arity, flags, first, last, step)} from COMMAND."""
        rows = self.raw.call("COMMAND")
        self.assertIsInstance(rows, list)
        out = {}
        for row in rows:
            self.assertEqual(len(row), 10, row)
            name = row[0].decode()
            out[name] = (row[1], row[2], row[3], row[4], row[5])
        return out

    def test_command_describes_the_table(self):
        table = self.table()
        for name in ("get", "set", "del", "exists", "ping", "auth", "hello", "icset", "icget",
                     "command", "info"):
            self.assertIn(name, table)
        self.assertEqual(self.raw.call("COMMAND", "COUNT"), len(table))
        self.assertEqual(sorted(x.decode() for x in self.raw.call("COMMAND", "LIST")),
                         sorted(table))
        info = self.raw.call("COMMAND", "INFO", "get", "NOSUCH", "Set")
        self.assertEqual(info[0][0], b"get")
        self.assertIsNone(info[1])
        self.assertEqual(info[2][0], b"set")
        self.assertIsInstance(self.raw.call("COMMAND", "FROB"), Err)

    def test_every_row_arity_against_a_call(self):
        table = self.table()
        # FLUSHALL/FLUSHDB with too many arguments is a syntax error in Redis, not an arity one.
        max_args = {"ping": 2, "icget": 3}
        for name, (arity, _flags, _first, _last, _step) in sorted(table.items()):
            least = abs(arity)
            want = "ERR wrong number of arguments for '%s' command" % name
            if name == "exec":  # Redis answers a refused EXEC this way, in MULTI or not
                want = "EXECABORT Transaction discarded because of: " + want[4:]
            if least > 1:
                got = self.raw.call(name.upper(), *["x"] * (least - 2))
                self.assertEqual(got, want, "%s with %d arguments" % (name, least - 1))
            too_many = least + 1 if arity > 0 else max_args.get(name, 0) + 1
            if too_many > 1 and name not in ("quit",):
                got = self.raw.call(name, *["x"] * (too_many - 1))
                self.assertEqual(got, want, "%s with %d arguments" % (name, too_many))

    def test_rows_agree_with_redis_server(self):
        ours = self.table()
        ref = Raw(self.redis.port)
        try:
            for name, (arity, _flags, first, last, step) in sorted(ours.items()):
                if name in OWN_COMMANDS:
                    continue
                theirs = ref.call("COMMAND", "INFO", name)[0]
                self.assertIsNotNone(theirs, name)
                self.assertEqual((arity, first, last, step), tuple(theirs[i] for i in (1, 3, 4, 5)),
                                 "COMMAND INFO %s: icproxy against redis-server" % name)
                # The same call, wrong on purpose, gets the same error from both.
                if abs(arity) > 1 and name not in ("quit",):
                    args = [name] + ["x"] * (abs(arity) - 2)
                    self.assertEqual(self.raw.call(*args), ref.call(*args), name)
        finally:
            ref.close()

    def test_unknown_commands_stay_unknown(self):
        got = self.raw.call("LPUSH", "l", "x")
        self.assertIsInstance(got, Err)
        self.assertTrue(got.startswith("ERR unknown command 'LPUSH'"), got)
        self.assertIsInstance(self.raw.call("GET\0X", "k"), Err)


if __name__ == "__main__":
    unittest.main()
