#!/usr/bin/python3
"""bench_tls.py -- what TLS costs: 10 MiB GET/SET through the library over TLS against plaintext
(same proxy, same run), and redis-benchmark GET/SET (1 KiB values, pipeline 16) over TLS against
plaintext, on icproxy and on redis-server (the baseline, both ways), and on a second icproxy with
TLS and a password (redis-benchmark -a: AUTH once per connection). With --node-tls the proxies'
nodes speak TLS too. One key=value line per figure; ratios are TLS throughput / plaintext.

Usage: bench/bench_tls.py [--bin build/bin] [--runs N] [--requests N] [--node-tls]
Talks only to 127.0.0.1; every process it starts is stopped by pid on exit."""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "proxy"))
from proxytest import Proxy  # noqa: E402
from tlscerts import Pki, free_port  # noqa: E402


def redis_benchmark(port, tls_args, requests, clients=50, password=None):
    auth = ["-a", password] if password else []
    out = subprocess.run(["redis-benchmark", "-p", str(port), *tls_args, *auth, "-t", "set,get",
                          "-d", "1024", "-P", "16", "-n", str(requests), "-c", str(clients),
                          "-r", "100000", "-q"], capture_output=True, text=True, timeout=600)
    rates = {}
    for line in out.stdout.replace("\r", "\n").splitlines():
        m = re.match(r"(SET|GET): ([\d.]+) requests per second", line.strip())
        if m:
            rates[m.group(1).lower()] = float(m.group(2))
    if out.returncode != 0 or len(rates) != 2:
        raise RuntimeError("redis-benchmark failed: %s %s" % (out.stdout[-500:], out.stderr[-500:]))
    return rates


def start_redis_server(pki):
    port, tls_port = free_port(), free_port()
    p = pki.path
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--tls-port", str(tls_port),
                             "--tls-cert-file", p("server.crt"), "--tls-key-file", p("server.key"),
                             "--tls-ca-cert-file", p("ca.crt"), "--tls-auth-clients", "yes",
                             "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        r = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True)
        if r.stdout.strip() == b"PONG":
            return proc, port, tls_port
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("redis-server did not start")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "bin"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--node-tls", action="store_true")
    a = ap.parse_args()
    os.environ["IC_BIN"] = a.bin
    import proxytest
    proxytest.BIN = a.bin
    pki = Pki()
    p = pki.path
    tls_cli = ["--tls", "--cacert", p("ca.crt"), "--cert", p("client.crt"), "--key", p("client.key")]
    env = dict(os.environ, IC_NODE_TLS_CA=p("ca.crt"))
    extra = ["--node-tls", "yes"] if a.node_tls else []
    server = None
    proxy = None
    proxy_auth = None
    password = os.urandom(12).hex()
    try:
        plain_port = free_port()
        proxy = Proxy("--pool-size", "12", "--node-memory", "256", "--node-reserved", "16",
                      "--client-port", str(plain_port), *pki.proxy_args("yes")[:2],
                      *pki.proxy_args("yes")[4:], *extra, env=env)
        print("config node_tls=%d cpus=%d date=%s" % (a.node_tls, os.cpu_count(),
                                                       time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())))
        sys.stdout.flush()
        out = subprocess.run([os.path.join(a.bin, "bench_objects"), "--runs", str(a.runs),
                              "--only", "library,library_tls",
                              "--ic", "127.0.0.1:%d" % proxy.port,
                              "--ic-tls", "127.0.0.1:%d" % proxy.tls_port, "--tls-ca", p("ca.crt"),
                              "--tls-cert", p("client.crt"), "--tls-key", p("client.key")],
                             capture_output=True, text=True, timeout=900)
        sys.stdout.write(out.stdout)
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
        proxy_auth = Proxy("--pool-size", "12", "--node-memory", "256", "--node-reserved", "16",
                           "--requirepass", password, *pki.proxy_args("yes")[:2],
                           *pki.proxy_args("yes")[4:], *extra, env=env)
        server, rport, rtls = start_redis_server(pki)
        rates = {}
        for name, port, tls, pw in (("icproxy", proxy.port, [], None),
                                    ("icproxy_tls", proxy.tls_port, tls_cli, None),
                                    ("icproxy_tls_auth", proxy_auth.tls_port, tls_cli, password),
                                    ("redis", rport, [], None), ("redis_tls", rtls, tls_cli, None)):
            rates[name] = redis_benchmark(port, tls, a.requests, password=pw)
            for op in ("set", "get"):
                print("figure=rb_%s_%s rps=%.0f" % (op, name, rates[name][op]))
            sys.stdout.flush()
        for op in ("set", "get"):
            for base in ("icproxy", "redis"):
                print("ratio=rb_%s_%s_tls/rb_%s_%s value=%.3f" %
                      (op, base, op, base, rates[base + "_tls"][op] / rates[base][op]))
            print("ratio=rb_%s_icproxy_tls_auth/rb_%s_icproxy value=%.3f" %
                  (op, op, rates["icproxy_tls_auth"][op] / rates["icproxy"][op]))
        return out.returncode
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        for px in (proxy, proxy_auth):
            if px:
                px.stop()
        pki.cleanup()


if __name__ == "__main__":
    sys.exit(main())
