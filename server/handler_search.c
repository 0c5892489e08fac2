/*
 * handler_search.c: GET /v1/search.
 *
 * The query text goes through the parser (search.h) and reaches the store
 * as a parsed query, never as text for its engine; every way a query can be refused is a 400 whose
 * detail says what to change. Visibility follows the lists: drafts, and comments of drafts, are
 * found only with a key and status=draft|any.
 */
#include <stdlib.h>
#include <string.h>

#include "newsd/handler_list.h"
#include "newsd/handlers.h"
#include "newsd/search.h"
#include "newsd/store.h"
#include "newsd/util.h"

/* The values of ?sort=: best first (the default) or newest first. */
static const char *const sort_values[] = {"relevance", "newest"};

/* Replaces each item's raw snippet by its HTML rendering. */
static enum nd_err render_snippets(json_t *items)
{
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *item = json_array_get(items, i);
        const char *raw = json_string_value(json_object_get(item, "snippet"));
        char *html = nd_search_snippet_html(raw ? raw : "");
        if (!html)
            return ND_ERR_NOMEM;
        int rc = json_object_set_new(item, "snippet", json_string(html));
        free(html);
        if (rc != 0)
            return ND_ERR_NOMEM;
    }
    return ND_OK;
}

/* Reads type; comments take no article filter. Returns 0 or the 400 answered. */
static int parse_type(struct nd_request *req, const struct nd_list_query *q, bool *comments)
{
    const char *type = nd_request_query(req, "type");
    if (type && strcmp(type, "articles") != 0 && strcmp(type, "comments") != 0)
        return nd_respond_problem(req, 400, "type must be articles or comments");
    *comments = type && strcmp(type, "comments") == 0;
    const struct nd_article_filter *f = &q->filter;
    if (*comments && (f->category || f->tag || f->author || f->has_since || f->has_until))
        return nd_respond_problem(req, 400,
                                  "category, tag, author, since and until apply to type=articles "
                                  "only: leave them out when searching comments");
    return 0;
}

static int answer_search_error(struct nd_request *req, enum nd_err err)
{
    if (err == ND_ERR_INVALID)
        return nd_respond_problem(req, 400,
                                  "cursor is not a cursor of this search, type and sort order: "
                                  "start again without it");
    if (err == ND_ERR_LIMIT)
        return nd_respond_problem(req, 400,
                                  "the search took too long: use fewer or more specific words");
    return nd_respond_err(req, err, "could not search");
}

int nd_handle_search(struct nd_request *req)
{
    struct nd_list_query q;
    struct nd_search_params p = {.time_limit_ms = ND_SEARCH_TIME_LIMIT_MS};
    char detail[256];
    const char *text = nd_request_query(req, "q");
    if (!text)
        return nd_respond_problem(req, 400, "q is required: the words to search for");
    struct nd_fields fields;
    int status = nd_list_query_parse(req, &q);
    unsigned newest = 0;
    if (status == 0)
        status = parse_type(req, &q, &p.comments);
    if (status == 0)
        status = nd_handler_choice(req, "sort", sort_values, 2, &newest);
    if (status == 0)
        status = nd_handler_fields(req, p.comments ? ND_VOCAB_COMMENT_HIT : ND_VOCAB_ARTICLE_HIT,
                                   &fields);
    if (status != 0)
        return status;
    struct nd_search_query query;
    enum nd_err err = nd_search_parse(text, &query, detail, sizeof detail);
    if (err != ND_OK)
        return nd_respond_problem(req, 400, "%s", detail);
    struct nd_store *store = nd_request_store(req);
    if (!store)
        return nd_respond_unavailable(req);
    p.query = &query;
    p.newest = newest == 1;
    p.filter = q.filter;
    p.limit = q.limit;
    p.cursor = q.cursor;
    json_t *items = NULL;
    char *next = NULL;
    uint64_t started = nd_monotonic_us();
    err = nd_store_search(store, &p, &items, &next);
    nd_metrics_observe_search(nd_request_metrics(req), nd_monotonic_us() - started);
    if (err == ND_OK)
        err = render_snippets(items);
    if (err != ND_OK) {
        json_decref(items);
        free(next);
        return answer_search_error(req, err);
    }
    struct nd_link_params lp;
    nd_link_params_list(&lp, &q, next);
    nd_link_params_add(&lp, "q", text);
    nd_link_params_add(&lp, "type", nd_request_query(req, "type"));
    if (!p.comments)
        nd_request_cache_articles_only(req); /* article hits hold no comment_count */
    return nd_list_respond_page(req, items, next, "/v1/search", &lp, &fields, NULL);
}
