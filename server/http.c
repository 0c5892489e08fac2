/*
 * http.c: the libmicrohttpd daemon and the life of a request.
 *
 * libmicrohttpd runs an epoll thread pool and calls on_request several times
 * per request: once when the headers are in (a struct nd_request is made,
 * its client address and request id settled, and nothing is answered yet,
 * so keep-alive survives), once per body chunk (buffered up to max-body),
 * and a last time with no data, when the request is routed, the handler
 * runs and the answer is rendered and queued (http_response.c). The
 * completion callback writes the access-log line and frees the request.
 *
 * Routing answers what no handler needs to know about: 404, 405, OPTIONS
 * and CORS preflight requests, and the per-key write limit, which every
 * write with a valid API key passes before its handler runs.
 *
 * Each worker thread opens its own database connection on first use
 * (http_store.c); every connection opened is also listed in the server, so
 * nd_server_stop can close them once the threads are gone. With tls-cert and tls-key the daemon
 * speaks HTTPS only, through libmicrohttpd's GnuTLS support.
 */
#include "newsd/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "http_internal.h"
#include "newsd/events.h"
#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/store.h"
#include "newsd/tls.h"
#include "newsd/url.h"
#include "newsd/util.h"

#define MHD_LIMIT_MARGIN 64        /* see admit() */
#define TLS_FILE_MAX (1024 * 1024) /* a PEM file larger than this is not a certificate */

static atomic_ulong server_generations;

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

/*
 * Each thread keeps the last request it freed for its next one. A request
 * is 1 KiB, which glibc 2.36 counts as a large chunk: its calloc (gcc makes
 * one of malloc and memset, too) bypasses the thread's cache of freed chunks
 * and first consolidates the arena's small free chunks: 6.5% of a cached
 * get's profile (bench/RESULTS.md, Run 11). A thread's spare is freed
 * when the thread exits; nd_server_stop frees its own caller's, which
 * MHD_stop_daemon's completion callbacks may have left it.
 */
static pthread_key_t spare_key;
static bool spare_usable;

static void spare_key_make(void)
{
    spare_usable = pthread_key_create(&spare_key, free) == 0;
}

static struct nd_request *request_alloc(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, spare_key_make);
    struct nd_request *req = spare_usable ? pthread_getspecific(spare_key) : NULL;
    if (req != NULL)
        pthread_setspecific(spare_key, NULL); /* clearing a set key cannot fail */
    else
        req = malloc(sizeof *req);
    if (req != NULL)
        memset(req, 0, sizeof *req);
    return req;
}

static void request_free(struct nd_request *req)
{
    if (spare_usable && pthread_getspecific(spare_key) == NULL &&
        pthread_setspecific(spare_key, req) == 0)
        return;
    free(req);
}

/* Frees the calling thread's spare request, if it has one. */
static void spare_release(void)
{
    if (!spare_usable)
        return;
    free(pthread_getspecific(spare_key));
    pthread_setspecific(spare_key, NULL);
}

static void request_destroy(struct nd_request *req)
{
    if (req == NULL)
        return;
    nd_http_reset_answer(req);
    nd_stream_release(req->stream);
    nd_http_bulk_destroy(req->bulk);
    if (req->answer_from_fd)
        close(req->answer_fd);
    nd_cache_release(req->cached);
    free(req->cache_key);
    nd_buf_free(&req->body);
    free(req->path);
    request_free(req);
}

/* A new request, counted in flight; NULL when out of memory. */
/*
 * The path of a request target: an absolute-form target
 * ("http://host:port/path", RFC 9112 3.2.2) is reduced to its path.
 */
static const char *target_path(const char *url)
{
    const char *rest = NULL;
    if (strncasecmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        rest = url + 8;
    struct nd_hostport hp;
    const char *end = rest != NULL ? nd_url_parse_hostport(rest, strlen(rest), &hp) : NULL;
    if (end == NULL)
        return url; /* no such path: answered 404 */
    return *end == '/' ? end : "/";
}

static struct nd_request *request_create(struct nd_server *srv, struct MHD_Connection *conn,
                                         const char *url, const char *method)
{
    struct nd_request *req = request_alloc();
    if (req == NULL)
        return NULL;
    req->path = strdup(target_path(url));
    if (req->path == NULL) {
        request_free(req);
        return NULL;
    }
    req->srv = srv;
    req->conn = conn;
    nd_buf_init(&req->body, srv->cfg->max_body);
    req->start_us = nd_monotonic_us();
    req->gzip = -1;
    req->method = method_of(method);
    snprintf(req->method_name, sizeof req->method_name, "%s", method);
    nd_http_identify(req);
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

/* nd_cors_header_fn adding to the request's own headers. */
static void add_request_header(void *ctx, const char *name, const char *value)
{
    nd_respond_header(ctx, name, value);
}

/*
 * OPTIONS on a known path: 204 with Allow, and for a CORS preflight (an
 * Origin and Access-Control-Request-Method) the CORS answer of cors.h: 204
 * with the Access-Control-Allow-* headers, or 403 for an origin not allowed.
 */
static int answer_options(struct nd_request *req, unsigned methods)
{
    char allowed[80];
    const char *origin = nd_request_header(req, "Origin");
    const char *asked = nd_request_header(req, "Access-Control-Request-Method");

    if (origin == NULL || asked == NULL)
        return nd_respond_json(req, 204, NULL);
    nd_router_allow(methods, allowed, sizeof allowed);
    req->preflight = true;
    switch (nd_cors_preflight(req->srv->cors, origin, allowed, add_request_header, req)) {
    case ND_CORS_PREFLIGHT_ALLOWED:
        return nd_respond_json(req, 204, NULL);
    case ND_CORS_PREFLIGHT_DENIED:
        return nd_respond_problem(
            req, 403, "the origin %.200s may not call this API (see cors-origins)", origin);
    case ND_CORS_PREFLIGHT_OFF:
        break;
    }
    req->preflight = false;
    return nd_respond_json(req, 204, NULL);
}

bool nd_http_request_writes(const struct nd_request *req)
{
    return req->method != ND_METHOD_GET && req->method != ND_METHOD_HEAD &&
           req->method != ND_METHOD_OPTIONS;
}

int nd_http_handler_done(struct nd_request *req, int status, uint64_t position)
{
    /* Any write, even one that failed half-way, may have changed what reads see:
     * the article it named (nd_request_wrote_article, _comment), else anything;
     * the event hub reads the change log at once instead of at its next poll. */
    if (nd_http_request_writes(req)) {
        if (req->srv->cache != NULL && req->wrote_comments_only)
            nd_cache_invalidate_comments(req->srv->cache, req->wrote_article);
        else if (req->srv->cache != NULL)
            nd_cache_invalidate_article(req->srv->cache, req->wrote_article);
        nd_events_notify(req->srv->events);
        if (position != 0)
            nd_http_answer_position(req, position);
    }
    if (status < 200 || status > 599) {
        nd_log(ND_LOG_ERROR, "the handler of %s %s returned status %d", req->method_name, req->path,
               status);
        return nd_http_set_problem(req, 500, NULL, NULL);
    }
    return status;
}

/*
 * Routes the request and runs its handler, here or, for a route of another
 * lane, on that lane's thread (http_offload.c). Returns the status to
 * answer, or 0 when the request was handed off.
 */
static int dispatch(struct nd_request *req)
{
    char allow[80];

    if (req->body.err == ND_ERR_LIMIT)
        return nd_respond_problem(req, 413, "the request body is larger than %zu bytes",
                                  req->srv->cfg->max_body);
    if (req->body.err == ND_ERR_NOMEM)
        return nd_http_set_problem(req, 503, "the server is out of memory", NULL);
    switch (nd_router_match(nd_routes, req->method, req->path, &req->match)) {
    case ND_ROUTE_NOT_FOUND:
        return nd_http_set_problem(req, 404, "there is no resource at this path", NULL);
    case ND_ROUTE_METHOD_NOT_ALLOWED:
        nd_router_allow(req->match.allowed | ND_METHOD_OPTIONS, allow, sizeof allow);
        nd_respond_header(req, MHD_HTTP_HEADER_ALLOW, allow);
        if (req->method == ND_METHOD_OPTIONS)
            return answer_options(req, req->match.allowed);
        return nd_respond_problem(req, 405, "%s is not allowed here; use %s", req->method_name,
                                  allow);
    case ND_ROUTE_FOUND:
        break;
    }
    /* A key that cannot be checked must not count as no key (a draft would be 404). */
    enum nd_err auth = nd_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION) != NULL
                           ? nd_http_key_check(req)
                           : ND_ERR_UNAUTHORIZED;
    if (auth != ND_OK && auth != ND_ERR_UNAUTHORIZED)
        return nd_http_set_problem(req, 503, "API keys cannot be checked right now", NULL);
    int status = nd_http_limit_write(req);
    if (status != 0)
        return status;
    if (req->match.cacheable) {
        status = nd_http_cache_lookup(req);
        if (status != 0)
            return status;
    }
    if (nd_offload_submit(req->srv->offload, req, req->match.route->lane))
        return 0;
    status = req->match.handler(req);
    return nd_http_handler_done(req, status,
                                nd_http_request_writes(req) ? nd_http_store_position(req->srv) : 0);
}

/*
 * The connection limit is kept here rather than by libmicrohttpd: once its
 * own limit is reached, 0.9.75 in epoll mode stops noticing that held
 * connections were closed by their clients, and serves nobody again (seen
 * with 60 connections held by a flood of 320). libmicrohttpd's limit is set
 * MHD_LIMIT_MARGIN higher, so it is never the one that is reached.
 *
 * admit() reserves a place for each accepted connection and on_connection()
 * gives it back when the connection closes. (Should libmicrohttpd fail to
 * allocate a connection after admit() said yes, that place stays taken: a
 * leak of one place per allocation failure, which we accept.)
 */
static enum MHD_Result admit(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct nd_server *srv = cls;
    (void)addr;
    (void)addrlen;
    if (atomic_fetch_add(&srv->connections, 1) >= srv->conn_limit) {
        atomic_fetch_sub(&srv->connections, 1);
        return MHD_NO;
    }
    return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    struct nd_server *srv = cls;
    (void)conn;
    (void)socket_ctx;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_sub(&srv->connections, 1);
}

/* What check_framing counts over the request's header lines. */
struct framing {
    unsigned hosts;
    const char *host;
    unsigned lengths;
    const char *length;
    bool lengths_differ;
    unsigned encodings;
    const char *encoding;
    bool spaced_name;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *name,
                                     const char *value)
{
    struct framing *f = cls;
    (void)kind;
    if (strpbrk(name, " \t") != NULL)
        f->spaced_name = true;
    if (strcasecmp(name, MHD_HTTP_HEADER_HOST) == 0) {
        f->hosts++;
        f->host = value;
    } else if (strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->lengths++ > 0 && strcmp(f->length, value ? value : "") != 0)
            f->lengths_differ = true;
        f->length = value ? value : "";
    } else if (strcasecmp(name, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->encodings++;
        f->encoding = value ? value : "";
    }
    return MHD_YES;
}

/* A Host value: host[:port] alone (a name, an IPv4 address or a bracketed IPv6 one). */
static bool host_valid(const char *host)
{
    struct nd_hostport hp;
    size_t len = host != NULL ? strlen(host) : 0;
    return host != NULL && nd_url_parse_hostport(host, len, &hp) == host + len;
}

/*
 * The request's framing and Host, checked before its body is read (RFC 9112
 * 3.2, 5.1, 6.1, 6.3): a request whose length is ambiguous could smuggle a
 * second request past the first. Returns 0, or 400 with the problem set; the
 * caller then answers at once, which closes the connection.
 */
static int check_framing(struct nd_request *req, const char *version)
{
    struct framing f = {0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_framing, &f);
    const char *why = NULL;
    if (f.spaced_name)
        why = "a header name holds white space";
    else if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && f.hosts != 1)
        why = "an HTTP/1.1 request needs exactly one Host header";
    else if (f.hosts > 1 || (f.hosts == 1 && !host_valid(f.host)))
        why = "the Host header is not a valid host";
    else if (f.encodings > 0 && f.lengths > 0)
        why = "Content-Length and Transfer-Encoding together are ambiguous";
    else if (f.encodings > 1 || (f.encodings == 1 && strcasecmp(f.encoding, "chunked") != 0))
        why = "the only Transfer-Encoding accepted is chunked";
    else if (f.lengths_differ ||
             (f.lengths > 0 &&
              (f.length[0] == '\0' || strspn(f.length, "0123456789") != strlen(f.length))))
        why = "Content-Length must be one decimal number";
    if (why == NULL)
        return 0;
    nd_respond_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
    return nd_respond_problem(req, 400, "%s", why);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct nd_request *req = *req_cls;

    if (req == NULL) {
        req = request_create(cls, conn, url, method);
        if (req == NULL)
            return MHD_NO;
        *req_cls = req;
        int refused = check_framing(req, version);
        if (refused != 0)
            return nd_http_queue_answer(req, refused); /* on the first call: closes */
        unsigned long long length = announced_length(req);
        if (req->method == ND_METHOD_POST && strcmp(req->path, ND_BULK_PATH) == 0) {
            /* a bulk body is taken line by line, to bulk-max-body, never buffered */
            int status = nd_http_bulk_start(req, length);
            return status != 0 ? nd_http_queue_answer(req, status) : MHD_YES;
        }
        if (length > req->srv->cfg->max_body) {
            /* Refused before the body is read; libmicrohttpd closes the connection. */
            return nd_http_queue_answer(
                req, nd_respond_problem(req, 413, "the request body is larger than %zu bytes",
                                        req->srv->cfg->max_body));
        }
        if (length > 0) {
            /* The whole buffer at once; if this fails, the appends try again. */
            nd_buf_reserve(&req->body, (size_t)length);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!req->queued && req->bulk != NULL)
            nd_http_bulk_feed(req, upload_data, *upload_data_size);
        else if (!req->queued)
            nd_buf_append(&req->body, upload_data,
                          *upload_data_size); /* see body in http_internal.h */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->queued || req->offload == ND_OFFLOAD_QUEUED)
        return MHD_YES;
    if (req->offload == ND_OFFLOAD_DONE) /* called again once its lane thread resumed it */
        return nd_http_queue_answer(req, req->offload_status);
    int status = dispatch(req);
    return status != 0 ? nd_http_queue_answer(req, status) : MHD_YES;
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
    uint64_t usec = nd_monotonic_us() - req->start_us;
    nd_log_request(req->method_name, req->path, req->sent_status, req->sent_bytes, usec,
                   req->client, req->request_id);
    nd_metrics_observe_request(srv->metrics, req->match.route, req->sent_status, usec);
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
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
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
    unsigned n = nd_cores(1);
    /*
     * Over PostgreSQL a thread waits for each statement's round trip: two
     * per core, each with its connection, so that one serves its sockets
     * while the other waits on a cold read. Writes, search misses and feeds
     * run on the lanes' threads (http_offload.c), not these; four per core
     * (before the lanes) made cached answers 10-25% slower for nothing
     * (docs/postgresql.md).
     */
    if (nd_store_is_postgres(cfg->db_path))
        n *= 2;
    /* libmicrohttpd splits connection-limit among the threads: each needs one. */
    return n > cfg->conn_limit ? cfg->conn_limit : n;
}

static void server_free(struct nd_server *srv)
{
    nd_offload_free(srv->offload);
    for (size_t i = 0; i < srv->nstores; i++)
        nd_store_close(srv->stores[i]);
    free(srv->stores);
    nd_ratelimit_destroy(srv->comment_limit);
    nd_ratelimit_destroy(srv->write_limit);
    nd_proxy_list_destroy(srv->proxies);
    nd_cors_destroy(srv->cors);
    nd_events_destroy(srv->events);
    nd_cache_destroy(srv->cache);
    nd_metrics_destroy(srv->metrics);
    free(srv->tls_cert);
    if (srv->tls_key != NULL)
        sodium_memzero(srv->tls_key, srv->tls_key_len);
    free(srv->tls_key);
    pthread_mutex_destroy(&srv->stores_lock);
    free(srv);
}

/*
 * Reads the whole text file at path (setting names the setting, for the
 * log) into a malloc'd string in *out. ND_ERR_INVALID, logged, when the file
 * cannot be opened or read, is empty or too large: the setting names a file
 * that is not a PEM file newsd can use (a bad setting, which a restart does
 * not mend); ND_ERR_NOMEM.
 */
static enum nd_err read_pem(const char *path, const char *setting, char **out, size_t *len)
{
    enum nd_err rc = ND_ERR_INVALID;
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        nd_log(ND_LOG_ERROR, "%s: cannot open %s: %s", setting, path, strerror(errno));
        return ND_ERR_INVALID;
    }
    text = malloc(TLS_FILE_MAX + 1);
    if (text == NULL) {
        rc = ND_ERR_NOMEM;
        goto out;
    }
    size_t n = fread(text, 1, TLS_FILE_MAX + 1, f);
    if (ferror(f) || n == 0 || n > TLS_FILE_MAX) {
        nd_log(ND_LOG_ERROR, "%s: cannot read %s (empty, unreadable or over 1 MiB)", setting, path);
        goto out;
    }
    text[n] = '\0';
    *out = text;
    *len = n;
    text = NULL;
    rc = ND_OK;
out:
    free(text);
    fclose(f);
    return rc;
}

/*
 * Loads tls-cert and tls-key when they are set, and says which TLS options
 * the daemon gets (items, ended by MHD_OPTION_END). Both or neither must be
 * given, and libmicrohttpd must have been built with TLS. Failures are
 * logged here.
 */
static enum nd_err setup_tls(struct nd_server *srv, unsigned *flags, struct MHD_OptionItem items[4])
{
    const struct nd_config *cfg = srv->cfg;
    bool cert = cfg->tls_cert[0] != '\0', key = cfg->tls_key[0] != '\0';
    size_t cert_len = 0;

    items[0] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    if (!cert && !key)
        return ND_OK;
    if (cert != key) {
        nd_log(ND_LOG_ERROR, "tls-cert and tls-key go together: give both to serve HTTPS, or "
                             "neither to serve plain HTTP");
        return ND_ERR_INVALID;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        nd_log(ND_LOG_ERROR, "this libmicrohttpd was built without TLS support: remove tls-cert "
                             "and tls-key, or put a TLS proxy in front of newsd");
        return ND_ERR_INVALID;
    }
    enum nd_err rc = read_pem(cfg->tls_cert, "tls-cert", &srv->tls_cert, &cert_len);
    if (rc == ND_OK)
        rc = read_pem(cfg->tls_key, "tls-key", &srv->tls_key, &srv->tls_key_len);
    if (rc != ND_OK)
        return rc; /* logged by read_pem */
    char why[256];
    rc = nd_tls_check_pair(srv->tls_cert, srv->tls_key, why, sizeof why);
    if (rc == ND_ERR_INVALID)
        nd_log(ND_LOG_ERROR, "%s", why);
    if (rc != ND_OK)
        return rc;
    *flags |= MHD_USE_TLS;
    items[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert};
    items[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key};
    items[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, cfg->tls_priorities};
    items[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return ND_OK;
}

/*
 * Makes the request-independent parts of the server from cfg: rate limiters,
 * the trusted proxies and the CORS policy (both checked when cfg was read).
 */
static enum nd_err setup_policies(struct nd_server *srv)
{
    const struct nd_config *cfg = srv->cfg;
    char err[256];

    srv->comment_limit = nd_ratelimit_create(cfg->comment_rate, cfg->comment_burst);
    srv->write_limit = nd_ratelimit_create(cfg->write_rate, cfg->write_burst);
    srv->shared_limits = nd_store_is_postgres(cfg->db_path);
    if (srv->comment_limit == NULL || srv->write_limit == NULL)
        return ND_ERR_NOMEM;
    if (cfg->cache_size > 0) {
        /* a slot per KiB of budget, about four per answer (article pages are 5 KB,
           searches 8 KB): when the bytes are full, a set of four slots holds one answer
           on average. With one per 4 KiB the sets were full with the bytes, and a set
           that five of the URLs read in turn fell in (about 3 of 1,000 sets) pushed one
           of them out at every store: 5 of 1,000 searches read in a loop missed on each
           pass (none since), each a second over PostgreSQL. 8 bytes a slot: 128 KiB for
           16 MB. */
        srv->cache = nd_cache_create(cfg->cache_size, (unsigned)(cfg->cache_size / 1024 + 64));
        if (srv->cache == NULL)
            return ND_ERR_NOMEM;
    }
    if (cfg->metrics) {
        srv->metrics = nd_metrics_create(nd_routes);
        if (srv->metrics == NULL)
            return ND_ERR_NOMEM;
    }
    enum nd_err rc = nd_proxy_list_parse(cfg->trusted_proxies, &srv->proxies, err, sizeof err);
    if (rc == ND_OK)
        rc = nd_events_start(cfg, &srv->events);
    if (rc == ND_OK)
        rc = nd_cors_create(cfg->cors_origins, cfg->cors_credentials, &srv->cors, err, sizeof err);
    if (rc == ND_ERR_INVALID)
        nd_log(ND_LOG_ERROR, "%s", err);
    if (rc == ND_OK && cfg->cors_credentials && strcmp(cfg->cors_origins, "*") == 0)
        nd_log(ND_LOG_WARN, "cors-credentials is ignored with cors-origins *: list the origins "
                            "that may send credentials");
    return rc;
}

/*
 * Starts the daemon (and the event hub). cfg is borrowed for the life of the server. The caller
 * has called json_object_seed and nd_auth_init, and blocked the signals it
 * waits for, before: the worker threads start here.
 */
/* Descriptors kept for everything but client connections: the listening
 * socket, epoll and event fds, each thread's database files, logs. */
#define FD_RESERVE 64

/*
 * The connections the process can really hold. Raises the soft limit on
 * open files to the hard one; if that is still too low for connection-limit,
 * admits fewer and says so. Running out of descriptors would make accept()
 * fail inside libmicrohttpd, which then stalls as at its own limit (admit()).
 */
static unsigned usable_connection_limit(unsigned wanted)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return wanted;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = old;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)wanted + 2 * FD_RESERVE)
        return wanted;
    unsigned usable = rl.rlim_cur > 2 * FD_RESERVE ? (unsigned)(rl.rlim_cur - 2 * FD_RESERVE) : 1;
    nd_log(ND_LOG_WARN,
           "only %llu open files allowed: admitting %u connections instead of "
           "connection-limit %u (raise the limit, e.g. LimitNOFILE=)",
           (unsigned long long)rl.rlim_cur, usable, wanted);
    return usable;
}

enum nd_err nd_server_start(const struct nd_config *cfg, struct nd_server **out)
{
    union listen_addr addr;
    struct MHD_OptionItem tls[4];
    /* Suspend and resume: event streams wait without a worker thread (http_stream.c). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    struct nd_server *srv = calloc(1, sizeof *srv);

    if (srv == NULL)
        return ND_ERR_NOMEM;
    pthread_mutex_init(&srv->stores_lock, NULL);
    nd_json_watch(); /* see nd_request_json */
    srv->cfg = cfg;
    srv->conn_limit = usable_connection_limit(cfg->conn_limit);
    srv->generation = atomic_fetch_add(&server_generations, 1) + 1;
    enum nd_err rc = setup_policies(srv);
    if (rc == ND_OK)
        rc = setup_tls(srv, &flags, tls);
    if (rc == ND_OK)
        rc = nd_offload_start(srv, &srv->offload);
    if (rc == ND_OK && !parse_bind(cfg->bind, cfg->port, &addr, &flags)) {
        nd_log(ND_LOG_ERROR, "bind must be an IPv4 or IPv6 address, not \"%s\"", cfg->bind);
        rc = ND_ERR_INVALID;
    }
    if (rc != ND_OK) {
        server_free(srv);
        return rc;
    }
    /* The logger comes first so that no option's complaint bypasses it. */
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, admit, srv, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, srv, MHD_OPTION_SOCK_ADDR, &addr.sa, MHD_OPTION_THREAD_POOL_SIZE,
        pool_size(cfg), MHD_OPTION_CONNECTION_TIMEOUT, cfg->conn_timeout,
        MHD_OPTION_CONNECTION_LIMIT, srv->conn_limit + MHD_LIMIT_MARGIN,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_conn_limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->conn_memory_limit, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        nd_log(ND_LOG_ERROR, "cannot listen on %s port %u%s", cfg->bind, cfg->port,
               srv->tls_cert != NULL ? " with TLS (are tls-cert and tls-key a matching "
                                       "unencrypted PEM pair?)"
                                     : "");
        server_free(srv);
        return ND_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info != NULL ? info->port : cfg->port;
    const char *scheme = srv->tls_cert != NULL ? "https" : "http";
    if (addr.sa.sa_family == AF_INET6)
        nd_log(ND_LOG_INFO, "listening on %s://[%s]:%u", scheme, cfg->bind, srv->port);
    else
        nd_log(ND_LOG_INFO, "listening on %s://%s:%u", scheme, cfg->bind, srv->port);
    *out = srv;
    return ND_OK;
}

unsigned nd_server_port(const struct nd_server *srv)
{
    return srv->port;
}

void nd_server_drain(struct nd_server *srv)
{
    atomic_store(&srv->draining, true);
}

bool nd_request_draining(const struct nd_request *req)
{
    return atomic_load(&req->srv->draining);
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
    /* Event streams would never finish by themselves: they end now, once
     * what they have buffered is sent, and none is left suspended, which
     * MHD_stop_daemon does not allow. */
    nd_events_stop(srv->events);
    uint64_t deadline = nd_monotonic_us() + (uint64_t)srv->cfg->shutdown_grace * 1000000u;
    while (atomic_load(&srv->in_flight) > 0 && nd_monotonic_us() < deadline) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    unsigned left = atomic_load(&srv->in_flight);
    if (left > 0)
        nd_log(ND_LOG_WARN, "stopping with %u requests unfinished", left);
    /* What the lanes hold is finished and its connections resumed:
     * MHD_stop_daemon must find none suspended. */
    nd_offload_stop(srv->offload);
    MHD_stop_daemon(srv->daemon);
    spare_release();
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    if (srv->cache != NULL) {
        struct nd_cache_stats st;
        nd_cache_stats(srv->cache, &st);
        nd_log(ND_LOG_INFO, "response cache: %llu hits, %llu misses, %llu stored",
               (unsigned long long)st.hits, (unsigned long long)st.misses,
               (unsigned long long)st.stores);
    }
    server_free(srv);
}
