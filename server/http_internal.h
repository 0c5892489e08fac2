/*
 * http_internal.h: what the seven files of the HTTP layer share and nobody
 * else sees.
 *
 *   http.c           the daemon and a request's life: start and stop, TLS,
 *                    the access handler, body buffering, routing (preflight
 *                    and per-key write limits included), completion
 *   http_request.c   reading a request: accessors, the client address and
 *                    request id, JSON bodies, API keys, comment rate limits
 *   http_response.c  answering: problem documents, rendering, ETag and 304,
 *                    gzip, and the headers every answer carries (security,
 *                    CORS, X-Request-Id)
 *   http_store.c     each worker thread's database connection, and the
 *                    response cache's lookup (its key, foreign commits)
 *   http_stream.c    answers written later by another thread (event streams)
 *   http_offload.c   handlers run on threads of their own: slow reads on a
 *                    reader pool, writes on the committer (group commit)
 *   http_bulk.c      POST /v1/articles/bulk: a body taken line by line as
 *                    it arrives, each line stored, the results spooled
 *
 * A struct nd_request lives from the first call of the access handler to
 * the completion callback, which frees it; everything it points to is its
 * own, except srv and conn.
 */
#ifndef NEWSD_HTTP_INTERNAL_H
#define NEWSD_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "newsd/buf.h"
#include "newsd/cache.h"
#include "newsd/cors.h"
#include "newsd/http.h"
#include "newsd/proxy.h"
#include "newsd/ratelimit.h"
#include "newsd/router.h"

/* Longest X-Request-Id taken from a client; a generated one is 16 hex digits. */
#define ND_REQUEST_ID_MAX 64

struct header {
    char *name;
    char *value;
    struct header *next;
};

struct nd_server {
    const struct nd_config *cfg;
    struct MHD_Daemon *daemon;
    /*
     * The newest foreign-commit count (nd_store_foreign_commits, one count
     * for the whole process) the response cache has been emptied for.
     */
    _Atomic uint64_t foreign_epoch_acted;
    struct nd_ratelimit *comment_limit; /* per client address */
    struct nd_ratelimit *write_limit;   /* per API key id */
    bool shared_limits;                 /* the store keeps the buckets (PostgreSQL) */
    atomic_bool shared_limits_down;     /* it could not: the fallback is logged */
    struct nd_proxy_list *proxies;      /* trusted-proxies */
    struct nd_cors *cors;               /* cors-origins */
    struct nd_cache *cache;             /* rendered public answers; NULL with cache-size 0 */
    struct nd_metrics *metrics;         /* NULL with metrics off */
    struct nd_events *events;           /* the change event hub (events.h) */
    struct nd_offload *offload;         /* the reader pool and the committer */
    char *tls_cert;                     /* PEM text, NULL without TLS */
    char *tls_key;
    size_t tls_key_len;
    unsigned long generation; /* tells this server's thread-local stores from older ones */
    unsigned port;
    atomic_uint in_flight;
    atomic_uint connections; /* open client connections, for connection-limit */
    unsigned conn_limit;     /* connection-limit, lowered when open files are too few */
    atomic_bool stopping;
    atomic_bool draining; /* SIGTERM came: /ready answers 503 (nd_server_drain) */
    atomic_bool store_failure_logged;
    /* db-replica (http_store.c): counters for /metrics, and an outage logged once */
    atomic_ulong replica_reads;
    atomic_ulong replica_position_misses;
    atomic_ulong replica_fallbacks;
    atomic_bool replica_failure_logged;
    pthread_mutex_t stores_lock;
    struct nd_store **stores;
    size_t nstores;
    size_t stores_cap;
};

/* Where a handed-off request is (http_offload.c). */
enum nd_offload_state {
    ND_OFFLOAD_NONE = 0, /* not handed off */
    ND_OFFLOAD_QUEUED,   /* its connection suspended, waiting for or in its lane thread */
    ND_OFFLOAD_DONE,     /* resumed: offload_status is the status to answer */
};

struct nd_request {
    struct nd_server *srv;
    struct MHD_Connection *conn;
    enum nd_method method; /* 0 for a method newsd does not know */
    char method_name[16];
    char *path;
    uint64_t start_us;
    struct nd_route_match match;
    char client[ND_ADDR_TEXT_MAX];          /* as trusted-proxies decides */
    char request_id[ND_REQUEST_ID_MAX + 1]; /* echoed or generated */

    /* The request body, capped at max-body: its err says ND_ERR_LIMIT once a
       longer body came (the bytes are dropped then), ND_ERR_NOMEM when it
       could not be held. */
    struct nd_buf body;

    json_t *json; /* the answer's body; the handler's return value is its status */
    /* Or a body that is not JSON (nd_respond_static, nd_respond_owned). */
    const char *raw_type;
    const char *raw;
    size_t raw_len;
    bool raw_owned;               /* raw is malloc'd and the request's */
    const struct nd_asset *asset; /* raw is this embedded file's: its ETag and gzip are made */
    bool problem;
    bool headers_lost; /* a header could not be stored (out of memory): answer 500 */
    bool preflight;    /* a CORS preflight: its CORS headers are in headers already */
    struct header *headers;

    /* The response cache: a hit answers from cached; a cacheable miss stores its 200. */
    const struct nd_cache_entry *cached; /* a reference, released with the response */
    bool cacheable;
    uint64_t cache_generation; /* read before the handler ran */
    uint64_t cache_miss_us;    /* when the miss was found: the answer's cost runs from here */
    /* Set by handlers (nd_request_cache_article, nd_request_wrote_article): the
       article a GET's answer shows alone (0 or ND_CACHE_ARTICLES_ONLY: a
       collection answer); the one
       article a write changed (0: unknown, so the whole cache goes). */
    int64_t cache_article;
    int64_t wrote_article;
    bool wrote_comments_only; /* what wrote_article names is a write of its comments */
    char *cache_key;
    size_t cache_key_len;
    /* Where the request's store calls go (http_store.c), decided at the first one. */
    bool store_chosen;
    bool on_replica;
    bool replica_too_old; /* read on a replica behind the known position: never cached */
    bool position_read;
    uint64_t position;       /* the client's Newsd-Position (header or cookie); 0: none */
    uint64_t cache_position; /* the answer shows every commit up to here (cache.h) */

    int gzip; /* the client accepts gzip (and gzip-level > 0): 1, or 0; -1 not yet known */

    struct nd_stream *stream; /* a streamed body (nd_respond_stream): a reference */

    bool auth_done;
    enum nd_err auth_err;

    struct nd_bulk *bulk; /* POST /v1/articles/bulk: its body is taken as it comes */
    int answer_fd;        /* with answer_from_fd: the answer's body, answer_fd_len bytes */
    uint64_t answer_fd_len;
    bool answer_from_fd;

    /* Handed to a lane thread (http_offload.c): queued, then done with
       offload_status, which the access handler answers once resumed. */
    enum nd_offload_state offload;
    int offload_status;
    struct nd_request *offload_next; /* the lane's queue */

    bool queued;
    int sent_status;
    size_t sent_bytes;
};

/*
 * Fills req->client (the peer address, or the client behind trusted
 * proxies) and req->request_id (a sane X-Request-Id of the request, or a
 * new random one). Called once, when the request is made.
 */
void nd_http_identify(struct nd_request *req);

/*
 * The API key check of the request (made once, cached): ND_OK for a stored
 * key, ND_ERR_UNAUTHORIZED when there is none or it is unknown, another
 * error when the store could not say.
 */
enum nd_err nd_http_key_check(struct nd_request *req);

/*
 * Takes a token from the write bucket of the request's API key when the
 * request writes (POST, PUT, PATCH, DELETE) with a valid key, adding the
 * RateLimit headers. Returns 0 when the request may go on, or 429 with the
 * problem set.
 */
int nd_http_limit_write(struct nd_request *req);

/* The two rate limits: comments per client address, writes per API key. */
enum nd_limit { ND_LIMIT_COMMENTS, ND_LIMIT_WRITES };

/*
 * Takes one token for key (a bucket key of nd_proxy_bucket_key, or an API
 * key id) from the limit which and fills *out (newsd/ratelimit.h). Over
 * PostgreSQL the bucket is the database's, shared by every instance;
 * while the database cannot answer, and on SQLite, this process's own.
 * Returns out->allowed.
 */
bool nd_http_rate_acquire(struct nd_request *req, enum nd_limit which, const char *key,
                          struct nd_ratelimit_result *out);

/*
 * Sets the problem document for status, with detail (may be NULL) and errors
 * (reference taken, may be NULL). Returns status.
 */
int nd_http_set_problem(struct nd_request *req, int status, const char *detail, json_t *errors);

/*
 * Looks req (a GET or HEAD of a cacheable route without a key) up in the
 * response cache, first making the cache forget everything if this thread's
 * database connection has seen another connection commit. On a hit,
 * req->cached is set and 200 returned; on a miss req is marked to store its
 * answer and 0 returned.
 */
int nd_http_cache_lookup(struct nd_request *req);

/*
 * This thread's store for srv (a worker's or a lane's), opened on first use
 * and owned by the server: nd_request_store is this, or the replica's, for
 * the request's server. NULL when the database cannot be opened (logged once).
 */
struct nd_store *nd_http_thread_store(struct nd_server *srv);

/*
 * The position of the write this thread's store committed last, taken (a
 * second call answers 0 until the next commit), or 0: none, or a backend
 * without positions (SQLite). Called after a write's commit: inline after
 * its handler, on the committer once per group.
 */
uint64_t nd_http_store_position(struct nd_server *srv);

/*
 * Gives the client position (non-zero), the write-ahead log position of
 * its write, as the Newsd-Position header and the newsd_pos cookie, for its
 * next reads (nd_request_store).
 */
void nd_http_answer_position(struct nd_request *req, uint64_t position);

/*
 * True when the answer to req may be gzip-encoded: gzip-level is not 0 and
 * Accept-Encoding accepts gzip (an explicit q=0 refuses it, "*" accepts it).
 * Decided once per request.
 */
bool nd_http_wants_gzip(struct nd_request *req);

/*
 * The libmicrohttpd response reading req->stream, which it takes over (the
 * reference passes to the response). NULL when out of memory (logged), with
 * req->stream kept.
 */
struct MHD_Response *nd_http_stream_response(struct nd_request *req);
/* ---- http_bulk.c: a body taken line by line as it arrives ---- */

#define ND_BULK_PATH "/v1/articles/bulk"

/*
 * Called on the first call of a POST to ND_BULK_PATH, before its body: checks
 * the key, the Content-Type and a Content-Length of length (0: none) against
 * bulk-max-body, and sets req->bulk. Returns 0, or the status of the problem
 * set (401, 415, 413, 503), which the caller answers at once.
 */
int nd_http_bulk_start(struct nd_request *req, unsigned long long length);

/* Takes the next len bytes of the body: each whole line is stored and its result spooled. */
void nd_http_bulk_feed(struct nd_request *req, const char *data, size_t len);

/* Frees a bulk state, and its spooled results. Accepts NULL. */
void nd_http_bulk_destroy(struct nd_bulk *bulk);

/*
 * Makes fd (taken: closed with the answer) holding len bytes of type the
 * body of the answer, status 200. Returns status.
 */
int nd_http_respond_fd(struct nd_request *req, int status, const char *type, int fd, uint64_t len);

/* ---- http.c and http_offload.c: where handlers run ---- */

/* True for a request that may write: neither GET, HEAD nor OPTIONS. */
bool nd_http_request_writes(const struct nd_request *req);

/*
 * What follows a handler that returned status: for a write, the response
 * cache forgets what it changed, the event hub is told and a non-zero
 * position (nd_http_store_position) is answered (call it only once the
 * write is committed); a status outside 200..599 becomes a 500. Returns the
 * status to answer.
 */
int nd_http_handler_done(struct nd_request *req, int status, uint64_t position);

/* Forgets the answer a handler set (its body, headers, problem): http_response.c. */
void nd_http_reset_answer(struct nd_request *req);

struct nd_offload;

/*
 * Starts the lanes: the reader threads (one per core, at least two) for
 * ND_LANE_SLOW and the committer for ND_LANE_WRITE, each with its database
 * connection open. ND_ERR_NOMEM (logged) when a thread cannot be started.
 */
enum nd_err nd_offload_start(struct nd_server *srv, struct nd_offload **out);

/*
 * Called from the access handler once req is routed: suspends its
 * connection and queues it on lane; a lane thread runs the handler and
 * resumes the connection with req->offload ND_OFFLOAD_DONE. False (nothing
 * done) for ND_LANE_INLINE, a NULL o, or once stopping: run the handler inline.
 */
bool nd_offload_submit(struct nd_offload *o, struct nd_request *req, enum nd_lane lane);

/*
 * Refuses new requests from now on (nd_offload_submit says false), runs
 * what is queued, and stops and joins the threads; o stays valid for
 * nd_offload_submit. Accepts NULL, and a second call.
 */
void nd_offload_stop(struct nd_offload *o);

/* Frees o, stopped first if it was not: once no thread can call nd_offload_submit. Accepts NULL. */
void nd_offload_free(struct nd_offload *o);

/* Renders and queues the answer to req. Called once per request, never on its first call. */
enum MHD_Result nd_http_queue_answer(struct nd_request *req, int status);

#endif
