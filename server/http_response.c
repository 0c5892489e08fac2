/*
 * http_response.c: answering a request.
 *
 * A handler sets a JSON value (or a problem document, or bytes of another
 * type) and returns the status; here it is rendered once into a buffer,
 * given a strong ETag when it is a 200 answer to GET or HEAD, gzip-encoded
 * when it is over 1 KiB and the client accepts gzip (newsd/gzip.h; the
 * encoded bytes get their own ETag, the identity one with "-gz", and Vary),
 * turned into a 304 when If-None-Match matches, and queued with the headers
 * every answer of newsd carries:
 * X-Request-Id, the security headers, and the CORS headers of the request's
 * Origin. libmicrohttpd itself adds Date and Content-Length and no Server
 * header.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "http_internal.h"
#include "newsd/assets.h"
#include "newsd/buf.h"
#include "newsd/gzip.h"
#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/util.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define PROBLEM_TYPE "application/problem+json"
#define ETAG_BYTES 16
#define ETAG_MAX 48 /* the quoted hash, "-gz" for the gzip encoding, NUL */
/* The ETag of gzip bytes: the identity one with "-gzN", N the level, which
 * decides the bytes (a restart with another gzip-level changes the tag). */
#define GZIP_SUFFIX_MAX sizeof "-gz9"
/* The Retry-After of a 503 that gave none of its own, in seconds. */
#define RETRY_AFTER_S "1"
_Static_assert(ETAG_MAX == sizeof((struct nd_cache_entry *)0)->etag, "cache entries hold ETags");
_Static_assert(ETAG_BYTES == crypto_shorthash_siphashx24_BYTES, "the ETag hash's size");
_Static_assert(2 * ETAG_BYTES + 3 + GZIP_SUFFIX_MAX - 1 <= ETAG_MAX, "ETag buffer size");

/*
 * Sent with every answer. newsd serves JSON only, so the strictest policy
 * fits: nothing may be loaded, framed or referred from what it sends, even
 * if a browser were tricked into rendering a body as a page.
 */
static const char *const security_headers[][2] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
};

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
    {410, "Gone"},
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

/* Forgets whatever body the answer had so far. */
static void drop_body(struct nd_request *req)
{
    json_decref(req->json);
    req->json = NULL;
    if (req->raw_owned)
        free((char *)req->raw);
    req->raw = NULL;
    req->raw_len = 0;
    req->raw_owned = false;
    req->asset = NULL;
    if (req->answer_from_fd)
        close(req->answer_fd);
    req->answer_from_fd = false;
}

/*
 * The request id lets a client's report be matched with the server's log
 * line. A document is whole or not made at all: out of memory, a 422
 * without its errors or a 404 without its detail would be a different
 * answer, so the status becomes 500 with no body, and build_answer tries a
 * plain 500 document once more.
 */
int nd_http_set_problem(struct nd_request *req, int status, const char *detail, json_t *errors)
{
    json_t *doc = json_object();
    bool whole = doc != NULL && json_object_set_new(doc, "type", json_string("about:blank")) == 0 &&
                 json_object_set_new(doc, "title", json_string(nd_http_reason(status))) == 0 &&
                 json_object_set_new(doc, "status", json_integer(status)) == 0 &&
                 (detail == NULL || detail[0] == '\0' ||
                  json_object_set_new(doc, "detail", safe_string(detail)) == 0) &&
                 (errors == NULL || json_object_set(doc, "errors", errors) == 0) &&
                 json_object_set_new(doc, "request_id", json_string(req->request_id)) == 0;
    json_decref(errors);
    drop_body(req);
    req->problem = true;
    if (!whole) {
        json_decref(doc);
        req->json = NULL;
        return 500;
    }
    req->json = doc;
    return status;
}

int nd_respond_json(struct nd_request *req, int status, json_t *body)
{
    drop_body(req);
    req->json = body;
    req->problem = false;
    return status;
}

int nd_respond_static(struct nd_request *req, int status, const char *type, const void *data,
                      size_t len)
{
    drop_body(req);
    req->problem = false;
    req->raw_type = type;
    req->raw = data;
    req->raw_len = len;
    return status;
}

int nd_respond_asset(struct nd_request *req, int status, const struct nd_asset *asset)
{
    nd_respond_static(req, status, asset->type, asset->data, asset->len);
    req->asset = asset;
    return status;
}

int nd_respond_owned(struct nd_request *req, int status, const char *type, char *data, size_t len)
{
    if (data == NULL)
        return nd_http_set_problem(req, 500, NULL, NULL);
    nd_respond_static(req, status, type, data, len);
    req->raw_owned = true;
    return status;
}

int nd_respond_json_buf(struct nd_request *req, int status, struct nd_buf *body)
{
    size_t len = 0;
    char *text = nd_buf_take(body, &len);
    if (text == NULL)
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    return nd_respond_owned(req, status, JSON_TYPE, text, len);
}

bool nd_respond_header(struct nd_request *req, const char *name, const char *value)
{
    if (strpbrk(value, "\r\n") != NULL || strpbrk(name, "\r\n: ") != NULL)
        return false;
    struct header *h = calloc(1, sizeof *h);
    char *name_copy = strdup(name), *value_copy = strdup(value);
    if (h == NULL || name_copy == NULL || value_copy == NULL) {
        free(h);
        free(name_copy);
        free(value_copy);
        req->headers_lost = true; /* the answer becomes a 500: see nd_http_queue_answer */
        return false;
    }
    h->name = name_copy;
    h->value = value_copy;
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
    return nd_http_set_problem(req, status, detail, NULL);
}

int nd_respond_unavailable(struct nd_request *req)
{
    return nd_http_set_problem(req, 503, "the database is unavailable", NULL);
}

int nd_http_respond_fd(struct nd_request *req, int status, const char *type, int fd, uint64_t len)
{
    drop_body(req);
    req->answer_fd = fd;
    req->answer_fd_len = len;
    req->answer_from_fd = true;
    req->raw_type = type;
    return status;
}

int nd_respond_invalid(struct nd_request *req, json_t *errors)
{
    return nd_http_set_problem(req, 422, "the request has invalid fields", errors);
}

/* A 5xx detail is the error's fixed name: a caller's text could hold a path or SQL. */
int nd_respond_err(struct nd_request *req, enum nd_err err, const char *detail)
{
    int status = nd_err_http_status(err);
    if (status >= 500 || detail == NULL)
        detail = nd_err_str(err);
    return nd_http_set_problem(req, status, detail, NULL);
}

/* ---- rendering ---------------------------------------------------------- */

/*
 * Answers are rendered into one buffer per worker thread, kept from one
 * request to the next: an answer of a few KiB then costs no allocation and
 * no regrowing copies while it is written. Its bytes are borrowed until the
 * thread renders again, which is after the answer was queued (libmicrohttpd
 * copies them, see make_response). A buffer grown past RENDER_KEEP_MAX by a
 * rare large answer is given back rather than kept for the thread's life.
 */
#define RENDER_KEEP_MAX ((size_t)256 << 10)
static _Thread_local struct nd_buf render_buf = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
static pthread_key_t render_key; /* its destructor frees a thread's buffer when the thread ends */
static pthread_once_t render_once = PTHREAD_ONCE_INIT;
static bool render_key_made;

static void render_buf_free(void *buf)
{
    nd_buf_free(buf);
}

static void render_key_make(void)
{
    render_key_made = pthread_key_create(&render_key, render_buf_free) == 0;
}

/* Renders value into the thread's buffer (*out borrowed, *len). False on failure. */
static bool render(const json_t *value, char **out, size_t *len)
{
    struct nd_buf *buf = &render_buf;
    pthread_once(&render_once, render_key_make);
    if (buf->data == NULL && render_key_made)
        pthread_setspecific(render_key, buf);
    if (buf->alloc > RENDER_KEEP_MAX)
        nd_buf_free(buf);
    nd_buf_reset(buf);
    if (!nd_json_render(value, buf) || buf->len == 0) {
        nd_buf_free(buf);
        return false;
    }
    *out = buf->data;
    *len = buf->len;
    return true;
}

/*
 * The strong ETag of body: the quoted hex of a 16-byte content hash,
 * SipHash-2-4 with 128-bit output under a fixed, public key, so that the
 * same bytes get the same tag in every process and on every instance
 * behind one address. It only has to tell versions of one answer apart;
 * nothing secret rests on it, and a writer able to forge a collision could
 * as well change the answer itself. It replaced BLAKE2b, which cost about
 * six times as much per answer (25 against 4 microseconds for 5.5 KB here).
 * The embedded files keep the BLAKE2b tags made at build time
 * (server/embed_assets.py): each tag only ever meets its own file's bytes.
 */
static void make_etag(const char *body, size_t len, char etag[ETAG_MAX])
{
    static const unsigned char key[crypto_shorthash_siphashx24_KEYBYTES] = "newsd etag v1\0\0";
    unsigned char hash[ETAG_BYTES];
    crypto_shorthash_siphashx24(hash, (const unsigned char *)body, len, key);
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

/* The value of a header the handler set, or NULL. */
static const char *find_header(const struct nd_request *req, const char *name)
{
    for (const struct header *h = req->headers; h != NULL; h = h->next)
        if (strcasecmp(h->name, name) == 0)
            return h->value;
    return NULL;
}

/* The answer as bytes, before it becomes a libmicrohttpd response. */
struct answer {
    int status;
    char *body; /* malloc'd, or borrowed (an embedded asset, the thread's render buffer), or NULL */
    bool borrowed;
    bool transient; /* borrowed from the render buffer: the response takes a copy */
    size_t len;
    const char *type;
    bool gzip; /* body is gzip-encoded */
    bool vary; /* the body would differ with another Accept-Encoding */
    char etag[ETAG_MAX];
};

bool nd_http_wants_gzip(struct nd_request *req)
{
    if (req->gzip < 0)
        req->gzip = req->srv->cfg->gzip_level > 0 &&
                    nd_gzip_accepted(nd_request_header(req, MHD_HTTP_HEADER_ACCEPT_ENCODING));
    return req->gzip == 1;
}

/* Turns a 200 whose ETag the request's If-None-Match names into a 304. */
static void check_not_modified(struct nd_request *req, struct answer *a)
{
    const char *inm = nd_request_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm != NULL && etag_matches(inm, a->etag)) {
        /* The body stays in the response: libmicrohttpd sends no body
         * with a 304 but announces its length, which RFC 9110 allows
         * only when it is the 200's length (a 0 would be wrong). */
        a->status = 304;
        a->type = NULL;
    }
}

/* Frees a's body unless it is borrowed. */
static void answer_free_body(struct answer *a)
{
    if (!a->borrowed)
        free(a->body);
    a->body = NULL;
    a->borrowed = a->transient = false;
}

/*
 * Encodes a body over ND_GZIP_MIN_BYTES with gzip when the client takes it.
 * Such a body varies with Accept-Encoding, encoded or not (unless gzip-level
 * is 0: then nothing is ever encoded). Out of memory,
 * or when gzip would not make it smaller, it goes out as it is.
 */
static void encode(struct nd_request *req, struct answer *a)
{
    char *packed;
    size_t packed_len;
    if (a->len <= ND_GZIP_MIN_BYTES || req->srv->cfg->gzip_level == 0)
        return;
    a->vary = true;
    if (!nd_http_wants_gzip(req) ||
        !nd_gzip_encode(a->body, a->len, (int)req->srv->cfg->gzip_level, &packed, &packed_len))
        return;
    answer_free_body(a);
    a->body = packed;
    a->len = packed_len;
    a->gzip = true;
}

/*
 * Takes the handler's body: renders its JSON once (a status >= 400 without
 * a body gets the generic problem document; a value that cannot be rendered
 * becomes a 500), or takes its raw bytes.
 */
static void take_body(struct nd_request *req, struct answer *a)
{
    if (req->json == NULL && req->raw == NULL && a->status >= 400)
        a->status = nd_http_set_problem(req, a->status, NULL, NULL);
    if (req->json == NULL && req->raw != NULL) {
        a->body = (char *)req->raw;
        a->borrowed = !req->raw_owned;
        a->len = req->raw_len;
        a->type = req->raw_type;
        req->raw = NULL; /* an owned buffer is the answer's now */
        req->raw_owned = false;
        return;
    }
    if (req->json != NULL && !render(req->json, &a->body, &a->len)) {
        nd_log(ND_LOG_ERROR, "the answer to %s %s cannot be rendered as JSON", req->method_name,
               req->path);
        a->status = nd_http_set_problem(req, 500, NULL, NULL);
        if (req->json == NULL || !render(req->json, &a->body, &a->len))
            return; /* out of memory: the status line alone */
    }
    if (a->body != NULL) {
        a->type = req->problem ? PROBLEM_TYPE : JSON_TYPE;
        a->borrowed = a->transient = true;
    }
}

/*
 * The answer of an embedded file: its ETag and gzip bytes were made at build
 * time (server/embed_assets.py), by the same rules as encode().
 */
static void asset_answer(struct nd_request *req, const struct nd_asset *asset, bool tagged,
                         struct answer *a)
{
    if (a->len <= ND_GZIP_MIN_BYTES || req->srv->cfg->gzip_level == 0)
        goto tag;
    a->vary = true;
    if (asset->gz_data != NULL && nd_http_wants_gzip(req)) {
        a->body = (char *)asset->gz_data; /* borrowed, as the identity bytes were */
        a->len = asset->gz_len;
        a->gzip = true;
    }
tag:
    if (tagged)
        snprintf(a->etag, sizeof a->etag, "%s", a->gzip ? asset->gz_etag : asset->etag);
}

/*
 * Builds the answer from what the handler set: the body, gzip, and for a
 * 200 to GET or HEAD the ETag (of the unencoded bytes, with "-gzN" for the
 * encoded ones), a copy in the response cache and the 304 check.
 */
static void build_answer(struct nd_request *req, int status, struct answer *a)
{
    const struct nd_asset *asset = req->asset;
    a->status = status;
    if (status == 204 || status == 304)
        return;
    if (req->answer_from_fd) { /* streamed from the file as it is: no ETag, no gzip */
        a->type = req->raw_type;
        a->len = (size_t)req->answer_fd_len;
        return;
    }
    take_body(req, a);
    if (a->body == NULL)
        return;
    bool tagged =
        a->status == 200 && (req->method == ND_METHOD_GET || req->method == ND_METHOD_HEAD);
    if (asset != NULL) {
        asset_answer(req, asset, tagged, a);
    } else {
        if (tagged)
            make_etag(a->body, a->len, a->etag);
        encode(req, a);
        if (tagged && a->gzip)
            snprintf(a->etag + strlen(a->etag) - 1, GZIP_SUFFIX_MAX + 1, "-gz%u\"",
                     req->srv->cfg->gzip_level);
    }
    if (!tagged)
        return;
    if (req->cacheable) {
        uint64_t cost = nd_monotonic_us() - req->cache_miss_us;
        struct nd_cache_entry e = {.body = a->body,
                                   .len = a->len,
                                   .link = find_header(req, "Link"),
                                   .type = a->type,
                                   .gzip = a->gzip,
                                   .article = req->cache_article,
                                   .position = req->cache_position,
                                   .cost_us = cost > UINT32_MAX ? UINT32_MAX : (uint32_t)cost};
        memcpy(e.etag, a->etag, sizeof e.etag);
        nd_cache_put_answer(req->srv->cache, req->cache_key, req->cache_key_len,
                            req->cache_generation, &e);
    }
    check_not_modified(req, a);
}

static void add_header(struct MHD_Response *resp, const char *name, const char *value)
{
    if (MHD_add_response_header(resp, name, value) != MHD_YES)
        nd_log(ND_LOG_WARN, "response header %s dropped", name);
}

/* nd_cors_header_fn adding straight to a response. */
static void add_cors_header(void *ctx, const char *name, const char *value)
{
    add_header(ctx, name, value);
}

/*
 * The headers of every answer, 304 included: the request id, the security
 * headers (the handler's Content-Security-Policy instead of the default one
 * when it set one) and, unless the answer is a preflight (which has its
 * own), the CORS headers of the request's Origin.
 */
static void add_common_headers(struct nd_request *req, struct MHD_Response *resp)
{
    add_header(resp, "X-Request-Id", req->request_id);
    for (size_t i = 0; i < sizeof security_headers / sizeof security_headers[0]; i++)
        if (req->headers_lost || !has_header(req, security_headers[i][0]))
            add_header(resp, security_headers[i][0], security_headers[i][1]);
    if (!req->preflight)
        nd_cors_actual(req->srv->cors, nd_request_header(req, "Origin"), add_cors_header, resp);
}

/* libmicrohttpd's free callback of a response made from a cached entry. */
static void release_cached(void *cls)
{
    nd_cache_release(cls);
}

/*
 * The response for a which holds the cached entry's bytes without a copy
 * (the response keeps the reference) or a's own rendered bytes.
 */
static struct MHD_Response *make_response(struct nd_request *req, struct answer *a)
{
    struct MHD_Response *resp;
    if (req->cached != NULL) {
        resp = MHD_create_response_from_buffer_with_free_callback_cls(
            req->cached->len, (void *)req->cached->body, release_cached, (void *)req->cached);
        if (resp != NULL)
            req->cached = NULL; /* the response owns the reference now */
        return resp;
    }
    if (req->answer_from_fd && a->status == 200) {
        resp = MHD_create_response_from_fd64(req->answer_fd_len, req->answer_fd);
        if (resp != NULL)
            req->answer_from_fd = false; /* the response closes the file now */
        return resp;
    }
    if (a->body == NULL)
        return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (a->transient)
        return MHD_create_response_from_buffer(a->len, a->body, MHD_RESPMEM_MUST_COPY);
    if (a->borrowed)
        return MHD_create_response_from_buffer(a->len, a->body, MHD_RESPMEM_PERSISTENT);
    resp = MHD_create_response_from_buffer(a->len, a->body, MHD_RESPMEM_MUST_FREE);
    if (resp != NULL)
        a->body = NULL;
    return resp;
}

/* The answer of a cache hit: the entry's ETag and Link, and 304 when they match. */
static void build_cached_answer(struct nd_request *req, struct answer *a)
{
    a->status = 200;
    a->len = req->cached->len;
    a->type = req->cached->type != NULL ? req->cached->type : JSON_TYPE;
    a->gzip = req->cached->gzip;
    a->vary = a->gzip || (a->len > ND_GZIP_MIN_BYTES && req->srv->cfg->gzip_level > 0);
    /* the entry's tag was made by make_etag, so it fits */
    memcpy(a->etag, req->cached->etag, sizeof a->etag - 1);
    a->etag[sizeof a->etag - 1] = '\0';
    if (req->cached->link != NULL)
        nd_respond_header(req, "Link", req->cached->link);
    check_not_modified(req, a);
}

/*
 * Queues the 200 of a streamed body: its type, the handler's headers and
 * those of every answer; no ETag, no gzip, no cache. False, with nothing
 * queued, when the response cannot be made.
 */
static bool queue_stream(struct nd_request *req, enum MHD_Result *rc)
{
    struct MHD_Response *resp = nd_http_stream_response(req);
    if (resp == NULL)
        return false;
    add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->raw_type);
    for (const struct header *h = req->headers; h != NULL; h = h->next)
        add_header(resp, h->name, h->value);
    add_common_headers(req, resp);
    if (atomic_load(&req->srv->stopping))
        add_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    *rc = MHD_queue_response(req->conn, 200, resp);
    MHD_destroy_response(resp);
    req->queued = true;
    req->sent_status = 200;
    req->sent_bytes = 0;
    return true;
}

/*
 * An answer that lost one of its headers to a failed allocation (Location,
 * Link, Allow, RateLimit-*, the CORS headers of a preflight...) is not sent
 * as if nothing had happened: it becomes a 500 without the headers the
 * handler set.
 */
enum MHD_Result nd_http_queue_answer(struct nd_request *req, int status)
{
    struct answer a = {0};
    enum MHD_Result rc = MHD_NO;

    if (req->stream != NULL) {
        if (status == 200 && !req->headers_lost && queue_stream(req, &rc))
            return rc;
        nd_stream_release(req->stream);
        req->stream = NULL;
        if (status == 200)
            status = nd_http_set_problem(req, 500, NULL, NULL);
    }
    if (req->cached != NULL)
        build_cached_answer(req, &a);
    if (req->headers_lost) {
        nd_log(ND_LOG_ERROR, "out of memory for a header of the answer to %s %s", req->method_name,
               req->path);
        nd_cache_release(req->cached);
        req->cached = NULL;
        req->preflight = false;
        memset(&a, 0, sizeof a);
        status = nd_http_set_problem(req, 500, NULL, NULL);
    }
    if (req->cached == NULL)
        build_answer(req, status, &a);
    struct MHD_Response *resp = make_response(req, &a);
    answer_free_body(&a);
    if (resp == NULL)
        goto out;
    if (a.type != NULL)
        add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a.type);
    if (a.gzip && a.status != 304)
        add_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (a.vary)
        add_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (a.etag[0] != '\0')
        add_header(resp, MHD_HTTP_HEADER_ETAG, a.etag);
    if (!req->headers_lost) {
        /* A 304 repeats only what updates the client's stored copy (RFC 9111 4.3.4). */
        for (const struct header *h = req->headers; h != NULL; h = h->next)
            if (a.status != 304 || strcasecmp(h->name, MHD_HTTP_HEADER_CACHE_CONTROL) == 0 ||
                strcasecmp(h->name, "Content-Security-Policy") == 0)
                add_header(resp, h->name, h->value);
        if (a.status == 401 && !has_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE))
            add_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        /* A 503 is the database away or busy: a client may come back in a moment. */
        if (a.status == 503 && !has_header(req, "Retry-After"))
            add_header(resp, "Retry-After", RETRY_AFTER_S);
    }
    add_common_headers(req, resp);
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

void nd_http_reset_answer(struct nd_request *req)
{
    while (req->headers != NULL) {
        struct header *next = req->headers->next;
        free(req->headers->name);
        free(req->headers->value);
        free(req->headers);
        req->headers = next;
    }
    drop_body(req);
    req->raw_type = NULL;
    req->problem = false;
    req->headers_lost = false;
    req->preflight = false;
}
