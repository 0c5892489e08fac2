/*
 * http.c: the libmicrohttpd glue, and the request/response interface that
 * handlers program against.
 *
 * libmicrohttpd runs an epoll thread pool and calls on_request several times
 * per request: once when the headers are in (a struct nd_request is made and
 * nothing is answered yet, so keep-alive survives), once per body chunk
 * (buffered up to max-body), and a last time with no data, when the request
 * is routed, the handler runs and the answer is rendered and queued. The
 * completion callback writes the access-log line and frees the request.
 *
 * Each worker thread opens its own database connection on first use; every
 * connection opened is also listed in the server, so nd_server_stop can close
 * them once the threads are gone.
 */
#include "newsd/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "newsd/auth.h"
#include "newsd/log.h"
#include "newsd/ratelimit.h"
#include "newsd/router.h"
#include "newsd/store.h"
#include "newsd/util.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define PROBLEM_TYPE "application/problem+json"
#define ETAG_BYTES 16

struct header {
    char *name;
    char *value;
    struct header *next;
};

struct nd_server {
    const struct nd_config *cfg;
    struct MHD_Daemon *daemon;
    struct nd_ratelimit *comment_limit;
    unsigned long generation; /* tells this server's thread-local stores from older ones */
    unsigned port;
    atomic_uint in_flight;
    atomic_bool stopping;
    atomic_bool store_failure_logged;
    pthread_mutex_t stores_lock;
    struct nd_store **stores;
    size_t nstores;
    size_t stores_cap;
};

struct nd_request {
    struct nd_server *srv;
    struct MHD_Connection *conn;
    enum nd_method method; /* 0 for a method newsd does not know */
    char method_name[16];
    char *path;
    uint64_t start_us;
    struct nd_route_match match;

    char *body;
    size_t body_len;
    size_t body_cap;
    size_t body_seen; /* bytes received, kept counting once over max-body */
    bool body_too_large;
    bool body_nomem;

    json_t *json; /* the answer's body; the handler's return value is its status */
    bool problem;
    struct header *headers;

    bool auth_done;
    enum nd_err auth_err;
    char client[INET6_ADDRSTRLEN];

    bool queued;
    int sent_status;
    size_t sent_bytes;
};

static atomic_ulong server_generations;
static _Thread_local struct nd_store *thread_store;
static _Thread_local unsigned long thread_store_generation;

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- answers ------------------------------------------------------------ */

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {200, "OK"},
    {201, "Created"},
    {204, "No Content"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {409, "Conflict"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
};

/* Reason phrases as RFC 9110 names them (413 and 422 took new names there). */
const char *nd_http_reason(int status)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

/* A JSON string of text; bytes that are not valid UTF-8 become '?'. */
static json_t *safe_string(const char *text)
{
    json_t *s = json_string(text);
    if (s != NULL)
        return s;
    char *copy = strdup(text);
    if (copy == NULL)
        return NULL;
    for (char *p = copy; *p != '\0'; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    s = json_string(copy);
    free(copy);
    return s;
}

/*
 * Sets the problem document for status, with detail (may be NULL) and errors
 * (reference taken, may be NULL). Out of memory leaves no body: the status
 * alone is then answered with a fallback document. Returns status.
 */
static int set_problem(struct nd_request *req, int status, const char *detail, json_t *errors)
{
    json_t *doc = json_object();
    if (doc != NULL) {
        json_object_set_new(doc, "type", json_string("about:blank"));
        json_object_set_new(doc, "title", json_string(nd_http_reason(status)));
        json_object_set_new(doc, "status", json_integer(status));
        if (detail != NULL && detail[0] != '\0')
            json_object_set_new(doc, "detail", safe_string(detail));
        if (errors != NULL)
            json_object_set(doc, "errors", errors);
    }
    json_decref(errors);
    json_decref(req->json);
    req->json = doc;
    req->problem = true;
    return status;
}

int nd_respond_json(struct nd_request *req, int status, json_t *body)
{
    json_decref(req->json);
    req->json = body;
    req->problem = false;
    return status;
}

bool nd_respond_header(struct nd_request *req, const char *name, const char *value)
{
    if (strpbrk(value, "\r\n") != NULL || strpbrk(name, "\r\n: ") != NULL)
        return false;
    struct header *h = calloc(1, sizeof *h);
    if (h == NULL)
        return false;
    h->name = strdup(name);
    h->value = strdup(value);
    if (h->name == NULL || h->value == NULL) {
        free(h->name);
        free(h->value);
        free(h);
        return false;
    }
    struct header **end = &req->headers; /* kept in the order they were added */
    while (*end != NULL)
        end = &(*end)->next;
    *end = h;
    return true;
}

static bool has_header(const struct nd_request *req, const char *name)
{
    for (const struct header *h = req->headers; h != NULL; h = h->next)
        if (strcasecmp(h->name, name) == 0)
            return true;
    return false;
}

int nd_respond_problem(struct nd_request *req, int status, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return set_problem(req, status, detail, NULL);
}

int nd_respond_invalid(struct nd_request *req, json_t *errors)
{
    return set_problem(req, 422, "the request has invalid fields", errors);
}

/* A 5xx detail is the error's fixed name: a caller's text could hold a path or SQL. */
int nd_respond_err(struct nd_request *req, enum nd_err err, const char *detail)
{
    int status = nd_err_http_status(err);
    if (status >= 500 || detail == NULL)
        detail = nd_err_str(err);
    return set_problem(req, status, detail, NULL);
}

/* ---- reading the request ------------------------------------------------ */

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

const char *nd_request_header(const struct nd_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const struct nd_config *nd_request_config(const struct nd_request *req)
{
    return req->srv->cfg;
}

/*
 * Writes the client's address as text. With prefix64, an IPv6 address is
 * cut to its /64, the block one subscriber usually holds. IPv4-mapped IPv6
 * addresses are written as IPv4.
 */
static void client_text(struct MHD_Connection *conn, bool prefix64, char *buf, size_t len)
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
        struct in6_addr a = in6->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
            inet_ntop(AF_INET, &a.s6_addr[12], buf, (socklen_t)len);
            return;
        }
        if (prefix64)
            memset(&a.s6_addr[8], 0, 8);
        inet_ntop(AF_INET6, &a, buf, (socklen_t)len);
    }
}

const char *nd_request_client(const struct nd_request *req)
{
    struct nd_request *r = (struct nd_request *)req; /* a lazily filled cache */
    if (r->client[0] == '\0')
        client_text(r->conn, false, r->client, sizeof r->client);
    return r->client;
}

/* Adds store to the server's list; false when out of memory. */
static bool register_store(struct nd_server *srv, struct nd_store *store)
{
    bool ok = true;
    pthread_mutex_lock(&srv->stores_lock);
    if (srv->nstores == srv->stores_cap) {
        size_t cap = srv->stores_cap ? srv->stores_cap * 2 : 8;
        struct nd_store **grown = realloc(srv->stores, cap * sizeof *grown);
        if (grown == NULL) {
            ok = false;
            goto out;
        }
        srv->stores = grown;
        srv->stores_cap = cap;
    }
    srv->stores[srv->nstores++] = store;
out:
    pthread_mutex_unlock(&srv->stores_lock);
    return ok;
}

/*
 * This worker thread's store, opened on first use and owned by the server
 * (closed in nd_server_stop). NULL when the database cannot be opened; the
 * first such failure is logged, and a later request tries again.
 */
struct nd_store *nd_request_store(struct nd_request *req)
{
    struct nd_server *srv = req->srv;
    struct nd_store *store = NULL;

    if (thread_store != NULL && thread_store_generation == srv->generation)
        return thread_store;
    struct nd_store_options opts = {srv->cfg->synchronous, srv->cfg->busy_timeout_ms};
    enum nd_err rc = nd_store_open(srv->cfg->db_path, &opts, &store);
    if (rc != ND_OK) {
        if (!atomic_exchange(&srv->store_failure_logged, true))
            nd_log(ND_LOG_ERROR, "cannot open the database %s: %s", srv->cfg->db_path,
                   nd_err_str(rc));
        return NULL;
    }
    if (!register_store(srv, store)) {
        nd_store_close(store);
        return NULL;
    }
    thread_store = store;
    thread_store_generation = srv->generation;
    return store;
}

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
 * Any JSON value is decoded (JSON_DECODE_ANY), so that a body that is valid
 * JSON but not an object reaches the handler and is answered 422, as the
 * README promises; only text that is not JSON at all is 400.
 */
int nd_request_json(struct nd_request *req, json_t **out)
{
    json_error_t err;

    if (!is_json_type(nd_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE)))
        return set_problem(req, 415, "Content-Type must be application/json", NULL);
    if (req->body_len == 0)
        return set_problem(req, 400, "the request body is empty", NULL);
    if (!nd_utf8_valid(req->body, req->body_len))
        return set_problem(req, 400, "the request body is not valid UTF-8 text", NULL);
    json_t *doc =
        json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (doc == NULL)
        return nd_respond_problem(req, 400, "malformed JSON at line %d, column %d: %s", err.line,
                                  err.column, err.text);
    *out = doc;
    return 0;
}

/* The key check of this request, made once. No header means no store access. */
static enum nd_err auth_result(struct nd_request *req)
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
    enum nd_err rc = auth_result(req);
    if (rc == ND_OK)
        return 0;
    if (rc != ND_ERR_UNAUTHORIZED)
        return set_problem(req, 503, "API keys cannot be checked right now", NULL);
    if (nd_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION) == NULL) {
        nd_respond_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        return set_problem(req, 401, "this request needs an API key (Authorization: Bearer KEY)",
                           NULL);
    }
    nd_respond_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"");
    return set_problem(req, 401, "the API key is not valid", NULL);
}

bool nd_request_has_key(struct nd_request *req)
{
    return auth_result(req) == ND_OK;
}

int nd_request_rate_limit_comment(struct nd_request *req)
{
    char key[INET6_ADDRSTRLEN];
    char seconds[16];
    unsigned retry_after = 0;

    client_text(req->conn, true, key, sizeof key);
    if (nd_ratelimit_take(req->srv->comment_limit, key, monotonic_us() / 1000, &retry_after))
        return 0;
    snprintf(seconds, sizeof seconds, "%u", retry_after);
    nd_respond_header(req, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    return nd_respond_problem(req, 429, "too many comments from this address; try again in %u s",
                              retry_after);
}

/* ---- the request's life ------------------------------------------------- */

static enum nd_method method_of(const char *name)
{
    static const struct {
        const char *name;
        enum nd_method method;
    } methods[] = {
        {"GET", ND_METHOD_GET},         {"HEAD", ND_METHOD_HEAD},   {"POST", ND_METHOD_POST},
        {"PUT", ND_METHOD_PUT},         {"PATCH", ND_METHOD_PATCH}, {"DELETE", ND_METHOD_DELETE},
        {"OPTIONS", ND_METHOD_OPTIONS},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(name, methods[i].name) == 0)
            return methods[i].method;
    return 0;
}

static void request_destroy(struct nd_request *req)
{
    if (req == NULL)
        return;
    while (req->headers != NULL) {
        struct header *next = req->headers->next;
        free(req->headers->name);
        free(req->headers->value);
        free(req->headers);
        req->headers = next;
    }
    json_decref(req->json);
    free(req->body);
    free(req->path);
    free(req);
}

/* A new request, counted in flight; NULL when out of memory. */
static struct nd_request *request_create(struct nd_server *srv, struct MHD_Connection *conn,
                                         const char *url, const char *method)
{
    struct nd_request *req = calloc(1, sizeof *req);
    if (req == NULL)
        return NULL;
    req->path = strdup(url);
    if (req->path == NULL) {
        free(req);
        return NULL;
    }
    req->srv = srv;
    req->conn = conn;
    req->start_us = monotonic_us();
    req->method = method_of(method);
    snprintf(req->method_name, sizeof req->method_name, "%s", method);
    atomic_fetch_add(&srv->in_flight, 1);
    return req;
}

/* The announced Content-Length; 0 when there is none (no body, or chunked). */
static unsigned long long announced_length(const struct nd_request *req)
{
    const char *text = nd_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (text == NULL)
        return 0;
    return strtoull(text, NULL, 10); /* libmicrohttpd has checked the digits */
}

/*
 * Appends a chunk of body. Past max-body the buffer is dropped and the rest
 * only counted, so a chunked upload of any length costs no memory.
 */
static void body_append(struct nd_request *req, const char *data, size_t len)
{
    size_t max = req->srv->cfg->max_body;

    req->body_seen += len;
    if (req->body_too_large || req->body_nomem)
        return;
    if (req->body_seen > max) {
        req->body_too_large = true;
        free(req->body);
        req->body = NULL;
        req->body_len = req->body_cap = 0;
        return;
    }
    if (req->body_len + len > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + len)
            cap *= 2;
        if (cap > max)
            cap = max;
        char *grown = realloc(req->body, cap);
        if (grown == NULL) {
            req->body_nomem = true;
            return;
        }
        req->body = grown;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
}

/* Routes the request and runs its handler. Returns the status to answer. */
static int dispatch(struct nd_request *req)
{
    char allow[80];

    if (req->body_too_large)
        return nd_respond_problem(req, 413, "the request body is larger than %zu bytes",
                                  req->srv->cfg->max_body);
    if (req->body_nomem)
        return set_problem(req, 503, "the server is out of memory", NULL);
    switch (nd_router_match(nd_routes, req->method, req->path, &req->match)) {
    case ND_ROUTE_NOT_FOUND:
        return set_problem(req, 404, "there is no resource at this path", NULL);
    case ND_ROUTE_METHOD_NOT_ALLOWED:
        nd_router_allow(req->match.allowed | ND_METHOD_OPTIONS, allow, sizeof allow);
        nd_respond_header(req, MHD_HTTP_HEADER_ALLOW, allow);
        if (req->method == ND_METHOD_OPTIONS)
            return nd_respond_json(req, 204, NULL);
        return nd_respond_problem(req, 405, "%s is not allowed here; use %s", req->method_name,
                                  allow);
    case ND_ROUTE_FOUND:
        break;
    }
    int status = req->match.handler(req);
    if (status < 200 || status > 599) {
        nd_log(ND_LOG_ERROR, "the handler of %s %s returned status %d", req->method_name, req->path,
               status);
        return set_problem(req, 500, NULL, NULL);
    }
    return status;
}

struct render_buf {
    char *data;
    size_t len;
    size_t cap;
};

static int render_chunk(const char *chunk, size_t size, void *data)
{
    struct render_buf *buf = data;
    if (buf->len + size > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 1024;
        while (cap < buf->len + size)
            cap *= 2;
        char *grown = realloc(buf->data, cap);
        if (grown == NULL)
            return -1;
        buf->data = grown;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, chunk, size);
    buf->len += size;
    return 0;
}

/* Renders value into a malloc'd buffer (*out, *len). False on failure. */
static bool render(const json_t *value, char **out, size_t *len)
{
    struct render_buf buf = {NULL, 0, 0};
    if (json_dump_callback(value, render_chunk, &buf, JSON_COMPACT | JSON_ENCODE_ANY) != 0 ||
        buf.len == 0) {
        free(buf.data);
        return false;
    }
    *out = buf.data;
    *len = buf.len;
    return true;
}

/* The strong ETag of body: the quoted hex of a 16-byte BLAKE2b hash. */
static void make_etag(const char *body, size_t len, char etag[2 * ETAG_BYTES + 3])
{
    unsigned char hash[ETAG_BYTES];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)body, len, NULL, 0);
    etag[0] = '"';
    sodium_bin2hex(etag + 1, 2 * ETAG_BYTES + 1, hash, sizeof hash);
    etag[2 * ETAG_BYTES + 1] = '"';
    etag[2 * ETAG_BYTES + 2] = '\0';
}

/*
 * True when If-None-Match (a list of entity tags, or "*") matches etag.
 * The comparison is weak, as RFC 9110 asks for If-None-Match: W/"x" matches "x".
 */
static bool etag_matches(const char *header, const char *etag)
{
    size_t etag_len = strlen(etag);
    const char *p = header;

    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p == '"') {
            const char *end = strchr(p + 1, '"');
            if (end == NULL)
                return false;
            if ((size_t)(end + 1 - p) == etag_len && memcmp(p, etag, etag_len) == 0)
                return true;
            p = end + 1;
        }
        p = strchr(p, ',');
    }
    return false;
}

/* The answer as bytes, before it becomes a libmicrohttpd response. */
struct answer {
    int status;
    char *body; /* malloc'd, or NULL */
    size_t len;
    const char *type;
    char etag[2 * ETAG_BYTES + 3];
};

/*
 * Renders the handler's JSON once. A status >= 400 without a body gets the
 * generic problem document; a value that cannot be rendered becomes a 500.
 */
static void build_answer(struct nd_request *req, int status, struct answer *a)
{
    a->status = status;
    if (status == 204 || status == 304)
        return;
    if (req->json == NULL && status >= 400)
        set_problem(req, status, NULL, NULL);
    if (req->json != NULL && !render(req->json, &a->body, &a->len)) {
        nd_log(ND_LOG_ERROR, "the answer to %s %s cannot be rendered as JSON", req->method_name,
               req->path);
        a->status = set_problem(req, 500, NULL, NULL);
        if (req->json == NULL || !render(req->json, &a->body, &a->len))
            return; /* out of memory: the status line alone */
    }
    if (a->body == NULL)
        return;
    a->type = req->problem ? PROBLEM_TYPE : JSON_TYPE;
    if (a->status == 200 && (req->method == ND_METHOD_GET || req->method == ND_METHOD_HEAD)) {
        make_etag(a->body, a->len, a->etag);
        const char *inm = nd_request_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
        if (inm != NULL && etag_matches(inm, a->etag)) {
            /* The body stays in the response: libmicrohttpd sends no body
             * with a 304 but announces its length, which RFC 9110 allows
             * only when it is the 200's length (a 0 would be wrong). */
            a->status = 304;
            a->type = NULL;
        }
    }
}

static void add_header(struct MHD_Response *resp, const char *name, const char *value)
{
    if (MHD_add_response_header(resp, name, value) != MHD_YES)
        nd_log(ND_LOG_WARN, "response header %s dropped", name);
}

/* Queues the answer to req. Called once per request, never on its first call. */
static enum MHD_Result queue_answer(struct nd_request *req, int status)
{
    struct answer a = {0};
    enum MHD_Result rc = MHD_NO;

    build_answer(req, status, &a);
    struct MHD_Response *resp =
        a.body != NULL ? MHD_create_response_from_buffer(a.len, a.body, MHD_RESPMEM_MUST_FREE)
                       : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free(a.body);
        goto out;
    }
    if (a.type != NULL)
        add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a.type);
    if (a.etag[0] != '\0')
        add_header(resp, MHD_HTTP_HEADER_ETAG, a.etag);
    if (a.status != 304) {
        for (const struct header *h = req->headers; h != NULL; h = h->next)
            add_header(resp, h->name, h->value);
        if (a.status == 401 && !has_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE))
            add_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    }
    add_header(resp, "X-Content-Type-Options", "nosniff");
    if (atomic_load(&req->srv->stopping))
        add_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    rc = MHD_queue_response(req->conn, (unsigned)a.status, resp);
    MHD_destroy_response(resp);
out:
    req->queued = true;
    req->sent_status = a.status;
    req->sent_bytes = req->method == ND_METHOD_HEAD || a.status == 304 ? 0 : a.len;
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct nd_request *req = *req_cls;
    (void)version;

    if (req == NULL) {
        req = request_create(cls, conn, url, method);
        if (req == NULL)
            return MHD_NO;
        *req_cls = req;
        unsigned long long length = announced_length(req);
        if (length > req->srv->cfg->max_body) {
            /* Refused before the body is read; libmicrohttpd closes the connection. */
            return queue_answer(req, nd_respond_problem(req, 413,
                                                        "the request body is larger than %zu bytes",
                                                        req->srv->cfg->max_body));
        }
        if (length > 0) {
            /* The whole buffer at once; if this fails, body_append tries again. */
            req->body = malloc(length);
            req->body_cap = req->body != NULL ? length : 0;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!req->queued)
            body_append(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->queued)
        return MHD_YES;
    return queue_answer(req, dispatch(req));
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct nd_server *srv = cls;
    struct nd_request *req = *req_cls;
    (void)conn;
    (void)toe;

    if (req == NULL)
        return;
    nd_log_access(req->method_name, req->path, req->sent_status, req->sent_bytes,
                  monotonic_us() - req->start_us);
    request_destroy(req);
    *req_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

/*
 * Percent-decoding of the path and query arguments as libmicrohttpd does it,
 * except that a text holding "%00" stays encoded: a decoded NUL would cut it
 * short, so "/v1/articles/1%00x" would alias "/v1/articles/1".
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *text)
{
    (void)cls;
    (void)conn;
    if (strstr(text, "%00") != NULL)
        return strlen(text);
    return MHD_http_unescape(text);
}

/* libmicrohttpd's own diagnostics, one line each, at warn level. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    nd_log(ND_LOG_WARN, "libmicrohttpd: %s", line);
}

/* ---- the server --------------------------------------------------------- */

union listen_addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

/*
 * Fills addr from an IPv4 or IPv6 literal and adds the IPv6 flags. "::"
 * listens on IPv4 too (dual stack). False for anything else.
 */
static bool parse_bind(const char *text, unsigned port, union listen_addr *addr, unsigned *flags)
{
    memset(addr, 0, sizeof *addr);
    if (inet_pton(AF_INET, text, &addr->in4.sin_addr) == 1) {
        addr->in4.sin_family = AF_INET;
        addr->in4.sin_port = htons((uint16_t)port);
        return true;
    }
    if (inet_pton(AF_INET6, text, &addr->in6.sin6_addr) == 1) {
        addr->in6.sin6_family = AF_INET6;
        addr->in6.sin6_port = htons((uint16_t)port);
        *flags |= IN6_IS_ADDR_UNSPECIFIED(&addr->in6.sin6_addr) ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
        return true;
    }
    return false;
}

static unsigned pool_size(const struct nd_config *cfg)
{
    if (cfg->threads > 0)
        return cfg->threads > cfg->conn_limit ? cfg->conn_limit : cfg->threads;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = cores > 0 ? (unsigned)cores : 1;
    /* libmicrohttpd splits connection-limit among the threads: each needs one. */
    return n > cfg->conn_limit ? cfg->conn_limit : n;
}

static void server_free(struct nd_server *srv)
{
    for (size_t i = 0; i < srv->nstores; i++)
        nd_store_close(srv->stores[i]);
    free(srv->stores);
    nd_ratelimit_destroy(srv->comment_limit);
    pthread_mutex_destroy(&srv->stores_lock);
    free(srv);
}

/*
 * Starts the daemon. cfg is borrowed for the life of the server. The caller
 * has called json_object_seed and nd_auth_init, and blocked the signals it
 * waits for, before: the worker threads start here.
 */
enum nd_err nd_server_start(const struct nd_config *cfg, struct nd_server **out)
{
    union listen_addr addr;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct nd_server *srv = calloc(1, sizeof *srv);

    if (srv == NULL)
        return ND_ERR_NOMEM;
    pthread_mutex_init(&srv->stores_lock, NULL);
    srv->cfg = cfg;
    srv->generation = atomic_fetch_add(&server_generations, 1) + 1;
    srv->comment_limit = nd_ratelimit_create(cfg->comment_rate, cfg->comment_burst);
    if (srv->comment_limit == NULL) {
        server_free(srv);
        return ND_ERR_NOMEM;
    }
    if (!parse_bind(cfg->bind, cfg->port, &addr, &flags)) {
        nd_log(ND_LOG_ERROR, "bind must be an IPv4 or IPv6 address, not \"%s\"", cfg->bind);
        server_free(srv);
        return ND_ERR_INVALID;
    }
    /* The logger comes first so that no option's complaint bypasses it. */
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, srv, MHD_OPTION_SOCK_ADDR, &addr.sa, MHD_OPTION_THREAD_POOL_SIZE,
        pool_size(cfg), MHD_OPTION_CONNECTION_TIMEOUT, cfg->conn_timeout,
        MHD_OPTION_CONNECTION_LIMIT, cfg->conn_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->per_ip_conn_limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->conn_memory_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape,
        NULL, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        nd_log(ND_LOG_ERROR, "cannot listen on %s port %u", cfg->bind, cfg->port);
        server_free(srv);
        return ND_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info != NULL ? info->port : cfg->port;
    if (addr.sa.sa_family == AF_INET6)
        nd_log(ND_LOG_INFO, "listening on http://[%s]:%u", cfg->bind, srv->port);
    else
        nd_log(ND_LOG_INFO, "listening on http://%s:%u", cfg->bind, srv->port);
    *out = srv;
    return ND_OK;
}

unsigned nd_server_port(const struct nd_server *srv)
{
    return srv->port;
}

/*
 * Stops accepting, lets requests in flight finish (up to shutdown-grace
 * seconds, answering them with Connection: close), then stops the threads
 * and closes every store they opened.
 */
void nd_server_stop(struct nd_server *srv)
{
    if (srv == NULL)
        return;
    atomic_store(&srv->stopping, true);
    MHD_socket listen_fd = MHD_quiesce_daemon(srv->daemon);
    /* The socket may not be closed before MHD_stop_daemon, but shut down it
     * refuses new connections at once instead of queueing them unserved. */
    if (listen_fd != MHD_INVALID_SOCKET)
        shutdown(listen_fd, SHUT_RDWR);
    uint64_t deadline = monotonic_us() + (uint64_t)srv->cfg->shutdown_grace * 1000000u;
    while (atomic_load(&srv->in_flight) > 0 && monotonic_us() < deadline) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    unsigned left = atomic_load(&srv->in_flight);
    if (left > 0)
        nd_log(ND_LOG_WARN, "stopping with %u requests unfinished", left);
    MHD_stop_daemon(srv->daemon);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    server_free(srv);
}
