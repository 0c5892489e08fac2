#!/usr/bin/env python3
"""report.py: the benchmark's tables, ratios and verdicts on the targets.

bench.py calls print_report(results) at the end of a run; run it alone to
print a saved result again:

    python3 bench/report.py build/bench-data/last-results.json

The targets (of the performance issue) are ratios and latencies measured in
one run with 100,000 articles and 32 connections; with other settings the
verdicts are printed but marked as not comparable.
"""

import json
import sys

# (scenario, minimum newsd/nginx requests/s ratio)
RATIO_TARGETS = [("get_id", 0.7), ("list_first", 0.5), ("comments", 0.5),
                 ("search_rare", 0.2), ("search_phrase", 0.2)]
# gets and lists whose p99 must stay within P99_FACTOR x the ceiling's p99
P99_SCENARIOS = ["get_id", "get_slug", "list_first", "list_deep", "list_filtered", "comments"]
P99_FACTOR = 2.0
COMMON_SEARCH_P99_MS = 25.0
WRITE_TARGETS = [("create_article", 2000.0), ("create_comment", 5000.0)]
RSS_LIMIT_MB = 64.0
STARTUP_LIMIT_MS = 100.0
SCALE_FACTOR = 1.5


def ms(us):
    return us / 1000.0


def failures(run):
    """Errors of a wrk run: sockets, timeouts, and answers that are not 2xx."""
    e = run["errors"]
    count = e["connect"] + e["read"] + e["write"] + e["timeout"] + e["status"]
    statuses = (run.get("extra") or {}).get("statuses")
    if statuses:  # the script tallied every status itself: count all but 2xx
        count = e["connect"] + e["read"] + e["write"] + e["timeout"] + sum(
            v for k, v in statuses.items() if not k.startswith("2"))
    return count


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    line = "  ".join(str(h).rjust(w) if i else str(h).ljust(w)
                     for i, (h, w) in enumerate(zip(headers, widths)))
    out = [line, "-" * len(line)]
    for r in rows:
        out.append("  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                             for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def read_rows(scenarios):
    rows = []
    for name, s in scenarios.items():
        if s.get("kind") != "read":
            continue
        mine, top = s["newsd"], s["ceiling"]
        lat = mine["latency_us"]
        rows.append([name, s["distinct"], f"{mine['rps']:.0f}", f"{ms(lat['p50']):.2f}",
                     f"{ms(lat['p99']):.2f}", failures(mine),
                     f"{top['rps']:.0f}", f"{ms(top['latency_us']['p99']):.2f}",
                     f"{mine['rps'] / top['rps']:.2f}" if top["rps"] else "-",
                     f"{s['bytes_mean']}"])
    return rows


def write_rows(scenarios):
    rows = []
    for name, s in scenarios.items():
        if s.get("kind") != "write":
            continue
        run = s["newsd"]
        statuses = (run.get("extra") or {}).get("statuses", {})
        rows.append([name, f"{run['rps']:.0f}", f"{ms(run['latency_us']['p50']):.2f}",
                     f"{ms(run['latency_us']['p99']):.2f}", failures(run),
                     " ".join(f"{k}:{v}" for k, v in sorted(statuses.items()))])
    return rows


def cell(run):
    """req/s and p99 of a run, as two cells."""
    if not run:
        return ["-", "-"]
    return [f"{run['rps']:.0f}", f"{ms(run['latency_us']['p99']):.2f}"]


def fmt_ratio(value):
    return f"{value:.2f}" if value is not None else "-"


def peer_read_rows(scenarios):
    rows = []
    for name, s in scenarios.items():
        if s.get("kind") != "read":
            continue
        q = s.get("ratios", {})
        errs = "/".join(str(failures(s[c])) if c in s else "-"
                        for c in ("newsd_cold", "newsd", "peer"))
        rows.append([name, s["distinct"], *cell(s.get("newsd_cold")), *cell(s.get("newsd")),
                     *cell(s.get("peer")), *cell(s.get("ceiling")),
                     fmt_ratio(q.get("cold/peer")), fmt_ratio(q.get("cached/peer")),
                     fmt_ratio(q.get("cold/nginx")), fmt_ratio(q.get("cached/nginx")), errs])
    return rows


def peer_write_rows(scenarios):
    rows = []
    for name, s in scenarios.items():
        if s.get("kind") != "write":
            continue
        q = s.get("ratios", {})
        errs = "/".join(str(failures(s[c])) if c in s else "-"
                        for c in ("newsd_cold", "newsd", "peer"))
        rows.append([name, *cell(s.get("newsd_cold")), *cell(s.get("newsd")),
                     *cell(s.get("peer")), fmt_ratio(q.get("cold/peer")),
                     fmt_ratio(q.get("cached/peer")), errs])
    return rows


def print_peer(r):
    """With --peer: newsd without and with its cache beside the Node.js server and nginx."""
    print("\nnewsd cold (--cache-size 0) and cached beside the Node.js comparison server "
          "(bench/peer) and nginx (latencies in ms; errors cold/cached/peer)\n")
    print(table(["scenario", "urls", "cold req/s", "cold p99", "cached req/s", "cached p99",
                 "peer req/s", "peer p99", "nginx req/s", "nginx p99", "cold/peer",
                 "cached/peer", "cold/nginx", "cached/nginx", "errors"],
                peer_read_rows(r["scenarios"])))
    print()
    print(table(["scenario", "cold req/s", "cold p99", "cached req/s", "cached p99", "peer req/s",
                 "peer p99", "cold/peer", "cached/peer", "errors"],
                peer_write_rows(r["scenarios"])))
    mb = lambda key: f"{r.get(key, 0) / 1024:.1f} MB"  # noqa: E731
    print(f"\nstart to first answer: newsd {r.get('startup_ms', 0):.1f} ms, cold "
          f"{r.get('newsd_cold_startup_ms', 0):.1f} ms, peer {r.get('peer_startup_ms', 0):.1f} ms;"
          f" peak RSS: newsd {mb('rss_peak_kb')}, cold {mb('newsd_cold_rss_peak_kb')}, peer "
          f"{mb('peer_rss_peak_kb')}")
    check = r.get("peer_check")
    if check:
        print(f"answers compared before measuring (bench/peer/check.py): {check['checked']} "
              f"requests, {check['difference_count']} differences")
        for line in check["differences"][:10]:
            print(f"  {line}")


def verdicts(r):
    """[(target, measured, met)] for a full run."""
    sc = r["scenarios"]
    out = []

    def ratio(name):
        s = sc[name]
        return s["newsd"]["rps"] / s["ceiling"]["rps"] if s["ceiling"]["rps"] else 0.0

    for name, want in RATIO_TARGETS:
        if name in sc:
            got = ratio(name)
            out.append((f"{name} >= {want}x ceiling req/s", f"{got:.2f}x", got >= want))
    if "search_common" in sc:
        p99 = ms(sc["search_common"]["newsd"]["latency_us"]["p99"])
        out.append((f"search_common p99 < {COMMON_SEARCH_P99_MS:.0f} ms", f"{p99:.1f} ms",
                    p99 < COMMON_SEARCH_P99_MS))
    for name in P99_SCENARIOS:
        if name in sc:
            mine = sc[name]["newsd"]["latency_us"]["p99"]
            top = sc[name]["ceiling"]["latency_us"]["p99"]
            out.append((f"{name} p99 <= {P99_FACTOR:.0f}x ceiling p99",
                        f"{ms(mine):.2f} vs {ms(top):.2f} ms ({mine / top:.1f}x)" if top else "-",
                        top > 0 and mine <= P99_FACTOR * top))
    for name, want in WRITE_TARGETS:
        if name in sc:
            run = sc[name]["newsd"]
            fails = failures(run)
            out.append((f"{name} >= {want:.0f}/s, no failures",
                         f"{run['rps']:.0f}/s, {fails} failed",
                         run["rps"] >= want and fails == 0))
    if "mix" in sc:
        fails = failures(sc["mix"]["newsd"])
        out.append(("mix: no failures", f"{fails} failed", fails == 0))
    if "rss_peak_kb" in r:
        mb = r["rss_peak_kb"] / 1024
        out.append((f"peak RSS < {RSS_LIMIT_MB:.0f} MB", f"{mb:.1f} MB", mb < RSS_LIMIT_MB))
    if "startup_ms" in r:
        out.append((f"start to first answer < {STARTUP_LIMIT_MS:.0f} ms",
                    f"{r['startup_ms']:.1f} ms", r["startup_ms"] < STARTUP_LIMIT_MS))
    return out


def backend_rows(scenarios):
    rows = []
    for name, s in scenarios.items():
        if "pg" not in s:
            continue
        q = s.get("ratios", {})
        errs = "/".join(str(failures(s[c])) if c in s else "-"
                        for c in ("newsd", "pg", "newsd_cold", "pg_cold"))
        rows.append([name, *cell(s.get("newsd")), *cell(s.get("pg")),
                     fmt_ratio(q.get("pg/sqlite cached")), *cell(s.get("newsd_cold")),
                     *cell(s.get("pg_cold")), fmt_ratio(q.get("pg/sqlite cold")), errs])
    return rows


def write_cpu_rows(scenarios):
    """CPU ms per request of each write scenario that recorded it, by server."""
    rows = []
    for name, s in scenarios.items():
        if s.get("kind") != "write" or "cpu_ms_per_request" not in (s.get("pg") or {}):
            continue
        sqlite = s["newsd"].get("cpu_ms_per_request", {}).get("newsd")
        pg = s["pg"]["cpu_ms_per_request"]
        total = pg.get("newsd", 0) + pg.get("postgres", 0)
        rows.append([name, cpu_cell(s["newsd"], "newsd"), cpu_cell(s["pg"], "newsd"),
                     cpu_cell(s["pg"], "postgres"),
                     f"{total / sqlite:.2f}x" if sqlite else "-",
                     cpu_cell(s.get("newsd_cold"), "newsd"), cpu_cell(s.get("pg_cold"), "newsd"),
                     cpu_cell(s.get("pg_cold"), "postgres")])
    return rows


def print_backends(r):
    """With --postgres: the same newsd over SQLite and over PostgreSQL, cached and cold."""
    print("\nnewsd over SQLite and over PostgreSQL 15 (same corpus, same machine), through the "
          "cache and with --cache-size 0 (latencies in ms; errors sqlite/pg/sqlite cold/pg cold)\n")
    print(table(["scenario", "sqlite req/s", "sqlite p99", "pg req/s", "pg p99", "pg/sqlite",
                 "sqlite cold", "cold p99", "pg cold", "pg cold p99", "pg/sqlite cold", "errors"],
                backend_rows(r["scenarios"])))
    writes = write_cpu_rows(r["scenarios"])
    if writes:
        print("\nCPU ms per write (measured run; newsd's process, and every process of the "
              "PostgreSQL server)\n")
        print(table(["scenario", "sqlite: newsd", "pg: newsd", "pg: postgres", "pg total/sqlite",
                     "sqlite cold", "pg cold: newsd", "pg cold: postgres"], writes))
    imp = r.get("pg_import", {})
    mb = lambda key: f"{r.get(key, 0) / 1024:.1f} MB"  # noqa: E731
    print(f"\nPostgreSQL load (newsd import --jsonl): {imp.get('seconds', '?')} s; start to first "
          f"answer over PostgreSQL {r.get('pg_startup_ms', 0):.1f} ms; peak RSS of newsd over "
          f"PostgreSQL {mb('pg_rss_peak_kb')} (cold {mb('pg_cold_rss_peak_kb')})")


def print_full(r):
    print(f"\nnewsd benchmark: {r['articles']} articles, {r['comments']} comments; wrk "
          f"-t{r['threads']} -c{r['connections']}, {r['duration_s']} s per run after "
          f"{r['warmup_s']} s warm-up; {r['cores']} cores shared by wrk, newsd and nginx")
    print(f"command: {r['command']}")
    print("\nReads (latencies in ms; ceiling = nginx serving newsd's bytes as static files)\n")
    print(table(["scenario", "urls", "req/s", "p50", "p99", "errors", "ceil req/s", "ceil p99",
                 "ratio", "bytes"], read_rows(r["scenarios"])))
    print("\nWrites (latencies in ms; errors = failed or non-2xx answers)\n")
    print(table(["scenario", "req/s", "p50", "p99", "errors", "statuses"],
                write_rows(r["scenarios"])))
    if "peer_check" in r:
        print_peer(r)
    if "pg_import" in r:
        print_backends(r)
    imp = r.get("import", {})
    print(f"\nstart to first answered request: {r.get('startup_ms', 0):.1f} ms")
    print(f"peak RSS of newsd: {r.get('rss_peak_kb', 0) / 1024:.1f} MB "
          f"(after the reads: {r.get('rss_after_reads_kb', 0) / 1024:.1f} MB)")
    print(f"bulk load (newsd import --jsonl, made once and reused): {imp.get('seconds', '?')} s, "
          f"database {imp.get('db_bytes', 0) / 1e6:.0f} MB")
    comparable = r["articles"] == 100000 and r["connections"] == 32
    print("\nTargets" + ("" if comparable else
                         " (NOT comparable: the targets assume 100,000 articles and 32 "
                         "connections)") + "\n")
    print(table(["target", "measured", "verdict"],
                [[t, m, "met" if ok else "MISSED"] for t, m, ok in verdicts(r)]))


def print_scale(r):
    sizes = [str(s) for s in r["sizes"]]
    print(f"\nnewsd read scenarios by corpus size; wrk -t{r['threads']} -c{r['connections']}, "
          f"{r['duration_s']} s per run; {r['cores']} cores shared by wrk and newsd")
    print(f"command: {r['command']}\n")
    headers = ["scenario"]
    for s in sizes:
        headers += [f"{s} req/s", f"{s} p50", f"{s} p99"]
    headers += ["p50 growth", "p99 growth"]
    rows = []
    for name in r["by_size"][sizes[0]]["scenarios"]:
        row = [name]
        runs = [r["by_size"][s]["scenarios"][name]["newsd"] for s in sizes]
        for run in runs:
            row += [f"{run['rps']:.0f}", f"{ms(run['latency_us']['p50']):.2f}",
                    f"{ms(run['latency_us']['p99']):.2f}"]
        first, last = runs[0]["latency_us"], runs[-1]["latency_us"]
        row += [f"{last['p50'] / first['p50']:.2f}x" if first["p50"] else "-",
                f"{last['p99'] / first['p99']:.2f}x" if first["p99"] else "-"]
        rows.append(row)
    print(table(headers, rows))
    print(f"\n(growth = latency at {sizes[-1]} / latency at {sizes[0]} articles; the target is "
          f"at most {SCALE_FACTOR}x from 10,000 to 1,000,000)")
    for s in sizes:
        size = r["by_size"][s]
        print(f"{s} articles: start {size.get('startup_ms', 0):.1f} ms, peak RSS "
              f"{size.get('rss_peak_kb', 0) / 1024:.1f} MB, bulk load "
              f"{size['import'].get('seconds', '?')} s, database "
              f"{size['import'].get('db_bytes', 0) / 1e6:.0f} MB")


WAYS = ("direct", "one", "three")


def cluster_rows(scenarios, kind, cache):
    rows = []
    for key, s in scenarios.items():
        if s.get("kind") != kind or s.get("cache") != cache:
            continue
        q = s.get("ratios", {})
        errs = "/".join(str(failures(s[w])) if s.get(w) else "-" for w in WAYS)
        row = [s["name"]] + ([s.get("distinct", "-")] if kind == "read" else [])
        row += [*cell(s.get("direct")), *cell(s.get("one")), *cell(s.get("three")),
                fmt_ratio(q.get("three/one")), fmt_ratio(q.get("one/direct")), errs]
        if kind == "write":
            lag = (s.get("three") or {}).get("replica_lag") or {}
            row.append(f"{lag['replay_lag_ms_max']:.1f}" if lag else "-")
        rows.append(row)
    return rows


def cpu_cell(run, piece):
    cost = (run or {}).get("cpu_ms_per_request", {}).get(piece)
    return f"{cost:.3f}" if cost is not None else "-"


def cpu_rows(scenarios):
    """CPU ms per request of each piece, in the run through haproxy to one
    instance and (newsd) to three; and what one core of each carries."""
    rows = []
    for key, s in scenarios.items():
        one = s.get("one") or {}
        cost = one.get("cpu_ms_per_request") or {}
        db = cost.get("primary", 0) + (cost.get("replica", 0) if s["kind"] == "read" else 0)
        per_core = lambda ms_: f"{1000 / ms_:.0f}" if ms_ else "-"  # noqa: E731
        name = s["name"] + (" (cold)" if s.get("cache") == "cold" else "")
        rows.append([name, cpu_cell(one, "newsd"), cpu_cell(s.get("three"), "newsd"),
                     cpu_cell(one, "haproxy"), cpu_cell(one, "primary"), cpu_cell(one, "replica"),
                     per_core(cost.get("newsd")), per_core(cost.get("haproxy")),
                     per_core(db if s["kind"] == "read" else cost.get("primary"))])
    return rows


def print_cluster(r):
    """bench/run --cluster: one instance directly, one and three through haproxy."""
    print(f"\nnewsd behind haproxy over PostgreSQL 15 (durable primary, synchronous streaming "
          f"replica{', reads from the replica' if r.get('replica_reads') else ''}): "
          f"{r['articles']} articles, {r['comments']} comments; wrk -t{r['threads']} "
          f"-c{r['connections']}, {r['duration_s']} s per run after {r['warmup_s']} s warm-up; "
          f"{r['cores']} cores shared by wrk, haproxy, the instances and both PostgreSQL servers")
    print(f"command: {r['command']}")
    head = ["direct req/s", "direct p99", "1 inst req/s", "1 inst p99", "3 inst req/s",
            "3 inst p99", "3/1", "1/direct", "errors d/1/3"]
    for cache, title in (("cached", "Reads through each instance's cache"),
                         ("cold", "Reads with --cache-size 0 (every request to the database)")):
        print(f"\n{title} (latencies in ms; direct = wrk to one instance, no haproxy)\n")
        print(table(["scenario", "urls", *head], cluster_rows(r["scenarios"], "read", cache)))
    print("\nWrites (latencies in ms; errors = failed or non-2xx answers; lag = the replica's "
          "largest replay_lag sampled during the 3-instance run)\n")
    print(table(["scenario", *head, "lag ms"], cluster_rows(r["scenarios"], "write", "cached")))
    print("\nCPU per request (ms, from /proc around each measured run; through haproxy to one "
          "instance, and newsd's for three) and what one core of each piece carries (req/s)\n")
    print(table(["scenario", "newsd 1", "newsd 3", "haproxy", "primary", "replica",
                 "newsd/core", "haproxy/core", "database/core"],
                cpu_rows(r["scenarios"])))
    inv = r.get("invalidation")
    if inv:
        print(f"\ninvalidation across instances (a PATCH through one instance until both others "
              f"serve the new title): p50 {inv['p50_ms']} ms, p99 {inv['p99_ms']} ms, max "
              f"{inv['max_ms']} ms over {inv['seen']} of {inv['trials']} trials ({inv['late']} "
              f"late, {inv['unexpected']} unexpected answers)")
    lags = [(s["name"], w, s[w]["replica_lag"]) for s in r["scenarios"].values()
            if s["kind"] == "write" for w in WAYS if s.get(w) and s[w].get("replica_lag")]
    for name, way, lag in lags:
        print(f"replica lag during {name} ({way}): replay_lag p50 {lag['replay_lag_ms_p50']} ms, "
              f"max {lag['replay_lag_ms_max']} ms; replay behind the primary's WAL p50 "
              f"{lag['behind_bytes_p50']:.0f} bytes, max {lag['behind_bytes_max']} bytes "
              f"({lag['samples']} samples)")
    imp = r.get("pg_import", {})
    print(f"\nPostgreSQL load (newsd import --jsonl, primary and synchronous replica): "
          f"{imp.get('seconds', '?')} s; database {(r.get('db_bytes') or 0) / 1e6:.0f} MB at "
          f"the end; health checks on {r.get('check_path')}")


def print_load(r):
    """The machine's load averages around the run: other work distorts every figure."""
    before, after = r.get("loadavg_before"), r.get("loadavg_after")
    if not before or not after:
        return
    print(f"\nload average (1, 5, 15 min) before the run: {before[0]:.2f} {before[1]:.2f} "
          f"{before[2]:.2f}; after: {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}")
    if before[0] > 0.5:
        print("warning: the machine was busy when the run started; the figures are disturbed")


def print_report(results):
    if results.get("kind") == "scale":
        print_scale(results)
    elif results.get("kind") == "cluster":
        print_cluster(results)
    else:
        print_full(results)
    print_load(results)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS.json")
    with open(sys.argv[1], encoding="utf-8") as f:
        print_report(json.load(f))


if __name__ == "__main__":
    main()
