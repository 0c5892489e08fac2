/*
 * http_request.c: what handlers read from a request, and the checks they
 * ask the HTTP layer to make on it: the JSON body, the API key, rate limits.
 *
 * The client address and the request id are settled once, when the request
 * is made (nd_http_identify): rate limits, the access log and problem
 * documents all use the same values. The client address is the connection's
 * peer unless trusted-proxies names that peer; see proxy.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <sodium.h>

#include "http_internal.h"
#include "newsd/auth.h"
#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/store.h"
#include "newsd/util.h"

#define FORWARDED_FOR "X-Forwarded-For"

enum nd_method nd_request_method(const struct nd_request *req)
{
    return req->method;
}

const char *nd_request_path(const struct nd_request *req)
{
    return req->path;
}

const char *nd_request_param(const struct nd_request *req, unsigned i)
{
    return i < req->match.nparams ? req->match.params[i] : NULL;
}

const char *nd_request_query(const struct nd_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void nd_request_cache_article(struct nd_request *req, int64_t article)
{
    req->cache_article = article > 0 ? article : 0;
}

void nd_request_cache_articles_only(struct nd_request *req)
{
    req->cache_article = ND_CACHE_ARTICLES_ONLY;
}

void nd_request_wrote_article(struct nd_request *req, int64_t article)
{
    req->wrote_article = article > 0 ? article : 0;
    req->wrote_comments_only = false;
}

void nd_request_wrote_comment(struct nd_request *req, int64_t article)
{
    req->wrote_article = article > 0 ? article : 0;
    req->wrote_comments_only = true;
}

const char *nd_request_header(const struct nd_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const struct nd_config *nd_request_config(const struct nd_request *req)
{
    return req->srv->cfg;
}

struct nd_events *nd_request_events(struct nd_request *req)
{
    return req->srv->events;
}

const char *nd_request_client(const struct nd_request *req)
{
    return req->client;
}

const char *nd_request_id(const struct nd_request *req)
{
    return req->request_id;
}

/* ---- who is asking ------------------------------------------------------ */

/* The peer's address as text; IPv4-mapped IPv6 addresses are written as IPv4. */
static void peer_text(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(buf, len, "unknown");
    if (info == NULL || info->client_addr == NULL)
        return;
    if (info->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)info->client_addr;
        inet_ntop(AF_INET, &in4->sin_addr, buf, (socklen_t)len);
    } else if (info->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 =
            (const struct sockaddr_in6 *)(const void *)info->client_addr;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, (socklen_t)len);
        else
            inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)len);
    }
}

/*
 * MHD_KeyValueIterator joining every X-Forwarded-For header of the request
 * with commas, in order, into the nd_buf cls (data stays NULL when there is
 * none, and after a failure).
 */
static enum MHD_Result collect_forwarded(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    struct nd_buf *f = cls;
    (void)kind;
    if (strcasecmp(key, FORWARDED_FOR) != 0 || value == NULL)
        return MHD_YES;
    if (f->len > 0)
        nd_buf_append(f, ",", 1);
    nd_buf_append_str(f, value);
    return MHD_YES;
}

/*
 * The client address: the peer, or, behind trusted proxies, the address
 * their X-Forwarded-For headers name. A proxy may add its own header line
 * instead of extending the last one, so every line counts, in order. Out of
 * memory the peer is taken: never an address a client could have chosen.
 */
static void find_client(struct nd_request *req)
{
    char peer[ND_ADDR_TEXT_MAX];
    /* the headers fit in libmicrohttpd's connection memory: the cap is never reached */
    struct nd_buf f = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);

    peer_text(req->conn, peer, sizeof peer);
    if (nd_proxy_list_contains(req->srv->proxies, peer))
        MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_forwarded, &f);
    nd_proxy_client(req->srv->proxies, peer, f.data, req->client, sizeof req->client);
    nd_buf_free(&f);
}

/* 1..ND_REQUEST_ID_MAX characters of [A-Za-z0-9._-]: safe in a header, a log line and JSON. */
static bool request_id_sane(const char *id)
{
    size_t len = id != NULL ? strlen(id) : 0;
    if (len == 0 || len > ND_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/*
 * A request id of its own: 8 bytes of libsodium's randomness, drawn for 64
 * ids at a time (one getrandom call per request was 2% of a cached answer's
 * CPU, and more in the kernel).
 */
#define ID_BYTES 8
static _Thread_local unsigned char id_pool[64 * ID_BYTES];
static _Thread_local size_t id_pool_used = sizeof id_pool;

void nd_http_identify(struct nd_request *req)
{
    const char *given = nd_request_header(req, "X-Request-Id");
    find_client(req);
    if (request_id_sane(given)) {
        snprintf(req->request_id, sizeof req->request_id, "%s", given);
    } else {
        if (id_pool_used == sizeof id_pool) {
            randombytes_buf(id_pool, sizeof id_pool);
            id_pool_used = 0;
        }
        sodium_bin2hex(req->request_id, sizeof req->request_id, id_pool + id_pool_used, ID_BYTES);
        id_pool_used += ID_BYTES;
    }
}

/* ---- the body ----------------------------------------------------------- */

/* "application/json" in any case, alone or followed by parameters. */
static bool is_json_type(const char *ctype)
{
    static const char want[] = "application/json";
    if (ctype == NULL)
        return false;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    if (strncasecmp(ctype, want, sizeof want - 1) != 0)
        return false;
    ctype += sizeof want - 1;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    return *ctype == '\0' || *ctype == ';';
}

/*
 * A content-coded body (Content-Encoding other than identity) is 415 with
 * Accept-Encoding: identity, as RFC 9110 15.5.16 suggests: newsd does not
 * inflate request bodies, whose size max-body bounds as sent.
 * Any JSON value is decoded (JSON_DECODE_ANY), so that a body that is valid
 * JSON but not an object reaches the handler and is answered 422, as
 * docs/api.md promises; only text that is not JSON at all is 400, and a parse
 * that ran out of memory is 500.
 */
int nd_request_json(struct nd_request *req, json_t **out)
{
    json_error_t err;

    if (!is_json_type(nd_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE)))
        return nd_http_set_problem(req, 415, "Content-Type must be application/json", NULL);
    const char *coding = nd_request_header(req, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (coding != NULL && strcasecmp(coding, "identity") != 0) {
        nd_respond_header(req, MHD_HTTP_HEADER_ACCEPT_ENCODING, "identity");
        return nd_http_set_problem(req, 415, "request bodies must not be content-encoded", NULL);
    }
    if (req->body.len == 0)
        return nd_http_set_problem(req, 400, "the request body is empty", NULL);
    if (!nd_utf8_valid(req->body.data, req->body.len))
        return nd_http_set_problem(req, 400, "the request body is not valid UTF-8 text", NULL);
    bool nomem = false;
    json_t *doc = nd_json_loadb(req->body.data, req->body.len,
                                JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err, &nomem);
    if (nomem)
        return nd_respond_err(req, ND_ERR_NOMEM, NULL);
    if (doc == NULL)
        return nd_respond_problem(req, 400, "malformed JSON at line %d, column %d: %s", err.line,
                                  err.column, err.text);
    *out = doc;
    return 0;
}

/* ---- API keys ----------------------------------------------------------- */

/* The key check of this request, made once. No header means no store access. */
enum nd_err nd_http_key_check(struct nd_request *req)
{
    if (req->auth_done)
        return req->auth_err;
    const char *authorization = nd_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    enum nd_err rc = ND_ERR_UNAUTHORIZED;
    if (authorization != NULL) {
        struct nd_store *store = nd_request_store(req);
        rc = store != NULL ? nd_auth_check(store, authorization) : ND_ERR_DB;
    }
    req->auth_done = true;
    req->auth_err = rc;
    return rc;
}

int nd_request_require_key(struct nd_request *req)
{
    enum nd_err rc = nd_http_key_check(req);
    if (rc == ND_OK)
        return 0;
    if (rc != ND_ERR_UNAUTHORIZED)
        return nd_http_set_problem(req, 503, "API keys cannot be checked right now", NULL);
    if (nd_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION) == NULL) {
        nd_respond_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        return nd_http_set_problem(
            req, 401, "this request needs an API key (Authorization: Bearer KEY)", NULL);
    }
    nd_respond_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"");
    return nd_http_set_problem(req, 401, "the API key is not valid", NULL);
}

bool nd_request_has_key(struct nd_request *req)
{
    return nd_http_key_check(req) == ND_OK;
}

/* ---- rate limits -------------------------------------------------------- */

/*
 * Adds the RateLimit headers of a take (IETF draft "RateLimit header
 * fields for HTTP": the bucket size, the tokens left, the seconds until it
 * is full again) and, when refused, Retry-After. Nothing without a limit.
 */
static void add_rate_headers(struct nd_request *req, const struct nd_ratelimit_result *r)
{
    char text[16];
    if (r->limit == 0)
        return;
    snprintf(text, sizeof text, "%u", r->limit);
    nd_respond_header(req, "RateLimit-Limit", text);
    snprintf(text, sizeof text, "%u", r->remaining);
    nd_respond_header(req, "RateLimit-Remaining", text);
    snprintf(text, sizeof text, "%u", r->reset_s);
    nd_respond_header(req, "RateLimit-Reset", text);
    if (!r->allowed) {
        snprintf(text, sizeof text, "%u", r->retry_after_s);
        nd_respond_header(req, MHD_HTTP_HEADER_RETRY_AFTER, text);
    }
}

/*
 * Over PostgreSQL every instance takes from the same buckets, in the
 * database. While it cannot answer, the process's own table decides: an
 * outage must not refuse every comment (a write that needs the database
 * then fails by itself, 503), and each instance allows at most its own
 * burst and rate meanwhile. The switch is logged both ways, once.
 */
bool nd_http_rate_acquire(struct nd_request *req, enum nd_limit which, const char *key,
                          struct nd_ratelimit_result *out)
{
    struct nd_server *srv = req->srv;
    bool comments = which == ND_LIMIT_COMMENTS;
    unsigned per_minute = comments ? srv->cfg->comment_rate : srv->cfg->write_rate;
    unsigned burst = comments ? srv->cfg->comment_burst : srv->cfg->write_burst;
    struct nd_ratelimit *local = comments ? srv->comment_limit : srv->write_limit;

    if (srv->shared_limits && per_minute > 0) {
        char bucket[ND_RATELIMIT_BUCKET_LEN + 1];
        bool allowed = false;
        double tokens = 0;
        struct nd_store *store = nd_request_store(req);
        nd_ratelimit_bucket_name(comments ? "comment" : "write", key, bucket);
        enum nd_err err =
            store != NULL ? nd_store_rate_take(store, bucket, per_minute, burst, &allowed, &tokens)
                          : ND_ERR_BUSY;
        if (err == ND_OK) {
            if (atomic_exchange(&srv->shared_limits_down, false))
                nd_log(ND_LOG_INFO, "rate limits: counted in the database again, cluster-wide");
            nd_ratelimit_result_of(per_minute, burst, allowed, tokens, out);
            return allowed;
        }
        if (!atomic_exchange(&srv->shared_limits_down, true))
            nd_log(ND_LOG_WARN,
                   "rate limits: the database cannot count them (%s); this instance counts "
                   "on its own until it can",
                   nd_err_str(err));
    }
    return nd_ratelimit_acquire(local, key, nd_monotonic_us() / 1000, out);
}

/*
 * A comment posted with a valid key counts against that key's write budget
 * (nd_http_limit_write, before the handler ran), not against its address.
 */
/*
 * Takes a token from key's bucket in limit which, adding the RateLimit
 * headers. Returns 0 when allowed; otherwise the status of the problem set:
 * 429 ("too many WHAT"), or 500 when a header was lost (then nothing is
 * written).
 */
static int take_token(struct nd_request *req, enum nd_limit which, const char *key,
                      const char *what)
{
    struct nd_ratelimit_result r;
    bool allowed = nd_http_rate_acquire(req, which, key, &r);
    add_rate_headers(req, &r);
    if (req->headers_lost) /* the answer would be a 500: write nothing */
        return nd_respond_err(req, ND_ERR_NOMEM, NULL);
    if (allowed)
        return 0;
    return nd_respond_problem(req, 429, "too many %s; try again in %u s", what, r.retry_after_s);
}

int nd_request_rate_limit_comment(struct nd_request *req)
{
    char key[ND_ADDR_TEXT_MAX];

    if (nd_request_has_key(req))
        return 0;
    nd_proxy_bucket_key(req->client, key, sizeof key);
    return take_token(req, ND_LIMIT_COMMENTS, key, "comments from this address");
}

int nd_http_limit_write(struct nd_request *req)
{
    char id[ND_KEY_ID_LEN + 1];
    const char *authorization = nd_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    unsigned writes = ND_METHOD_POST | ND_METHOD_PUT | ND_METHOD_PATCH | ND_METHOD_DELETE;

    /* a bulk write takes one token per line instead (http_bulk.c) */
    if (!(req->method & writes) || req->bulk != NULL || authorization == NULL ||
        !nd_request_has_key(req) || !nd_auth_key_id(authorization, id))
        return 0;
    return take_token(req, ND_LIMIT_WRITES, id, "writes with this API key");
}

struct nd_metrics *nd_request_metrics(struct nd_request *req)
{
    return req->srv->metrics;
}

void nd_request_gauges(struct nd_request *req, struct nd_metrics_gauges *out)
{
    memset(out, 0, sizeof *out);
    out->in_flight = atomic_load(&req->srv->in_flight);
    out->connections = atomic_load(&req->srv->connections);
    out->db_bytes = -1;
    out->have_cache = req->srv->cache != NULL;
    if (out->have_cache)
        nd_cache_stats(req->srv->cache, &out->cache);
}
