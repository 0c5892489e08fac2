#!/usr/bin/env python3
"""lanes.py: what the lanes of newsd's HTTP layer buy (group commit, slow
work off the I/O threads), measured for one or more builds, interleaved.

    bench/lanes.py --newsd before=PATH --newsd after=PATH [--articles N]
                   [--rounds R] [--duration S] [--only writes|mixed] [--postgres]

For each round, each build in turn is started (bench.py's way: loopback,
synchronous=normal, no rate limits, warn log) on a fresh copy of the corpus
database of bench.py (made once under build/bench-data/N), and measured:

  writes  POST comments and POST articles (post.lua) with 32 connections,
          then with 1 (one client alone must not get slower).
  mixed   cached GETs of articles by id (read.lua over the get_id list,
          every URL fetched once first, so all are cache hits) with 16
          connections alone; then the same GETs while a second wrk sends
          search misses (miss.lua: rare words, each request a key of its
          own) on 16 more connections. The figure is the gets' p99 beside
          the misses over their p99 alone.

With --postgres each build serves a fresh copy of the corpus in a PostgreSQL
server of bench.py's (loaded once per size, kept halted between runs)
instead, and each write run also records the CPU milliseconds per request of
newsd and of every process of the PostgreSQL server (/proc).

Builds are interleaved round by round so that a machine whose load drifts
disturbs them alike; compare figures of one run only. Prints a table and,
with --json-out, writes every result.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import urls as urllists  # noqa: E402


def start(binary, db, run_dir, name, pg=None):
    copy = pg.fresh_copy("lanes", binary) if pg else bench.fresh_copy(db, run_dir)
    key = bench.create_key(binary, copy)
    srv = bench.Newsd(binary, copy, run_dir, name=name)
    srv.start()
    return srv, key


def run_wrk(port, script, args, seconds, connections):
    return bench.wrk(port, script, args, seconds, connections, 1)


def cpu(srv, pg):
    """{piece: CPU ticks} of newsd and, over PostgreSQL, of its server."""
    pieces = {"newsd": bench.ticks(srv.proc.pid)}
    if pg:
        pieces["postgres"] = bench.pg_ticks(pg)
    return pieces


def writes(srv, key, ids_file, opts, tag, pg=None):
    out = {}
    for conns in (32, 1):
        for kind in ("comment", "article"):
            args = ["article", key, tag] if kind == "article" else ["comment", ids_file, tag]
            # a 1 s warm-up, then the measured run with the CPU around it
            run = types.SimpleNamespace(warmup=1, duration=opts.duration, connections=conns,
                                        threads=1)
            out[f"create_{kind}_c{conns}"] = bench.measure(srv.port, "post.lua", args, run,
                                                           srv.proc.pid, cpu=lambda: cpu(srv, pg))
            tag += "x"
    return out


def mixed(srv, gets_file, misses_file, opts):
    bench.wait_idle(srv.proc.pid)
    run_wrk(srv.port, "read.lua", [gets_file], 2, 16)  # every get URL cached
    bench.wait_idle(srv.proc.pid)
    alone = run_wrk(srv.port, "read.lua", [gets_file], opts.duration, 16)
    bench.wait_idle(srv.proc.pid)
    argv = ["wrk", "-t1", "-c16", f"-d{opts.duration + 2}s", "--timeout", "5s", "-s",
            os.path.join(HERE, "miss.lua"), f"http://{bench.HOST}:{srv.port}", "--", misses_file]
    misses = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        beside = run_wrk(srv.port, "read.lua", [gets_file], opts.duration, 16)
        out, _ = misses.communicate(timeout=opts.duration + 60)
    finally:
        if misses.poll() is None:
            misses.kill()
            misses.wait()
    miss = None
    for line in out.splitlines():
        if line.startswith("BENCH_RESULT "):
            miss = json.loads(line[len("BENCH_RESULT "):])
            miss["rps"] = round(miss["requests"] / (miss["duration_us"] / 1e6), 1)
    return {"gets_alone": alone, "gets_beside_misses": beside, "misses": miss}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--newsd", action="append", required=True, metavar="LABEL=PATH")
    p.add_argument("--articles", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--duration", type=int, default=6)
    p.add_argument("--only", choices=("writes", "mixed"))
    p.add_argument("--postgres", action="store_true")
    p.add_argument("--json-out")
    return p.parse_args(argv)


def ms(us):
    return us / 1000.0


def report(results):
    print("build    round  scenario                 req/s     p50 ms    p99 ms  cpu ms/req  "
          "statuses")
    for r in results:
        for name, v in r["figures"].items():
            if v is None:
                continue
            statuses = v.get("extra", {}).get("statuses", "")
            cost = v.get("cpu_ms_per_request") or {}
            cpu_text = "+".join(f"{cost[p]:.3f}" for p in ("newsd", "postgres") if p in cost)
            print(f"{r['label']:<8} {r['round']:>5}  {name:<22} {v['rps']:>8.0f} "
                  f"{ms(v['latency_us']['p50']):>9.2f} {ms(v['latency_us']['p99']):>9.2f}  "
                  f"{cpu_text or '-':>10}  {statuses}")
        figs = r["figures"]
        if "gets_alone" in figs and "gets_beside_misses" in figs:
            a = figs["gets_alone"]["latency_us"]["p99"]
            b = figs["gets_beside_misses"]["latency_us"]["p99"]
            print(f"{r['label']:<8} {r['round']:>5}  gets p99 beside misses / alone: "
                  f"{b / a if a else float('nan'):.2f}")


def main(argv):
    opts = parse_args(argv)
    builds = [tuple(spec.split("=", 1)) for spec in opts.newsd]
    folder = bench.ensure_corpus(opts.articles)
    db, _ = bench.ensure_db(builds[0][1], folder)
    bench.run_checked([builds[-1][1], "--db", db, "--log-level", "warn", "migrate"],
                      stdout=subprocess.DEVNULL)
    with open(os.path.join(folder, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    run_dir = os.path.join(folder, "lanes")
    lists = urllists.build(meta, [])
    listdir = os.path.join(folder, "lanes-lists")
    os.makedirs(listdir, exist_ok=True)
    files = {}
    for name, lines in (("get_id", lists["get_id"]), ("search_rare", lists["search_rare"]),
                        ("comment_targets", urllists.comment_targets(meta))):
        files[name] = os.path.join(listdir, name)
        bench.write_lines(files[name], lines)
    results = []
    pg = None
    try:
        if opts.postgres:
            pg = bench.PgServer(folder).start()
            bench.load_postgres(builds[0][1], pg, folder, copy=False)
            os.makedirs(run_dir, exist_ok=True)
        for rnd in range(1, opts.rounds + 1):
            for label, binary in builds:
                bench.log(f"round {rnd}: {label}")
                srv, key = start(binary, db, run_dir, label, pg)
                try:
                    figures = {}
                    if opts.only in (None, "writes"):
                        figures.update(writes(srv, key, files["comment_targets"], opts,
                                              f"Lanes{label}{rnd}", pg))
                    if opts.only in (None, "mixed"):
                        figures.update(mixed(srv, files["get_id"], files["search_rare"], opts))
                finally:
                    srv.stop()
                results.append({"label": label, "round": rnd, "figures": figures})
    finally:
        if pg:
            pg.stop()
    report(results)
    if opts.json_out:
        with open(opts.json_out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
