#!/usr/bin/env python3
"""test_durability.py: SIGKILL again and again under concurrent writers.

Writer threads post articles (bodies up to 30 KB, so the WAL checkpoints
now and then), post comments and replies, retitle articles and delete
others, while the server runs at its default synchronous=normal. At a random
moment the server is killed with SIGKILL; then, with the server dead, the
database file is checked with Python's sqlite3 (read-only): integrity_check
and foreign_key_check pass, every comment_count matches its comments, the
full-text indexes agree with their tables (checked on a copy), every write
answered 201/200/204 is there exactly as written, and nothing is there that
nobody tried to write. The server is restarted on the same file, the writes
of the last round are read back over HTTP, and the next round begins. At
the end every acknowledged write is read back over HTTP.

On PostgreSQL the same rounds run against a database of their own: a killed
newsd leaves its transactions to the server, which rolls them back; the
database is read with psql, and instead of SQLite's file checks the search
vectors are compared with the text.

Zero acknowledged writes may be lost: an answer is sent only after its
transaction committed, and a committed WAL transaction survives the death
of the process.
"""

import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    SANITIZER, SLOWDOWN, Server, Tap, binary_from_argv, db_sql, expect, http_request,
    is_postgres,
)

BIN = binary_from_argv(single="SIGKILL of the one process under writers, again and again")
tap = Tap()

# Under valgrind (SLOWDOWN > 1) each start takes seconds: fewer rounds there.
CYCLES = 24 if SLOWDOWN == 1 else 8
SEED = int(os.environ.get("ND_TEST_SEED", str(int(time.time()))))
WORDS = ("harbour lights council rail tram election night market river bridge café Straße "
         "naïve ünïcode 🦀 东京 report budget storm winter vote").split()


class Ledger:
    """What was written and acknowledged, and what may or may not have been.

    articles: id -> the fields sent; comments: id -> the fields sent;
    titles: id -> titles the article may carry now (the last acknowledged
    one, plus one whose PATCH was in flight at the kill); deleted: ids whose
    DELETE was acknowledged; doomed: ids whose DELETE was sent.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.articles = {}
        self.comments = {}
        self.titles = {}
        self.deleted = set()
        self.doomed = set()
        self.tried_titles = set()
        self.tried_comments = set()
        self.fresh = []
        self.errors = []
        self.reused = 0

    def note_error(self, what):
        with self.lock:
            self.errors.append(what)


def text(rng, n_words):
    words = [rng.choice(WORDS) for _ in range(n_words)]
    for i in range(7, len(words), 40):
        words[i] += "\n\n"
    return " ".join(words).replace("\n\n ", "\n\n").strip()


class Writers:
    """The writer threads of one round, against one running server."""

    def __init__(self, srv, ledger, round_no, seed):
        self.srv = srv
        self.ledger = ledger
        self.round_no = round_no
        self.seed = seed
        self.stop = threading.Event()
        self.killed_at = None
        self.threads = []
        self.mine = {}  # patcher thread -> ids it created

    def request(self, method, path, body, auth):
        headers = {"Authorization": "Bearer " + self.srv.key} if auth else {}
        try:
            return http_request(self.srv.port, method, path, body, headers, timeout=10 * SLOWDOWN)
        except (OSError, http.client.HTTPException) as e:
            if self.killed_at is None:
                self.ledger.note_error(f"{method} {path} failed before the kill: {e!r}")
            self.stop.set()
            return None

    def status_ok(self, resp, want, what):
        if resp is None:
            return False
        if resp.status != want:
            self.ledger.note_error(f"{what}: {resp.status} {resp.body[:200]!r}")
            return False
        return True

    def post_article(self, rng, tag, doomed=False):
        """Posts an article; doomed ones (about to be deleted) never get comments."""
        led = self.ledger
        title = f"R{self.round_no} {tag} {text(rng, rng.randint(1, 8))}"
        fields = {"title": title, "body": text(rng, rng.randint(5, 4000)),
                  "author": rng.choice(["", "Ana", "Bo Jensen", "Zoë"]),
                  "category": rng.choice(["", "World", "Local news"]),
                  "tags": sorted({rng.choice(WORDS[:8]) for _ in range(rng.randint(0, 3))})}
        with led.lock:
            led.tried_titles.add(title)
        resp = self.request("POST", "/v1/articles", fields, True)
        if not self.status_ok(resp, 201, "POST article"):
            return None
        art = resp.json
        fields["slug"] = art["slug"]
        with led.lock:
            # SQLite hands out the id of a deleted article again when it was
            # the highest: the new article takes the old one's place.
            if art["id"] in led.articles:
                led.reused += 1
            led.deleted.discard(art["id"])
            led.doomed.discard(art["id"])
            if doomed:
                led.doomed.add(art["id"])
            led.articles[art["id"]] = fields
            led.titles[art["id"]] = {title}
            led.fresh.append(("a", art["id"]))
        return art["id"], fields

    def articles_worker(self, n):
        rng = random.Random(self.seed * 100 + n)
        i = 0
        while not self.stop.is_set():
            self.post_article(rng, f"a{n}-{i}")
            i += 1

    def comments_worker(self, n):
        rng = random.Random(self.seed * 100 + 10 + n)
        led = self.ledger
        i = 0
        while not self.stop.is_set():
            with led.lock:
                targets = [a for a in led.articles if a not in led.doomed]
                art_id = rng.choice(targets)
                replies = [c for c, f in led.comments.items() if f["article_id"] == art_id]
            fields = {"author": f"w{self.round_no}-{n}-{i}", "body": text(rng, rng.randint(1, 300))}
            if replies and rng.random() < 0.3:
                fields["parent_id"] = rng.choice(replies)
            i += 1
            with led.lock:
                led.tried_comments.add((fields["author"], fields["body"]))
            resp = self.request("POST", f"/v1/articles/{art_id}/comments", fields, False)
            if self.status_ok(resp, 201, "POST comment"):
                fields.setdefault("parent_id", None)
                fields["article_id"] = art_id
                with led.lock:
                    led.comments[resp.json["id"]] = fields
                    led.fresh.append(("c", resp.json["id"]))

    def patch_worker(self):
        rng = random.Random(self.seed * 100 + 20)
        led = self.ledger
        own = []
        i = 0
        while not self.stop.is_set():
            if len(own) < 3:
                posted = self.post_article(rng, f"p-{i}")
                if posted is not None:
                    own.append(posted[0])
                i += 1
                continue
            art_id = rng.choice(own)
            title = f"R{self.round_no} retitled {i} {text(rng, 3)}"
            i += 1
            with led.lock:
                led.tried_titles.add(title)
                before = set(led.titles[art_id])
                led.titles[art_id] = before | {title}  # either, until the answer
            resp = self.request("PATCH", f"/v1/articles/{art_id}", {"title": title}, True)
            if self.status_ok(resp, 200, "PATCH article"):
                with led.lock:
                    led.titles[art_id] = {title}
                    led.fresh.append(("a", art_id))
            elif resp is not None:
                with led.lock:
                    led.titles[art_id] = before

    def delete_worker(self):
        rng = random.Random(self.seed * 100 + 30)
        led = self.ledger
        i = 0
        while not self.stop.is_set():
            posted = self.post_article(rng, f"d-{i}", doomed=True)
            i += 1
            if posted is None:
                continue
            art_id, fields = posted
            resp = self.request("DELETE", f"/v1/articles/{art_id}", None, True)
            if self.status_ok(resp, 204, "DELETE article"):
                with led.lock:
                    # Unless a newer article already took the id over.
                    if led.articles.get(art_id) is fields:
                        led.deleted.add(art_id)
                        led.fresh.append(("d", art_id))

    def start(self):
        targets = [(self.articles_worker, (0,)), (self.articles_worker, (1,)),
                   (self.comments_worker, (0,)), (self.comments_worker, (1,)),
                   (self.patch_worker, ()), (self.delete_worker, ())]
        for fn, args in targets:
            th = threading.Thread(target=fn, args=args, daemon=True)
            th.start()
            self.threads.append(th)

    def kill_and_join(self):
        self.killed_at = time.monotonic()
        self.srv.proc.send_signal(signal.SIGKILL)
        self.stop.set()
        for th in self.threads:
            th.join(15)
        return not any(th.is_alive() for th in self.threads)


# ---- checking the file ----------------------------------------------------------


def check_file(db, ledger, label):
    """The database, with the server dead: sound, and holding every
    acknowledged write exactly. SQLite's file is checked with its own
    checks; PostgreSQL checks its pages itself, so there the search
    vectors are compared with what the triggers make of the text."""
    def sql(statement):
        return db_sql(db, statement, readonly=True)
    if is_postgres(db):
        rows = sql("SELECT id FROM articles WHERE search <> newsd_tsvector(title, 'A') || "
                   "newsd_tsvector(summary, 'B') || newsd_tsvector_capped(body, 'C') "
                   "UNION ALL SELECT -id FROM comments "
                   "WHERE search <> newsd_tsvector_capped(body, 'D')")
        tap.check(not rows, f"{label}: search vectors disagree with the text: {rows[:5]}")
    else:
        rows = sql("PRAGMA integrity_check")
        tap.check(rows == [("ok",)], f"{label}: integrity_check: {rows[:5]}")
        rows = sql("PRAGMA foreign_key_check")
        tap.check(not rows, f"{label}: foreign_key_check: {rows[:5]}")
    rows = sql("SELECT a.id, a.comment_count, (SELECT count(*) FROM comments c "
               "WHERE c.article_id = a.id) FROM articles a WHERE a.comment_count "
               "<> (SELECT count(*) FROM comments c WHERE c.article_id = a.id)")
    tap.check(not rows, f"{label}: comment_count disagrees with the comments: {rows[:5]}")
    articles = {r[0]: r[1:] for r in sql(
        "SELECT id, title, body, author, category, tags, slug FROM articles")}
    comments = {r[0]: r[1:] for r in sql(
        "SELECT id, article_id, parent_id, author, body FROM comments")}
    compare_file(ledger, articles, comments, label)
    if not is_postgres(db):
        check_fts_copy(db, label)


def compare_file(ledger, articles, comments, label):
    with ledger.lock:
        lost, wrong = [], []
        for art_id, f in ledger.articles.items():
            if art_id in ledger.deleted:
                continue
            row = articles.get(art_id)
            if row is None:
                if art_id not in ledger.doomed:
                    lost.append(("article", art_id))
                continue
            title, body, author, category, tags, slug = row
            if (title not in ledger.titles[art_id] or body != f["body"] or author != f["author"]
                    or category != f["category"] or json.loads(tags) != f["tags"]
                    or slug != f["slug"]):
                wrong.append(("article", art_id, title))
        for c_id, f in ledger.comments.items():
            row = comments.get(c_id)
            if row is None:
                lost.append(("comment", c_id))
            elif row != (f["article_id"], f["parent_id"], f["author"], f["body"]):
                wrong.append(("comment", c_id, row[:3]))
        # A deleted article is back when its own title is; another title under
        # its id is a newer article (in flight at the kill) given the same id.
        back = [a for a in ledger.deleted if a in articles and articles[a][0] in ledger.titles[a]]
        strays = [t for t in (r[0] for r in articles.values()) if t not in ledger.tried_titles]
        stray_comments = [r[2] for r in comments.values()
                          if (r[2], r[3]) not in ledger.tried_comments]
        counts = (len(ledger.articles), len(ledger.comments), len(ledger.deleted))
    tap.check(not lost, f"{label}: {len(lost)} acknowledged writes lost: {lost[:10]}")
    tap.check(not wrong, f"{label}: {len(wrong)} writes not stored as written: {wrong[:10]}")
    tap.check(not back, f"{label}: deleted articles came back: {back[:10]}")
    tap.check(not strays, f"{label}: articles nobody wrote: {strays[:5]}")
    tap.check(not stray_comments, f"{label}: comments nobody wrote: {stray_comments[:5]}")
    return counts


def check_fts_copy(db, label):
    """FTS5's own integrity check needs a writable connection: run it on a copy."""
    with tempfile.TemporaryDirectory(prefix="newsd-fts-") as tmp:
        copy = os.path.join(tmp, "copy.db")
        shutil.copyfile(db, copy)
        if os.path.exists(db + "-wal"):
            shutil.copyfile(db + "-wal", copy + "-wal")
        con = sqlite3.connect(copy, isolation_level=None)
        try:
            for table in ("articles_fts", "comments_fts"):
                try:
                    con.execute(f"INSERT INTO {table}({table}) VALUES('integrity-check')")
                except sqlite3.DatabaseError as e:
                    tap.check(False, f"{label}: {table} integrity-check: {e}")
        finally:
            con.close()


# ---- checking over HTTP ---------------------------------------------------------


def http_mismatch(conn, ledger, kind, ident):
    """None when the write reads back right over HTTP; otherwise what is wrong."""
    if kind in ("a", "d"):
        resp = http_request(0, "GET", f"/v1/articles/{ident}", conn=conn)
        with ledger.lock:
            if ident in ledger.deleted:
                if resp.status == 404:
                    return None
                if resp.status != 200:
                    return f"deleted article {ident}: {resp.status}"
                back = (resp.json or {}).get("title") in ledger.titles[ident]
                return f"deleted article {ident} is back" if back else None
            if kind == "d":
                return None  # its id went to a newer article
            f, titles, doomed = ledger.articles[ident], ledger.titles[ident], ident in ledger.doomed
        if resp.status == 404 and doomed:
            return None
        got = resp.json or {}
        if resp.status != 200 or got.get("title") not in titles or any(
                got.get(k) != f[k] for k in ("body", "author", "category", "tags", "slug")):
            return f"article {ident}: {resp.status} {str(got)[:200]}"
        return None
    resp = http_request(0, "GET", f"/v1/comments/{ident}", conn=conn)
    with ledger.lock:
        f = ledger.comments[ident]
    got = resp.json or {}
    if resp.status != 200 or any(got.get(k) != f[k] for k in
                                 ("article_id", "parent_id", "author", "body")):
        return f"comment {ident}: {resp.status} {str(got)[:200]}"
    return None


def check_http(srv, ledger, items, label, workers=4):
    """Reads items ((kind, id) pairs) back over HTTP on a few keep-alive connections."""
    items = list(items)
    bad = []
    lock = threading.Lock()

    def work(part):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=15)
        try:
            for kind, ident in part:
                try:
                    problem = http_mismatch(conn, ledger, kind, ident)
                except (OSError, http.client.HTTPException) as e:
                    problem = f"{kind} {ident}: {e!r}"
                    conn.close()
                if problem:
                    with lock:
                        bad.append(problem)
        finally:
            conn.close()

    threads = [threading.Thread(target=work, args=(items[i::workers],)) for i in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    tap.check(not bad, f"{label}: {len(bad)} of {len(items)} writes read back wrong over HTTP: "
              f"{bad[:10]}")


# ---- the rounds ---------------------------------------------------------------------


def run_round(srv, ledger, round_no, rng):
    with ledger.lock:
        ledger.fresh = []
    writers = Writers(srv, ledger, round_no, SEED + round_no)
    writers.start()
    time.sleep(rng.uniform(0.15, 0.7) * SLOWDOWN)
    tap.require(writers.kill_and_join(), "writer threads did not stop after the kill")
    srv.stop(None, 10 * SLOWDOWN)
    bad = [line for line in srv.stderr_lines() if SANITIZER.search(line)]
    tap.check(not bad, "sanitizer report before the kill:\n" + "\n".join(bad[:10]))
    with ledger.lock:
        errors, ledger.errors = ledger.errors, []
        fresh = list(ledger.fresh)
    tap.check(not errors, f"round {round_no}: unexpected answers: {errors[:10]}")
    check_file(srv.db, ledger, f"round {round_no}")
    srv.start()
    check_http(srv, ledger, fresh, f"round {round_no}")
    sample = rng.sample(sorted(ledger.articles), min(20, len(ledger.articles)))
    check_http(srv, ledger, [("a", a) for a in sample], f"round {round_no} (older articles)")
    return len(fresh)


def test_rounds(srv, ledger):
    rng = random.Random(SEED)
    total = 0
    for round_no in range(1, CYCLES + 1):
        total += run_round(srv, ledger, round_no, rng)
        if not srv.running():
            tap.require(False, f"the server did not restart after round {round_no}")
    tap.diag(f"{CYCLES} kills; {total} writes acknowledged: {len(ledger.articles)} articles, "
             f"{len(ledger.comments)} comments, {len(ledger.deleted)} deletions "
             f"({ledger.reused} deleted ids given to new articles)")
    tap.check(total >= CYCLES * 5, f"only {total} writes acknowledged in {CYCLES} rounds")


def test_everything(srv, ledger):
    items = [("a", a) for a in ledger.articles] + [("c", c) for c in ledger.comments]
    check_http(srv, ledger, items, "after the last restart")
    resp = srv.request("GET", "/v1/articles?limit=1")
    expect(tap, resp, 200, what="list after the last restart")


def session():
    tap.diag(f"seed {SEED} (set ND_TEST_SEED to repeat)")
    ledger = Ledger()
    with Server(BIN) as srv:
        for i in range(3):
            art = srv.create_article(title=f"Seed {i}", body="Seed body.")
            ledger.articles[art["id"]] = {"title": art["title"], "body": "Seed body.",
                                          "author": "", "category": "", "tags": [],
                                          "slug": art["slug"]}
            ledger.titles[art["id"]] = {art["title"]}
            ledger.tried_titles.add(art["title"])
        tap.run(f"{CYCLES} SIGKILLs under concurrent writers: no acknowledged write lost",
                test_rounds, srv, ledger)
        tap.run("every acknowledged write reads back after the last restart", test_everything,
                srv, ledger)
        tap.stop_server(srv)
        tap.run("the database after a clean stop", check_file, srv.db, ledger, "final")


tap.run("durability session", session)
tap.done()
