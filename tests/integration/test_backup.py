#!/usr/bin/env python3
"""test_backup.py: `newsd backup FILE`, `newsd export [FILE]` and the import of an export.

The round trip: a rich database (drafts, unicode, tags, categories, an edited
article, a deleted article, threads four levels deep with a deleted comment
whose replies moved up, pending comments under comment-moderation = pre, a
plain-text import) is exported while its server runs, imported into an empty
database and exported again: the two files are the same bytes, and a server
on each database gives the same answer, byte for byte, to every list page,
article, comment, comment list (flat and tree, each status) and search.

The backup: taken while one thread posts comments and another reads, it
finishes, the requests during it all succeed and none waits long, and the
copy passes integrity_check, holds every comment made before it began and
nothing that was never made, and serves. A quiet database backs up to a copy
that exports the same bytes. Errors: exit status, message, and no file (not
even half a one) under the destination's name.

On PostgreSQL the round trip and the export errors run the same (the empty
database is a new PostgreSQL one); `newsd backup` copies a SQLite file, so
there it must refuse, naming PostgreSQL's own tools, and the points about
the copy are skipped.
"""

import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    SLOWDOWN, Server, Tap, binary_from_argv, db_sql, is_postgres, run_cli, scratch_db,
)

BIN = binary_from_argv()
tap = Tap()

BACKED_UP = re.compile(r"^backed up (\d+) pages to (.+)$", re.M)

PLAIN_TEXT = """Harbour café reopens after the storm
Harbour café reopens after the storm

The café on the harbour wall reopened on Sunday, three months after the storm.

Its owner, Zoë Brandt, said the new windows face the lighthouse.

Source link
Posted in
Local News
Weekend
Leave a Comment
"""


def cli(db, *args, timeout=60):
    return run_cli(BIN, ["--db", db, *args], timeout=timeout)


def describe(proc):
    return f"status {proc.returncode}\nstdout: {proc.stdout[-800:]}\nstderr: {proc.stderr[-800:]}"


def leftovers(folder):
    """Temporary files of a backup or export left in folder."""
    return [n for n in os.listdir(folder) if ".tmp-" in n]


# ---- the rich database ------------------------------------------------------


def must(resp, status, what):
    if resp.status != status:
        raise RuntimeError(f"{what}: want {status}, got {resp}")
    return resp.json


def build(srv, folder):
    """Fills srv's database; returns the ids of what it made."""
    art = lambda **f: srv.create_article(**f)  # noqa: E731
    made = {}
    made["tram"] = art(title="Tramway extension opens to Quarry Hill", slug="tram-quarry",
                       body="The extended tramway carried its first passengers.\n\nEleven "
                            "minutes a ride.", author="Ines Marlow", category="Transport",
                       tags=["trams", "quarry-hill", "Ünïcode"],
                       source_url="https://news.example/tram",
                       published_at="2021-03-04T05:06:07Z")["id"]
    made["unicode"] = art(title="Ночной рынок “open late” — 夜市 ✓ שלום",
                          body="Emoji 🎉, combining e\u0301, tab\tand\nnew line.",
                          summary="A hand-written summary with “quotes”.",
                          category="Welt & Kultur", tags=["夜市", "night"],
                          published_at="2022-05-06T07:08:09+02:00")["id"]
    made["draft"] = art(title="Draft: library roof survey", body="Not yet published.",
                        status="draft", tags=["library"])["id"]
    gone = art(title="An article that is deleted", body="Soon gone.")["id"]
    for i in range(7):
        art(title=f"Harbour note number {i}", body=f"Harbour lights, entry {i}.",
            category="Harbour" if i % 2 else "Transport", tags=[f"t{i % 3}"],
            published_at=f"2020-01-0{i + 1}T10:00:00Z")
    must(srv.request("DELETE", f"/v1/articles/{gone}", auth=True), 204, "delete article")
    time.sleep(1.1)  # so that updated_at differs from created_at
    must(srv.request("PATCH", f"/v1/articles/{made['tram']}",
                     {"title": "Tramway extension opens to Quarry Hill at last",
                      "tags": ["trams", "edited"], "summary": None}, auth=True), 200, "edit")

    def post(aid, parent=None, body="A comment", author="reader"):
        fields = {"author": author, "body": body}
        if parent:
            fields["parent_id"] = parent
        return must(srv.request("POST", f"/v1/articles/{aid}/comments", fields, auth=True),
                    201, "post comment")["id"]

    def approve(cid, status="visible"):
        must(srv.request("PATCH", f"/v1/comments/{cid}", {"status": status}, auth=True), 200,
             "moderate")

    tram = made["tram"]
    c1 = post(tram, body="Top: at last!")
    c2 = post(tram, c1, body="Level two, soon deleted")
    c3 = post(tram, c2, body="Level three — ünïcode ✓", author="Zoë")
    c4 = post(tram, c3, body="Level four\nwith a line break")
    c5 = post(tram, body="Second top-level comment")
    pending_top = post(tram, body="Waiting for a moderator")
    pending_reply = post(tram, c1, body="A reply still pending")
    hidden = post(tram, c5, body="Approved, then hidden again")
    for cid in (c1, c2, c3, c4, c5, hidden):
        approve(cid)
    approve(hidden, "pending")
    must(srv.request("DELETE", f"/v1/comments/{c2}", auth=True), 204, "delete comment")
    u1 = post(made["unicode"], body="夜市 is great")
    approve(u1)
    approve(post(made["unicode"], u1, body="Agreed 🎉"))
    post(made["unicode"], body="Pending on the unicode article")
    made["comments"] = [c1, c3, c4, c5, pending_top, pending_reply, hidden, u1]
    made["deleted_comment"] = c2

    # articles with import keys: a plain-text import and a JSON-lines one
    plain = os.path.join(folder, "cafe.txt")
    with open(plain, "w", encoding="utf-8") as f:
        f.write(PLAIN_TEXT)
    proc = cli(srv.db, "import", plain)
    if proc.returncode != 0:
        raise RuntimeError("plain import: " + describe(proc))
    lines = os.path.join(folder, "more.jsonl")
    with open(lines, "w", encoding="utf-8") as f:
        f.write(json.dumps({"type": "article", "title": "Imported by lines",
                            "body": "From a JSON-lines file.", "tags": ["bulk"]}) + "\n")
        f.write(json.dumps({"type": "comment", "article_slug": "imported-by-lines",
                            "author": "bulk", "body": "A bulk comment"}) + "\n")
    proc = cli(srv.db, "import", "--jsonl", lines)
    if proc.returncode != 0:
        raise RuntimeError("jsonl import: " + describe(proc))
    return made


# ---- comparing two servers ----------------------------------------------------


# A fixed request id, so that problem documents (which name it) compare equal too.
SAME_ID = {"X-Request-Id": "backup-comparison"}


def pages(srv, path, auth):
    """Every page of a list from path on: [(path, status, body)]."""
    out, target = [], path
    while target is not None and len(out) < 200:
        resp = srv.request("GET", target, headers=SAME_ID, auth=auth)
        out.append((target, resp.status, resp.body))
        cursor = resp.json.get("next_cursor") if resp.status == 200 else None
        sep = "&" if "?" in path else "?"
        target = None if cursor is None else path + sep + "cursor=" + urllib.parse.quote(
            cursor, safe="")
    return out


def answers(srv, made):
    """The answers to every read worth comparing, as {label: (status, body)}."""
    out = {}

    def get(path, auth=False):
        resp = srv.request("GET", path, headers=SAME_ID, auth=auth)
        out[f"{path} auth={auth}"] = (resp.status, resp.body)
        return resp

    for query, auth in (("", False), ("?status=any", True), ("?status=draft", True),
                        ("?tag=trams", False), ("?category=Harbour", False),
                        ("?author=Ines%20Marlow", False), ("?since=2020-01-03T00:00:00Z", False)):
        sep = "&" if query else "?"
        for target, status, body in pages(srv, f"/v1/articles{query}{sep}limit=3", auth):
            out[f"{target} auth={auth}"] = (status, body)
    every = get("/v1/articles?status=any&limit=100", auth=True).json["data"]
    for item in every:
        get(f"/v1/articles/{item['id']}", auth=True)
        get(f"/v1/articles/{item['slug']}", auth=False)
        for status, auth in (("visible", False), ("pending", True), ("any", True)):
            for view in ("", "&view=tree"):
                path = f"/v1/articles/{item['id']}/comments?status={status}{view}&limit=2"
                for target, code, body in pages(srv, path, auth):
                    out[f"{target} auth={auth}"] = (code, body)
    for cid in made["comments"] + [made["deleted_comment"]]:
        get(f"/v1/comments/{cid}", auth=True)
        get(f"/v1/comments/{cid}", auth=False)
    for q in ("harbour", "caf%C3%A9", "tram*", "%E5%A4%9C%E5%B8%82", "lights%20-entry"):
        get(f"/v1/search?q={q}")
        get(f"/v1/search?q={q}&status=any", auth=True)
        get(f"/v1/search?q={q}&type=comments")
    return out


def compare_servers(a, b, made):
    got_a, got_b = answers(a, made), answers(b, made)
    tap.eq(sorted(got_b), sorted(got_a), "the same requests were made")
    diffs = [k for k in got_a if got_a[k] != got_b.get(k)]
    tap.check(not diffs, f"{len(diffs)} of {len(got_a)} answers differ, e.g. " +
              "; ".join(f"{k}: {got_a[k]!r:.300} vs {got_b.get(k)!r:.300}" for k in diffs[:3]))
    tap.check(len(got_a) > 150, f"only {len(got_a)} answers compared")
    statuses = {s for s, _ in got_a.values()}
    tap.check(statuses == {200, 404}, f"statuses seen: {statuses}")  # 404: deleted comment


def test_round_trip(srv, folder, made):
    first = os.path.join(folder, "a.jsonl")
    proc = cli(srv.db, "export", first)
    tap.require(proc.returncode == 0, "export A: " + describe(proc))
    tap.check(re.search(r"exported 12 articles and 11 comments to ", proc.stdout),
              "export A counts: " + describe(proc))
    with open(first, "rb") as f:
        text = f.read()
    lines = text.decode("utf-8").splitlines()
    tap.eq(json.loads(lines[0]), {"type": "newsd-export", "version": 1}, "header line")
    records = [json.loads(line) for line in lines[1:]]
    kinds = [r["type"] for r in records]
    tap.eq(kinds, ["article"] * 12 + ["comment"] * 11, "articles, then comments")
    by_id = {r["id"]: r for r in records if r["type"] == "comment"}
    tap.check(made["deleted_comment"] not in by_id, "the deleted comment is not exported")
    c1, c3 = made["comments"][0], made["comments"][1]
    tap.eq(by_id.get(c3, {}).get("parent_id"), c1, "its reply hangs where newsd moved it")
    tap.eq(sorted(r["status"] for r in by_id.values()).count("pending"), 4, "pending comments")
    tap.check(all("comment_count" not in r for r in records), "comment_count is not exported")
    tap.check(srv.key.encode() not in text and b"integration-" not in text,
              "no API key (nor its name) in the export")

    proc = cli(srv.db, "export")
    tap.eq(proc.stdout.encode("utf-8"), text, "export to stdout = export to a file")
    tap.check("exported 12 articles and 11 comments" in proc.stderr, "count on stderr")

    fresh = scratch_db(folder, "restored")
    proc = cli(fresh, "import", "--jsonl", first)
    tap.require(proc.returncode == 0, "import A: " + describe(proc))
    tap.check("12 articles created, 0 existing, 11 comments created, 0 lines refused"
              in proc.stdout, "import counts: " + describe(proc))
    second = os.path.join(folder, "b.jsonl")
    proc = cli(fresh, "export", second)
    tap.require(proc.returncode == 0, "export B: " + describe(proc))
    with open(second, "rb") as f:
        tap.check(f.read() == text, "export B is byte-identical to export A")
    with Server(BIN, db=fresh) as other:
        compare_servers(srv, other, made)
        tap.stop_server(other, name="the restored server exits 0")

    proc = cli(fresh, "import", "--jsonl", first)
    tap.eq(proc.returncode, 1, "importing the export again: " + describe(proc))
    tap.check(re.search(r"a\.jsonl:2: id: \d+ is taken", proc.stderr),
              "the second import names the taken ids: " + describe(proc))
    proc = cli(fresh, "export")
    tap.eq(proc.stdout.encode("utf-8"), text, "a refused import changed nothing")

    # Ids go on above the restored ones, even once the newest restored
    # article and comment are deleted (they are never given again).
    top_article = max(r["id"] for r in records if r["type"] == "article")
    top_comment = max(by_id)
    with Server(BIN, db=fresh) as other:
        must(other.request("DELETE", f"/v1/comments/{top_comment}", auth=True), 204,
             "deleting the newest restored comment")
        newest = next(r for r in records if r["id"] == top_article and r["type"] == "article")
        must(other.request("DELETE", f"/v1/articles/{top_article}", auth=True), 204,
             "deleting the newest restored article")
        article = other.create_article(title="After the restore", body="New text.")
        tap.eq(article["id"], top_article + 1, "the next article's id (not the deleted one's)")
        older = made["tram"] if made["tram"] != top_article else made["unicode"]
        comment = other.create_comment(older)
        tap.eq(comment["id"], top_comment + 1, "the next comment's id (not the deleted one's)")
        tap.check(newest["slug"] != article["slug"], "a new slug")
        tap.stop_server(other, name="the restored server exits 0 after new writes")


# ---- backups ------------------------------------------------------------------------


def load_bulk(db, folder, n=1200):
    """Makes the database big enough (about 30 MB) that a backup takes a while."""
    path = os.path.join(folder, "bulk.jsonl")
    paragraph = "Ships came and went past the harbour lights all night long. " * 20
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"type": "article", "title": f"Bulk article {i}",
                                "body": f"{i}: " + paragraph * 8, "tags": [f"b{i % 10}"]})
                    + "\n")
    proc = cli(db, "import", "--jsonl", path, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError("bulk import: " + describe(proc))


class Load:
    """A writer posting comments and a reader, each in a thread, timing every request."""

    def __init__(self, srv, article_id):
        self.srv, self.aid = srv, article_id
        self.stop = threading.Event()
        self.log = []  # (kind, started, ended, status, comment id)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.write, daemon=True),
                        threading.Thread(target=self.read, daemon=True)]

    def record(self, kind, started, resp):
        cid = resp.json.get("id") if kind == "write" and resp.status == 201 else None
        with self.lock:
            self.log.append((kind, started, time.monotonic(), resp.status, cid))

    def write(self):
        conn = self.srv.connection()
        i = 0
        while not self.stop.is_set():
            started = time.monotonic()
            resp = self.srv.request("POST", f"/v1/articles/{self.aid}/comments",
                                    {"author": "loader", "body": f"Comment {i} during load"},
                                    conn=conn)
            self.record("write", started, resp)
            i += 1
        conn.close()

    def read(self):
        conn = self.srv.connection()
        while not self.stop.is_set():
            started = time.monotonic()
            self.record("read", started, self.srv.request(
                "GET", f"/v1/articles/{self.aid}/comments?limit=5", conn=conn))
        conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)
        return False


def comment_ids(db, article_id=None):
    """The ids of the comments in the database file db (of one article, or all)."""
    sql, args = "SELECT id FROM comments", ()
    if article_id is not None:
        sql, args = sql + " WHERE article_id = ?", (article_id,)
    return {row[0] for row in db_sql(db, sql, args, readonly=True)}


def test_backup_under_load(srv, folder):
    load_bulk(srv.db, folder)
    aid = srv.create_article(title="Busy thread", body="Comments arrive all the time.")["id"]
    copy = os.path.join(folder, "live-copy.db")
    with Load(srv, aid) as load:
        time.sleep(0.5)
        before = comment_ids(srv.db)
        started = time.monotonic()
        proc = cli(srv.db, "backup", copy, timeout=300)
        ended = time.monotonic()
        time.sleep(0.3)
    after = comment_ids(srv.db)
    tap.require(proc.returncode == 0, "backup under load: " + describe(proc))
    m = BACKED_UP.search(proc.stdout)
    tap.check(m and int(m.group(1)) > 1000 and m.group(2) == copy,
              "backed up N pages to FILE: " + describe(proc))
    tap.diag(f"backup of {m.group(1) if m else '?'} pages took {ended - started:.2f} s")

    during = [e for e in load.log if e[1] < ended and e[2] > started]
    writes = [e for e in during if e[0] == "write"]
    reads = [e for e in during if e[0] == "read"]
    tap.check(len(writes) >= 3 and len(reads) >= 3,
              f"requests overlapped the backup: {len(writes)} writes, {len(reads)} reads")
    bad = [e for e in load.log if e[3] not in (200, 201)]
    tap.check(not bad, f"{len(bad)} requests failed, e.g. {bad[:3]}")
    slowest = max((e[2] - e[1] for e in during), default=0)
    tap.diag(f"during it: {len(writes)} writes, {len(reads)} reads, slowest {slowest:.3f} s")
    # A writer kept out by a lock would wait busy-timeout (5 s) and fail with 503.
    tap.check(slowest < 2.0 * SLOWDOWN, f"slowest request during the backup: {slowest:.2f} s")
    tap.check(len(after) > len(before), "comments were written meanwhile")

    tap.eq(db_sql(copy, "PRAGMA integrity_check", readonly=True), [("ok",)], "integrity_check")
    in_copy = comment_ids(copy)
    tap.check(before <= in_copy, "the copy holds every comment made before it began")
    tap.check(in_copy <= after, "the copy holds no comment that was never made")
    tap.eq(leftovers(folder), [], "no temporary file is left")
    tap.eq(oct(os.stat(copy).st_mode & 0o777), "0o600", "the copy is private (key hashes)")

    with Server(BIN, db=copy) as restored:
        items, _ = restored.walk(f"/v1/articles/{aid}/comments?status=any&limit=100")
        tap.eq({c["id"] for c in items}, comment_ids(copy, aid),
               "the copy serves every comment it holds")
        tap.eq(restored.request("GET", "/v1/articles?tag=b3").status, 200, "a list from the copy")
        tap.eq(restored.request("GET", "/v1/search?q=harbour").status, 200, "search in the copy")
        tap.stop_server(restored, name="a server on the copy exits 0")


def test_quiet_backup(srv, folder):
    copy = os.path.join(folder, "quiet-copy.db")
    with open(copy, "w") as f:
        f.write("an older backup, replaced")
    proc = cli(srv.db, "backup", copy)
    tap.require(proc.returncode == 0, "backup: " + describe(proc))
    live, copied = cli(srv.db, "export"), cli(copy, "export")
    tap.check(live.returncode == 0 and copied.returncode == 0, "exports of both")
    tap.check(live.stdout == copied.stdout and len(live.stdout) > 1000,
              "the copy exports the same bytes as the live database")


def test_backup_errors(folder, live_db):
    cases = os.path.join(folder, "errors")
    os.mkdir(cases)
    dest = os.path.join(cases, "copy.db")
    missing = os.path.join(cases, "missing.db")

    proc = cli(missing, "backup", dest)
    tap.eq(proc.returncode, 1, "missing database: " + describe(proc))
    tap.check("there is no database at" in proc.stderr, "missing database: message")
    tap.check(not os.path.exists(missing), "backup does not create the missing database")

    for target, label in ((live_db, "the database itself"), (live_db + "-wal", "its WAL"),
                          (live_db + "-shm", "its shared memory"),
                          (live_db + "-journal", "its journal (absent)")):
        proc = cli(live_db, "backup", target)
        tap.eq(proc.returncode, 1, f"backup over {label}: " + describe(proc))
        tap.check("is the database or one of its files" in proc.stderr, f"{label}: message")
    tap.check(not os.path.exists(live_db + "-journal"), "no journal file was made")
    link = os.path.join(cases, "link.db")
    os.symlink(live_db, link)
    proc = cli(live_db, "backup", link)
    tap.eq(proc.returncode, 1, "backup over a link to the database: " + describe(proc))

    for target, label, words in ((os.path.join(cases, "no", "such", "dir.db"),
                                  "a missing directory", "cannot write"),
                                 ("/proc/newsd-backup.db", "an unwritable place", "cannot write"),
                                 (cases, "a directory", "is a directory")):
        proc = cli(live_db, "backup", target)
        tap.eq(proc.returncode, 1, f"backup to {label}: " + describe(proc))
        tap.check(words in proc.stderr, f"backup to {label}: message: {proc.stderr!r}")

    # a backup that fails half-way leaves FILE as it was
    with open(dest, "w") as f:
        f.write("the previous backup")
    notdb = os.path.join(cases, "not-a-db.db")
    with open(notdb, "wb") as f:
        f.write(b"SQLite format 3\x00" + b"\xff" * 4080)
    proc = cli(notdb, "backup", dest)
    tap.eq(proc.returncode, 1, "backup of a damaged database: " + describe(proc))
    with open(dest) as f:
        tap.eq(f.read(), "the previous backup", "FILE keeps what it held")
    tap.eq(leftovers(cases), [], "no temporary file is left after a failure")



def test_export_errors(folder, live_db):
    cases = os.path.join(folder, "export-errors")
    os.mkdir(cases)
    for args, label in ((["backup"], "backup without FILE"), (["backup", "a", "b"], "two FILEs"),
                        (["export", "a", "b"], "export with two FILEs")):
        proc = cli(live_db, *args)
        tap.eq(proc.returncode, 2, f"{label}: " + describe(proc))
        tap.check("usage" in proc.stderr, f"{label}: usage message")

    if not is_postgres(live_db):
        proc = cli(live_db, "export", live_db)
        tap.eq(proc.returncode, 1, "export over the database: " + describe(proc))
    proc = cli(live_db, "export", cases)
    tap.eq(proc.returncode, 1, "export to a directory: " + describe(proc))
    proc = cli(live_db, "export", "/proc/newsd-export.jsonl")
    tap.eq(proc.returncode, 1, "export to an unwritable place: " + describe(proc))
    tap.eq(leftovers(cases), [], "no temporary file is left by export")

    # an export header of another version stops the import
    future = os.path.join(cases, "future.jsonl")
    with open(future, "w") as f:
        f.write('{"type":"newsd-export","version":2}\n')
    proc = cli(scratch_db(cases, "fresh"), "import", "--jsonl", future)
    tap.eq(proc.returncode, 1, "import of a newer export: " + describe(proc))
    tap.check("reads export version 1" in proc.stderr, "newer export: message")


def test_backup_postgres(srv, folder):
    dest = os.path.join(folder, "pg-copy.db")
    proc = cli(srv.db, "backup", dest)
    tap.eq(proc.returncode, 1, "backup of a PostgreSQL database: " + describe(proc))
    tap.check("pg_dump" in proc.stderr and "export" in proc.stderr,
              "the refusal names pg_dump and newsd export: " + describe(proc))
    tap.check(srv.db not in proc.stderr, "the refusal does not print the URI: " + describe(proc))
    tap.check(not os.path.exists(dest) and leftovers(folder) == [], "no file is left")


def session():
    with tempfile.TemporaryDirectory(prefix="newsd-backup-") as folder:
        with Server(BIN, args=["--comment-moderation", "pre"]) as srv:
            made = tap.run("build a rich database over the API", build, srv, folder)
            if made is None:
                tap.done()
            tap.run("export, import into an empty database, export again: the same bytes, "
                    "and every API answer the same", test_round_trip, srv, folder, made)
            backups = (("a quiet backup exports the same bytes", test_quiet_backup, srv, folder),
                       ("backup under a concurrent write load: requests go on, the copy is "
                        "consistent and serves", test_backup_under_load, srv, folder),
                       ("backup errors: exit status, message, no partial file",
                        test_backup_errors, folder, srv.db))
            for name, fn, *args in backups:
                if is_postgres(srv.db):
                    tap.skip(name, "newsd backup copies a SQLite file (PostgreSQL: pg_dump)")
                else:
                    tap.run(name, fn, *args)
            if is_postgres(srv.db):
                tap.run("backup of a PostgreSQL database: refused, naming pg_dump",
                        test_backup_postgres, srv, folder)
            tap.run("export errors: exit status, message, no partial file",
                    test_export_errors, folder, srv.db)
            tap.stop_server(srv)
    tap.done()


session()
