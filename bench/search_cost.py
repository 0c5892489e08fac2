#!/usr/bin/env python3
"""search_cost.py: instructions per search miss, by kind, counted by callgrind.

Wall-clock figures on a shared machine are noise; instruction counts are not.
For each kind of query (rare word, common word, quoted phrase, two words with
the phrase alternative, 4-letter prefix, OR of two rare words) this runs, in
the sqlite3 CLI under valgrind --tool=callgrind, ten queries drawn with a
fixed seed from the corpus vocabulary (meta.json of gen_corpus.py), each as
newsd runs it: the ranked page (BM25 over the 1,000 newest matches, 21 rows),
then its snippets. It prints instructions per query, less the cost of opening
the database.

    bench/search_cost.py --db DB --meta META [--snippets per-row|page]

--snippets per-row is how newsd fetched snippets before one statement per page.
"""

import argparse
import json
import os
import random
import re
import subprocess
import tempfile

RANK = (
    "DROP TABLE IF EXISTS temp.page;\n"
    "CREATE TEMP TABLE page AS SELECT id, slug, title, published_at, score FROM ("
    "SELECT articles.id AS id, articles.slug AS slug, articles.title AS title,"
    " articles.published_at AS published_at, articles.status AS status, hits.score AS score"
    " FROM (SELECT rowid AS hit, bm25(articles_fts, 10.0, 2.0, 1.0) AS score"
    " FROM articles_fts WHERE articles_fts MATCH {m} ORDER BY rowid DESC LIMIT 1000) AS hits"
    " JOIN articles ON articles.id = hits.hit) WHERE status = 'published'"
    " ORDER BY score, published_at DESC, id DESC LIMIT 21;\n")
SNIP = "snippet(articles_fts, -1, char(1), char(2), '…', 24)"
PAGE = ("SELECT rowid, {s} FROM articles_fts WHERE articles_fts MATCH {m}"
        " AND rowid BETWEEN (SELECT min(id) FROM page) AND (SELECT max(id) FROM page)"
        " AND +rowid IN (SELECT id FROM page);\n")


def kinds(meta):
    v, ph = meta["vocabulary"], meta["phrases"]
    rng = random.Random(7)
    two = [(v[rng.randrange(0, 300)], v[rng.randrange(0, 300)]) for _ in range(10)]
    words = [v[rng.randrange(0, 2000)] for _ in range(40)]
    return {
        "rare": ['"%s"' % v[rng.randrange(15000, 30000)] for _ in range(10)],
        "common": ['"%s"' % v[rng.randrange(0, 2000)] for _ in range(10)],
        "phrase": ['"%s"' % ph[rng.randrange(len(ph))] for _ in range(10)],
        "two words": ['("%s" AND "%s") OR "%s %s"' % (a, b, a, b) for a, b in two],
        "prefix": ['"%s"*' % w[:4].lower() for w in words
                   if len(w) >= 5 and w[:4].isalpha()][:10],
        "or": ['("%s" OR "%s")' % (v[rng.randrange(15000, 30000)],
                                   v[rng.randrange(15000, 30000)]) for _ in range(10)],
    }


def instructions(db, sql, folder):
    path = os.path.join(folder, "q.sql")
    with open(path, "w", encoding="utf-8") as f:
        f.write(".output /dev/null\n" + sql)
    with open(path, encoding="utf-8") as f:
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                              "sqlite3", db], stdin=f, capture_output=True, text=True).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--snippets", choices=["per-row", "page"], default="page")
    args = ap.parse_args()
    with open(args.meta, encoding="utf-8") as f:
        meta = json.load(f)
    with tempfile.TemporaryDirectory() as folder:
        base = instructions(args.db, "", folder)
        for kind, queries in kinds(meta).items():
            sql = ""
            for q in queries:
                m = "'" + q.replace("'", "''") + "'"
                sql += RANK.format(m=m)
                if args.snippets == "page":
                    sql += PAGE.format(s=SNIP, m=m)
                else:  # the ids are read back from the page table by the CLI
                    sql += ("SELECT {s} FROM articles_fts WHERE articles_fts MATCH {m}"
                            " AND rowid IN (SELECT id FROM page);\n").format(s=SNIP, m=m)
            total = instructions(args.db, sql, folder) - base
            print(f"{kind:10} {total / len(queries) / 1e6:8.1f} M instructions per query")


if __name__ == "__main__":
    main()
