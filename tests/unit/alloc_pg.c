/*
 * alloc_pg.c: the database side of the allocation-failure test
 * (test_alloc_failure.c) when the server under test stores in PostgreSQL:
 * the test's own libpq connection to the server's database, which keeps the
 * seeded rows aside, puts them back before each run, snapshots what a
 * request can change and checks that a half-done write left nothing
 * inconsistent. libpq's own allocations are not the server's to fail (it is
 * a shared library, out of --wrap's reach); every allocation of newsd's
 * PostgreSQL store, its rows and trees, is.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc_db.h"

static PGconn *conn;

static bool pg_exec(const char *sql);

static bool pg_open(const char *uri)
{
    conn = PQconnectdb(uri);
    if (PQstatus(conn) != CONNECTION_OK) {
        printf("# postgres: %s", PQerrorMessage(conn));
        return false;
    }
    return pg_exec("SET client_min_messages = warning");
}

static void pg_close(void)
{
    PQfinish(conn);
    conn = NULL;
}

static bool pg_exec(const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(res);
    bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (!ok)
        printf("# sql: %s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

static const char *pg_query_text(const char *sql, char *out, size_t len)
{
    PGresult *res = PQexec(conn, sql);
    snprintf(out, len, "(error)");
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        snprintf(out, len, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "(none)");
    else
        printf("# sql: %s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    return out;
}

static bool pg_keep_base(void)
{
    return pg_exec("CREATE TEMP TABLE base_articles AS SELECT * FROM articles") &&
           pg_exec("CREATE TEMP TABLE base_tags AS SELECT * FROM article_tags") &&
           pg_exec("CREATE TEMP TABLE base_comments AS SELECT * FROM comments");
}

static void pg_snapshot(const char *const *queries, size_t n, char *out, size_t max)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t q = 0; q < n; q++) {
        PGresult *res = PQexec(conn, queries[q]);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            printf("# sql: %s: %s", queries[q], PQresultErrorMessage(res));
        for (int r = 0; r < PQntuples(res); r++) {
            for (int c = 0; c < PQnfields(res); c++) {
                const char *v = PQgetisnull(res, r, c) ? "NULL" : PQgetvalue(res, r, c);
                int w = snprintf(out + len, max - len, "%s|", v);
                if (w > 0 && (size_t)w < max - len)
                    len += (size_t)w;
            }
            if (len + 1 < max)
                out[len++] = '\n';
            out[len] = '\0';
        }
        PQclear(res);
    }
}

static bool pg_consistent(void)
{
    char text[64];
    /* comment_count as the triggers keep it, and the search vectors as the triggers make them */
    return strcmp(pg_query_text(
                      "SELECT count(*) FROM articles a WHERE comment_count != (SELECT count(*) "
                      "FROM comments c WHERE c.article_id = a.id AND c.status = 'visible')",
                      text, sizeof text),
                  "0") == 0 &&
           strcmp(pg_query_text("SELECT count(*) FROM articles WHERE search IS DISTINCT FROM "
                                "newsd_tsvector(title, 'A') || newsd_tsvector(summary, 'B') || "
                                "newsd_tsvector(body, 'C')",
                                text, sizeof text),
                  "0") == 0 &&
           strcmp(pg_query_text("SELECT count(*) FROM comments WHERE search IS DISTINCT "
                                "FROM newsd_tsvector(body, 'D')",
                                text, sizeof text),
                  "0") == 0;
}

static bool pg_restore(void)
{
    static const char *const steps[] = {
        "DELETE FROM comments WHERE id NOT IN (SELECT id FROM base_comments)",
        "DELETE FROM articles WHERE id NOT IN (SELECT id FROM base_articles)",
        ("UPDATE comments SET status = b.status, parent_id = b.parent_id FROM base_comments b "
         "WHERE b.id = comments.id AND (comments.status, comments.parent_id) IS DISTINCT FROM "
         "(b.status, b.parent_id)"),
        ("UPDATE articles SET slug = b.slug, title = b.title, summary = b.summary, body = b.body, "
         "author = b.author, category = b.category, tags = b.tags, source_url = b.source_url, "
         "status = b.status, published_at = b.published_at, created_at = b.created_at, "
         "updated_at = b.updated_at FROM base_articles b WHERE b.id = articles.id AND "
         "(articles.slug, articles.title, articles.summary, articles.body, articles.author, "
         "articles.category, articles.tags, articles.source_url, articles.status, "
         "articles.published_at, articles.created_at, articles.updated_at) IS DISTINCT FROM "
         "(b.slug, b.title, b.summary, b.body, b.author, b.category, b.tags, b.source_url, "
         "b.status, b.published_at, b.created_at, b.updated_at)"),
        ("DELETE FROM article_tags t WHERE NOT EXISTS (SELECT 1 FROM base_tags b WHERE "
         "b.tag = t.tag AND b.article_id = t.article_id)"),
        "INSERT INTO article_tags SELECT * FROM base_tags ON CONFLICT DO NOTHING",
        /* ids are never given twice: the seeded state includes the largest id given */
        ("SELECT setval(pg_get_serial_sequence('articles', 'id'), "
         "(SELECT max(id) FROM base_articles))"),
        ("SELECT setval(pg_get_serial_sequence('comments', 'id'), "
         "(SELECT max(id) FROM base_comments))"),
    };
    char open[32];
    /*
     * A transaction the server left open would hold its locks: every later
     * run would wait. One only passing (the change-event hub between the
     * statements of its read snapshot) ends within milliseconds, so it is
     * asked again for up to two seconds before it counts.
     */
    bool idle = false;
    for (int tries = 0; tries < 200 && !idle; tries++) {
        idle = strcmp(pg_query_text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                    "current_database() AND state LIKE 'idle in transaction%'",
                                    open, sizeof open),
                      "0") == 0;
        if (!idle)
            usleep(10000);
    }
    if (!idle) {
        printf("# the server holds a transaction open\n");
        return false;
    }
    bool ok = pg_exec("BEGIN");
    for (size_t i = 0; ok && i < sizeof steps / sizeof steps[0]; i++)
        ok = pg_exec(steps[i]);
    if (!ok) {
        pg_exec("ROLLBACK");
        return false;
    }
    return pg_exec("COMMIT");
}

const struct alloc_db alloc_pg = {
    pg_open, pg_keep_base, pg_snapshot, pg_restore, pg_consistent, pg_close,
};
