#!/usr/bin/env python3
"""test_import_jsonl.py: `newsd import --jsonl FILE...` end to end, read back over HTTP.

A file of articles and comments (threaded by parent_index) with some bad
lines: the exit status, the counts on stdout, every bad line named on
stderr with its number; what was stored, as the API shows it (fields,
comment threads, comment counts, search); the same rules as POST for what
is refused; a re-import that creates no article twice.
"""

import json
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Tap, binary_from_argv, run_cli, scratch_db  # noqa: E402

BIN = binary_from_argv()
tap = Tap()

COUNTS = re.compile(r"(\d+) articles created, (\d+) existing, (\d+) comments created, "
                    r"(\d+) lines refused")

ARTICLES = [
    {"type": "article", "title": "Tramway extension opens to Quarry Hill", "slug": "tram-quarry",
     "body": "The extended tramway carried its first passengers on Monday.\n\nA ride takes "
             "eleven minutes.", "author": "Ines Marlow", "category": "Transport",
     "tags": ["trams", "quarry-hill"], "published_at": "2021-03-04T05:06:07Z",
     "source_url": "https://news.example/tram"},
    {"type": "article", "title": "Orchard society presses its first cider",
     "body": "Members pressed four hundred litres of cider from the old orchard.",
     "published_at": "2018-10-01T12:00:00+02:00"},
    {"type": "article", "title": "Draft: library roof survey", "slug": "roof-survey",
     "body": "Not yet published.", "status": "draft"},
]
COMMENTS = [
    {"type": "comment", "article_slug": "tram-quarry", "author": "ralf", "body": "At last!"},
    {"type": "comment", "article_slug": "tram-quarry", "author": "mei", "body": "Which stops?"},
    {"type": "comment", "article_slug": "tram-quarry", "author": "ines", "body": "Seven.",
     "parent_index": 1},
    {"type": "comment", "article_slug": "orchard-society-presses-its-first-cider",
     "author": "tom", "body": "Cheers."},
]
BAD = [  # (line, what stderr must say about it)
    ({"type": "article", "title": "x" * 301, "body": "Too long a title."}, "title"),
    ({"type": "comment", "article_slug": "no-such-article", "author": "a", "body": "b"},
     "no such article"),
    ('{"type": "article", "title": "broken"', "not valid JSON"),
]


def jsonl(objs):
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs)


def write(folder, name, text):
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def counts(proc):
    m = COUNTS.search(proc.stdout)
    return tuple(int(g) for g in m.groups()) if m else None


def describe(proc):
    return f"exit {proc.returncode}\nstdout: {proc.stdout!r}\nstderr: {proc.stderr!r}"


def test_first_import(db, path, first_bad_line):
    proc = run_cli(BIN, ["--db", db, "import", "--jsonl", path], timeout=60)
    tap.eq(proc.returncode, 1, "exit status with refused lines; " + describe(proc))
    tap.eq(counts(proc), (3, 0, 4, len(BAD)), "counts; " + describe(proc))
    for i, (_, what) in enumerate(BAD):
        where = f"{os.path.basename(path)}:{first_bad_line + i}:"
        lines = [l for l in proc.stderr.splitlines() if where in l]
        tap.check(lines and what in lines[0], f"stderr names {where} with {what!r}: "
                  f"{proc.stderr!r}")


def test_articles(srv):
    resp = srv.request("GET", "/v1/articles/tram-quarry")
    tap.require(resp.status == 200, f"GET the imported article: {resp}")
    art = resp.json
    want = {k: v for k, v in ARTICLES[0].items() if k != "type"}
    for field, value in want.items():
        tap.eq(art[field], value, field)
    tap.eq(art["summary"], "The extended tramway carried its first passengers on Monday.",
           "derived summary")
    tap.eq(art["comment_count"], 3, "comment_count")
    orchard = srv.request("GET", "/v1/articles/orchard-society-presses-its-first-cider")
    tap.eq(orchard.status, 200, "derived slug")
    tap.eq(orchard.json and orchard.json["published_at"], "2018-10-01T10:00:00Z",
           "published_at converted to UTC")
    tap.eq(srv.request("GET", "/v1/articles/roof-survey").status, 404, "a draft stays hidden")
    tap.eq(srv.request("GET", "/v1/articles/roof-survey", auth=True).status, 200,
           "the draft with a key")
    listed = srv.request("GET", "/v1/articles?tag=trams")
    tap.eq([a["slug"] for a in listed.json["data"]], ["tram-quarry"], "listed by tag")


def test_comments(srv):
    resp = srv.request("GET", "/v1/articles/tram-quarry")
    tree = srv.request("GET", f"/v1/articles/{resp.json['id']}/comments?view=tree")
    tap.require(tree.status == 200, f"comment tree: {tree}")
    tops = tree.json["data"]
    tap.eq([c["body"] for c in tops], ["At last!", "Which stops?"], "top-level comments")
    if len(tops) == 2:
        tap.eq([c["body"] for c in tops[1]["replies"]], ["Seven."], "the reply by parent_index")
        tap.eq(tops[0]["replies"], [], "no reply to the first")


def test_search(srv):
    resp = srv.request("GET", "/v1/search?q=cider")
    tap.require(resp.status == 200, f"search: {resp}")
    tap.eq([r["slug"] for r in resp.json["data"]], ["orchard-society-presses-its-first-cider"],
           "imported text is indexed")
    comments = srv.request("GET", "/v1/search?q=stops&type=comments")
    tap.eq(len(comments.json["data"]), 1, "imported comments are indexed")


def test_same_rules_as_post(srv):
    bad = dict(BAD[0][0])
    del bad["type"]
    resp = srv.request("POST", "/v1/articles", bad, auth=True)
    tap.eq(resp.status, 422, "POST refuses what the import refused")
    tap.eq([e["field"] for e in resp.json.get("errors", [])], ["title"], "the same field")


def test_reimport(srv, db, path):
    proc = run_cli(BIN, ["--db", db, "import", path, "--jsonl"], timeout=60)
    tap.eq(proc.returncode, 0, "re-import exit status; " + describe(proc))
    tap.eq(counts(proc), (0, 3, 4, 0), "re-import counts; " + describe(proc))
    listed = srv.request("GET", "/v1/articles?limit=100")
    tap.eq(len(listed.json["data"]), 2, "no published article twice")
    resp = srv.request("GET", "/v1/articles/tram-quarry")
    tap.eq(resp.json["comment_count"], 6, "comments are added again (documented)")


def test_usage(db, folder):
    proc = run_cli(BIN, ["--db", db, "import", "--jsonl"])
    tap.eq(proc.returncode, 2, "no FILE is a usage error; " + describe(proc))
    missing = os.path.join(folder, "missing.jsonl")
    proc = run_cli(BIN, ["--db", db, "import", "--jsonl", missing])
    tap.eq(proc.returncode, 1, "a missing file fails; " + describe(proc))
    tap.check("missing.jsonl" in proc.stderr, f"stderr names the file: {proc.stderr!r}")


def main():
    with tempfile.TemporaryDirectory(prefix="newsd-jsonl-") as folder:
        db = scratch_db(folder, "news")
        good = ARTICLES + COMMENTS
        path = write(folder, "corpus.jsonl", jsonl(good + [b for b, _ in BAD]))
        tap.run("import a file with bad lines", test_first_import, db, path, len(good) + 1)
        clean = write(folder, "clean.jsonl", "\n" + jsonl(good))
        with Server(BIN, db=db) as srv:
            tap.run("imported articles over HTTP", test_articles, srv)
            tap.run("imported comment threads", test_comments, srv)
            tap.run("imported text is searchable", test_search, srv)
            tap.run("POST refuses what the import refuses", test_same_rules_as_post, srv)
            tap.run("re-import finds the articles", test_reimport, srv, db, clean)
            tap.stop_server(srv)
        tap.run("usage and missing files", test_usage, db, folder)
    tap.done()


main()
