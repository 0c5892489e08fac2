#!/usr/bin/env python3
"""cold_ab.py: read scenarios of bench/run with the response cache off (or,
with --cached, through it), for two or more builds (each over a database of its own), interleaved.

    bench/cold_ab.py --case before=NEWSD[:DB] --case after=NEWSD[:DB]
                     [--articles N] [--rounds R] [--duration S]
                     [--scenarios get_id,list_filtered,...]

A case's DB defaults to the benchmark database of that size (made by
bench/run under build/bench-data/N); give a database of its own to compare
schemas (a build serving a database migrates it first, so a case of an
older build needs a copy of the older file). The URL lists are the ones the
last bench/run of that size wrote (build/bench-data/N/run/lists).

Each round starts each case in turn with --cache-size 0 and measures every
scenario with wrk -t1 -c32 (a 1 s warm-up, then the measured run), recording
req/s, p99 and newsd's CPU time per request (/proc). A shared machine moves
req/s from round to round; the CPU per request is the steadier figure. Prints
the median of the rounds for each case and scenario.
"""

import argparse
import json
import os
import statistics
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402

SCENARIOS = ["get_id", "get_slug", "list_first", "list_deep", "list_filtered", "comments"]


def parse_case(text, default_db):
    label, sep, rest = text.partition("=")
    if not sep or not label or not rest:
        raise SystemExit(f"cold_ab: --case takes LABEL=NEWSD[:DB], not {text!r}")
    binary, _, db = rest.partition(":")
    return label, os.path.abspath(binary), os.path.abspath(db or default_db)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", action="append", required=True, metavar="LABEL=NEWSD[:DB]")
    ap.add_argument("--articles", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=4)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--cached", action="store_true",
                    help="keep the response cache (its default size); each scenario's warm-up "
                         "run fills it")
    ap.add_argument("--json-out")
    opts = ap.parse_args(argv)
    folder = os.path.join(bench.DATA, str(opts.articles))
    listdir = os.path.join(folder, "run", "lists")
    scenarios = opts.scenarios.split(",")
    for name in scenarios:
        if not os.path.exists(os.path.join(listdir, f"{name}.newsd")):
            raise SystemExit(f"cold_ab: no URL list {name}.newsd in {listdir}: "
                             f"run bench/run --articles {opts.articles} first")
    cases = [parse_case(c, os.path.join(folder, "newsd.db")) for c in opts.case]
    run_dir = os.path.join(folder, "cold-ab")
    os.makedirs(run_dir, exist_ok=True)
    results = {label: {name: [] for name in scenarios} for label, _, _ in cases}
    # bench.measure's run: a 1 s warm-up, then the measured run, each wrk -t1 -c32
    run = types.SimpleNamespace(warmup=1, duration=opts.duration, connections=32, threads=1)
    for rnd in range(opts.rounds):
        for label, binary, db in cases:
            flags = [] if opts.cached else ["--cache-size", "0"]
            srv = bench.Newsd(binary, db, run_dir, flags, name=label)
            srv.start()
            try:
                for name in scenarios:
                    args = [os.path.join(listdir, f"{name}.newsd")]
                    got = bench.measure(srv.port, "read.lua", args, run, srv.proc.pid,
                                        cpu=lambda: {"newsd": bench.ticks(srv.proc.pid)})
                    if "cpu_ms_per_request" not in got:
                        raise SystemExit(f"cold_ab: {label}, {name}: no request answered")
                    cpu_us = got["cpu_ms_per_request"]["newsd"] * 1000
                    results[label][name].append({
                        "rps": got["rps"], "p99_ms": got["latency_us"]["p99"] / 1000,
                        "cpu_us": cpu_us, "errors": got.get("errors", 0)})
                    bench.log(f"round {rnd + 1} {label} {name}: {got['rps']:.0f} req/s, "
                              f"{cpu_us:.1f} us CPU/request")
            finally:
                srv.stop()
    print(f"\nmedian of {opts.rounds} rounds, {opts.articles} articles, "
          f"{'cached' if opts.cached else '--cache-size 0'}, "
          f"wrk -t1 -c32 -d{opts.duration:g}s")
    header = f"{'scenario':<14}" + "".join(f"{label + ' req/s':>18}{label + ' us/req':>18}"
                                           for label, _, _ in cases)
    print(header)
    print("-" * len(header))
    for name in scenarios:
        row = f"{name:<14}"
        for label, _, _ in cases:
            runs = results[label][name]
            row += f"{statistics.median(r['rps'] for r in runs):>18.0f}"
            row += f"{statistics.median(r['cpu_us'] for r in runs):>18.1f}"
        print(row)
    if opts.json_out:
        with open(opts.json_out, "w", encoding="utf-8") as f:
            json.dump({"cases": [{"label": l, "newsd": b, "db": d} for l, b, d in cases],
                       "results": results, "command": " ".join(["bench/cold_ab.py", *argv])},
                      f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
