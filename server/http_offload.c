/*
 * http_offload.c: handlers that run away from the threads that read and
 * write sockets, and the group commit of writes.
 *
 * libmicrohttpd's worker threads (about one per core) each serve many
 * connections; a handler that takes milliseconds on one of them holds up
 * every other request of its connections. So a request whose route names a
 * lane (enum nd_lane in router.h) is handed off once it is routed: its
 * connection is suspended (MHD_suspend_connection, within the access
 * handler), the request joins its lane's queue, a lane thread runs the
 * handler, stores the status in the request and resumes the connection;
 * libmicrohttpd then calls the access handler again, which renders and
 * queues the answer (on_request in http.c). A suspended connection costs no
 * worker thread and is never timed out.
 *
 * Two lanes share this one mechanism:
 *
 *   slow    a small pool of reader threads for work that may take
 *           milliseconds: search misses and feeds. Each takes one request
 *           at a time. They run at a lower scheduling priority than the I/O
 *           threads, so on a busy machine a cached answer is sent before
 *           the next slice of a search.
 *   write   one committer thread. It takes every write queued (up to
 *           GROUP_MAX, or fewer where the store says a batch should hold
 *           fewer: nd_store_batch_rows, 60 on PostgreSQL) and runs them as
 *           one group: one transaction (nd_store_batch_begin: SQLite's
 *           BEGIN IMMEDIATE, PostgreSQL's BEGIN and write lock), each
 *           handler's write in its own savepoint (the store's batches do
 *           that), one COMMIT. A write that fails undoes only its savepoint
 *           and gets its own answer; its neighbours go on. Only after the
 *           COMMIT is each request's part of the response cache invalidated
 *           and its connection resumed, so no answer is sent before its
 *           write is durable, and no stale cached answer is served after
 *           it. Over PostgreSQL the commit publishes the change log once for
 *           the whole group and gives one write-ahead log position, which
 *           every write of the group that stands is answered
 *           (Newsd-Position): a replica that has replayed to it shows them
 *           all. A failed COMMIT (or BEGIN) answers every request of the
 *           group with that error: nothing of it was stored. While a group
 *           commits, the next one gathers: one writer alone still commits
 *           at once, and many writers share one commit.
 *
 * Handlers run on lane threads exactly as on I/O threads: they read the
 * request (its headers live in the suspended connection, which nobody else
 * touches meanwhile) and use nd_request_store, which gives each lane thread
 * its own connection.
 *
 * Stopping: nd_offload_stop refuses new requests (nd_offload_submit returns
 * false, and the caller runs the handler inline), lets the threads finish
 * what is queued, and joins them. nd_server_stop calls it before
 * MHD_stop_daemon, which must find no connection suspended; the memory
 * stays until nd_offload_free, after MHD_stop_daemon, since an I/O thread
 * may still be asking nd_offload_submit until then.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http_internal.h"
#include "newsd/log.h"
#include "newsd/store.h"
#include "newsd/util.h"

/* The most writes one group commits: bounds a group's time, and so a write's wait
 * (the store may want fewer: nd_store_batch_rows). */
#define GROUP_MAX 128
/* How much lower the readers run than the I/O threads (nice steps). */
#define READER_NICE 5

struct lane {
    struct nd_offload *owner;
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct nd_request *head; /* queued, oldest first, linked by offload_next */
    struct nd_request **tail;
    bool stopping;
    bool group; /* the write lane: run what is queued as one transaction */
    /* the write lane's thread only: its store may still hold what a failed
       group left it (nd_store_settle has not succeeded since): see run_group */
    bool unsettled;
    unsigned nthreads;
    pthread_t *threads;
};

struct nd_offload {
    struct nd_server *srv;
    struct lane slow;
    struct lane write;
    atomic_ulong groups; /* committed groups and the writes in them, for the log */
    atomic_ulong grouped;
    pthread_mutex_t started_lock; /* counts the threads whose store is open */
    pthread_cond_t started_cond;
    unsigned started;
    bool stopped; /* nd_offload_stop ran (only the thread that stops the server calls it) */
};

/* Hands the status to the I/O thread: the access handler queues the answer. */
static void complete(struct nd_request *req, int status)
{
    req->offload_status = status;
    req->offload = ND_OFFLOAD_DONE;
    /* the resume goes through libmicrohttpd's lock: the I/O thread that calls
     * the access handler again sees both fields */
    MHD_resume_connection(req->conn);
}

/* The slow lane: one request, its handler, its answer. */
static void run_one(struct nd_request *req)
{
    complete(req, nd_http_handler_done(req, req->match.handler(req), 0));
}

/*
 * The write lane: n requests as one transaction. Each handler's write is a
 * savepoint of the batch; the statuses are kept until the commit says
 * whether they stand. The commit's position (PostgreSQL) goes to every
 * write that stands, none to one that failed on its own.
 *
 * A group whose BEGIN or COMMIT failed may leave the connection holding the
 * database (nd_store_settle): an I/O thread's connection is used again by
 * its next request, the committer's only by the next write. So the
 * committer settles it before the group's answers go, and, when that fails
 * too (memory still short), once more before its next group; it does not
 * retry on a timer, so it never allocates while idle.
 */
static void run_group(struct lane *lane, struct nd_request **reqs, unsigned n)
{
    struct nd_offload *o = lane->owner;
    int status[GROUP_MAX];
    uint64_t position = 0;
    struct nd_store *store = nd_request_store(reqs[0]);
    if (store != NULL && lane->unsettled)
        lane->unsettled = nd_store_settle(store) != ND_OK;
    enum nd_err err = store != NULL ? nd_store_batch_begin(store) : ND_ERR_DB;

    if (store == NULL) {
        for (unsigned i = 0; i < n; i++)
            status[i] = nd_respond_unavailable(reqs[i]);
    } else if (err != ND_OK) {
        for (unsigned i = 0; i < n; i++)
            status[i] = nd_respond_err(reqs[i], err, "the write could not be started");
    } else {
        for (unsigned i = 0; i < n; i++)
            status[i] = reqs[i]->match.handler(reqs[i]);
        err = nd_store_batch_end(store, true);
        if (err != ND_OK) {
            /* nothing of the group was stored: no request may say otherwise */
            nd_log(ND_LOG_ERROR, "a group of %u writes could not be committed: %s", n,
                   nd_err_str(err));
            for (unsigned i = 0; i < n; i++) {
                nd_http_reset_answer(reqs[i]);
                status[i] = nd_respond_err(reqs[i], err, "the write could not be committed");
            }
        } else {
            nd_log(ND_LOG_DEBUG, "group commit: %u writes in one transaction", n);
            position = nd_http_store_position(o->srv);
            atomic_fetch_add(&o->groups, 1);
            atomic_fetch_add(&o->grouped, n);
        }
    }
    /* settled before the answers go: a client answered may find the database free */
    if (store != NULL && err != ND_OK)
        lane->unsettled = nd_store_settle(store) != ND_OK;
    for (unsigned i = 0; i < n; i++)
        complete(reqs[i], nd_http_handler_done(reqs[i], status[i], status[i] < 400 ? position : 0));
}

/* How many requests the lane's thread takes at once: a group, or one. */
static unsigned lane_take(const struct lane *lane)
{
    if (!lane->group)
        return 1;
    struct nd_store *store = nd_http_thread_store(lane->owner->srv);
    unsigned most = store != NULL ? nd_store_batch_rows(store, GROUP_MAX) : GROUP_MAX;
    return most > 0 ? most : 1;
}

static void *lane_main(void *arg)
{
    struct lane *lane = arg;
    struct nd_request *taken[GROUP_MAX];

    /* opened before the server listens (nd_offload_start waits), not by a first request;
       and before the priority is lowered: a thread the store starts (the checkpoints'
       thread, over SQLite) takes its creator's and must not yield to the I/O threads */
    nd_http_thread_store(lane->owner->srv);
    if (!lane->group) {
        /* per-thread on Linux: only this reader yields to the I/O threads */
        pid_t tid = (pid_t)syscall(SYS_gettid);
        if (setpriority(PRIO_PROCESS, (id_t)tid, READER_NICE) != 0)
            nd_log(ND_LOG_DEBUG, "cannot lower a reader thread's priority: %s", strerror(errno));
    }
    pthread_mutex_lock(&lane->owner->started_lock);
    lane->owner->started++;
    pthread_cond_signal(&lane->owner->started_cond);
    pthread_mutex_unlock(&lane->owner->started_lock);
    for (;;) {
        unsigned n = 0, take = lane_take(lane);
        pthread_mutex_lock(&lane->lock);
        while (lane->head == NULL && !lane->stopping)
            pthread_cond_wait(&lane->ready, &lane->lock);
        while (lane->head != NULL && n < take) {
            taken[n++] = lane->head;
            lane->head = lane->head->offload_next;
        }
        if (lane->head == NULL)
            lane->tail = &lane->head;
        pthread_mutex_unlock(&lane->lock);
        if (n == 0)
            break; /* stopping, and nothing left */
        if (lane->group)
            run_group(lane, taken, n);
        else
            run_one(taken[0]);
    }
    return NULL;
}

/* Starts nthreads threads on lane; false (none left running) when one cannot start. */
static bool lane_start(struct nd_offload *o, struct lane *lane, unsigned nthreads, bool group)
{
    lane->owner = o;
    lane->tail = &lane->head;
    lane->group = group;
    lane->threads = calloc(nthreads, sizeof *lane->threads);
    if (lane->threads == NULL)
        return false;
    for (unsigned i = 0; i < nthreads; i++) {
        if (pthread_create(&lane->threads[i], NULL, lane_main, lane) != 0)
            return false;
        lane->nthreads++;
    }
    return true;
}

static void lane_stop(struct lane *lane)
{
    pthread_mutex_lock(&lane->lock);
    lane->stopping = true;
    pthread_cond_broadcast(&lane->ready);
    pthread_mutex_unlock(&lane->lock);
    for (unsigned i = 0; i < lane->nthreads; i++)
        pthread_join(lane->threads[i], NULL);
    lane->nthreads = 0;
}

void nd_offload_free(struct nd_offload *o)
{
    if (o == NULL)
        return;
    nd_offload_stop(o);
    struct lane *lanes[] = {&o->slow, &o->write};
    for (size_t i = 0; i < 2; i++) {
        free(lanes[i]->threads);
        pthread_cond_destroy(&lanes[i]->ready);
        pthread_mutex_destroy(&lanes[i]->lock);
    }
    pthread_cond_destroy(&o->started_cond);
    pthread_mutex_destroy(&o->started_lock);
    free(o);
}

enum nd_err nd_offload_start(struct nd_server *srv, struct nd_offload **out)
{
    /* the reader pool: one thread per core, at least two, so one long search never holds
       the rest */
    unsigned readers = nd_cores(2);
    struct nd_offload *o = calloc(1, sizeof *o);
    if (o == NULL)
        return ND_ERR_NOMEM;
    o->srv = srv;
    pthread_mutex_init(&o->slow.lock, NULL);
    pthread_cond_init(&o->slow.ready, NULL);
    pthread_mutex_init(&o->write.lock, NULL);
    pthread_cond_init(&o->write.ready, NULL);
    pthread_mutex_init(&o->started_lock, NULL);
    pthread_cond_init(&o->started_cond, NULL);
    if (!lane_start(o, &o->slow, readers, false) || !lane_start(o, &o->write, 1, true)) {
        nd_log(ND_LOG_ERROR, "cannot start the reader and committer threads");
        lane_stop(&o->slow);
        nd_offload_free(o);
        return ND_ERR_NOMEM;
    }
    /* each thread opens its database connection first (a failure is logged
     * and retried by its first request): the first writes after a start
     * must not wait for it */
    pthread_mutex_lock(&o->started_lock);
    while (o->started < o->slow.nthreads + o->write.nthreads)
        pthread_cond_wait(&o->started_cond, &o->started_lock);
    pthread_mutex_unlock(&o->started_lock);
    *out = o;
    return ND_OK;
}

void nd_offload_stop(struct nd_offload *o)
{
    if (o == NULL || o->stopped)
        return;
    o->stopped = true;
    lane_stop(&o->slow);
    lane_stop(&o->write);
    unsigned long groups = atomic_load(&o->groups), grouped = atomic_load(&o->grouped);
    if (groups > 0)
        nd_log(ND_LOG_INFO, "group commit: %lu writes in %lu transactions", grouped, groups);
}

bool nd_offload_submit(struct nd_offload *o, struct nd_request *req, enum nd_lane lane_id)
{
    if (o == NULL || lane_id == ND_LANE_INLINE)
        return false;
    struct lane *lane = lane_id == ND_LANE_WRITE ? &o->write : &o->slow;
    bool queued = false;
    pthread_mutex_lock(&lane->lock);
    if (!lane->stopping) {
        /* suspended before it is queued: no lane thread can resume it first */
        MHD_suspend_connection(req->conn);
        req->offload = ND_OFFLOAD_QUEUED;
        req->offload_next = NULL;
        *lane->tail = req;
        lane->tail = &req->offload_next;
        pthread_cond_signal(&lane->ready);
        queued = true;
    }
    pthread_mutex_unlock(&lane->lock);
    return queued;
}
