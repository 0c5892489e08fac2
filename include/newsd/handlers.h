/*
 * handlers.h: one function per endpoint of the contract (API.md).
 *
 * Each takes the request, sets the response through http.h and returns the
 * HTTP status. Handlers validate input, decide visibility (drafts need a key)
 * and call the store; they never see SQL or libmicrohttpd.
 */
#ifndef NEWSD_HANDLERS_H
#define NEWSD_HANDLERS_H

#include "newsd/http.h"
#include "newsd/validate.h"

/*
 * The status and detail (written to detail, len bytes) of a failed create
 * or update of the article with fields in (id for a 404): 409 for a slug
 * taken, 404, or the store error's status with its fixed name for a 5xx.
 * Shared by the single and the bulk create, so both answer alike.
 */
int nd_article_write_problem(enum nd_err err, const struct nd_article_input *in, int64_t id,
                             char *detail, size_t len);

/* GET /health */
int nd_handle_health(struct nd_request *req);

/* GET /ready */
int nd_handle_ready(struct nd_request *req);

/* /v1/articles */
int nd_handle_articles_list(struct nd_request *req);
int nd_handle_article_create(struct nd_request *req);
/*
 * POST /v1/articles/bulk: the answer once the streamed body has ended (the
 * lines were stored as they came, see http_bulk.c): 200 with one NDJSON
 * result per line.
 */
int nd_handle_articles_bulk(struct nd_request *req);
/* /v1/articles/{id-or-slug} */
int nd_handle_article_get(struct nd_request *req);
int nd_handle_article_patch(struct nd_request *req);
int nd_handle_article_delete(struct nd_request *req);
/*
 * GET /v1/categories: {"data":[{"name","count"},...]}, the categories in use
 * with their numbers of published articles (drafts counted too with a key).
 */
int nd_handle_categories_list(struct nd_request *req);
/* GET /v1/tags and GET /v1/authors: the same for the tags and the authors in use. */
int nd_handle_tags_list(struct nd_request *req);
int nd_handle_authors_list(struct nd_request *req);

/* /v1/articles/{id}/comments */
int nd_handle_comments_list(struct nd_request *req);
int nd_handle_comment_create(struct nd_request *req);
/* /v1/comments/{id} */
int nd_handle_comment_get(struct nd_request *req);
int nd_handle_comment_patch(struct nd_request *req); /* moderation: {"status": ...} (key) */
int nd_handle_comment_delete(struct nd_request *req);

/*
 * GET /v1/changes (handler_changes.c): the change log after ?since=, as
 * {"data":[change...],"next_cursor":"N"|null,"next_since":N}; 410 when the
 * log no longer holds that position.
 */
int nd_handle_changes(struct nd_request *req);
/*
 * GET /v1/events (handler_changes.c): the change log as Server-Sent Events
 * (events.h), from Last-Event-ID or ?since= or now; 429/503 over the
 * stream limits.
 */
int nd_handle_events(struct nd_request *req);

/* GET /v1/search */
int nd_handle_search(struct nd_request *req);

/* GET /v1/feed.atom, /v1/feed.rss, /v1/feed.json (handler_feeds.c) */
int nd_handle_feed_atom(struct nd_request *req);
int nd_handle_feed_rss(struct nd_request *req);
int nd_handle_feed_json(struct nd_request *req);

/* GET /metrics (handler_metrics.c): 404 with metrics off */
int nd_handle_metrics(struct nd_request *req);

/* Embedded files (handler_static.c): GET /, /assets/{name}, /openapi.json */
int nd_handle_index(struct nd_request *req);
int nd_handle_asset(struct nd_request *req);
int nd_handle_openapi(struct nd_request *req);

#endif
