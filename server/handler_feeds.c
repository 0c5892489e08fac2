/*
 * handler_feeds.c: GET /v1/feed.atom, /v1/feed.rss and /v1/feed.json.
 *
 * A feed holds the latest published articles (feed-size of them, newest
 * published_at first, as the article list orders them), filtered by the
 * list's own query parameters, read through the list's parser so that both
 * accept and refuse alike. The store lists the articles without their
 * bodies; each is then read whole. feed.c renders the document; the HTTP
 * layer adds ETag, 304, HEAD, gzip and the response cache.
 *
 * Links must be absolute: they start with the public-url setting, or else
 * with http(s)://HOST from the request's Host header (which the HTTP layer
 * has checked, and which is part of the response cache's key). An entry
 * links to the page a person reads: the reader page's view of the article,
 * or the article-url setting's page on a site with its own frontend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/feed.h"
#include "newsd/handler_list.h"
#include "newsd/handlers.h"
#include "newsd/store.h"
#include "newsd/url.h"

/*
 * Bytes of article bodies one feed carries. A body that would pass it is
 * left out (the entry keeps its summary and link), so a feed of 100
 * articles of 1 MiB each is not a 100 MiB answer built for any client who
 * asks; the first body always goes in.
 */
#define FEED_BODY_BUDGET (1024 * 1024)
#define FEED_TITLE "newsd"

/*
 * Reads the feed's parameters into *q: those of the article list (one
 * parser, the same 400s), limit defaulting to feed-size, and no status but
 * published. Returns 0, or the status of the problem it answered.
 */
static int parse_feed_query(struct nd_request *req, struct nd_list_query *q)
{
    const char *status = nd_request_query(req, "status");
    if (status != NULL && strcmp(status, "published") != 0)
        return nd_respond_problem(req, 400, "a feed holds published articles only: drop status");
    int rc = nd_list_query_parse(req, q);
    if (rc != 0)
        return rc;
    if (nd_request_query(req, "limit") == NULL)
        q->limit = nd_request_config(req)->feed_size;
    q->cursor = NULL; /* a feed has no pages: the newest articles, always */
    return 0;
}

/*
 * The articles of the feed, in list order, as a new array in *out, whole
 * while their bodies fit FEED_BODY_BUDGET, then without "body" (taken from
 * the list, not read again: the budget bounds the work as well as the answer). An article
 * deleted or made a draft between the list and its read is left out.
 * Returns ND_OK or the store's error.
 */
static enum nd_err read_articles(struct nd_store *store, const struct nd_list_query *q,
                                 json_t **out)
{
    json_t *items = NULL, *articles = json_array(), *item;
    char *next = NULL;
    size_t i, body_bytes = 0;
    bool spent = false; /* a body did not fit: the rest are not read either */
    enum nd_err err = articles != NULL ? ND_OK : ND_ERR_NOMEM;
    if (err == ND_OK)
        err = nd_store_article_list(store, &q->filter, q->limit, NULL, &items, &next);
    json_array_foreach(items, i, item)
    {
        json_t *article = NULL;
        if (err != ND_OK)
            break;
        if (spent)
            article = json_incref(item); /* the list's item: all but the body */
        else
            err = nd_store_article_get(store, json_integer_value(json_object_get(item, "id")),
                                       &article);
        if (err == ND_ERR_NOT_FOUND) {
            err = ND_OK;
            continue;
        }
        const char *status = json_string_value(json_object_get(article, "status"));
        if (err == ND_OK) {
            size_t len = json_string_length(json_object_get(article, "body"));
            if (body_bytes > 0 && body_bytes + len > FEED_BODY_BUDGET) {
                json_object_del(article, "body");
                spent = true;
            } else {
                body_bytes += len;
            }
        }
        if (err == ND_OK && (status == NULL || strcmp(status, "published") != 0))
            json_decref(article);
        else if (err == ND_OK && json_array_append_new(articles, article) != 0)
            err = ND_ERR_NOMEM;
    }
    if (err == ND_OK)
        *out = articles;
    else
        json_decref(articles);
    json_decref(items);
    free(next);
    return err;
}

/* Appends ", WHAT VALUE" (the first time ": WHAT VALUE") when value is set. */
static void add_title_part(char *title, size_t len, const char *what, const char *value)
{
    if (value == NULL)
        return;
    size_t used = strlen(title);
    snprintf(title + used, len - used, "%s%s %s", strchr(title, ':') ? ", " : ": ", what, value);
}

/*
 * The feed's title ("newsd", or "newsd: category Sport, tag x") made valid
 * for every format, malloc'd; NULL when out of memory. A filter value is
 * client text and may be anything: nd_feed_clean_text makes it UTF-8.
 */
static char *feed_title(const struct nd_list_query *q)
{
    char title[512] = FEED_TITLE;
    add_title_part(title, sizeof title, "category", q->filter.category);
    add_title_part(title, sizeof title, "tag", q->filter.tag);
    add_title_part(title, sizeof title, "author", q->filter.author);
    return nd_feed_clean_text(title, strlen(title));
}

/* The feed URL's query: the parameters given, in a fixed order, percent-encoded. */
static char *feed_query(struct nd_request *req, const struct nd_list_query *q)
{
    const char *const params[][2] = {
        {"category", q->filter.category},
        {"tag", q->filter.tag},
        {"author", q->filter.author},
        {"since", q->since},
        {"until", q->until},
        {"limit", nd_request_query(req, "limit")},
    };
    struct nd_buf query = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    nd_url_append_query(&query, params, sizeof params / sizeof params[0]);
    return nd_buf_take(&query, NULL);
}

/* Renders the feed of articles for the request; answers and returns the status. */
static int answer_feed(struct nd_request *req, enum nd_feed_format format, const char *base,
                       const struct nd_list_query *q, const json_t *articles)
{
    static const char *const types[] = {ND_FEED_ATOM_TYPE, ND_FEED_RSS_TYPE, ND_FEED_JSON_TYPE};
    size_t len = 0;
    char *text = NULL, *title = feed_title(q), *query = feed_query(req, q);
    if (title != NULL && query != NULL) {
        struct nd_feed feed = {.base = base,
                               .title = title,
                               .query = query,
                               .page = nd_request_config(req)->article_url,
                               .articles = articles};
        text = nd_feed_render(format, &feed, &len);
    }
    free(title);
    free(query);
    if (text == NULL)
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    return nd_respond_owned(req, 200, types[format], text, len);
}

static int serve_feed(struct nd_request *req, enum nd_feed_format format)
{
    struct nd_list_query q;
    json_t *articles = NULL;
    char *base = NULL;
    const struct nd_config *cfg = nd_request_config(req);
    int status = parse_feed_query(req, &q);
    if (status != 0)
        return status;
    base =
        nd_feed_base_url(cfg->public_url, nd_request_header(req, "Host"), cfg->tls_cert[0] != '\0');
    if (base == NULL && cfg->public_url[0] == '\0' && nd_request_header(req, "Host") == NULL) {
        status = nd_respond_problem(req, 400,
                                    "a feed's links need a Host header (or the server's "
                                    "public-url setting)");
        goto out;
    }
    if (base == NULL) {
        status = nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
        goto out;
    }
    struct nd_store *store = nd_request_store(req);
    if (store == NULL) {
        status = nd_respond_unavailable(req);
        goto out;
    }
    nd_request_cache_articles_only(req); /* no comment_count in a feed */
    enum nd_err err = read_articles(store, &q, &articles);
    if (err != ND_OK)
        status = nd_respond_err(req, err, "could not read the articles");
    else
        status = answer_feed(req, format, base, &q, articles);
out:
    json_decref(articles);
    free(base);
    return status;
}

int nd_handle_feed_atom(struct nd_request *req)
{
    return serve_feed(req, ND_FEED_ATOM);
}

int nd_handle_feed_rss(struct nd_request *req)
{
    return serve_feed(req, ND_FEED_RSS);
}

int nd_handle_feed_json(struct nd_request *req)
{
    return serve_feed(req, ND_FEED_JSON);
}
