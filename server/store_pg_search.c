/*
 * store_pg_search.c: full-text search on PostgreSQL (migration 0002's
 * weighted tsvectors and GIN indexes, text search configuration newsd).
 *
 * The parsed query (newsd/search.h) becomes a tsquery built in SQL from
 * bound parameters: each term goes through newsd_term_query(), which splits
 * it into words exactly as the index split the text (a phrase of them, the
 * last one a prefix for "elec*"); groups are joined with &&, alternatives
 * with ||, excluded terms negated with !!. No text of the query is ever
 * parsed as tsquery syntax, so no input is PostgreSQL syntax.
 *
 * As on SQLite only the ND_SEARCH_WINDOW newest matches (by id) are
 * ranked, so a word in every article stays cheap; filters apply to that
 * window, as there. A GIN index gives its matches in no useful order, so the
 * window is looked for in ranges of ids, newest first (window_sql): the
 * newest WINDOW_NEAR ids, the WINDOW_FAR before them, then the rest, each
 * range the GIN bitmap and'ed with the primary key's, and the ranges stop as
 * soon as the window is full. A word in a quarter of 100,000 articles is
 * found in the first range: 42 ms instead of 2.8 s for the heap pages of all
 * its 23,050 matches (or 345 ms when the planner walked the ids backwards
 * and read each article's tsvector from TOAST to test it). Ranking is ts_rank with the weights
 * title 1.0, summary 0.2 and body 0.1 (SQLite's BM25 weights 10, 2, 1 scaled into ts_rank's 0..1):
 * the same words lead, but the scores and the order among near ties differ from BM25
 * (docs/postgresql.md). Snippets are migration 0004's newsd_snippet (ts_headline shaped like
 * SQLite's snippet()) around the matches with ND_SNIPPET_OPEN/CLOSE, characters that cannot occur
 * in stored text, so the shared HTML rendering escapes the text and then marks the matches, as for
 * SQLite's snippet().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/log.h"
#include "newsd/search.h"
#include "store_pg.h"

/* Room for the tsquery expression: every term's call and its operators. */
#define EXPR_MAX (ND_SEARCH_MAX_TERMS * 48 + 16)
#define SQL_MAX 4096

/* The parameter names of term i: ":t0".. and ":p0".. */
static const char *const term_names[ND_SEARCH_MAX_TERMS] = {
    ":t0", ":t1", ":t2",  ":t3",  ":t4",  ":t5",  ":t6",  ":t7",
    ":t8", ":t9", ":t10", ":t11", ":t12", ":t13", ":t14", ":t15"};
static const char *const prefix_names[ND_SEARCH_MAX_TERMS] = {
    ":p0", ":p1", ":p2",  ":p3",  ":p4",  ":p5",  ":p6",  ":p7",
    ":p8", ":p9", ":p10", ":p11", ":p12", ":p13", ":p14", ":p15"};
_Static_assert(ND_SEARCH_MAX_TERMS == 16, "one parameter name per term");

/* Appends text to buf (size bytes, used so far *used). */
static void append(char *buf, size_t size, size_t *used, const char *text)
{
    int n = snprintf(buf + *used, size - *used, "%s", text);
    if (n > 0)
        *used += (size_t)n < size - *used ? (size_t)n : size - *used - 1;
}

/* The tsquery expression of q into expr, and the terms' parameters into params. */
static void query_expr(const struct nd_search_query *q, char expr[EXPR_MAX],
                       struct nd_param *params, size_t *nparams)
{
    size_t used = 0;
    expr[0] = '\0';
    for (unsigned g = 0; g < q->ngroups; g++) {
        const struct nd_search_group *grp = &q->groups[g];
        append(expr, EXPR_MAX, &used, g ? " && (" : "(");
        for (unsigned i = grp->first; i < grp->first + grp->count; i++) {
            const struct nd_search_term *t = &q->terms[i];
            char call[48];
            snprintf(call, sizeof call, "%s%snewsd_term_query(%s, %s)",
                     i > grp->first ? " || " : "", t->excluded ? "!!" : "", term_names[i],
                     prefix_names[i]);
            append(expr, EXPR_MAX, &used, call);
            params[(*nparams)++] =
                (struct nd_param)ND_TEXT(term_names[i], nd_search_term_text(q, t));
            params[(*nparams)++] = (struct nd_param)ND_TEXT(prefix_names[i], t->prefix ? "t" : "f");
        }
        append(expr, EXPR_MAX, &used, ")");
    }
}

/* The ranges of ids the window is looked for in: the newest, the ones before, the rest. */
#define WINDOW_NEAR "2000"
#define WINDOW_FAR "20000"

/*
 * The CTE hits: the ids of the ND_SEARCH_WINDOW newest rows of table whose
 * search matches q (a CTE of one row), range by range. Each bound is an
 * initplan (a scalar subquery), which the planner can use in an index
 * condition: a bound read from a joined CTE would be tested row by row after
 * the whole bitmap was fetched.
 */
static void window_sql(char *buf, size_t size, const char *table)
{
    snprintf(buf, size,
             "hits AS ((SELECT t.id FROM %s t WHERE t.search @@ (SELECT q FROM q)"
             " AND t.id > (SELECT max(id) FROM %s) - " WINDOW_NEAR " ORDER BY t.id DESC)"
             " UNION ALL (SELECT t.id FROM %s t WHERE t.search @@ (SELECT q FROM q)"
             " AND t.id <= (SELECT max(id) FROM %s) - " WINDOW_NEAR
             " AND t.id > (SELECT max(id) FROM %s) - " WINDOW_FAR " ORDER BY t.id DESC)"
             " UNION ALL (SELECT t.id FROM %s t WHERE t.search @@ (SELECT q FROM q)"
             " AND t.id <= (SELECT max(id) FROM %s) - " WINDOW_FAR " ORDER BY t.id DESC)"
             " LIMIT " ND_SEARCH_WINDOW_SQL ")",
             table, table, table, table, table, table, table);
}

/* The ranked page's statement for articles. */
static void article_sql(char *sql, const char *expr, bool newest, unsigned mask)
{
    size_t used = 0;
    char head[2048], hits[1024];
    window_sql(hits, sizeof hits, "articles");
    snprintf(head, sizeof head,
             "WITH q AS (SELECT %s AS q), %s"
             " SELECT id, slug, title, published_at, score FROM ("
             "SELECT a.id, a.slug, a.title, a.published_at, a.status, a.category, a.author,"
             " -ts_rank('{0, 0.1, 0.2, 1.0}', a.search, q.q)::float8 AS score"
             " FROM hits JOIN articles a ON a.id = hits.id, q) AS r WHERE true",
             expr, hits);
    sql[0] = '\0';
    append(sql, SQL_MAX, &used, head);
    char filters[512] = "";
    nd_store_filter_sql(filters, mask & ~(unsigned)ND_LIST_CURSOR);
    append(sql, SQL_MAX, &used, filters);
    if (mask & ND_LIST_CURSOR)
        append(sql, SQL_MAX, &used,
               newest ? ND_SEARCH_AFTER_CURSOR_NEWEST("published_at")
                      : ND_SEARCH_AFTER_CURSOR("published_at"));
    append(sql, SQL_MAX, &used,
           newest ? " ORDER BY published_at DESC, id DESC LIMIT :limit"
                  : " ORDER BY score, published_at DESC, id DESC LIMIT :limit");
}

/* The ranked page's statement for comments (of articles with :status when status). */
static void comment_sql(char *sql, const char *expr, bool newest, bool status, bool after)
{
    size_t used = 0;
    char head[2048], hits[1024];
    window_sql(hits, sizeof hits, "comments");
    snprintf(head, sizeof head,
             "WITH q AS (SELECT %s AS q), %s"
             " SELECT id, article_id, created_at, score FROM ("
             "SELECT c.id, c.article_id, c.created_at, a.status,"
             " -ts_rank(c.search, q.q)::float8 AS score"
             " FROM hits JOIN comments c ON c.id = hits.id"
             " JOIN articles a ON a.id = c.article_id, q WHERE c.status = 'visible') AS r"
             " WHERE true",
             expr, hits);
    sql[0] = '\0';
    append(sql, SQL_MAX, &used, head);
    if (status)
        append(sql, SQL_MAX, &used, " AND status = :status");
    if (after)
        append(sql, SQL_MAX, &used,
               newest ? ND_SEARCH_AFTER_CURSOR_NEWEST("created_at")
                      : ND_SEARCH_AFTER_CURSOR("created_at"));
    append(sql, SQL_MAX, &used,
           newest ? " ORDER BY created_at DESC, id DESC LIMIT :limit"
                  : " ORDER BY score, created_at DESC, id DESC LIMIT :limit");
}

/* The ranked page into items and *next (no snippets yet). */
static enum nd_err find_page(struct nd_pg *st, const struct nd_search_params *p, const char *expr,
                             const struct nd_param *terms, size_t nterms, json_t *items,
                             char **next)
{
    struct nd_page page = nd_search_page(p->comments, p->newest, p->limit);
    struct nd_param params[ND_FILTER_PARAMS + 4 + 2 * ND_SEARCH_MAX_TERMS] = {{.name = NULL}};
    int64_t pos[ND_PAGE_KEYS_MAX];
    char sql[SQL_MAX];
    if (nd_page_start(&page, p->cursor, pos) != ND_OK)
        return ND_ERR_INVALID;
    bool after = p->cursor != NULL;
    size_t n = 0;
    if (p->comments) {
        bool status = p->filter.status != ND_STATUS_ANY;
        comment_sql(sql, expr, p->newest, status, after);
        params[n++] = (struct nd_param)ND_TEXT_IF(
            status, ":status", p->filter.status == ND_STATUS_DRAFT ? "draft" : "published");
        params[n++] = (struct nd_param)ND_INT_IF(after, ":cursor_at", pos[1]);
        params[n++] = (struct nd_param)ND_INT_IF(after, ":cursor_id", pos[2]);
    } else {
        unsigned mask = nd_store_filter_mask(&p->filter, after);
        article_sql(sql, expr, p->newest, mask);
        nd_store_filter_params(params, mask, &p->filter, &pos[1]);
        n = ND_FILTER_PARAMS;
    }
    params[n++] = (struct nd_param)ND_REAL_IF(after && !p->newest, ":cursor_score",
                                              nd_page_key_double(pos[0]));
    for (size_t i = 0; i < nterms; i++)
        params[n++] = terms[i];
    struct nd_pg_stmt once = {.oneshot = true};
    return nd_pg_page(st, &once, sql, params, &page, items, next, "search");
}

/* Where the snippets of a page go. */
struct snippets {
    json_t *items;
};

static enum nd_err read_snippet(const struct nd_row *row, void *ctx)
{
    struct snippets *s = ctx;
    json_t *item = nd_items_find(s->items, nd_row_int(row, 0));
    return item ? nd_row_json_text(item, "snippet", row, 1) : ND_OK;
}

/* The snippets of the page's articles and comments (%s: the tsquery expression). */
#define PAGE_IDS "(SELECT jsonb_array_elements_text(CAST(:ids AS jsonb))::bigint)"
#define ARTICLE_SNIPPETS                                                                           \
    "WITH q AS (SELECT %s AS q) SELECT a.id, newsd_snippet(concat_ws(' ', a.title, a.summary, "    \
    "a.body), q.q) FROM articles a, q WHERE a.id IN " PAGE_IDS
#define COMMENT_SNIPPETS                                                                           \
    "WITH q AS (SELECT %s AS q) SELECT c.id, newsd_snippet(c.body, q.q) FROM comments c, q "       \
    "WHERE c.id IN " PAGE_IDS

/* Adds "snippet" to each item of the page, in one statement for the page's ids. */
static enum nd_err add_snippets(struct nd_pg *st, const struct nd_search_params *p,
                                const char *expr, const struct nd_param *terms, size_t nterms,
                                json_t *items)
{
    struct nd_param params[2 * ND_SEARCH_MAX_TERMS + 2] = {{.name = NULL}};
    char sql[SQL_MAX];
    size_t i;
    json_t *item;
    if (json_array_size(items) == 0)
        return ND_OK;
    json_t *ids = json_array();
    json_array_foreach(items, i, item)
    {
        json_array_append(ids, json_object_get(item, "id"));
    }
    char *ids_text = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    if (!ids_text)
        return ND_ERR_NOMEM;
    snprintf(sql, sizeof sql, p->comments ? COMMENT_SNIPPETS : ARTICLE_SNIPPETS, expr);
    size_t n = 0;
    for (i = 0; i < nterms; i++)
        params[n++] = terms[i];
    params[n++] = (struct nd_param)ND_TEXT(":ids", ids_text);
    struct nd_pg_stmt once = {.oneshot = true};
    struct snippets s = {items};
    enum nd_err err = nd_pg_each(st, &once, sql, params, read_snippet, &s, "search snippet");
    free(ids_text);
    return err;
}

enum nd_err nd_pg_search(struct nd_store *store, const struct nd_search_params *p, json_t **items,
                         char **next_cursor)
{
    struct nd_pg *st = nd_pg_of(store);
    struct nd_param terms[2 * ND_SEARCH_MAX_TERMS];
    size_t nterms = 0;
    char expr[EXPR_MAX];
    char timeout[24];
    char *next = NULL;
    if (p->limit < 1 || p->limit > 100 || !p->query || p->query->nterms == 0)
        return ND_ERR_INVALID;
    query_expr(p->query, expr, terms, &nterms);
    json_t *arr = json_array();
    if (!arr)
        return ND_ERR_NOMEM;
    enum nd_err err = nd_pg_begin_read(st);
    if (err == ND_OK && p->time_limit_ms) {
        snprintf(timeout, sizeof timeout, "%u", p->time_limit_ms);
        err = nd_pg_row_one(st, PG_SEARCH_TIMEOUT,
                            "SELECT set_config('statement_timeout', :ms, true)",
                            ND_PARAMS(ND_TEXT(":ms", timeout)), NULL, NULL, "search");
    }
    st->timeout_is_limit = true;
    if (err == ND_OK)
        err = find_page(st, p, expr, terms, nterms, arr, &next);
    if (err == ND_OK)
        err = add_snippets(st, p, expr, terms, nterms, arr);
    st->timeout_is_limit = false;
    if (err == ND_OK)
        err = nd_pg_commit(st);
    else
        nd_pg_rollback(st);
    if (err != ND_OK) {
        free(next);
        json_decref(arr);
        return err;
    }
    *items = arr;
    *next_cursor = next;
    return ND_OK;
}
