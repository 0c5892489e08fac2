/*
 * store_search.c: full-text search over the FTS5 indexes of migration 0002.
 *
 * A page is found in two steps: first the ranked ids (BM25, keyset-paged on
 * score, then recency; or newest first, keyset-paged on time and id), then
 * the snippets of that page in one statement. A snippet is costly
 * and would otherwise be made for every match, not just the page shown.
 *
 * Column weights (title 10, summary 2, body 1): a word in a headline says
 * far more about what an article is about than the same word deep in the
 * text; the summary is usually the lede, so it counts double.
 *
 * Bounded cost: only the ND_SEARCH_WINDOW newest matches (by rowid, which
 * FTS5 walks backwards and stops) are ranked. BM25 must otherwise be
 * computed for every match, and a word found in every article made one
 * search rank all of them (0.5 s with 100,000 articles). For a rarer word the
 * window holds every match and nothing changes; for a common one the answer
 * is the best among the newest, which suits news. Each candidate costs its
 * positions, its length (a row of the FTS5 docsize table) and its articles
 * row, so the window's size is most of a common word's cost: ranking 1,000
 * took about three times the instructions 200 take (bench/RESULTS.md). The time limit is a
 * progress handler that interrupts the statement; the interrupt comes back
 * as ND_ERR_LIMIT.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "newsd/cursor.h"
#include "newsd/search.h"
#include "newsd/util.h"
#include "store_internal.h"
#include "store_search_fts.h"

#define ARTICLE_SEARCH_SQL                                                                         \
    "SELECT id, slug, title, published_at, score FROM ("                                           \
    "SELECT articles.id AS id, articles.slug AS slug, articles.title AS title,"                    \
    " articles.published_at AS published_at, articles.status AS status,"                           \
    " articles.category AS category, articles.author AS author, hits.score AS score"               \
    " FROM (SELECT rowid AS hit, bm25(articles_fts, 10.0, 2.0, 1.0) AS score"                      \
    " FROM articles_fts WHERE articles_fts MATCH :match"                                           \
    " ORDER BY rowid DESC LIMIT " ND_SEARCH_WINDOW_SQL ") AS hits"                                 \
    " JOIN articles ON articles.id = hits.hit) WHERE 1"

#define COMMENT_SEARCH_SQL                                                                         \
    "SELECT id, article_id, created_at, score FROM ("                                              \
    "SELECT comments.id AS id, comments.article_id AS article_id,"                                 \
    " comments.created_at AS created_at, articles.status AS status, hits.score AS score"           \
    " FROM (SELECT rowid AS hit, bm25(comments_fts) AS score"                                      \
    " FROM comments_fts WHERE comments_fts MATCH :match"                                           \
    " ORDER BY rowid DESC LIMIT " ND_SEARCH_WINDOW_SQL ") AS hits"                                 \
    " JOIN comments ON comments.id = hits.hit"                                                     \
    " JOIN articles ON articles.id = comments.article_id"                                          \
    " WHERE comments.status = 'visible') WHERE 1"

#define SNIPPET_TOKENS "24"

struct deadline {
    struct timespec at;
};

/* The progress handler: non-zero interrupts the statement once time is up. */
static int past_deadline(void *arg)
{
    const struct deadline *d = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > d->at.tv_sec ||
           (now.tv_sec == d->at.tv_sec && now.tv_nsec >= d->at.tv_nsec);
}

/*
 * The cached ranked-ids statement for the article filters and cursor in
 * mask, best first or (newest) newest first.
 */
static sqlite3_stmt *article_stmt(struct nd_sqlite *st, bool newest, unsigned mask,
                                  enum nd_err *err)
{
    char sql[2048] = ARTICLE_SEARCH_SQL;
    if (st->article_searches[newest][mask])
        return st->article_searches[newest][mask];
    nd_store_filter_sql(sql, mask & ~(unsigned)ND_LIST_CURSOR);
    if (mask & ND_LIST_CURSOR)
        strcat(sql, newest ? ND_SEARCH_AFTER_CURSOR_NEWEST("published_at")
                           : ND_SEARCH_AFTER_CURSOR("published_at"));
    strcat(sql, newest ? " ORDER BY published_at DESC, id DESC LIMIT :limit"
                       : " ORDER BY score, published_at DESC, id DESC LIMIT :limit");
    return nd_store_prepare(st, &st->article_searches[newest][mask], sql, err);
}

static sqlite3_stmt *comment_stmt(struct nd_sqlite *st, bool newest, unsigned variant,
                                  enum nd_err *err)
{
    char sql[2048] = COMMENT_SEARCH_SQL;
    if (st->comment_searches[newest][variant])
        return st->comment_searches[newest][variant];
    if (variant & 1)
        strcat(sql, " AND status = :status");
    if (variant & 2)
        strcat(sql, newest ? ND_SEARCH_AFTER_CURSOR_NEWEST("created_at")
                           : ND_SEARCH_AFTER_CURSOR("created_at"));
    strcat(sql, newest ? " ORDER BY created_at DESC, id DESC LIMIT :limit"
                       : " ORDER BY score, created_at DESC, id DESC LIMIT :limit");
    return nd_store_prepare(st, &st->comment_searches[newest][variant], sql, err);
}

/*
 * The snippets of the page's rows in one statement: the MATCH is evaluated
 * once and walked over the page's rowid range, nd_snippet() (FTS5's
 * snippet() made cheaper, store_search_snippet.c) running only for the
 * page's ids (":ids", a JSON array). One statement per row evaluated the
 * expression again for each row, which for a prefix without its own prefix
 * index means merging every term it expands to, twenty times a page.
 * The "+" keeps the id list from becoming an FTS5 rowid constraint (which
 * would filter once per id again).
 */
#define SNIPPETS_SQL(table)                                                                        \
    "SELECT rowid, nd_snippet(" table ", char(1), char(2), '…', " SNIPPET_TOKENS ") FROM " table   \
    " WHERE " table " MATCH :match AND rowid BETWEEN :lo AND :hi"                                  \
    " AND +rowid IN (SELECT value FROM json_each(:ids))"

/*
 * Adds "snippet" to each item of items: the best fragment of the row around
 * the matches ("" for a row the expression no longer matches).
 */
static enum nd_err add_snippets(struct nd_sqlite *st, const struct nd_search_params *p,
                                const char *match, json_t *items)
{
    enum nd_err err = ND_OK;
    sqlite3_stmt *stmt = NULL;
    char *ids = NULL;
    json_t *list = json_array();
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    size_t i;
    json_t *item;
    if (!list)
        return ND_ERR_NOMEM;
    json_array_foreach(items, i, item)
    {
        int64_t id = json_integer_value(json_object_get(item, "id"));
        lo = id < lo ? id : lo;
        hi = id > hi ? id : hi;
        if (json_array_append_new(list, json_integer(id)) != 0 ||
            json_object_set_new(item, "snippet", json_string("")) != 0) {
            err = ND_ERR_NOMEM;
            goto out;
        }
    }
    if (json_array_size(items) == 0)
        goto out;
    ids = json_dumps(list, JSON_COMPACT);
    if (!ids) {
        err = ND_ERR_NOMEM;
        goto out;
    }
    stmt =
        p->comments
            ? nd_store_stmt(st, ND_STMT_SEARCH_COMMENT_SNIPPET, SNIPPETS_SQL("comments_fts"), &err)
            : nd_store_stmt(st, ND_STMT_SEARCH_ARTICLE_SNIPPET, SNIPPETS_SQL("articles_fts"), &err);
    if (!stmt)
        goto out;
    int rc = nd_store_bind(stmt, ND_PARAMS(ND_TEXT(":match", match), ND_INT(":lo", lo),
                                           ND_INT(":hi", hi), ND_TEXT(":ids", ids)));
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_ROW)
            break;
        struct nd_row row = nd_sqlite_row(stmt);
        item = nd_items_find(items, sqlite3_column_int64(stmt, 0));
        if (item && (err = nd_row_json_text(item, "snippet", &row, 1)) != ND_OK)
            goto out;
    }
    if (rc != SQLITE_DONE)
        err = nd_store_sqlite_err(st->db, rc, "search snippet");
out:
    if (stmt)
        nd_store_release(stmt);
    free(ids);
    json_decref(list);
    return err;
}

/* Finds the ranked page into items and *next; the snippets come after. */
static enum nd_err find_page(struct nd_sqlite *st, const struct nd_search_params *p,
                             const char *match, json_t *items, char **next)
{
    /* ranked rows select BM25 itself, negative with better matches lower (nd_search_page) */
    struct nd_page page = nd_search_page(p->comments, p->newest, p->limit);
    struct nd_param params[ND_FILTER_PARAMS + 3] = {{.name = NULL}};
    int64_t pos[ND_PAGE_KEYS_MAX];
    enum nd_err err = ND_OK;
    sqlite3_stmt *stmt;
    if (nd_page_start(&page, p->cursor, pos) != ND_OK)
        return ND_ERR_INVALID;
    bool after = p->cursor != NULL;
    size_t n = 0;
    if (p->comments) {
        bool status = p->filter.status != ND_STATUS_ANY;
        stmt = comment_stmt(st, p->newest, status | (after ? 2u : 0u), &err);
        params[n++] = (struct nd_param)ND_TEXT_IF(
            status, ":status", p->filter.status == ND_STATUS_DRAFT ? "draft" : "published");
        params[n++] = (struct nd_param)ND_INT_IF(after, ":cursor_at", pos[1]);
        params[n++] = (struct nd_param)ND_INT_IF(after, ":cursor_id", pos[2]);
    } else {
        unsigned mask = nd_store_filter_mask(&p->filter, after);
        stmt = article_stmt(st, p->newest, mask, &err);
        nd_store_filter_params(params, mask, &p->filter, &pos[1]);
        n = ND_FILTER_PARAMS;
    }
    if (!stmt)
        return err;
    params[n++] = (struct nd_param)ND_TEXT(":match", match);
    params[n] = (struct nd_param)ND_REAL_IF(after && !p->newest, ":cursor_score",
                                            nd_page_key_double(pos[0]));
    return nd_store_page(st, stmt, params, &page, items, next, "search");
}

enum nd_err nd_sqlite_search(struct nd_store *store, const struct nd_search_params *p,
                             json_t **items, char **next_cursor)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    struct deadline deadline;
    char *next = NULL;
    char *match = NULL;
    if (p->limit < 1 || p->limit > 100 || !p->query || p->query->nterms == 0)
        return ND_ERR_INVALID;
    if (nd_store_search_fts(p->query, &match) != ND_OK)
        return ND_ERR_NOMEM;
    json_t *arr = json_array();
    if (!arr) {
        free(match);
        return ND_ERR_NOMEM;
    }
    if (p->time_limit_ms) {
        deadline.at = nd_time_after_ms(CLOCK_MONOTONIC, p->time_limit_ms);
        sqlite3_progress_handler(st->db, 1000, past_deadline, &deadline);
    }
    enum nd_err err = find_page(st, p, match, arr, &next);
    if (err == ND_OK)
        err = add_snippets(st, p, match, arr);
    sqlite3_progress_handler(st->db, 0, NULL, NULL);
    free(match);
    if (err != ND_OK) {
        json_decref(arr);
        free(next);
        return err;
    }
    *items = arr;
    *next_cursor = next;
    return ND_OK;
}
