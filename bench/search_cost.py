#!/usr/bin/env python3
"""search_cost.py: instructions per search miss, by kind, counted by callgrind.

Wall-clock figures on a shared machine are noise; instruction counts are not.
For each kind of query (rare word, common word, quoted phrase, two common
words, 4-letter prefix, OR of two rare words) this draws ten queries with a
fixed seed from the corpus vocabulary (meta.json of gen_corpus.py), as a
person types them, and runs them through newsd's own store code
(bench/search_cost.c, linked with a release build's libnewsd_core.a): the
first page of 20, best first, snippets made and rendered. It prints
instructions per query, less the cost of opening the store.

    bench/search_cost.py --db DB --meta META [--build build/rel] [--old-api]

--build names a release build of the checkout to measure (meson setup
BUILD --buildtype=release); --old-api builds the program for the store
interface of the commits before the parsed query (nd_search_translate and
an FTS5 expression in nd_search_params), to measure an older checkout:
--build OTHER/build/rel --old-api.
"""

import argparse
import json
import os
import random
import re
import shlex
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def kinds(meta):
    v, ph = meta["vocabulary"], meta["phrases"]
    rng = random.Random(7)
    two = [(v[rng.randrange(0, 300)], v[rng.randrange(0, 300)]) for _ in range(10)]
    words = [v[rng.randrange(0, 2000)] for _ in range(40)]
    return {
        "rare": [v[rng.randrange(15000, 30000)] for _ in range(10)],
        "common": [v[rng.randrange(0, 2000)] for _ in range(10)],
        "phrase": ['"%s"' % ph[rng.randrange(len(ph))] for _ in range(10)],
        "two words": ["%s %s" % (a, b) for a, b in two],
        "prefix": ["%s*" % w[:4].lower() for w in words if len(w) >= 5 and w[:4].isalpha()][:10],
        "or": ["%s OR %s" % (v[rng.randrange(15000, 30000)], v[rng.randrange(15000, 30000)])
               for _ in range(10)],
    }


def build(build_dir, old_api, out):
    source = os.path.dirname(os.path.dirname(os.path.abspath(build_dir)))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "jansson", "sqlite3",
                            "libsodium", "libmicrohttpd", "zlib", "libxml-2.0", "gnutls"],
                           stdout=subprocess.PIPE, text=True, check=True).stdout
    argv = ["cc", "-std=c11", "-O2", "-D_GNU_SOURCE", "-I" + os.path.join(source, "include"),
            "-o", out, os.path.join(HERE, "search_cost.c"),
            os.path.join(build_dir, "server", "libnewsd_core.a"), *shlex.split(flags),
            "-lpthread", "-lm"]
    if old_api:
        argv.insert(1, "-DND_COST_TRANSLATE")
    subprocess.run(argv, check=True)


def instructions(program, db, queries, n):
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          program, db, queries, str(n)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    if "search_cost:" in out.stderr:
        raise SystemExit(out.stderr)
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "rel"))
    ap.add_argument("--old-api", action="store_true")
    args = ap.parse_args()
    with open(args.meta, encoding="utf-8") as f:
        meta = json.load(f)
    with tempfile.TemporaryDirectory() as folder:
        program = os.path.join(folder, "search_cost")
        build(args.build, args.old_api, program)
        path = os.path.join(folder, "queries")
        for kind, queries in kinds(meta).items():
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(queries) + "\n")
            base = instructions(program, args.db, path, 0)
            total = instructions(program, args.db, path, len(queries)) - base
            print(f"{kind:10} {total / len(queries) / 1e6:8.2f} M instructions per query")


if __name__ == "__main__":
    main()
