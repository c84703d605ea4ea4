#!/usr/bin/env python3
"""summary.py -- turns the key=value figure lines of run-all.sh into one table: figure, baseline, ratio, ratio to memcached, target, met."""
import sys


def load(path):
    """Maps each figure (or ratio) name to its dict of fields; later lines win."""
    figures = {}
    with open(path) as f:
        for line in f:
            fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            name = fields.get("figure") or fields.get("ratio")
            if name:
                figures[name] = fields
    return figures


def num(figures, name, field):
    try:
        return float(figures[name][field])
    except (KeyError, ValueError):
        return None


def main():
    f = load(sys.argv[1])
    rows = []  # (figure, value, baseline, baseline value, ratio, target, met)

    def timing(name):
        """'7.5 ms (p90 13.5) 1.40 GB/s' for a bench_objects figure, or None when not measured."""
        me = num(f, name, "median_ms")
        if me is None:
            return None
        return f"{me:.1f} ms (p90 {num(f, name, 'p90_ms'):.1f}) {num(f, name, 'gbps'):.2f} GB/s"

    def speedup(op, me, base_who):
        """Baseline time / our time for op against base_who, as '0.85x', or '' if either is missing."""
        base = num(f, f"{op}_{base_who}", "median_ms")
        return f"{base / me:.2f}x" if base and me else ""

    def obj(op, who, label, target_ratio, extra_gbps=None):
        """A large-object row: against redis-server (the target's baseline) and memcached."""
        me = num(f, f"{op}_{who}", "median_ms")
        if me is None:
            rows.append((label, "not measured", "", "", "", "", "", "MISSED"))
            return
        gb = num(f, f"{op}_{who}", "gbps")
        base = num(f, f"{op}_redis", "median_ms")
        ratio = base / me if base else None
        vs_mc = speedup(op, me, "memcached") if who != "memcached" else ""
        if target_ratio is None:
            rows.append((label, timing(f"{op}_{who}"), "redis-server, pages kept", timing(f"{op}_redis") or "",
                         f"{ratio:.2f}x" if ratio else "", vs_mc, "(context)", ""))
            return
        target = f">= {target_ratio}x"
        ok = ratio is not None and ratio >= target_ratio
        if extra_gbps:
            target += f", >= {extra_gbps} GB/s"
            ok = ok and gb >= extra_gbps
        rows.append((label, timing(f"{op}_{who}"), "redis-server, pages kept", timing(f"{op}_redis") or "",
                     f"{ratio:.2f}x" if ratio else "", vs_mc, target, "met" if ok else "MISSED"))

    size = f.get("get_library", f.get("get_redis", {})).get("size", "?")
    mib = f"{int(size) / 1048576:g} MiB" if size != "?" else "?"
    obj("get", "library", f"GET {mib}, libinfinicache RS(10+2)", 1.5, 1.0)
    obj("set", "library", f"SET {mib}, libinfinicache RS(10+2)", 1.5)
    obj("get", "proxy_resp", f"GET {mib}, Redis protocol via icproxy (hiredis)", 1.0)
    obj("set", "proxy_resp", f"SET {mib}, Redis protocol via icproxy (hiredis)", 1.0)
    for who, label in (("memcached", "memcached 1.6 -I 128m"),
                       ("redis_default", "redis-server with its allocator's defaults"),
                       ("raw_tcp", "raw loopback TCP, 1 stream")):
        for op in ("get", "set"):
            if f"{op}_{who}" in f:
                obj(op, who, f"{op.upper()} {mib}, {label}", None)
    if "get_memcpy" in f:
        rows.append((f"memcpy {mib}", f"{num(f, 'get_memcpy', 'median_ms'):.2f} ms "
                     f"{num(f, 'get_memcpy', 'gbps'):.1f} GB/s", "", "", "", "", "(context)", ""))

    for test in ("set", "get"):
        me, base = num(f, f"rb_{test}_proxy", "rps"), num(f, f"rb_{test}_redis", "rps")
        ratio = me / base if me and base else None
        rows.append((f"redis-benchmark {test.upper()} -d 1024 -P 16 -c 50",
                     f"{me:.0f} req/s" if me else "not measured", "redis-server",
                     f"{base:.0f} req/s" if base else "", f"{ratio:.2f}x" if ratio else "", "",
                     ">= 0.30x", "met" if ratio and ratio >= 0.30 else "MISSED"))
    for test in ("set", "get"):
        me, base = num(f, f"rbr_{test}_proxy", "rps"), num(f, f"rbr_{test}_redis", "rps")
        if me and base:
            rows.append((f"redis-benchmark {test.upper()} (same) -r 100000: random keys",
                         f"{me:.0f} req/s", "redis-server", f"{base:.0f} req/s",
                         f"{me / base:.2f}x", "", "(context)", ""))

    me, base = num(f, "mget100_proxy", "keys_per_s"), num(f, "mget100_redis", "keys_per_s")
    ratio = me / base if me and base else None
    rows.append(("MGET of 100 keys of 1 KiB, -P 16 -c 50", f"{me:.0f} keys/s" if me else "not measured",
                 "redis-server", f"{base:.0f} keys/s" if base else "",
                 f"{ratio:.2f}x" if ratio else "", "", ">= 0.50x",
                 "met" if ratio and ratio >= 0.50 else "MISSED"))

    me, base = num(f, "startup_proxy64", "median_ms"), num(f, "startup_redis", "median_ms")
    mx = num(f, "startup_proxy64", "max_ms")
    warm = num(f, "startup_warm", "functions_warm")
    ok = me is not None and mx <= 2000 and warm == 64
    rows.append(("start-up, icproxy --pool-size 64, exec to ready",
                 f"{me:.0f} ms (max {mx:.0f}), {warm:.0f}/64 warm" if me is not None else "not measured",
                 "redis-server start-up", f"{base:.0f} ms" if base is not None else "",
                 f"{base / me:.2f}x" if me and base else "", "", "<= 2000 ms, 64/64 warm",
                 "met" if ok else "MISSED"))

    med, mx = num(f, "idle_node_rss", "median_kib"), num(f, "idle_node_rss", "max_kib")
    base = num(f, "idle_redis_rss", "kib")
    rows.append(("idle icnode RSS (64 instances)",
                 f"{med / 1024:.2f} MiB median, {mx / 1024:.2f} max" if med else "not measured",
                 "idle redis-server RSS", f"{base / 1024:.2f} MiB" if base else "",
                 f"{base / med:.2f}x" if med and base else "", "", "<= 4 MiB",
                 "met" if mx and mx <= 4096 else "MISSED"))

    me = num(f, "mem_proxy", "minus_key")
    base = num(f, "mem_redis", "minus_key_value")
    n = num(f, "mem_proxy", "objects")
    rows.append((f"icproxy memory per object beyond its key ({n:.0f} objects)" if n else "icproxy memory per object",
                 f"{me:.0f} B" if me is not None else "not measured",
                 "redis-server, beyond key+value", f"{base:.0f} B" if base is not None else "",
                 f"{base / me:.2f}x" if me and base else "", "", "<= 256 B + key",
                 "met" if me is not None and me <= 256 else "MISSED"))

    moved = num(f, "getrange_bytes", "ratio")
    rng, get1 = num(f, "getrange_latency", "getrange_median_ms"), num(f, "getrange_latency",
                                                                       "get_range_sized_median_ms")
    size = num(f, "getrange_bytes", "size")
    label = f"GETRANGE 1 MiB of a {size / (1 << 20):.0f} MiB object" if size else "GETRANGE 1 MiB"
    rows.append((label + ": bytes from nodes / range",
                 f"{moved:.2f}x" if moved is not None else "not measured", "", "", "", "", "<= 2x",
                 "met" if moved is not None and moved <= 2 else "MISSED"))
    rows.append((label + ": latency",
                 f"{rng:.2f} ms" if rng is not None else "not measured", "GET of a 1 MiB object",
                 f"{get1:.2f} ms" if get1 is not None else "",
                 f"{get1 / rng:.2f}x" if rng and get1 else "", "", "<= 2x the GET",
                 "met" if rng and get1 and rng <= 2 * get1 else "MISSED"))

    head = ("figure", "InfiniCache", "baseline", "baseline value", "ratio", "vs memcached",
            "target", "")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
        if r is head:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    main()
