/*
 * http.h: the libmicrohttpd glue, and the request/response interface that
 * handlers program against.
 *
 * Handlers never see libmicrohttpd: they get a struct nd_request, read what
 * they need through the nd_request_* accessors, set the answer with
 * nd_respond_* and return the HTTP status (lwan style). The HTTP layer then
 * renders the JSON once, adds ETag (200 GET/HEAD) and answers 304 to a
 * matching If-None-Match, gzips answers over 1 KiB for clients that accept
 * it (with Vary: Accept-Encoding and an ETag of their own), drops the body
 * for HEAD, writes the access log line, counts the request in the metrics
 * and frees everything when libmicrohttpd reports the request complete.
 *
 * Around the handlers the layer also answers OPTIONS and CORS preflight
 * requests (cors.h), limits writes per API key (write-rate), and gives every
 * answer X-Request-Id, the security headers (X-Content-Type-Options,
 * X-Frame-Options, Referrer-Policy, Content-Security-Policy) and the CORS
 * headers of the request's Origin; every problem document carries
 * "request_id".
 */
#ifndef NEWSD_HTTP_H
#define NEWSD_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "newsd/buf.h"
#include "newsd/config.h"
#include "newsd/err.h"
#include "newsd/metrics.h"

struct nd_request;
struct nd_store;

enum nd_method {
    ND_METHOD_GET = 1 << 0,
    ND_METHOD_HEAD = 1 << 1,
    ND_METHOD_POST = 1 << 2,
    ND_METHOD_PUT = 1 << 3,
    ND_METHOD_PATCH = 1 << 4,
    ND_METHOD_DELETE = 1 << 5,
    ND_METHOD_OPTIONS = 1 << 6,
};

/* ---- reading the request (all strings borrowed, valid for the request) -- */

enum nd_method nd_request_method(const struct nd_request *req);
const char *nd_request_path(const struct nd_request *req);
/* Path parameter i (0-based) captured by the router, or NULL. */
const char *nd_request_param(const struct nd_request *req, unsigned i);
/* Decoded query argument, or NULL when absent. */
const char *nd_request_query(const struct nd_request *req, const char *name);
/* Request header (case-insensitive name), or NULL. */
const char *nd_request_header(const struct nd_request *req, const char *name);
/*
 * The client's address as text ("127.0.0.1"): the connection's peer, or
 * behind a proxy listed in trusted-proxies the address its X-Forwarded-For
 * names (proxy.h). Rate limits and the access log use it.
 */
const char *nd_request_client(const struct nd_request *req);

/* ---- what the response cache must know (cache.h) ------------------------- */

/*
 * The answer about to be given shows article (id > 0) alone: its page, its
 * comments, one of its comments; it is then cached as depending on that
 * article only. Without this call a cached answer is a collection one,
 * invalidated by any write.
 */
void nd_request_cache_article(struct nd_request *req, int64_t article);

/*
 * The collection answer about to be given is built from articles alone (no
 * comment, no comment_count): a comment's write leaves it cached.
 */
void nd_request_cache_articles_only(struct nd_request *req);

/*
 * This write request changed nothing but article (id > 0) and what shows
 * it: its comments, the collections. Without this call a write invalidates
 * the whole cache. Call it as soon as the article is known: a write that
 * then fails changes nothing.
 */
void nd_request_wrote_article(struct nd_request *req, int64_t article);

/* nd_request_wrote_article for a write of article's comments alone (not the article). */
void nd_request_wrote_comment(struct nd_request *req, int64_t article);
/*
 * The request id: the client's X-Request-Id when it is 1..64 characters of
 * [A-Za-z0-9._-], else 16 random hex digits. Sent back as X-Request-Id,
 * logged, and put in problem documents.
 */
const char *nd_request_id(const struct nd_request *req);
const struct nd_config *nd_request_config(const struct nd_request *req);

/*
 * This thread's store, opened on first use. NULL when the database cannot be
 * opened (the handler answers 503).
 */
struct nd_store *nd_request_store(struct nd_request *req);

/*
 * With --db-replica, nd_request_store gives a public read (a GET or HEAD of
 * a cacheable route, without a key) this thread's store on the replica
 * when the replica can be used and has replayed the client's
 * Newsd-Position (header or cookie; an invalid one is ignored), and the
 * primary's otherwise; everything else reads and writes on the primary.
 * nd_request_replica_status describes the replica for /health into buf
 * (len bytes): "ok", "lagging N bytes" or "unreachable"; NULL without
 * --db-replica.
 */
const char *nd_request_replica_status(struct nd_request *req, char *buf, size_t len);

/*
 * Decodes the body as a JSON value (JSON_REJECT_DUPLICATES; any value, so
 * that valid JSON that is not an object reaches the handler, which answers
 * 422). Returns 0 and a new reference in *out, or, having already set the
 * problem response, the status to return: 415 when Content-Type is not
 * application/json, 400 when the body is empty, not UTF-8 or not JSON, 500
 * when an allocation failed while it was parsed (newsd/json.h).
 */
int nd_request_json(struct nd_request *req, json_t **out);

/*
 * Checks "Authorization: Bearer KEY" against the stored keys (cached for
 * the request). Returns 0 when authorized; otherwise sets a 401 problem
 * (with WWW-Authenticate: Bearer) or 503 and returns that status.
 */
int nd_request_require_key(struct nd_request *req);

/* True when the request carries a valid key; never sets a response. */
bool nd_request_has_key(struct nd_request *req);

/*
 * Takes a token from the comment-posting bucket of the client's address
 * (an IPv6 address counts per /64), adding the RateLimit-Limit,
 * -Remaining and -Reset headers. Returns 0 when allowed; otherwise sets a
 * 429 problem with Retry-After and returns 429. A request with a valid key
 * passes: its writes are limited per key instead (write-rate).
 */
int nd_request_rate_limit_comment(struct nd_request *req);

/* ---- answering --------------------------------------------------------- */

/* Sets a JSON body (takes the reference; NULL = no body). Returns status. */
int nd_respond_json(struct nd_request *req, int status, json_t *body);

/*
 * Sets a body that is not JSON: len bytes with Content-Type type (a string
 * that lives as long as the process, e.g. a literal: the response cache
 * keeps the pointer). nd_respond_static borrows data,
 * which must outlive the process (an embedded asset); nd_respond_owned takes
 * a malloc'd buffer and frees it, also on failure. ETag and 304, HEAD and
 * gzip apply as to JSON answers. Returns status, or 500 (problem set) when
 * out of memory.
 */
int nd_respond_static(struct nd_request *req, int status, const char *type, const void *data,
                      size_t len);
int nd_respond_owned(struct nd_request *req, int status, const char *type, char *data, size_t len);

/*
 * Answers the JSON text in body, made without a tree, with the Content-Type
 * of nd_respond_json's answers; takes body's bytes (body is left empty). A
 * body that failed (its err) is answered as out of memory.
 */
int nd_respond_json_buf(struct nd_request *req, int status, struct nd_buf *body);

/*
 * Sets an embedded file (assets.h) as the body, with the ETag and gzip
 * encoding made at build time: nothing is hashed or compressed per request.
 * Returns status.
 */
struct nd_asset;
int nd_respond_asset(struct nd_request *req, int status, const struct nd_asset *asset);

/* ---- streamed answers (http_stream.c) ----------------------------------- */

/*
 * A body written after the handler has returned, by any thread, for as long
 * as the client stays (Server-Sent Events). The HTTP layer sends what is
 * written as it comes, with no ETag, no gzip and no cache; while nothing is
 * buffered the connection waits without holding a worker thread.
 */
struct nd_stream;

/*
 * A new stream buffering at most max_buffered bytes not yet sent, holding
 * one reference (the caller's). NULL when out of memory.
 */
struct nd_stream *nd_stream_create(size_t max_buffered);

/* Drops one reference; the last one frees the stream. Accepts NULL. */
void nd_stream_release(struct nd_stream *stream);

enum nd_stream_result {
    ND_STREAM_WRITTEN = 0, /* buffered; it goes out as the client reads */
    ND_STREAM_FULL,        /* not written: over max_buffered (or out of memory); try later */
    ND_STREAM_CLOSED,      /* not written: the stream ended, or its answer is over */
};

/* Appends len bytes of data (copied) to the stream's body. Thread-safe. */
enum nd_stream_result nd_stream_write(struct nd_stream *stream, const char *data, size_t len);

/* Ends the body once what is buffered has been sent. Thread-safe; idempotent. */
void nd_stream_end(struct nd_stream *stream);

/*
 * True once the answer is over (the client went away, or the end was
 * sent): nothing written will be read. Thread-safe.
 */
bool nd_stream_gone(const struct nd_stream *stream);

/*
 * Makes the answer a 200 whose body is stream (a reference is taken), with
 * Content-Type type (a literal), the headers set with nd_respond_header and
 * those of every answer (for HEAD, the head alone). Returns 200.
 */
int nd_respond_stream(struct nd_request *req, const char *type, struct nd_stream *stream);

/*
 * Adds a response header; value copied. A Content-Security-Policy set here
 * replaces the default one (the reader web page needs its own). Returns false when out of memory or
 * when the value holds CR/LF. Out of memory, the whole answer becomes a 500:
 * no answer goes out without a header it was meant to carry. */
bool nd_respond_header(struct nd_request *req, const char *name, const char *value);

/*
 * Sets an RFC 9457 problem document {"type":"about:blank","title":REASON,
 * "status":status,"detail":...,"request_id":...} with Content-Type
 * application/problem+json. Returns status.
 */
int nd_respond_problem(struct nd_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The one answer for a request whose thread has no usable database
 * connection: 503 "the database is unavailable". Returns 503.
 */
int nd_respond_unavailable(struct nd_request *req);

/*
 * A 422 problem listing every bad field; errors is an array of
 * {"field","message"} (reference taken). Returns 422.
 */
int nd_respond_invalid(struct nd_request *req, json_t *errors);

/* Answers the problem that err maps to (nd_err_http_status), with detail. Returns status. */
int nd_respond_err(struct nd_request *req, enum nd_err err, const char *detail);

/* The reason phrase of an HTTP status ("Not Found"); "Unknown" for others. */
const char *nd_http_reason(int status);

/* The server's hub of change events (events.h); NULL before it is started. */
struct nd_events *nd_request_events(struct nd_request *req);

/* ---- metrics ----------------------------------------------------------- */

/* The server's counters (metrics.h); NULL with metrics off. */
struct nd_metrics *nd_request_metrics(struct nd_request *req);

/*
 * Fills the gauges the HTTP layer knows: requests in flight, connections,
 * the response cache's counters. db_bytes is set to -1: the handler asks
 * the store.
 */
void nd_request_gauges(struct nd_request *req, struct nd_metrics_gauges *out);

/* Fills out->replica (the counters of reads routed with --db-replica). */
void nd_request_replica_gauges(struct nd_request *req, struct nd_metrics_gauges *out);

/* ---- the server -------------------------------------------------------- */

struct nd_server;

/*
 * Starts libmicrohttpd's internal epoll thread pool on cfg->bind:cfg->port,
 * speaking HTTPS when cfg names tls-cert and tls-key. cfg is borrowed for the
 * life of the server. Logs the bound port. ND_ERR_INVALID (logged): a bad
 * setting, which the caller reports as such (exit status 2): one of tls-cert
 * and tls-key without the other, TLS without libmicrohttpd support, a
 * tls-cert or tls-key file that cannot be opened or read (missing, empty,
 * over 1 MiB), a certificate and key GnuTLS cannot serve with (another
 * certificate's key, an encrypted key, not PEM), a bind that is no address;
 * ND_ERR_IO (logged): the daemon cannot start (the address cannot be bound);
 * ND_ERR_NOMEM.
 */
enum nd_err nd_server_start(const struct nd_config *cfg, struct nd_server **out);

/* The port actually bound (useful after port 0). */
unsigned nd_server_port(const struct nd_server *srv);

/*
 * Marks the server as draining: GET /ready answers 503 from now on, so that
 * a load balancer stops sending it work; everything else is served as
 * before. Safe from any thread; it cannot be undone.
 */
void nd_server_drain(struct nd_server *srv);

/* True once nd_server_drain was called: what GET /ready tells. */
bool nd_request_draining(const struct nd_request *req);

/*
 * Stops accepting, ends every event stream, waits up to cfg->shutdown_grace
 * seconds for requests in flight, stops the daemon, closes every thread's
 * store. Accepts NULL.
 */
void nd_server_stop(struct nd_server *srv);

#endif
