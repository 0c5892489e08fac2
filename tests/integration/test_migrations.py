#!/usr/bin/env python3
"""test_migrations.py: a database of an older schema upgraded by the real binary.

A database made at migration 0008 (the scripts of migrations/sqlite/ run by Python's
sqlite3, as newsd would have), and one at 0004, hold articles with tags, drafts, deleted
articles and comments, threaded and pending comments. `newsd migrate` brings
each to the newest schema; then every row is what it was, the schema (tables,
indexes, triggers) is the one a new database gets, PRAGMA foreign_key_check,
integrity_check and the search indexes' own integrity-check are clean, and
a server on it shows every article and comment, finds them by search and
never gives a deleted id to a new article or comment. A database at 0010 with
2,000 articles of 5 KB goes through 0011's rebuild of the articles table (body
moved last) with every row, its search text and a clean integrity check.
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Tap, binary_from_argv, expect, run_cli, source_root  # noqa: E402

BIN = binary_from_argv(("sqlite",), "upgrades of SQLite files made by older migrations; "
                       "the PostgreSQL schema is test_postgres_schema's")
tap = Tap()

OLD = {1, 2, 3, 4}  # an early schema
CURRENT = {1, 2, 3, 4, 6, 7, 8}  # the schema just before ids were kept from reuse (0009)
BEFORE_BODY_LAST = CURRENT | {9, 10}  # the schema before body became the last column (0011)
WORDS = ["harbour", "orchard", "tramway", "library", "election", "cider", "quarry", "lantern"]


def migration_scripts():
    folder = os.path.join(source_root(), "migrations", "sqlite")
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder))
            if re.match(r"^\d{4}_.*\.sql$", n)]


def schema_at(path, versions):
    """A new database with the migrations of versions applied, open."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
               "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    for script in migration_scripts():
        name = os.path.basename(script)
        version = int(name[:4])
        if version not in versions:
            continue
        with open(script, encoding="utf-8") as f:
            db.executescript(f.read())
        db.execute("INSERT INTO schema_migrations VALUES (?, ?, '2025-01-01T00:00:00Z')",
                   (version, name))
    # on after the scripts, as migrate.c has it: 0009 drops tables that others refer to
    db.execute("PRAGMA foreign_keys=ON")
    return db


def old_database(path, versions):
    """A database with the migrations of versions applied and data in it."""
    db = schema_at(path, versions)
    db.execute("BEGIN")
    for i in range(1, 41):
        word = WORDS[i % len(WORDS)]
        tags = [f"tag{i % 3}", word] if i % 4 else []
        status = "draft" if i % 10 == 0 else "published"
        at = 1_600_000_000 + i * 3600
        db.execute(
            "INSERT INTO articles (slug, title, summary, body, author, category, tags, "
            "source_url, status, published_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f"story-{i}", f"Story {i} about the {word}", f"Summary {i}.",
             f"The {word} story number {i}.\n\nA second paragraph.", f"Author {i % 5}",
             ["Local", "World", ""][i % 3], json.dumps(tags, separators=(",", ":")),
             f"https://news.example/{i}" if i % 2 else None, status, at, at, at + 60))
        for tag in tags:
            db.execute("INSERT INTO article_tags (tag, article_id, tagged_at, tagged_status) "
                       "VALUES (?, ?, ?, ?)", (tag, i, at, status))
    for i in range(1, 81):
        article = 1 + (i * 7) % 39
        last = db.execute("SELECT max(id) FROM comments WHERE article_id = ?",
                          (article,)).fetchone()[0]
        parent = last if i % 3 == 0 else None
        db.execute("INSERT INTO comments (article_id, parent_id, author, body, status, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   (article, parent, f"reader{i % 4}", f"Comment {i} on the {WORDS[i % 8]}",
                    "pending" if i % 9 == 0 else "visible", 1_700_000_000 + i))
    # Gaps: deleted articles (with their comments and tags) and comments.
    for gone in (5, 17):
        db.execute("DELETE FROM comments WHERE article_id = ?", (gone,))
        db.execute("DELETE FROM articles WHERE id = ?", (gone,))
    if 8 in versions:  # importers' keys on some comments, to be kept
        db.execute("UPDATE comments SET import_key = 'wp:' || id WHERE id % 5 = 0")
    db.execute("UPDATE comments SET parent_id = NULL WHERE parent_id IN (12, 30)")
    db.execute("DELETE FROM comments WHERE id IN (12, 30)")
    db.execute("COMMIT")
    db.close()


def large_database(path, count):
    """A database at 0010 with count articles of about 5 KB, the size of the
    benchmark's, with a comment each."""
    db = schema_at(path, BEFORE_BODY_LAST)
    db.execute("BEGIN")
    for i in range(1, count + 1):
        body = " ".join(WORDS[(i * k) % len(WORDS)] + str(k % 97) for k in range(700))
        db.execute("INSERT INTO articles (slug, title, summary, body, author, category, tags, "
                   "published_at, created_at, updated_at, import_key) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (f"long-{i}", f"Long story {i}", "A summary.", body, f"Author {i % 7}",
                    "World", '["long"]', 1_600_000_000 + i, 1_600_000_000 + i, 1_600_000_000 + i,
                    f"{i:064x}"))
        db.execute("INSERT INTO article_tags (tag, article_id, tagged_at, tagged_status) "
                   "VALUES ('long', ?, ?, 'published')", (i, 1_600_000_000 + i))
        db.execute("INSERT INTO comments (article_id, author, body, created_at) "
                   "VALUES (?, 'reader', ?, ?)", (i, f"On story {i}", 1_700_000_000 + i))
    db.execute("COMMIT")
    db.close()


def test_large(path, count):
    """0011 copies every article into a new table and drops the old one, both
    in the migration's one transaction: every row, its search text and the
    schema must come through."""
    before = snapshot(path)
    proc = run_cli(BIN, ["--db", path, "migrate"])
    tap.require(proc.returncode == 0, f"migrate: {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    applied = len([v for v in (int(os.path.basename(p)[:4]) for p in migration_scripts())
                   if v not in BEFORE_BODY_LAST])
    tap.check(f"applied {applied} migrations" in proc.stdout,
              f"0011 and the {applied - 1} after it applied: {proc.stdout}")
    after = snapshot(path, {what: before[what + ":columns"] for what in TABLES})
    for what in TABLES:
        tap.eq(len(after[what]), count, f"{what}: row count")
        tap.check(after[what] == before[what], f"{what}: every row as it was")
    db = sqlite3.connect(path)
    try:
        tap.eq([r[1] for r in rows(db, "PRAGMA table_info(articles)")][-1], "body",
               "body is the last column")
        tap.eq(rows(db, "PRAGMA integrity_check"), [("ok",)], "integrity_check")
        db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
        tap.eq(rows(db, "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'long'"),
               [(count,)], "search reads the moved bodies")
    finally:
        db.close()


def rows(db, sql):
    return db.execute(sql).fetchall()


COPIED = {"tagged_category"}  # added columns that copy their article's
TABLES = {"articles": ("articles", "id"), "comments": ("comments", "id"),
          "tags": ("article_tags", "article_id, tag")}


def snapshot(path, columns=None):
    """Every row of each table, its columns in the order of columns[what] (a
    migration may move them: 0011 moved body last), else in the table's order."""
    db = sqlite3.connect(path)
    try:
        out = {}
        for what, (table, order) in TABLES.items():
            names = columns[what] if columns else [r[1] for r in
                                                   rows(db, f"PRAGMA table_info({table})")]
            out[what] = rows(db, f"SELECT {', '.join(names)} FROM {table} ORDER BY {order}")
            out[what + ":columns"] = names
        return out
    finally:
        db.close()


def schema(path):
    """name -> SQL of every index and trigger, and the tables' columns."""
    db = sqlite3.connect(path)
    try:
        out = {}
        for kind, name, sql in rows(db, "SELECT type, name, sql FROM sqlite_schema "
                                        "WHERE name NOT LIKE 'sqlite_autoindex%'"):
            out[(kind, name)] = sql if kind in ("index", "trigger") else None
        for table in ("articles", "comments", "article_tags"):
            out[("columns", table)] = rows(db, f"PRAGMA table_info({table})")
            out[("references", table)] = rows(db, f"PRAGMA foreign_key_list({table})")
        return out
    finally:
        db.close()


def test_migrate(old, fresh):
    """Returns the rows before, for the later points."""
    before = snapshot(old)
    proc = run_cli(BIN, ["--db", old, "migrate"])
    tap.require(proc.returncode == 0, f"migrate: {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    tap.require(re.search(r"applied (\d+) migrations", proc.stdout), "migrate output: " +
                proc.stdout)
    kept = snapshot(old, {what: before[what + ":columns"] for what in TABLES})
    after = snapshot(old)
    for what in TABLES:
        tap.eq(len(after[what]), len(before[what]), f"{what}: row count")
        tap.check(kept[what] == before[what], f"{what}: every row as it was")
        # a column a later migration added is NULL in the old rows (0008's import_key),
        # or the copy of its article's column (0013's tagged_category)
        added = [i for i, name in enumerate(after[what + ":columns"])
                 if name not in before[what + ":columns"] and name not in COPIED]
        tap.check(all(r[i] is None for r in after[what] for i in added),
                  f"{what}: the added columns are empty")
    db = sqlite3.connect(old)
    try:
        tap.eq(rows(db, "SELECT count(*) FROM article_tags t JOIN articles a "
                        "ON a.id = t.article_id WHERE t.tagged_category IS NOT a.category"),
               [(0,)], "tags: each row has its article's category (0013)")
    finally:
        db.close()
    tap.require(run_cli(BIN, ["--db", fresh, "migrate"]).returncode == 0, "a new database")
    got, want = schema(old), schema(fresh)
    tap.eq(sorted(got, key=str), sorted(want, key=str), "the same tables, indexes and triggers")
    for key in want:
        tap.eq(got.get(key), want[key], f"{key[0]} {key[1]}")
    db = sqlite3.connect(old)
    try:
        tap.eq(rows(db, "PRAGMA foreign_key_check"), [], "foreign_key_check")
        tap.eq(rows(db, "PRAGMA integrity_check"), [("ok",)], "integrity_check")
        for fts in ("articles_fts", "comments_fts"):
            db.execute(f"INSERT INTO {fts} ({fts}) VALUES ('integrity-check')")
        tap.eq(rows(db, "SELECT name, seq FROM sqlite_sequence "
                        "WHERE name IN ('articles', 'comments') ORDER BY name"),
               [("articles", 40), ("comments", 80)], "sqlite_sequence starts at the largest ids")
        tap.check("AUTOINCREMENT" in rows(db, "SELECT sql FROM sqlite_schema WHERE name = "
                                              "'articles'")[0][0], "articles: AUTOINCREMENT")
    finally:
        db.close()
    proc = run_cli(BIN, ["--db", old, "migrate"])
    tap.check(proc.returncode == 0 and "applied 0 migrations" in proc.stdout,
              "a second migrate applies nothing: " + proc.stdout + proc.stderr)
    return before


def test_served(srv, before):
    for row in before["articles"]:
        aid, slug, title = row[0], row[1], row[2]
        resp = srv.request("GET", f"/v1/articles/{aid}", auth=True)
        visible = sum(1 for c in before["comments"] if c[1] == aid and c[5] == "visible")
        if not expect(tap, resp, 200, {"id": aid, "slug": slug, "title": title, "body": row[4],
                                        "tags": json.loads(row[7]),
                                        "comment_count": visible}, what=f"article {aid}"):
            return
    for row in before["comments"]:
        resp = srv.request("GET", f"/v1/comments/{row[0]}", auth=True)
        parent = row[2]
        if not expect(tap, resp, 200, {"id": row[0], "article_id": row[1], "parent_id": parent,
                                        "body": row[4], "status": row[5]},
                      what=f"comment {row[0]}"):
            return
    tagged = [r[0] for r in before["articles"] if "tag1" in json.loads(r[7]) and r[9] ==
              "published"]
    resp = srv.request("GET", "/v1/articles?tag=tag1&limit=100")
    expect(tap, resp, 200, what="tag filter")
    tap.eq(sorted(a["id"] for a in resp.json["data"]), sorted(tagged), "articles tagged tag1")


def test_search(srv, before):
    want = sorted(r[0] for r in before["articles"] if "lantern" in r[4] and r[9] == "published")
    resp = srv.request("GET", "/v1/search?q=lantern&limit=100")
    expect(tap, resp, 200, what="article search")
    tap.eq(sorted(a["id"] for a in resp.json["data"]), want, "articles found for lantern")
    drafts = {r[0] for r in before["articles"] if r[9] == "draft"}
    want = sorted(r[0] for r in before["comments"]
                  if "orchard" in r[4] and r[5] == "visible" and r[1] not in drafts)
    resp = srv.request("GET", "/v1/search?q=orchard&type=comments&limit=100")
    expect(tap, resp, 200, what="comment search")
    tap.eq(sorted(c["id"] for c in resp.json["data"]), want, "comments found for orchard")


def test_new_ids(srv):
    created = srv.create_article(title="Written after the upgrade about a lantern", body="New.")
    tap.eq(created["id"], 41, "the first new article")
    expect(tap, srv.request("DELETE", f"/v1/articles/{created['id']}", auth=True), 204,
           empty_body=True, what="deleting it")
    again = srv.create_article(title="And another one", body="Newer.")
    tap.eq(again["id"], 42, "the next article skips the deleted id")
    comment = srv.create_comment(again["id"], body="First comment after the upgrade")
    tap.eq(comment["id"], 81, "the first new comment")
    expect(tap, srv.request("DELETE", f"/v1/comments/{comment['id']}", auth=True), 204,
           empty_body=True, what="deleting it")
    tap.eq(srv.create_comment(again["id"])["id"], 82, "the next comment skips the deleted id")
    resp = srv.request("GET", "/v1/search?q=lantern&limit=100")
    tap.check(all(a["id"] != 41 for a in resp.json["data"]), "the deleted article left search")


WAL_WRITER = """
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA wal_autocheckpoint=0")
for i in range(41, 46):
    db.execute("INSERT INTO articles (slug, title, body, published_at, created_at, updated_at) "
               "VALUES (?, ?, 'In the log only.', 0, 0, 0)", (f"logged-{i}", f"Logged {i}"))
db.execute("INSERT INTO comments (article_id, author, body, created_at) "
           "VALUES (45, 'reader', 'A comment in the log only', 0)")
os._exit(0)  # no close: nothing is checkpointed, the rows stay in the WAL
"""


def test_wal_content(path):
    """Rows committed to the WAL but never checkpointed are migrated with the others."""
    proc = subprocess.run([sys.executable, "-c", WAL_WRITER, path], capture_output=True,
                          text=True, timeout=60)
    tap.require(proc.returncode == 0, "the WAL writer: " + proc.stderr)
    tap.require(os.path.getsize(path + "-wal") > 0, "the rows are in the WAL")
    proc = run_cli(BIN, ["--db", path, "migrate"])
    tap.eq(proc.returncode, 0, f"migrate: {proc.stdout}{proc.stderr}")
    db = sqlite3.connect(path)
    try:
        tap.eq(rows(db, "SELECT id, slug FROM articles WHERE id > 40 ORDER BY id"),
               [(i, f"logged-{i}") for i in range(41, 46)], "the logged articles")
        tap.eq(rows(db, "SELECT article_id, body FROM comments WHERE id > 80"),
               [(45, "A comment in the log only")], "the logged comment")
        tap.eq(rows(db, "SELECT name, seq FROM sqlite_sequence "
                        "WHERE name IN ('articles', 'comments') ORDER BY name"),
               [("articles", 45), ("comments", 81)], "sqlite_sequence counts the logged rows")
        tap.eq(rows(db, "SELECT version FROM schema_migrations WHERE version = 9"), [(9,)],
               "0009 applied")
        tap.eq(rows(db, "PRAGMA integrity_check"), [("ok",)], "integrity_check")
    finally:
        db.close()


def main():
    with tempfile.TemporaryDirectory(prefix="newsd-migrations-") as folder:
        fresh = os.path.join(folder, "fresh.db")
        # the schema of the release before 0009: its rebuild keeps the change-log
        # triggers (0006), the sort indexes (0007) and comments' import_key (0008)
        later = os.path.join(folder, "later.db")
        tap.run("a database at 0008 with data", old_database, later, CURRENT)
        tap.run("0009 keeps every row, index and trigger of 0006-0008", test_migrate, later,
                fresh)
        logged = os.path.join(folder, "logged.db")
        tap.run("a database at 0008 whose WAL holds rows", old_database, logged, CURRENT)
        tap.run("rows only in the WAL are migrated too", test_wal_content, logged)
        large = os.path.join(folder, "large.db")
        tap.run("a database at 0010 with 2,000 articles of 5 KB", large_database, large, 2000)
        tap.run("0011 rebuilds a large articles table", test_large, large, 2000)
        old = os.path.join(folder, "old.db")
        tap.run("a database at migration 0004 with data", old_database, old, OLD)  # 0006-0009 run
        before = tap.run("migrate keeps every row, index, trigger and reference", test_migrate,
                         old, fresh)
        if before is None:
            return
        with Server(BIN, db=old) as srv:
            tap.run("every article and comment served as it was", test_served, srv, before)
            tap.run("search finds the migrated text", test_search, srv, before)
            tap.run("new ids go above the old ones and are not reused", test_new_ids, srv)
            tap.stop_server(srv)


main()
tap.done()
