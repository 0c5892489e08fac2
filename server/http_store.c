/*
 * http_store.c: what a request needs of the database before its handler
 * runs: this worker thread's own store (opened on first use, listed in the
 * server so that nd_server_stop can close it), and the response cache's
 * lookup, which first asks that store whether another process has
 * committed (nd_store_foreign_commits) and then looks the request up by its key.
 *
 * With --db-replica each thread also has a read-only store on the replica,
 * and the choice between the two is made here, once per request, for
 * every handler: public reads go to the replica when it can be used and
 * has replayed the client's last write (its Newsd-Position), everything
 * else to the primary. A replica that cannot be used sends the read to the
 * primary (logged once per outage) and is tried again later. Because a
 * replica may lag, an answer read there is cached only when the replica
 * had replayed everything this process has heard committed (the known
 * position): otherwise a cache emptied for another process's commit could
 * be filled again with the answer from before it. Every cached answer
 * carries the position it is known to include, and a client whose
 * Newsd-Position is newer is not answered from the cache.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "newsd/log.h"
#include "newsd/store.h"
#include "newsd/util.h"

static _Thread_local struct nd_store *thread_store;
static _Thread_local unsigned long thread_store_generation;
static _Thread_local struct nd_store *thread_replica;
static _Thread_local unsigned long thread_replica_generation;
static _Thread_local uint64_t thread_replica_retry_us; /* no new replica store before */

/* How long a thread waits before opening a replica store again after a failure. */
#define REPLICA_RETRY_US 1000000
#define POSITION_HEADER "Newsd-Position"
#define POSITION_COOKIE "newsd_pos"

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
 * This thread's store (a worker's or a lane's), opened on first use and
 * owned by the server (closed in nd_server_stop). NULL when the database
 * cannot be opened; the first such failure is logged, and a later request
 * tries again.
 */
struct nd_store *nd_http_thread_store(struct nd_server *srv)
{
    struct nd_store *store = NULL;

    if (thread_store != NULL && thread_store_generation == srv->generation)
        return thread_store;
    struct nd_store_options opts = {srv->cfg->synchronous, srv->cfg->busy_timeout_ms,
                                    srv->cfg->db_cache_size, srv->cfg->db_mmap_size, true};
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

/* ---- reads from the replica ---------------------------------------------- */

static void replica_unusable(struct nd_server *srv)
{
    atomic_fetch_add(&srv->replica_fallbacks, 1);
    if (!atomic_exchange(&srv->replica_failure_logged, true))
        nd_log(ND_LOG_WARN, "the replica (db-replica) cannot be used: public reads go to the "
                            "primary until it can");
}

static void replica_usable(struct nd_server *srv)
{
    if (atomic_load(&srv->replica_failure_logged) &&
        atomic_exchange(&srv->replica_failure_logged, false))
        nd_log(ND_LOG_INFO, "the replica (db-replica) is used again");
}

/*
 * This thread's store on the replica, opened on first use (owned by the
 * server like the primary's), or NULL: no replica configured, or it cannot
 * be opened now (tried again REPLICA_RETRY_US later).
 */
static struct nd_store *replica_store(struct nd_server *srv)
{
    struct nd_store *store = NULL;
    if (srv->cfg->db_replica[0] == '\0')
        return NULL;
    if (thread_replica != NULL && thread_replica_generation == srv->generation)
        return thread_replica;
    if (nd_monotonic_us() < thread_replica_retry_us)
        return NULL;
    struct nd_store_options opts = {srv->cfg->synchronous, srv->cfg->busy_timeout_ms,
                                    srv->cfg->db_cache_size, srv->cfg->db_mmap_size, false};
    if (nd_store_open_replica(srv->cfg->db_replica, &opts, &store) != ND_OK ||
        !register_store(srv, store)) {
        nd_store_close(store);
        thread_replica_retry_us = nd_monotonic_us() + REPLICA_RETRY_US;
        return NULL;
    }
    thread_replica = store;
    thread_replica_generation = srv->generation;
    return store;
}

/*
 * The client's position: the Newsd-Position header or the newsd_pos
 * cookie, the newer when both are valid; 0 for none or nothing valid, and
 * always over SQLite, which gives no positions.
 */
static uint64_t request_position(struct nd_request *req)
{
    if (req->position_read)
        return req->position;
    req->position_read = true;
    if (!nd_store_is_postgres(req->srv->cfg->db_path))
        return 0;
    uint64_t header = nd_store_position_parse(nd_request_header(req, POSITION_HEADER));
    uint64_t cookie = nd_store_position_parse(
        MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, POSITION_COOKIE));
    req->position = header > cookie ? header : cookie;
    return req->position;
}

/* A public read: a GET or HEAD of a cacheable route by a client without a key. */
static bool public_read(const struct nd_request *req)
{
    return (req->method == ND_METHOD_GET || req->method == ND_METHOD_HEAD) &&
           req->match.cacheable != ND_CACHE_NEVER &&
           nd_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION) == NULL;
}

/*
 * Decides where req's store calls go, before its first one. A write first
 * drops a position its connection still holds (one no request took), so
 * that the one it hands out is its own. A public read goes to the replica
 * when it can; either way, an answer the cache may keep is stamped with the
 * position it is known to include: the replica's replay position, or, from
 * the primary, one less than the known position (read from the primary
 * before this request's query began, so every commit before it had
 * completed then; a commit at that very position might not have).
 */
static void choose_store(struct nd_request *req, struct nd_store *primary)
{
    struct nd_server *srv = req->srv;
    uint64_t known = 0, replayed = 0;
    req->store_chosen = true;
    if (req->method != ND_METHOD_GET && req->method != ND_METHOD_HEAD) {
        if (primary != NULL)
            nd_store_position(primary, ND_POSITION_WRITE, &known);
        return;
    }
    /* (a primary that cannot be opened leaves the replica to the public reads) */
    bool have_known =
        primary != NULL && nd_store_position(primary, ND_POSITION_KNOWN, &known) == ND_OK;
    req->cache_position = have_known && known > 0 ? known - 1 : 0;
    if (srv->cfg->db_replica[0] == '\0' || !public_read(req))
        return;
    struct nd_store *replica = replica_store(srv);
    if (replica == NULL || nd_store_position(replica, ND_POSITION_REPLAY, &replayed) != ND_OK) {
        replica_unusable(srv);
        return;
    }
    replica_usable(srv);
    uint64_t position = request_position(req);
    if (position != 0 && replayed < position) {
        atomic_fetch_add(&srv->replica_position_misses, 1);
        return;
    }
    atomic_fetch_add(&srv->replica_reads, 1);
    req->on_replica = true;
    req->cache_position = replayed;
    if (!have_known || replayed < known) {
        req->replica_too_old = true; /* served, never kept: it may be older than a flush */
        req->cacheable = false;
    }
}

struct nd_store *nd_request_store(struct nd_request *req)
{
    struct nd_store *primary = nd_http_thread_store(req->srv);
    if (!req->store_chosen)
        choose_store(req, primary);
    if (req->on_replica && thread_replica != NULL &&
        thread_replica_generation == req->srv->generation)
        return thread_replica;
    return primary;
}

uint64_t nd_http_store_position(struct nd_server *srv)
{
    uint64_t pos;
    if (thread_store == NULL || thread_store_generation != srv->generation ||
        nd_store_position(thread_store, ND_POSITION_WRITE, &pos) != ND_OK)
        return 0;
    return pos;
}

void nd_http_answer_position(struct nd_request *req, uint64_t position)
{
    char text[ND_POSITION_TEXT_MAX];
    char cookie[96];
    nd_store_position_format(position, text);
    snprintf(cookie, sizeof cookie,
             POSITION_COOKIE "=%s; Path=/; Max-Age=300; HttpOnly; SameSite=Lax", text);
    nd_respond_header(req, POSITION_HEADER, text);
    nd_respond_header(req, "Set-Cookie", cookie);
}

const char *nd_request_replica_status(struct nd_request *req, char *buf, size_t len)
{
    uint64_t replayed, current;
    if (req->srv->cfg->db_replica[0] == '\0')
        return NULL;
    struct nd_store *replica = replica_store(req->srv);
    struct nd_store *primary = nd_http_thread_store(req->srv);
    if (replica == NULL || nd_store_position(replica, ND_POSITION_REPLAY, &replayed) != ND_OK) {
        snprintf(buf, len, "unreachable");
    } else if (primary == NULL ||
               nd_store_position(primary, ND_POSITION_CURRENT, &current) != ND_OK) {
        snprintf(buf, len, "ok"); /* the primary's own trouble is /health's status */
    } else if (replayed >= current) {
        snprintf(buf, len, "ok");
    } else {
        snprintf(buf, len, "lagging %llu bytes", (unsigned long long)(current - replayed));
    }
    return buf;
}

void nd_request_replica_gauges(struct nd_request *req, struct nd_metrics_gauges *out)
{
    struct nd_server *srv = req->srv;
    out->replica.configured = srv->cfg->db_replica[0] != '\0';
    out->replica.reads = atomic_load(&srv->replica_reads);
    out->replica.primary_for_position = atomic_load(&srv->replica_position_misses);
    out->replica.fallbacks = atomic_load(&srv->replica_fallbacks);
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
    struct nd_store *store = nd_http_thread_store(req->srv);
    if (store == NULL || nd_store_foreign_commits(store, &epoch) != ND_OK)
        return 0;
    uint64_t acted = atomic_load(&req->srv->foreign_epoch_acted);
    if (epoch > acted) {
        /* Someone else committed: forget everything, then say so (a thread
         * that finds the count acted on knows the cache was emptied for it).
         * The count is the process's, so one thread acts for all, and a
         * thread's first request empties nothing. This process's own writes
         * invalidate what they changed themselves (dispatch, in http.c). */
        nd_log(ND_LOG_DEBUG, "database changed by another process: cache invalidated");
        nd_cache_invalidate(cache);
        while (epoch > acted &&
               !atomic_compare_exchange_weak(&req->srv->foreign_epoch_acted, &acted, epoch))
            ;
    }
    if (!make_cache_key(req))
        return 0;
    req->cached = nd_cache_get(cache, req->cache_key, req->cache_key_len);
    if (req->cached != NULL && req->cached->position < request_position(req)) {
        /* kept before the client's own write was known here: read it again */
        nd_cache_release(req->cached);
        req->cached = NULL;
    }
    if (req->cached != NULL)
        return 200;
    req->cacheable = !req->replica_too_old;
    req->cache_generation = nd_cache_generation(cache);
    req->cache_miss_us = nd_monotonic_us();
    return 0;
}
