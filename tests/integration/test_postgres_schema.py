#!/usr/bin/env python3
"""The PostgreSQL schema (migrations/postgres) against the SQLite one
(migrations/sqlite), on the test server of NEWSD_TEST_PG, with psql and
Python's sqlite3; no newsd involved.

Each PostgreSQL migration applies in a transaction of its own, recorded in
schema_migrations as migrate.c records SQLite's. The same writes, as SQL
both databases run, leave the same rows: articles (comment_count kept by
triggers, ids never given twice), comments, tag rows following their
article, and the change log, kind by kind with the same public flag and the
same slug, title and date for an unpublished article. Search folds case and
diacritics and stems as FTS5's tokenizer does (the same words out of the
same Latin-script text), weights title, summary and body, re-indexes only
when text is written, and survives a body too varied for one tsvector.
Writers queue for the change log's lock, so change ids follow commit order.
Rate buckets (migration 0006) start full, refuse when empty and are pruned
once full again.
A database whose LC_CTYPE cannot fold case beyond ASCII is refused.
"""

import glob
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pg  # noqa: E402
from environment import samples_dir, source_root, wait_until  # noqa: E402
from tap import Tap  # noqa: E402

if not pg.base_conninfo():
    print("1..0 # SKIP no PostgreSQL server for the tests "
          "(NEWSD_TEST_PG unset; scripts/test starts one)")
    sys.exit(0)

tap = Tap()
PG_MIGRATIONS = sorted(glob.glob(os.path.join(source_root(), "migrations", "postgres", "*.sql")))
SQLITE_MIGRATIONS = sorted(glob.glob(os.path.join(source_root(), "migrations", "sqlite", "*.sql")))

# What migrate code creates before the first migration, on either backend.
SCHEMA_MIGRATIONS = ("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                     "name text NOT NULL, applied_at text NOT NULL)")


def migrate_pg(conninfo):
    """Applies every PostgreSQL migration, each with its schema_migrations
    row in one transaction, as the store's migrate code is to."""
    for path in PG_MIGRATIONS:
        name = os.path.basename(path)
        version = int(name.split("_", 1)[0])
        subprocess.run(
            [pg.PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", conninfo,
             "-c", SCHEMA_MIGRATIONS, "-f", path, "-c",
             f"INSERT INTO schema_migrations VALUES ({version}, '{name}', 'now')"],
            check=True, capture_output=True, text=True, timeout=120)


def migrate_sqlite(path):
    db = sqlite3.connect(path, isolation_level=None)
    for script in SQLITE_MIGRATIONS:
        with open(script, encoding="utf-8") as f:
            db.executescript(f.read())
    db.execute("PRAGMA foreign_keys = ON")
    return db


def sqlite_rows(db, sql):
    return [tuple("" if v is None else str(v) for v in row) for row in db.execute(sql)]


def insert_article(slug, title, status, at, tags="[]"):
    return ("INSERT INTO articles (slug, title, summary, body, author, category, tags, status, "
            "published_at, created_at, updated_at) VALUES "
            f"('{slug}', '{title}', 'About {title}', 'The body of {title}.', 'ann', 'news', "
            f"'{tags}', '{status}', {at}, {at}, {at})")


def insert_comment(article, parent, body, status, at):
    return ("INSERT INTO comments (article_id, parent_id, author, body, status, created_at) "
            f"VALUES ({article}, {parent}, 'reader', '{body}', '{status}', {at})")


# The same writes for both databases, in two phases compared one by one;
# each comment says what SQLite's triggers log for it.
PHASE_1 = [
    insert_article("one", "One", "published", 1000, '["a","b"]'),           # article.published
    "INSERT INTO article_tags (tag, article_id, tagged_at, tagged_status) "
    "VALUES ('a', 1, 1000, 'published'), ('b', 1, 1000, 'published')",
    insert_article("two", "Two", "draft", 2000),                              # article.drafted
    insert_comment(1, "NULL", "first", "visible", 1100),                      # added, public
    insert_comment(1, 1, "a reply", "visible", 1101),                         # added, public
    insert_comment(1, 2, "a pending reply", "pending", 1102),                 # added, hidden
    insert_comment(2, "NULL", "on a draft", "visible", 2100),                 # added, hidden
    "UPDATE comments SET status = 'visible' WHERE id = 3",                    # comment.moderated
    "UPDATE comments SET status = 'visible' WHERE id = 3",                    # nothing: same status
    "UPDATE comments SET status = 'pending' WHERE id = 4",                    # moderated, hidden
    "UPDATE articles SET title = 'One again', updated_at = 1200 WHERE id = 1",  # article.updated
    "UPDATE articles SET comment_count = comment_count WHERE id = 1",         # nothing
    "UPDATE articles SET import_key = 'k1' WHERE id = 1",                     # nothing
    "UPDATE articles SET summary = summary WHERE id = 1",                     # updated: named
    "UPDATE articles SET status = 'published', published_at = 2500 WHERE id = 2",  # published
]
PHASE_2 = [
    # unpublished, with the slug, title and date the public saw; tags follow
    "UPDATE articles SET status = 'draft', slug = 'one-hidden', title = 'Hidden', "
    "published_at = 1300 WHERE id = 1",
    "UPDATE comments SET parent_id = 1 WHERE parent_id = 2",                  # nothing
    "DELETE FROM comments WHERE id = 2",                                      # removed, hidden
    "DELETE FROM comments WHERE id = 4",                                      # removed, hidden
    insert_comment(2, "NULL", "seen", "visible", 2600),                       # added, public
    "DELETE FROM comments WHERE id = 5",                                      # removed, public
    insert_article("three", "Three", "published", 3000),                      # published
    "DELETE FROM articles WHERE id = 3",                                      # article.deleted
    insert_article("four", "Four", "published", 4000),                        # id 4, never 3
    insert_comment(4, "NULL", "top", "visible", 4100),
    insert_comment(4, 6, "under", "visible", 4101),
    insert_comment(4, 7, "deeper", "visible", 4102),
    "DELETE FROM articles WHERE id = 4",                                      # deleted alone
    "DELETE FROM articles WHERE id = 1",                                      # deleted, hidden
    insert_comment(2, "NULL", "after all that", "visible", 5000),             # id 9, never 6
]

ARTICLES = ("SELECT id, slug, title, summary, body, author, category, tags, "
            "coalesce(source_url, '-'), status, published_at, created_at, updated_at, "
            "comment_count, coalesce(import_key, '-') FROM articles ORDER BY id")
COMMENTS = ("SELECT id, article_id, coalesce(parent_id, 0), author, body, status, created_at "
            "FROM comments ORDER BY id")
TAGS = "SELECT tag, article_id, tagged_at, tagged_status FROM article_tags ORDER BY tag, article_id"
CHANGES = ("SELECT id, kind, article_id, coalesce(comment_id, 0), "
           "CASE WHEN public THEN 1 ELSE 0 END, status, coalesce(slug, '-'), "
           "coalesce(title, '-'), coalesce(published_at, 0) FROM changes ORDER BY id")


# What newsd runs after each write's commit (migration 0005): the change
# rows of committed writes get their ids.
PUBLISH = "SELECT newsd_publish_changes()"


def run_pg(conninfo, statements):
    """statements, each committed on its own, then one publication."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", encoding="utf-8") as f:
        f.write(";\n".join(list(statements) + [PUBLISH]) + ";\n")
        f.flush()
        pg.psql(conninfo, file=f.name)


def compare(what, db, conninfo):
    for name, sql in (("articles", ARTICLES), ("comments", COMMENTS), ("article_tags", TAGS),
                      ("changes", CHANGES)):
        want = sqlite_rows(db, sql)
        got = pg.rows(conninfo, sql)
        tap.check(got == want, f"{what}: {name} differ\nSQLite:\n"
                  + "\n".join(map(repr, want)) + "\nPostgreSQL:\n" + "\n".join(map(repr, got)))
    # PostgreSQL alone: the most commented order's table (migration 0007)
    # holds each article's status and count as the articles table does.
    counted = pg.rows(conninfo, "SELECT article_id, counted_status, counted "
                                "FROM article_comment_order ORDER BY article_id")
    tap.eq(counted, pg.rows(conninfo, "SELECT id, status, comment_count FROM articles ORDER BY id"),
           f"{what}: article_comment_order follows articles")


with pg.Database() as main_db, tempfile.TemporaryDirectory(prefix="newsd-pg-") as tmp:
    PGDB = main_db.conninfo

    @tap.point("every PostgreSQL migration applies in a transaction of its own")
    def migrations():
        tap.require(len(PG_MIGRATIONS) >= 1, "no file in migrations/postgres")
        migrate_pg(PGDB)
        got = pg.rows(PGDB, "SELECT version, name FROM schema_migrations ORDER BY version")
        want = [(str(int(os.path.basename(p).split("_")[0])), os.path.basename(p))
                for p in PG_MIGRATIONS]
        tap.eq(got, want, "schema_migrations")

    lite = migrate_sqlite(os.path.join(tmp, "newsd.db"))

    @tap.point("the same writes leave the same rows and change log (first phase)")
    def phase_1():
        for sql in PHASE_1:
            lite.execute(sql)
        run_pg(PGDB, PHASE_1)
        compare("after phase 1", lite, PGDB)
        # Non-vacuous: the log has what the writes were meant to log.
        kinds = [r[1] for r in pg.rows(PGDB, CHANGES)]
        tap.eq(kinds.count("article.updated"), 2, "article.updated rows")
        tap.eq(kinds.count("comment.moderated"), 2, "comment.moderated rows")

    @tap.point("the same writes leave the same rows and change log (second phase)")
    def phase_2():
        for sql in PHASE_2:
            lite.execute(sql)
        run_pg(PGDB, PHASE_2)
        compare("after phase 2", lite, PGDB)
        unpublished = pg.rows(PGDB, "SELECT slug, title, published_at FROM changes "
                                    "WHERE kind = 'article.unpublished'")
        tap.eq(unpublished, [("one", "One again", "1000")],
               "unpublished tells what the public saw")
        tap.eq(pg.rows(PGDB, "SELECT max(id) FROM comments"), [("9",)], "newest comment id")

    @tap.point("a change's time is now, in whole seconds")
    def at_now():
        before = int(time.time())
        pg.psql(PGDB, insert_article("timed", "Timed", "published", 1))
        tap.eq(pg.rows(PGDB, "SELECT slug FROM changes_pending"), [("timed",)], "pending")
        tap.eq(pg.rows(PGDB, PUBLISH), [("1",)], "rows published")
        after = int(time.time())
        (at,), = pg.rows(PGDB, "SELECT at FROM changes WHERE slug = 'timed'")
        tap.check(before - 1 <= int(at) <= after + 1, f"at {at} not within {before}..{after}")

    @tap.point("a bad comment status is refused")
    def bad_status():
        proc = pg.psql(PGDB, insert_comment(2, "NULL", "x", "spam", 1), check=False)
        tap.check(proc.returncode != 0 and "comments_status" in proc.stderr,
                  f"psql {proc.returncode}: {proc.stderr}")

    lite.close()


def search(conninfo, table, query):
    return [r[0] for r in pg.rows(conninfo, f"SELECT id FROM {table} WHERE search @@ "
                                            f"to_tsquery('newsd', '{query}') ORDER BY id")]


def fts5_words(text):
    """The words FTS5 indexes for text, in order: [(position from 1, term)]."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = "
               "'porter unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")
    db.execute("INSERT INTO t VALUES (?)", (text,))
    words = sorted((offset + 1, term) for term, offset in
                   db.execute("SELECT term, offset FROM v"))
    db.close()
    return words


def pg_query(conninfo, sql, **variables):
    """Rows of sql run with psql variables (:'name' in sql), which may hold any text."""
    argv = [pg.PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo]
    for name, value in variables.items():
        argv += ["-v", f"{name}={value}"]
    proc = subprocess.run(argv + ["-f", "-"], input=sql + ";\n", capture_output=True,
                          text=True, check=True, timeout=60)
    return [tuple(line.split("|")) for line in proc.stdout.splitlines()]


def pg_words(conninfo, text):
    """The words the newsd configuration indexes for text: [(position, lexeme)]."""
    rows = pg_query(conninfo, "SELECT p, lexeme FROM unnest(to_tsvector('newsd', "
                              "newsd_search_text(:'doc'))), unnest(positions) AS p", doc=text)
    return sorted((int(p), lexeme) for p, lexeme in rows)


def known_differences(conninfo, terms):
    """For each FTS5 term the forms PostgreSQL may rightly give instead,
    the two differences docs/postgresql.md names: unaccent folds further
    than remove_diacritics 2 (ß to ss, æ to ae, ø to o, Greek and Cyrillic
    marks), and FTS5 leaves words under three characters unstemmed where
    Porter takes "is" to "i"."""
    rows = pg_query(conninfo, "SELECT t, unaccent(t), coalesce((ts_lexize('newsd_porter', "
                              "unaccent(t)))[1], '') FROM string_to_table(:'terms', E'\\n') t",
                    terms="\n".join(sorted(terms)))
    allowed = {}
    for term, folded, stemmed in rows:
        allowed[term] = {term, folded} | ({stemmed} if len(term) < 3 else set())
    return allowed


TRICKY = ("Café society: the Élan of naïve SCHOOLS running! Visit example.com or "
          "mail a@b.org; v3.14, 1e10, north-korea, x_y, <b>bold</b> &amp; Russia’s “quotes” "
          "Ærø Straße façade über-cool résumé 2025-07-12T09:30:00Z /usr/bin/env it's")

with pg.Database() as search_db:
    SDB = search_db.conninfo
    migrate_pg(SDB)
    pg.psql(SDB, "INSERT INTO articles (slug, title, summary, body, published_at, created_at, "
                 "updated_at) VALUES "
                 "('cafe', 'A café opens', 'Elections ahead', 'Runners were running.', 1, 1, 1), "
                 "('plain', 'Plain words', 'Nothing here', 'A cafe, no accent. The end.', 1, 1, 1)")
    pg.psql(SDB, "INSERT INTO comments (article_id, author, body, created_at) VALUES "
                 "(2, 'r', 'Über naïve café talk', 1)")

    @tap.point("search folds diacritics and case both ways and stems")
    def folding():
        tap.eq(search(SDB, "articles", "cafe"), ["1", "2"], "cafe")
        tap.eq(search(SDB, "articles", "CAFÉ"), ["1", "2"], "CAFÉ")
        tap.eq(search(SDB, "articles", "run"), ["1"], "run (running, runners)")
        tap.eq(search(SDB, "articles", "election"), ["1"], "election (Elections)")
        tap.eq(search(SDB, "articles", "elec:*"), ["1"], "prefix elec*")
        tap.eq(search(SDB, "articles", "the"), ["2"], "the (no stop words, as in FTS5)")
        tap.eq(search(SDB, "comments", "uber & naive"), ["1"], "comment body")

    @tap.point("a query term is split into words as the text was")
    def term_query():
        def matches(term, prefix, text):
            (got,), = pg_query(SDB, "SELECT to_tsvector('newsd', newsd_search_text(:'doc')) "
                                    "@@ newsd_term_query(:'term', :'prefix'::boolean)",
                               doc=text, term=term, prefix=str(prefix).lower())
            return got == "t"
        doc = "Visit example.com: Elections, running and the Café’s naïve owner."
        for term, prefix, want in [
            ("example.com", False, True), ("com.example", False, False),
            ("ELECTION", False, True), ("elec", True, True), ("elec", False, False),
            ("running", True, True), ("runn", True, False), ("cafe s", False, True),
            ("café’s naive", False, True), ("naïve owner", False, True),
            ("the café", False, True), ("owner naive", False, False),
        ]:
            tap.check(matches(term, prefix, doc) == want,
                      f"{term!r} prefix={prefix}: want {'a' if want else 'no'} match")

    @tap.point("title, summary and body carry weights A, B and C")
    def weights():
        row = dict(pg.rows(SDB, "SELECT lexeme, array_to_string(weights, '') "
                                "FROM articles, unnest(search) WHERE id = 1"))
        tap.eq((row.get("cafe"), row.get("elect"), row.get("run")), ("A", "B", "C"),
               "weights of cafe, elect, run")
        ranked = pg.rows(SDB, "SELECT id FROM articles WHERE search @@ to_tsquery('newsd', "
                              "'cafe') ORDER BY ts_rank(search, to_tsquery('newsd', 'cafe')) "
                              "DESC")
        tap.eq(ranked, [("1",), ("2",)], "a title hit outranks a body hit")

    @tap.point("the index follows text written, and only text")
    def reindex():
        pg.psql(SDB, "UPDATE articles SET search = 'marker'::tsvector WHERE id = 2")
        pg.psql(SDB, "UPDATE articles SET comment_count = comment_count + 0, "
                     "published_at = 2, status = 'published' WHERE id = 2")
        tap.eq(search(SDB, "articles", "marker"), ["2"], "search rewritten by a non-text update")
        pg.psql(SDB, "UPDATE articles SET body = 'Harbour news' WHERE id = 2")
        tap.eq(search(SDB, "articles", "harbour"), ["2"], "new body")
        tap.eq(search(SDB, "articles", "marker"), [], "old index entries")
        pg.psql(SDB, "UPDATE comments SET body = 'Rewritten' WHERE id = 1")
        tap.eq(search(SDB, "comments", "rewritten"), ["1"], "comment body rewritten")
        tap.eq(search(SDB, "comments", "cafe"), [], "old comment words")

    @tap.point("the same words as FTS5's porter unicode61 remove_diacritics 2")
    def same_words():
        texts = [TRICKY]
        folder = samples_dir()
        if folder:
            for path in sorted(glob.glob(os.path.join(folder, "*.txt"))):
                with open(path, encoding="utf-8") as f:
                    texts.append(f.read())
        for text in texts:
            fts5, got = fts5_words(text), pg_words(SDB, text)
            allowed = known_differences(SDB, {term for _, term in fts5})
            tap.eq([p for p, _ in got], [p for p, _ in fts5], f"positions of {text[:30]!r}...")
            wrong = [(p, f, g) for (p, f), (_, g) in zip(fts5, got) if g not in allowed[f]]
            tap.check(not wrong, f"{text[:30]!r}...: (position, FTS5, PostgreSQL) {wrong[:20]}")
        tap.check(len(fts5_words(TRICKY)) > 40, "the tricky text makes few words")
        # The differences are real, and the ones docs/postgresql.md names.
        tap.eq(fts5_words("Straße is"), [(1, "straß"), (2, "is")], "FTS5's words")
        tap.eq(pg_words(SDB, "Straße is"), [(1, "strass"), (2, "i")], "PostgreSQL's words")

    @tap.point("a 1 MiB body of distinct words is stored, its start searchable")
    def huge_body():
        words = " ".join(f"w{i:x}q{i * 7919 % 100003:x}" for i in range(70000))[:1 << 20]
        with tempfile.NamedTemporaryFile("w", suffix=".sql", encoding="utf-8") as f:
            f.write("INSERT INTO articles (slug, title, body, published_at, created_at, "
                    f"updated_at) VALUES ('huge', 'Huge', '{words}', 1, 1, 1);\n")
            f.flush()
            pg.psql(SDB, file=f.name)
        tap.eq(search(SDB, "articles", "w0q0"), ["3"], "the first word")
        got = pg.rows(SDB, "SELECT length(search) > 10000 FROM articles WHERE id = 3")
        tap.eq(got, [("t",)], "many words indexed")


def psql_session(conninfo):
    """A psql reading statements from a pipe, to hold a transaction open."""
    return subprocess.Popen([pg.PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def state_seen(conninfo, condition):
    return wait_until(lambda: pg.rows(
        conninfo, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND "
        + condition), 10)


@tap.point("writers run side by side; publications take turns, ids only grow as readers see them")
def publication_order():
    with pg.Database() as db:
        migrate_pg(db.conninfo)
        first = psql_session(db.conninfo)
        publisher = None
        try:
            # A writer whose transaction stays open does not hold up another.
            first.stdin.write("BEGIN;\n" + insert_article("first", "First", "published", 1)
                              + ";\n")
            first.stdin.flush()
            tap.require(state_seen(db.conninfo, "state = 'idle in transaction'"),
                        "the first writer's transaction never opened")
            pg.psql(db.conninfo, insert_article("second", "Second", "published", 2),
                    timeout=10)
            tap.eq(pg.rows(db.conninfo, PUBLISH), [("1",)], "published beside an open writer")
            tap.eq(pg.rows(db.conninfo, "SELECT id, slug FROM changes ORDER BY id"),
                   [("1", "second")], "only the committed write has an id")
            first.stdin.write("COMMIT;\n")
            first.stdin.flush()
            tap.require(wait_until(lambda: pg.rows(
                db.conninfo, "SELECT 1 FROM changes_pending"), 10), "the first never committed")
            tap.eq(pg.rows(db.conninfo, PUBLISH), [("1",)], "the later commit published")
            tap.eq(pg.rows(db.conninfo, "SELECT id, slug FROM changes ORDER BY id"),
                   [("1", "second"), ("2", "first")], "ids in the order of publication")

            # A publication waits for one in progress, and its ids come after.
            first.stdin.write("BEGIN;\n" + insert_article("third", "Third", "published", 3)
                              + ";\nCOMMIT;\nBEGIN;\n" + PUBLISH + ";\n")
            first.stdin.flush()
            tap.require(wait_until(lambda: pg.rows(
                db.conninfo, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"),
                10), "the first publication never took its lock")
            pg.psql(db.conninfo, insert_article("fourth", "Fourth", "published", 4), timeout=10)
            publisher = subprocess.Popen(
                [pg.PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db.conninfo,
                 "-c", PUBLISH], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            tap.check(state_seen(db.conninfo, "wait_event = 'advisory'"),
                      "the second publication did not wait for the first")
            tap.check(publisher.poll() is None, "the second publication did not wait")
            tap.eq(pg.rows(db.conninfo, "SELECT count(*) FROM changes"), [("2",)],
                   "a publication in progress is not seen")
            first.stdin.write("COMMIT;\n")
            first.stdin.close()
            tap.eq(first.wait(30), 0, "first session's status")
            out, _ = publisher.communicate(timeout=30)
            tap.eq(out.strip(), "1", "rows the second publication moved")
            tap.eq(pg.rows(db.conninfo, "SELECT id, slug FROM changes ORDER BY id"),
                   [("1", "second"), ("2", "first"), ("3", "third"), ("4", "fourth")],
                   "ids in the order of publication")
            tap.eq(pg.rows(db.conninfo, "SELECT count(*) FROM changes_pending"), [("0",)],
                   "nothing left pending")
        finally:
            for proc in (first, publisher):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait()


@tap.point("rate buckets: full at first, refilled by the database's clock, pruned when full")
def rate_buckets():
    take = "SELECT allowed, round(tokens::numeric, 1) FROM newsd_rate_take('{}', {}, {})"
    with pg.Database() as db:
        migrate_pg(db.conninfo)
        # 6000 a minute is a token every 10 ms; burst 3
        got = [pg.rows(db.conninfo, take.format("fast", 6000, 3))[0][0] for _ in range(3)]
        tap.eq(got, ["t", "t", "t"], "the burst is there at first")
        # three takes in one statement: nothing refills within it (one clock)
        rows = pg.rows(db.conninfo, "SELECT (newsd_rate_take('slow', 1, 2)).allowed "
                                    "FROM generate_series(1, 3)")
        tap.eq([r[0] for r in rows], ["t", "t", "f"], "burst 2, then refused")
        tap.eq(pg.rows(db.conninfo, take.format("slow", 1, 2)), [("f", "0.0")],
               "refused again: the bucket stays empty, no debt")
        time.sleep(0.05)
        tap.eq(pg.rows(db.conninfo, take.format("fast", 6000, 3))[0][0], "t",
               "refilled after a few tokens' time")
        # Backdated by an hour: the fast bucket is full again, the slow one not.
        pg.psql(db.conninfo, "UPDATE rate_buckets SET updated = updated - interval '1 hour', "
                             "full_at = full_at - interval '1 hour' WHERE key = 'fast'")
        tap.eq(pg.rows(db.conninfo, "SELECT newsd_rate_prune()"), [("1",)], "one pruned")
        tap.eq(pg.rows(db.conninfo, "SELECT key FROM rate_buckets"), [("slow",)],
               "the bucket still refilling stays")
        tap.eq(pg.rows(db.conninfo, take.format("fast", 6000, 3)), [("t", "2.0")],
               "a pruned bucket starts full again")


@tap.point("a database whose LC_CTYPE is C is refused with the reason")
def c_locale():
    name = "newsd_c_" + str(os.getpid())
    pg.psql(pg.base_conninfo(), f"CREATE DATABASE {name} LC_CTYPE 'C' LC_COLLATE 'C' "
                                "TEMPLATE template0")
    try:
        proc = subprocess.run(
            [pg.PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d",
             pg.conninfo_for(name), "-f", PG_MIGRATIONS[0]],
            capture_output=True, text=True, timeout=60)
        tap.check(proc.returncode != 0 and "LC_CTYPE" in proc.stderr,
                  f"psql {proc.returncode}: {proc.stderr}")
        tap.eq(pg.rows(pg.conninfo_for(name), "SELECT to_regclass('articles') IS NULL"),
               [("t",)], "articles made anyway")
    finally:
        pg.drop_database(name)


tap.done()
