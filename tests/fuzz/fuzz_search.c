/*
 * fuzz_search.c: the search-box parser and the snippet renderer
 * (server/search.c) and the SQLite store's FTS5 translation of the parsed
 * query (server/store_search_fts.c) on arbitrary text, with every
 * translation run as a real FTS5 MATCH.
 *
 * Invariants: a query is either parsed or refused with a reason; a parsed
 * query keeps the invariants search.h promises (term and group counts,
 * groups covering the terms in order, excluded terms alone, at least one
 * positive term, NUL-terminated UTF-8 texts without a double quote); its
 * translation is valid UTF-8 that SQLite's FTS5 accepts (any error from the
 * MATCH, a syntax error above all, aborts) on newsd's own articles_fts,
 * made by the embedded migrations as the server makes it; newsd's nd_snippet()
 * gives exactly what FTS5's snippet() gives for each match; snippets of its matches, and the input
 * itself taken as a raw snippet, render as HTML whose only tags are
 * <mark> and </mark>, with no quote and no control character but tab and
 * newline.
 */
#include <sqlite3.h>
#include <stdbool.h>

#include "fuzz.h"
#include "newsd/log.h"
#include "newsd/search.h"
#include "newsd/util.h"
#include "store_internal.h" /* nd_migrate: the FTS5 text is SQLite's */
#include "store_search_fts.h"

/*
 * A few articles in a database on :memory: made by nd_migrate, so the index
 * searched is articles_fts exactly as the migrations define it (tokenizer,
 * prefix indexes, columns). Made once per process.
 */
static sqlite3 *db;
static sqlite3_stmt *search;

static const char *const documents[][3] = {
    {"Russia’s Lavrov praises Pyongyang’s ‘unequivocal support’ on Ukraine",
     "Russian Foreign Minister Sergei Lavrov praised his country’s military alliance",
     "Russian President Vladimir Putin is “counting on the continuation of direct contacts”, "
     "Lavrov told North Korean leader Kim Jong Un in the port city of Wonsan."},
    {"Café owners & e-mail: <b>elections</b> \"quoted\"",
     "Elected officials met at the café; AND OR NOT NEAR title:x {a b}: ^start",
     "Night rail OR tram services; 北京 übung naïve résumé 😀 e-mail co-op 2024-07-12"},
    {"Harbour lights", "", "Harbour lights shine over the harbour at night."},
};

static void close_db(void)
{
    sqlite3_finalize(search);
    sqlite3_close(db);
    search = NULL;
    db = NULL;
}

static void open_db(void)
{
    nd_log_set_level(ND_LOG_WARN); /* not a line per applied migration */
    FUZZ_REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    FUZZ_REQUIRE(nd_migrate(db, NULL) == ND_OK);
    FUZZ_REQUIRE(nd_store_search_functions(db) == ND_OK);
    sqlite3_stmt *insert = NULL;
    FUZZ_REQUIRE(sqlite3_prepare_v2(db,
                                    "INSERT INTO articles (slug, title, summary, body,"
                                    " published_at, created_at, updated_at)"
                                    " VALUES (?, ?, ?, ?, 0, 0, 0)",
                                    -1, &insert, NULL) == SQLITE_OK);
    for (size_t i = 0; i < sizeof documents / sizeof documents[0]; i++) {
        char slug[16];
        snprintf(slug, sizeof slug, "doc-%zu", i);
        sqlite3_bind_text(insert, 1, slug, -1, SQLITE_TRANSIENT);
        for (int col = 0; col < 3; col++)
            sqlite3_bind_text(insert, col + 2, documents[i][col], -1, SQLITE_STATIC);
        FUZZ_REQUIRE(sqlite3_step(insert) == SQLITE_DONE);
        sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    FUZZ_REQUIRE(sqlite3_prepare_v2(db,
                                    "SELECT snippet(articles_fts, -1, char(1), char(2), '…', 24),"
                                    " bm25(articles_fts, 10.0, 2.0, 1.0),"
                                    " nd_snippet(articles_fts, char(1), char(2), '…', 24)"
                                    " FROM articles_fts"
                                    " WHERE articles_fts MATCH ?"
                                    " ORDER BY bm25(articles_fts, 10.0, 2.0, 1.0)",
                                    -1, &search, NULL) == SQLITE_OK);
    atexit(close_db);
}

/* The HTML that nd_search_snippet_html makes holds no markup but <mark>. */
static void check_html(const char *html)
{
    for (const char *p = html; *p; p++) {
        unsigned char c = (unsigned char)*p;
        FUZZ_REQUIRE(c >= 0x20 || c == '\t' || c == '\n');
        FUZZ_REQUIRE(c != '"' && c != '\'' && c != '>');
        if (c == '<') {
            size_t n = strncmp(p, "<mark>", 6) == 0 ? 6 : strncmp(p, "</mark>", 7) == 0 ? 7 : 0;
            FUZZ_REQUIRE(n > 0);
            p += n - 1;
        } else if (c == '&') {
            FUZZ_REQUIRE(strncmp(p, "&amp;", 5) == 0 || strncmp(p, "&lt;", 4) == 0 ||
                         strncmp(p, "&gt;", 4) == 0 || strncmp(p, "&quot;", 6) == 0 ||
                         strncmp(p, "&#39;", 5) == 0);
        }
    }
}

static void render(const char *raw)
{
    char *html = nd_search_snippet_html(raw);
    FUZZ_REQUIRE(html != NULL);
    check_html(html);
    free(html);
}

/* Runs fts as a MATCH; any error SQLite reports breaks the invariant. */
static void run_match(const char *fts)
{
    sqlite3_bind_text(search, 1, fts, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(search)) == SQLITE_ROW) {
        const char *snippet = (const char *)sqlite3_column_text(search, 0);
        const char *ours = (const char *)sqlite3_column_text(search, 2);
        FUZZ_REQUIRE(strcmp(snippet ? snippet : "", ours ? ours : "") == 0);
        if (snippet)
            render(snippet);
    }
    if (rc != SQLITE_DONE)
        fprintf(stderr, "MATCH %s: %s\n", fts, sqlite3_errmsg(db));
    FUZZ_REQUIRE(rc == SQLITE_DONE);
    sqlite3_reset(search);
    sqlite3_clear_bindings(search);
}

/* What search.h promises of every parsed query. */
static void check_query(const struct nd_search_query *q)
{
    FUZZ_REQUIRE(q->nterms >= 1 && q->nterms <= ND_SEARCH_MAX_TERMS);
    FUZZ_REQUIRE(q->ngroups >= 1 && q->ngroups <= q->nterms);
    unsigned next = 0;
    bool positive = false;
    for (unsigned g = 0; g < q->ngroups; g++) {
        const struct nd_search_group *grp = &q->groups[g];
        FUZZ_REQUIRE(grp->first == next && grp->count >= 1);
        for (unsigned i = grp->first; i < grp->first + grp->count; i++)
            FUZZ_REQUIRE(!q->terms[i].excluded || grp->count == 1);
        next += grp->count;
    }
    FUZZ_REQUIRE(next == q->nterms);
    for (unsigned i = 0; i < q->nterms; i++) {
        const struct nd_search_term *t = &q->terms[i];
        const char *text = nd_search_term_text(q, t);
        FUZZ_REQUIRE(t->at + t->len < sizeof q->chars && t->len > 0);
        FUZZ_REQUIRE(strlen(text) == t->len && nd_utf8_valid(text, t->len));
        FUZZ_REQUIRE(strchr(text, '"') == NULL);
        positive |= !t->excluded;
    }
    FUZZ_REQUIRE(positive);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (db == NULL)
        open_db();
    char *query = fuzz_strndup(data, size);
    char *fts = NULL;
    char err[256];
    err[0] = '\0';
    struct nd_search_query q;
    enum nd_err rc = nd_search_parse(query, &q, err, sizeof err);
    FUZZ_REQUIRE(rc == ND_OK || rc == ND_ERR_INVALID);
    if (rc == ND_OK) {
        check_query(&q);
        FUZZ_REQUIRE(nd_store_search_fts(&q, &fts) == ND_OK);
        FUZZ_REQUIRE(fts != NULL && fts[0] != '\0' && nd_utf8_valid(fts, strlen(fts)));
        run_match(fts);
        free(fts);
    } else {
        FUZZ_REQUIRE(err[0] != '\0');
    }
    render(query);
    free(query);
    return 0;
}
