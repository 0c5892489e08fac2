/*
 * http_store.c: what a request needs of the database before its handler
 * runs: this worker thread's own store (opened on first use, listed in the
 * server so that nd_server_stop can close it), and the response cache's
 * lookup, which first asks that store whether another process has
 * committed (nd_store_foreign_commits) and then looks the request up by its key.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "newsd/log.h"
#include "newsd/store.h"

static _Thread_local struct nd_store *thread_store;
static _Thread_local unsigned long thread_store_generation;
/* The foreign-commit count this thread last acted on (see nd_http_cache_lookup). */
static _Thread_local uint64_t thread_foreign_epoch;

/* ---- per-thread stores -------------------------------------------------- */

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
    struct nd_store_options opts = {srv->cfg->synchronous, srv->cfg->busy_timeout_ms,
                                    srv->cfg->db_cache_size, srv->cfg->db_mmap_size};
    enum nd_err rc = nd_store_open(srv->cfg->db_path, &opts, &store);
    if (rc != ND_OK) {
        char shown[512];
        if (!atomic_exchange(&srv->store_failure_logged, true))
            nd_log(ND_LOG_ERROR, "cannot open the database %s: %s",
                   nd_store_describe(srv->cfg->db_path, shown, sizeof shown), nd_err_str(rc));
        return NULL;
    }
    atomic_store(&srv->store_failure_logged, false); /* the next outage is logged again */
    if (!register_store(srv, store)) {
        nd_store_close(store);
        return NULL;
    }
    thread_store = store;
    thread_store_generation = srv->generation;
    return store;
}

/* ---- the response cache ------------------------------------------------- */

/* nd_get_connection_values callback: appends "len:name=len:value;" to the key. */
struct key_buf {
    char text[2048];
    size_t len;
    bool overflow;
};

static enum MHD_Result add_key_arg(void *cls, enum MHD_ValueKind kind, const char *name,
                                   const char *value)
{
    struct key_buf *k = cls;
    (void)kind;
    size_t room = sizeof k->text - k->len;
    int n = snprintf(k->text + k->len, room, "%zu:%s=%zu:%s;", strlen(name), name,
                     value ? strlen(value) : 0, value ? value : "");
    if (n < 0 || (size_t)n >= room) {
        k->overflow = true;
        return MHD_NO;
    }
    k->len += (size_t)n;
    return MHD_YES;
}

/*
 * The Host that goes into the cache key, lower-cased into buf: "" unless the
 * route's answers hold links made from it (feeds, while public-url is
 * empty), so a client cannot plant its own host in an answer others get,
 * and random Host values cannot crowd the other routes' entries out. NULL
 * (not cached) when such a Host does not fit buf.
 */
static const char *key_host(const struct nd_request *req, char *buf, size_t len)
{
    const char *host = nd_request_header(req, MHD_HTTP_HEADER_HOST);
    if (req->match.cacheable != ND_CACHE_PER_HOST || req->srv->cfg->public_url[0] != '\0' ||
        host == NULL)
        return "";
    if (strlen(host) >= len)
        return NULL;
    size_t i;
    for (i = 0; host[i] != '\0'; i++)
        buf[i] = (char)tolower((unsigned char)host[i]);
    buf[i] = '\0';
    return buf;
}

/*
 * Fills req->cache_key: whether the answer may be gzip-encoded ('g' or 'i'),
 * the Host where it matters (key_host), the path and every query argument,
 * length-prefixed.
 */
static bool make_cache_key(struct nd_request *req)
{
    struct key_buf k = {.len = 0, .overflow = false};
    char host_buf[256];
    const char *host = key_host(req, host_buf, sizeof host_buf);
    if (host == NULL)
        return false;
    int n = snprintf(k.text, sizeof k.text, "%c%zu:%s%s?", nd_http_wants_gzip(req) ? 'g' : 'i',
                     strlen(host), host, req->path);
    if (n < 0 || (size_t)n >= sizeof k.text)
        return false;
    k.len = (size_t)n;
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, add_key_arg, &k);
    if (k.overflow)
        return false;
    req->cache_key = malloc(k.len);
    if (req->cache_key == NULL)
        return false;
    memcpy(req->cache_key, k.text, k.len);
    req->cache_key_len = k.len;
    return true;
}

int nd_http_cache_lookup(struct nd_request *req)
{
    struct nd_cache *cache = req->srv->cache;
    uint64_t epoch;
    /* With a key the answer may hold drafts or pending comments: never shared. */
    if (cache == NULL || nd_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION) != NULL)
        return 0;
    struct nd_store *store = nd_request_store(req);
    if (store == NULL || nd_store_foreign_commits(store, &epoch) != ND_OK)
        return 0;
    if (epoch != thread_foreign_epoch) {
        /* Someone else committed, or this thread is new and cannot know what
         * it missed: forget everything. This process's own writes invalidate
         * what they changed themselves (dispatch, in http.c). */
        nd_log(ND_LOG_DEBUG, "database changed by another process: cache invalidated");
        nd_cache_invalidate(cache);
        thread_foreign_epoch = epoch;
    }
    if (!make_cache_key(req))
        return 0;
    req->cached = nd_cache_get(cache, req->cache_key, req->cache_key_len);
    if (req->cached != NULL)
        return 200;
    req->cacheable = true;
    req->cache_generation = nd_cache_generation(cache);
    return 0;
}
