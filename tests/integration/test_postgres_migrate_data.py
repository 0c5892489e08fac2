#!/usr/bin/env python3
"""test_postgres_migrate_data.py: moving a site between SQLite and PostgreSQL.

The two commands of the README, in both directions: a site is built on one
backend through the API and the importers (drafts, pending comments,
threaded replies with a deleted comment in the middle, tags, unicode,
articles and comments with import keys), `newsd export FILE` writes it,
`newsd import FILE` reads it into an empty database of the other backend,
and `newsd export` there gives the same bytes. The moved site then answers
its lists and comment trees as the old one did, and new articles and
comments get ids above the moved ones.

Registered for the PostgreSQL suite only (pg_postgres_migrate_data): it
needs the shared test server (NEWSD_TEST_PG) for the PostgreSQL side.
"""

import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pg  # noqa: E402
from harness import Server, Tap, binary_from_argv, run_cli, source_root  # noqa: E402

BIN = binary_from_argv(backends=("postgres",))
tap = Tap()
WXR = os.path.join(source_root(), "tests", "fixtures", "wxr", "pellow-point-1.1.xml")

PLAIN_TEXT = """Harbour café reopens after the storm
Harbour café reopens after the storm

The café on the harbour wall reopened on Sunday, three months after the storm.

Its owner, Zoë Brandt, said the new windows face the lighthouse.

Posted in
Local News
"""

# Same request id on both servers, so that every answer compares byte for byte.
SAME_ID = {"X-Request-Id": "migration-comparison"}


def cli(db, *args, timeout=120):
    return run_cli(BIN, ["--db", db, *args], timeout=timeout)


def describe(proc):
    return f"status {proc.returncode}\nstdout: {proc.stdout[-800:]}\nstderr: {proc.stderr[-800:]}"


def must(resp, status, what):
    if resp.status != status:
        raise RuntimeError(f"{what}: want {status}, got {resp}")
    return resp.json


def build(srv, folder):
    """A site with every kind of record an export holds."""
    art = srv.create_article
    tram = art(title="Tramway extension opens to Quarry Hill", slug="tram-quarry",
               body="The extended tramway carried its first passengers.\n\nEleven minutes.",
               author="Ines Marlow", category="Transport", tags=["trams", "Ünïcode"],
               source_url="https://news.example/tram", published_at="2021-03-04T05:06:07Z")["id"]
    uni = art(title="Ночной рынок “open late” — 夜市 ✓ שלום",
              body="Emoji 🎉, combining e\u0301, tab\tand\nnew line.",
              summary="A summary with “quotes”.", category="Welt & Kultur",
              tags=["夜市", "night"], published_at="2022-05-06T07:08:09+02:00")["id"]
    art(title="Draft: library roof survey", body="Not yet published.", status="draft",
        tags=["library"])
    gone = art(title="An article that is deleted", body="Soon gone.")["id"]
    for i in range(5):
        art(title=f"Harbour note {i}", body=f"Harbour lights, entry {i}.",
            tags=[f"t{i % 2}"], published_at=f"2020-01-0{i + 1}T10:00:00Z")
    must(srv.request("DELETE", f"/v1/articles/{gone}", auth=True), 204, "delete article")
    time.sleep(1.1)  # updated_at after created_at
    must(srv.request("PATCH", f"/v1/articles/{tram}", {"tags": ["trams", "edited"]},
                     auth=True), 200, "edit")

    def post(aid, parent=None, body="A comment", author="reader"):
        fields = {"author": author, "body": body}
        if parent:
            fields["parent_id"] = parent
        return must(srv.request("POST", f"/v1/articles/{aid}/comments", fields, auth=True),
                    201, "comment")["id"]

    def status(cid, value):
        must(srv.request("PATCH", f"/v1/comments/{cid}", {"status": value}, auth=True), 200,
             "moderate")

    c1 = post(tram, body="Top: at last!")
    c2 = post(tram, c1, body="Level two, soon deleted")
    c3 = post(tram, c2, body="Level three — ünïcode ✓", author="Zoë")
    post(tram, c3, body="Level four\nwith a line break")
    post(tram, body="Waiting for a moderator")
    for cid in (c1, c2, c3):
        status(cid, "visible")
    status(post(tram, c1, body="Approved, then pending again"), "pending")
    must(srv.request("DELETE", f"/v1/comments/{c2}", auth=True), 204, "delete comment")
    u1 = post(uni, body="夜市 is great")
    status(u1, "visible")
    post(uni, u1, body="Agreed 🎉")

    # import keys: a plain-text article, JSON lines, a WordPress export (comments too)
    plain = os.path.join(folder, "cafe.txt")
    with open(plain, "w", encoding="utf-8") as f:
        f.write(PLAIN_TEXT)
    lines = os.path.join(folder, "more.jsonl")
    with open(lines, "w", encoding="utf-8") as f:
        f.write(json.dumps({"type": "article", "title": "Imported by lines",
                            "body": "From a JSON-lines file.", "tags": ["bulk"]}) + "\n")
        f.write(json.dumps({"type": "comment", "article_slug": "imported-by-lines",
                            "author": "bulk", "body": "A bulk comment"}) + "\n")
    for path in (plain, lines, WXR):
        proc = cli(srv.db, "import", path)
        if proc.returncode != 0:
            raise RuntimeError(f"import {os.path.basename(path)}: " + describe(proc))


def answers(srv):
    """What the site answers: every list and comment tree, with and without a key."""
    got = {}

    def get(path, auth=False):
        resp = srv.request("GET", path, headers=SAME_ID, auth=auth)
        got[(path, auth)] = (resp.status, resp.body)
        return resp

    for auth in (False, True):
        items = get("/v1/articles?limit=100" + ("&status=any" if auth else ""), auth).json["data"]
        get("/v1/tags", auth)
        get("/v1/categories", auth)
        for a in items:
            get(f"/v1/articles/{a['id']}", auth)
            get(f"/v1/articles/{a['id']}/comments?limit=100", auth)
            get(f"/v1/articles/{a['id']}/comments?view=tree&limit=100", auth)
            if auth:
                get(f"/v1/articles/{a['id']}/comments?status=any&view=tree&limit=100", True)
    return got


def export(db, path):
    proc = cli(db, "export", path)
    tap.require(proc.returncode == 0, "export: " + describe(proc))
    with open(path, "rb") as f:
        return f.read()


def move(src_kind, dst_kind):
    folder = tempfile.mkdtemp(prefix="ndmv-")
    databases = []

    def new_db(kind, name):
        if kind == "sqlite":
            return os.path.join(folder, name + ".db")
        db = pg.Database().create()
        databases.append(db)
        return db.uri

    try:
        src, dst = new_db(src_kind, "src"), new_db(dst_kind, "dst")
        with Server(BIN, db=src) as srv:
            build(srv, folder)
            before = answers(srv)
            tap.stop_server(srv, name=f"the {src_kind} server stops")
        first = export(src, os.path.join(folder, "site.jsonl"))
        records = [json.loads(l) for l in first.decode("utf-8").splitlines()]
        kinds = {(r.get("type"), r.get("status")) for r in records}
        for want in (("article", "draft"), ("comment", "pending"), ("comment", "visible")):
            tap.check(want in kinds, f"the corpus has no {want}")
        tap.check(any(r.get("type") == "article" and r.get("import_key") for r in records),
                  "no article with an import key")
        tap.check(any(r.get("type") == "comment" and r.get("import_key") for r in records),
                  "no comment with an import key")
        tap.check(any(r.get("type") == "comment" and r.get("parent_id") for r in records),
                  "no reply")

        proc = cli(dst, "import", os.path.join(folder, "site.jsonl"))
        tap.require(proc.returncode == 0, f"import into {dst_kind}: " + describe(proc))
        second = export(dst, os.path.join(folder, "again.jsonl"))
        if second != first:
            a, b = first.decode().splitlines(), second.decode().splitlines()
            diff = [f"line {i + 1}:\n  {x}\n  {y}" for i, (x, y) in enumerate(zip(a, b)) if x != y]
            tap.check(False, f"the {dst_kind} export differs from the {src_kind} one "
                             f"({len(a)} and {len(b)} lines):\n" + "\n".join(diff[:5]))

        with Server(BIN, db=dst) as srv:
            after = answers(srv)
            differ = [k for k in before if before[k] != after.get(k)]
            tap.diag(f"{len(records)} records moved, {len(before)} answers compared")
            tap.check(not differ, f"{len(differ)} answers differ after the move, e.g. "
                      + "\n".join(f"{k}: {before[k]} / {after.get(k)}" for k in differ[:3]))
            top = max(r["id"] for r in records if r["type"] == "article")
            made = srv.create_article(title="After the move", body="New here.")
            tap.check(made["id"] > top, f"a new article got id {made['id']}, not above {top}")
            ctop = max(r["id"] for r in records if r["type"] == "comment")
            comment = srv.create_comment(made["id"], body="A new comment")
            tap.check(comment["id"] > ctop, f"a new comment got id {comment['id']}, not above "
                                            f"{ctop}")
            tap.stop_server(srv, name=f"the {dst_kind} server stops")
    finally:
        for db in databases:
            db.drop()
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)


tap.run("SQLite to PostgreSQL: export, import, the same export and answers", move,
        "sqlite", "postgres")
tap.run("PostgreSQL to SQLite: export, import, the same export and answers", move,
        "postgres", "sqlite")
tap.done()
