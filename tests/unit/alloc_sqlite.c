/*
 * alloc_sqlite.c: the database side of the allocation-failure test
 * (test_alloc_failure.c) when the server under test stores in SQLite: the
 * test's own connection to the database file, which keeps the seeded rows
 * aside, puts them back before each run, snapshots what a request can
 * change and checks that a half-done write left nothing inconsistent.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "alloc_db.h"

static sqlite3 *db; /* the test's own connection */

static bool sqlite_exec(const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        printf("# sql: %s: %s\n", sql, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc == SQLITE_OK;
}

static void sqlite_snapshot(const char *const *queries, size_t n, char *out, size_t max)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t q = 0; q < n; q++) {
        sqlite3_stmt *stmt = NULL;
        if (sqlite3_prepare_v2(db, queries[q], -1, &stmt, NULL) != SQLITE_OK)
            printf("# sql: %s: %s\n", queries[q], sqlite3_errmsg(db));
        while (stmt != NULL && sqlite3_step(stmt) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(stmt); c++) {
                const unsigned char *v = sqlite3_column_text(stmt, c);
                int w = snprintf(out + len, max - len, "%s|", v ? (const char *)v : "NULL");
                if (w > 0 && (size_t)w < max - len)
                    len += (size_t)w;
            }
            if (len + 1 < max)
                out[len++] = '\n';
            out[len] = '\0';
        }
        sqlite3_finalize(stmt);
    }
}

static const char *query_text(const char *sql, char *out, size_t len)
{
    sqlite3_stmt *stmt = NULL;
    snprintf(out, len, "(error)");
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) {
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW)
            snprintf(out, len, "%s", (const char *)sqlite3_column_text(stmt, 0));
        else if (rc == SQLITE_DONE)
            snprintf(out, len, "(none)");
    }
    sqlite3_finalize(stmt);
    return out;
}

static bool sqlite_consistent(void)
{
    char text[256];
    bool ok = strcmp(query_text("PRAGMA integrity_check", text, sizeof text), "ok") == 0;
    ok = ok && strcmp(query_text("PRAGMA foreign_key_check", text, sizeof text), "(none)") == 0;
    ok = ok && strcmp(query_text("SELECT count(*) FROM articles a WHERE comment_count != "
                                 "(SELECT count(*) FROM comments c WHERE c.article_id = a.id "
                                 "AND c.status = 'visible')",
                                 text, sizeof text),
                      "0") == 0;
    ok = ok && sqlite_exec("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')");
    ok = ok && sqlite_exec("INSERT INTO comments_fts (comments_fts) VALUES ('integrity-check')");
    return ok;
}

/*
 * Puts the seeded rows back as they were and removes every other row, so
 * that each run starts from the same data. Only rows that differ are
 * written. Then both FTS5 indexes are rebuilt and the WAL emptied, so that
 * every run finds the same FTS5 segments (a write that merges segments, or
 * that reaches the WAL's auto-checkpoint, asks for much more memory than the
 * same write another time).
 */
static bool sqlite_restore(void)
{
    static const char *const steps[] = {
        "DELETE FROM comments WHERE id NOT IN (SELECT id FROM temp.base_comments)",
        "DELETE FROM articles WHERE id NOT IN (SELECT id FROM temp.base_articles)",
        ("UPDATE comments SET status = b.status, parent_id = b.parent_id "
         "FROM temp.base_comments b WHERE b.id = comments.id AND "
         "(comments.status IS NOT b.status OR comments.parent_id IS NOT b.parent_id)"),
        ("UPDATE articles SET slug = b.slug, title = b.title, summary = b.summary, body = b.body, "
         "author = b.author, category = b.category, tags = b.tags, source_url = b.source_url, "
         "status = b.status, published_at = b.published_at, created_at = b.created_at, "
         "updated_at = b.updated_at FROM temp.base_articles b WHERE b.id = articles.id AND "
         "(articles.slug, articles.title, articles.summary, articles.body, articles.author, "
         "articles.category, articles.tags, articles.source_url, articles.status, "
         "articles.published_at, articles.created_at, articles.updated_at) IS NOT (b.slug, "
         "b.title, b.summary, b.body, b.author, b.category, b.tags, b.source_url, b.status, "
         "b.published_at, b.created_at, b.updated_at)"),
        ("DELETE FROM article_tags WHERE (tag, article_id) NOT IN "
         "(SELECT tag, article_id FROM temp.base_tags)"),
        "INSERT OR IGNORE INTO article_tags SELECT * FROM temp.base_tags",
        "INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')",
        "INSERT INTO comments_fts (comments_fts) VALUES ('rebuild')",
        /* ids are never given twice: the seeded state includes the largest id given */
        ("UPDATE sqlite_sequence SET seq = b.seq FROM temp.base_sequence b "
         "WHERE b.name = sqlite_sequence.name"),
    };
    bool ok = sqlite_exec("BEGIN IMMEDIATE");
    for (size_t i = 0; ok && i < sizeof steps / sizeof steps[0]; i++)
        ok = sqlite_exec(steps[i]);
    if (!ok)
        sqlite_exec("ROLLBACK");
    if (!ok || !sqlite_exec("COMMIT"))
        return false;
    /* Busy (1) when a reader holds a snapshot: a transaction the server left open. */
    char busy[32];
    ok = strcmp(query_text("PRAGMA wal_checkpoint(TRUNCATE)", busy, sizeof busy), "0") == 0;
    if (!ok)
        printf("# the WAL cannot be emptied: the server holds a transaction open\n");
    return ok;
}

static bool sqlite_open(const char *path)
{
    return sqlite3_open(path, &db) == SQLITE_OK &&
           sqlite_exec("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 1000; "
                       "PRAGMA synchronous = OFF");
}

static bool sqlite_keep_base(void)
{
    return sqlite_exec("CREATE TEMP TABLE base_articles AS SELECT * FROM articles") &&
           sqlite_exec("CREATE TEMP TABLE base_tags AS SELECT * FROM article_tags") &&
           sqlite_exec("CREATE TEMP TABLE base_comments AS SELECT * FROM comments") &&
           sqlite_exec("CREATE TEMP TABLE base_sequence AS SELECT * FROM sqlite_sequence");
}

static void sqlite_close(void)
{
    sqlite3_close(db);
    db = NULL;
}

const struct alloc_db alloc_sqlite = {
    sqlite_open, sqlite_keep_base, sqlite_snapshot, sqlite_restore, sqlite_consistent, sqlite_close,
};
