#!/usr/bin/python3
"""The Prometheus endpoint (--metrics-port): its whole text checked by a strict parser of the
exposition format 0.0.4 written here (and by python3-prometheus-client's when installed), values
that move with SET/GET/DEL of small and large values, the bearer token, the refusal to listen
beyond loopback without one, 404/405, and scrapes served while other connections idle or trickle
their request."""
import http.client
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxytest import BIN, Proxy, free_port, wait_for  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # python3-prometheus-client is optional: the strict parser below still runs
    text_string_to_metric_families = None

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# ---- a strict parser of the text exposition format 0.0.4 ----

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class FormatError(AssertionError):
    pass


def parse_value(text, where):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text):
        raise FormatError("%s: bad value %r" % (where, text))
    return float(text)


def parse_labels(s, i, where):
    """Parses {name="value",...} from s[i] == '{'; returns (labels, index after '}')."""
    labels = {}
    i += 1
    while True:
        if s[i] == "}":
            return labels, i + 1
        m = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*").match(s, i)
        if not m:
            raise FormatError("%s: bad label name at %d" % (where, i))
        name = m.group(0)
        if name.startswith("__"):
            raise FormatError("%s: reserved label name %s" % (where, name))
        if name in labels:
            raise FormatError("%s: label %s twice" % (where, name))
        i = m.end()
        if s[i:i + 2] != '="':
            raise FormatError("%s: expected =\" after %s" % (where, name))
        i += 2
        value = []
        while True:
            if i >= len(s):
                raise FormatError("%s: unterminated label value" % where)
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise FormatError("%s: bad escape \\%s" % (where, nxt))
                value.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise FormatError("%s: raw newline in a label value" % where)
            else:
                value.append(c)
                i += 1
        labels[name] = "".join(value)
        if s[i] == ",":
            i += 1
        elif s[i] != "}":
            raise FormatError("%s: expected , or } at %d" % (where, i))


def family_of(name, types):
    """The family a sample name belongs to: itself, or a histogram's for _bucket/_sum/_count."""
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return None


def parse_strict(text):
    """Checks the whole text; returns {(name, frozenset(labels.items())): value}. Every line is a
    HELP, TYPE or other comment, or a sample; each family has one TYPE, before its samples, and
    its samples together; no series twice; histograms cumulative, ending in +Inf == _count, with
    _sum; counters named *_total."""
    if not text.endswith("\n"):
        raise FormatError("the text does not end with a newline")
    types, helps, samples = {}, {}, {}
    finished = set()  # families whose samples are over (another family's came after)
    current = None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d %r" % (n, line[:80])
        if line == "":
            raise FormatError("%s: empty line" % where)
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not METRIC_NAME.match(name):
                    raise FormatError("%s: bad metric name" % where)
                if parts[1] == "HELP":
                    if name in helps:
                        raise FormatError("%s: second HELP" % where)
                    doc = parts[3] if len(parts) > 3 else ""
                    if re.search(r"\\[^\\n]", doc.replace("\\\\", "")):
                        raise FormatError("%s: bad escape in HELP" % where)
                    helps[name] = doc
                else:
                    if name in types:
                        raise FormatError("%s: second TYPE" % where)
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise FormatError("%s: bad TYPE" % where)
                    if any(family_of(s[0], {name: parts[3]}) == name for s in samples):
                        raise FormatError("%s: TYPE after the family's samples" % where)
                    types[name] = parts[3]
            continue
        m = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*").match(line)
        if not m:
            raise FormatError("%s: not a sample" % where)
        name, i = m.group(0), m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = parse_labels(line, i, where)
        rest = line[i:]
        if not rest.startswith(" "):
            raise FormatError("%s: no space before the value" % where)
        fields = rest[1:].split(" ")
        if len(fields) not in (1, 2) or (len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1])):
            raise FormatError("%s: bad value or timestamp" % where)
        value = parse_value(fields[0], where)
        family = family_of(name, types)
        if family is None:
            raise FormatError("%s: sample before its family's TYPE" % where)
        if family != current:
            if family in finished:
                raise FormatError("%s: family %s's samples are not together" % (where, family))
            if current:
                finished.add(current)
            current = family
        if types[family] == "counter":
            if not family.endswith("_total"):
                raise FormatError("%s: counter not named *_total" % where)
            if value < 0 or math.isnan(value):
                raise FormatError("%s: counter below 0" % where)
        if types[family] == "histogram" and name.endswith("_bucket") != ("le" in labels):
            raise FormatError("%s: le on a non-bucket or a bucket without le" % where)
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise FormatError("%s: series twice" % where)
        samples[key] = value
    for family, kind in types.items():
        if kind == "histogram":
            check_histogram(family, samples)
    return samples


def check_histogram(family, samples):
    series = {}
    for (name, labels), value in samples.items():
        if name == family + "_bucket":
            rest = frozenset((k, v) for k, v in labels if k != "le")
            series.setdefault(rest, []).append((parse_value(dict(labels)["le"], name), value))
    for rest, buckets in series.items():
        buckets.sort()
        where = "%s%s" % (family, dict(rest))
        if buckets[-1][0] != math.inf:
            raise FormatError("%s: no le=\"+Inf\" bucket" % where)
        for (_, a), (_, b) in zip(buckets, buckets[1:]):
            if b < a:
                raise FormatError("%s: buckets not cumulative" % where)
        count = samples.get((family + "_count", rest))
        if count is None or (family + "_sum", rest) not in samples:
            raise FormatError("%s: _count or _sum missing" % where)
        if count != buckets[-1][1]:
            raise FormatError("%s: +Inf bucket %s != _count %s" % (where, buckets[-1][1], count))


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


# ---- the endpoint ----

def request(port, path="/metrics", method="GET", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


def scrape(port, headers=None):
    status, hdrs, body = request(port, headers=headers)
    assert status == 200, (status, body)
    assert hdrs.get("Content-Type") == CONTENT_TYPE, hdrs
    samples = parse_strict(body)
    if text_string_to_metric_families:
        # The reference parser reads the same page as the same number of series.
        families = list(text_string_to_metric_families(body))
        assert sum(len(f.samples) for f in families) == len(samples), "prometheus_client disagrees"
    return samples, body


class ParserTest(unittest.TestCase):
    """The strict parser fails on what the format forbids (so its silence means something)."""

    GOOD = ('# HELP a_total A.\n# TYPE a_total counter\na_total{x="q\\"\\\\\\n"} 1\n'
            '# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.3\n'
            'h_count 2\n')

    def test_good(self):
        s = parse_strict(self.GOOD)
        self.assertEqual(value(s, "a_total", x='q"\\\n'), 1)

    def test_rejects(self):
        bad = [
            self.GOOD + 'a_total{x="y"} 1\n',                          # not together
            self.GOOD.replace("h_bucket{le=\"+Inf\"} 2", 'h_bucket{le="+Inf"} 0'),  # cumulative
            self.GOOD.replace("h_count 2", "h_count 3"),                # +Inf != count
            self.GOOD.replace("h_sum 0.3\n", ""),                       # no sum
            self.GOOD.replace('\\"', '\\t'),                            # bad escape
            self.GOOD + "b 1\n",                                        # no TYPE
            self.GOOD + "# TYPE b gauge\nb 1\nb 2\n",                   # series twice
            self.GOOD + "# TYPE c counter\nc 1\n",                      # counter not _total
            self.GOOD + "# TYPE 1b gauge\n",                            # bad name
            self.GOOD + "\n",                                           # empty line
            self.GOOD[:-1],                                             # no final newline
            self.GOOD + "# TYPE b gauge\nb one\n",                      # bad value
        ]
        for text in bad:
            with self.assertRaises(FormatError, msg=text):
                parse_strict(text)


class MetricsTest(unittest.TestCase):
    def start(self, *args):
        self.mport = free_port()
        proxy = Proxy("--pool-size", "12", "--metrics-port", str(self.mport), *args)
        self.addCleanup(proxy.stop)
        return proxy

    def test_values_move_with_commands(self):
        proxy = self.start()
        r = redis.Redis(port=proxy.port, socket_timeout=30)
        before, _ = scrape(self.mport)
        pool = sum(value(before, "infinicache_nodes", state=s)
                   for s in ("down", "invoking", "awake", "asleep"))
        self.assertEqual(pool, 12)
        self.assertGreaterEqual(value(before, "infinicache_invocations_total", kind="activate"), 12)

        small, large = os.urandom(100), os.urandom(3 << 20)
        self.assertTrue(r.set("small", small))
        self.assertTrue(r.set("large", large))
        self.assertEqual(r.get("small"), small)
        self.assertEqual(r.get("large"), large)
        self.assertIsNone(r.get("absent"))
        self.assertEqual(r.delete("small"), 1)
        after, body = scrape(self.mport)

        def moved(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        cmd = "infinicache_command_duration_seconds_count"
        self.assertEqual(moved(cmd, command="set"), 2)
        self.assertEqual(moved(cmd, command="get"), 3)
        self.assertEqual(moved(cmd, command="del"), 1)
        obj = "infinicache_object_duration_seconds_count"
        for command in ("get", "set"):
            self.assertEqual(moved(obj, command=command, size_class="<=1KiB"), 1, command)
            self.assertEqual(moved(obj, command=command, size_class="<=16MiB"), 1, command)
            self.assertEqual(moved(obj, command=command, size_class=">16MiB"), 0, command)
        self.assertGreater(value(after, "infinicache_command_duration_seconds_sum", command="set"), 0)
        self.assertGreaterEqual(moved("infinicache_commands_processed_total"), 6)
        self.assertEqual(moved("infinicache_keyspace_hits_total"), 2)
        self.assertEqual(moved("infinicache_keyspace_misses_total"), 1)
        self.assertEqual(moved("infinicache_sets_total"), 2)
        self.assertGreater(moved("infinicache_chunk_reads_total", outcome="first_d"), 0)
        self.assertGreater(moved("infinicache_net_input_bytes_total"), len(large))
        self.assertGreater(moved("infinicache_net_output_bytes_total"), len(large))
        self.assertEqual(value(after, "infinicache_keys"), 1)
        self.assertEqual(value(after, "infinicache_object_bytes"), len(large))
        self.assertGreaterEqual(value(after, "infinicache_connected_clients"), 1)
        self.assertGreater(value(after, "infinicache_pool_memory_used_bytes"), len(large))
        self.assertGreater(value(after, "infinicache_pool_memory_limit_bytes"),
                           value(after, "infinicache_pool_memory_used_bytes"))
        # The embedded platform's billing, by kind, once the invoker has fetched its stats.
        wait_for(lambda: value(scrape(self.mport)[0],
                               "infinicache_platform_billed_gb_seconds_total", kind="activate") > 0,
                 "billed GB-seconds of the activations")
        # The billed figures of the source in use (the platform's, here), and the nodes' records.
        now, _ = scrape(self.mport)
        self.assertEqual(value(now, "infinicache_billing_source", source="platform"), 1)
        self.assertEqual(value(now, "infinicache_billing_source", source="nodes"), 0)
        self.assertGreater(value(now, "infinicache_billed_gb_seconds_total", kind="activate"), 0)
        self.assertGreater(value(now, "infinicache_billed_requests_total", kind="activate"), 0)
        wait_for(lambda: value(scrape(self.mport)[0], "infinicache_node_billing_records_total",
                               outcome="counted") > 0, "the nodes' billing records")
        self.assertEqual(value(now, "infinicache_node_billing_records_total", outcome="refused"), 0)
        # One line per series: histogram series of the size classes are there even when empty.
        self.assertIn('infinicache_object_duration_seconds_bucket{command="get",'
                      'size_class=">16MiB",le="+Inf"} 0', body)
        status, _, _ = request(self.mport, method="HEAD")
        self.assertEqual(status, 200)

    def test_404_and_405(self):
        self.start()
        self.assertEqual(request(self.mport, "/")[0], 404)
        self.assertEqual(request(self.mport, "/metrics/x")[0], 404)
        self.assertEqual(request(self.mport, "/metrics", "POST")[0], 405)
        status, hdrs, _ = request(self.mport, "/metrics", "DELETE")
        self.assertEqual(status, 405)
        self.assertIn("GET", hdrs.get("Allow", ""))

    def test_oversized_request_refused(self):
        self.start()
        s = socket.create_connection(("127.0.0.1", self.mport), timeout=10)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 << 10) +
                  b"\r\n\r\n")
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        s.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 431 "), answer[:80])
        scrape(self.mport)

    def test_token_required_when_configured(self):
        token = os.urandom(24).hex()
        d = tempfile.TemporaryDirectory(prefix="icmetrics-")
        self.addCleanup(d.cleanup)
        path = os.path.join(d.name, "token")
        with open(path, "w") as f:
            f.write(token + "\n")
        self.start("--metrics-token-file", path)
        status, hdrs, _ = request(self.mport)
        self.assertEqual(status, 401)
        self.assertTrue(hdrs.get("WWW-Authenticate", "").startswith("Bearer"))
        self.assertEqual(request(self.mport, headers={"Authorization": "Bearer " + token[:-1]})[0],
                         401)
        self.assertEqual(request(self.mport, headers={"Authorization": "Basic " + token})[0], 401)
        self.assertEqual(request(self.mport, headers={"Authorization": "Bearer " + token + "x"})[0],
                         401)
        # Unauthenticated callers learn nothing, not even which paths exist.
        self.assertEqual(request(self.mport, "/nope")[0], 401)
        samples, body = scrape(self.mport, headers={"Authorization": "Bearer " + token})
        self.assertEqual(value(samples, "infinicache_metrics_auth_failures_total"), 5)
        self.assertNotIn(token, body)
        self.assertEqual(request(self.mport, headers={"Authorization": "bearer " + token})[0], 200)

    def test_refuses_beyond_loopback_without_token(self):
        out = subprocess.run(
            [os.path.join(BIN, "icproxy"), "--client-port", "0", "--node-port", "0",
             "--relay-port", "0", "--pool-size", "12", "--metrics-port", str(free_port()),
             "--metrics-bind", "0.0.0.0"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("metrics-bind 0.0.0.0 is not a loopback address", out.stderr)
        self.assertIn("--metrics-token-file", out.stderr)

    def test_idle_and_trickling_connections_do_not_block_a_scrape(self):
        self.start("--metrics-max-connections", "4", "--metrics-timeout", "1s")
        idle = []
        for _ in range(2):  # one short of the limit with the trickler below
            s = socket.create_connection(("127.0.0.1", self.mport), timeout=10)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            idle.append(s)
        trickler = socket.create_connection(("127.0.0.1", self.mport), timeout=10)
        trickler.sendall(b"GET /metrics HTTP/1.1\r\n")
        t0 = time.monotonic()
        samples, _ = scrape(self.mport)
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertIn(("infinicache_keys", frozenset()), samples)

        # A peer that sends a byte every 200 ms is never idle; it is cut at the deadline all the
        # same (1 s, checked every second), as are the idle ones.
        def closed_by_server():
            try:
                trickler.sendall(b"X")
                trickler.settimeout(0.2)
                return trickler.recv(4096) == b""
            except socket.timeout:
                return False
            except OSError:
                return True
        wait_for(closed_by_server, "the trickling connection cut at the deadline", timeout=10,
                 interval=0.0)
        self.assertGreater(time.monotonic() - t0, 0.9)  # not before its deadline
        self.assertLess(time.monotonic() - t0, 8.0)
        for s in idle:  # closed too: read to the end (within the socket's 10 s timeout)
            s.settimeout(10)
            try:
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                pass
            s.close()
        trickler.close()
        scrape(self.mport)


if __name__ == "__main__":
    unittest.main()
