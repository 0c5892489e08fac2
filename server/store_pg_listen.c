/*
 * store_pg_listen.c: noticing commits this process did not make, on
 * PostgreSQL (nd_store_foreign_commits). SQLite tells a connection that
 * someone else committed (data_version); PostgreSQL tells listeners: the
 * change log's trigger notifies the channel newsd_changes in every write's
 * transaction, and the notification, delivered at commit, carries the
 * process id of the server backend that sent it. One thread per newsd
 * process listens on a connection of its own; a notification from a
 * backend that is not one of this process's connections (another newsd,
 * psql, a tool) raises the process-wide count, and every cache of rendered
 * answers forgets what it holds. This process's own writes are accounted
 * by the cache itself, as on SQLite.
 *
 * Whatever cannot be told is counted as foreign: a lost listening
 * connection (notifications may have been missed while it was away) raises
 * the count when it drops and again when it is back, and a round trip every
 * few seconds finds a connection that died without a word.
 *
 * The listener also publishes the change log's pending rows (migration
 * 0005): within PUBLISH_MS of another process's write, so that a write
 * made with psql or a tool reaches the log at once, and with every
 * backstop round trip, for a newsd that died between a commit and its
 * publication.
 *
 * For reads from a replica the listener also keeps the known position
 * (ND_POSITION_KNOWN): before it raises the count for what it heard, it
 * asks the primary for its write-ahead log insert position, which is past
 * the commit records of everything heard, so that whoever sees the count
 * move and empties a cache also finds a position no older than those
 * commits, and caches an answer read from a replica only if the replica
 * has replayed that far. While the listener is not connected (or has not
 * asked yet, at start) the position is unknown, and nothing read from a
 * replica is cached; so too after a write of this process whose position
 * could not be read, until the listener's next check (every few seconds).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "newsd/log.h"
#include "store_pg.h"

#define MAX_OWN 256        /* this process's connections whose notifications are its own */
#define RETRY_MS 1000      /* how long to wait before reconnecting */
#define BACKSTOP_MS 5000   /* how often the listening connection is checked */
#define PUBLISH_MS 50      /* after another process's write, how soon this one publishes */
#define FIRST_WAIT_MS 2000 /* how long opening waits for the listener's first connection */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tried = PTHREAD_COND_INITIALIZER; /* the first connection was tried */
static bool first_tried;
static int own_pids[MAX_OWN];
static unsigned users; /* open stores; the thread runs while there is one */
static bool running;
static atomic_bool stop;
static int wake[2] = {-1, -1}; /* a pipe: stopping wakes the listener out of its poll at once */
static pthread_t thread;
static char *listen_conninfo;
static _Atomic uint64_t epoch = 1;
static _Atomic uint64_t known_position;
static atomic_bool position_known;

void nd_pg_count_foreign(void)
{
    atomic_fetch_add(&epoch, 1);
}

uint64_t nd_pg_foreign_epoch(void)
{
    return atomic_load(&epoch);
}

void nd_pg_note_position(uint64_t pos)
{
    uint64_t seen = atomic_load(&known_position);
    while (seen < pos && !atomic_compare_exchange_weak(&known_position, &seen, pos))
        ;
}

void nd_pg_forget_position(void)
{
    atomic_store(&position_known, false);
}

bool nd_pg_known_position(uint64_t *pos)
{
    if (!atomic_load(&position_known))
        return false;
    *pos = atomic_load(&known_position);
    return true;
}

/*
 * Raises the count of foreign commits after noting the primary's insert
 * position (past the commit records of all that was heard so far); when
 * the position cannot be read, it is unknown until it can.
 */
static void count_with_position(PGconn *conn)
{
    PGresult *res = conn ? PQexec(conn, "SELECT pg_current_wal_insert_lsn()") : NULL;
    uint64_t pos = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                       ? nd_store_position_parse(PQgetvalue(res, 0, 0))
                       : 0;
    PQclear(res);
    if (pos != 0)
        nd_pg_note_position(pos);
    atomic_store(&position_known, pos != 0);
    nd_pg_count_foreign();
}

/* Replaces old (0: none) by pid (0: none) among this process's backends. */
void nd_pg_own_backend(int old, int pid)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < MAX_OWN; i++) {
        if (old != 0 && own_pids[i] == old) {
            own_pids[i] = 0;
            old = 0;
        }
        if (pid != 0 && own_pids[i] == 0) {
            own_pids[i] = pid;
            pid = 0;
        }
    }
    pthread_mutex_unlock(&lock);
    if (pid != 0)
        nd_log(ND_LOG_WARN,
               "store: more than %d PostgreSQL connections; the cache may forget more "
               "than it must",
               MAX_OWN);
}

static bool is_own(int pid)
{
    bool own = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < MAX_OWN && !own; i++)
        own = own_pids[i] == pid;
    pthread_mutex_unlock(&lock);
    return own;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A listening connection, or NULL (logged once per outage by the caller). */
static PGconn *listen_connect(void)
{
    PGconn *conn = nd_pg_connect(listen_conninfo);
    if (conn && PQstatus(conn) == CONNECTION_OK) {
        PGresult *res = PQexec(conn, "LISTEN newsd_changes");
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (ok)
            return conn;
    }
    PQfinish(conn);
    return NULL;
}

/*
 * Reads what arrived; false when the connection is lost. *foreign: another
 * process wrote. Notifications that come while the position is asked wait
 * in libpq, not in the socket: they are read before returning.
 */
static bool drain(PGconn *conn, bool *foreign)
{
    if (!PQconsumeInput(conn))
        return false;
    for (;;) {
        unsigned heard = 0;
        PGnotify *n;
        while ((n = PQnotifies(conn)) != NULL) {
            if (!is_own(n->be_pid))
                heard++;
            PQfreemem(n);
        }
        if (heard == 0 || atomic_load(&stop))
            break;
        *foreign = true;
        count_with_position(conn);
    }
    return PQstatus(conn) == CONNECTION_OK;
}

/*
 * The backstop: a connection whose peer vanished without closing it (a
 * cut cable, a frozen server) would wait quietly for good; a round trip
 * every few seconds finds it out. The round trip publishes the change
 * log's pending rows (migration 0005): those of a write whose process
 * died between its commit and their publication. An error of the
 * statement alone (a schema not yet migrated) is not a lost connection.
 * false when the connection is lost.
 */
static bool still_there(PGconn *conn, bool *foreign)
{
    PGresult *res = PQexec(conn, "SELECT newsd_publish_changes(), pg_current_wal_insert_lsn()");
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK || PQstatus(conn) == CONNECTION_OK;
    /* a write that committed without a position made it unknown: known again from here */
    uint64_t pos = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                       ? nd_store_position_parse(PQgetvalue(res, 0, 1))
                       : 0;
    PQclear(res);
    if (ok && pos != 0 && !atomic_load(&position_known)) {
        nd_pg_note_position(pos);
        atomic_store(&position_known, true);
    }
    return ok && drain(conn, foreign);
}

static void tell_tried(void)
{
    pthread_mutex_lock(&lock);
    first_tried = true;
    pthread_cond_broadcast(&tried);
    pthread_mutex_unlock(&lock);
}

static void *listen_main(void *arg)
{
    (void)arg;
    PGconn *conn = NULL;
    bool warned = false;
    int64_t last_check = now_ms(), last_publish = 0;
    bool foreign = false; /* another process wrote since the last publication here */
    while (!atomic_load(&stop)) {
        if (!conn) {
            conn = listen_connect();
            if (!conn) {
                if (!warned)
                    nd_log(ND_LOG_WARN, "store: cannot listen for PostgreSQL changes; the "
                                        "response cache forgets everything until it can");
                warned = true;
                count_with_position(NULL);
                tell_tried();
                struct pollfd woken = {wake[0], POLLIN, 0};
                poll(&woken, 1, RETRY_MS); /* returns at once on stop */
                continue;
            }
            if (warned)
                nd_log(ND_LOG_INFO, "store: listening for PostgreSQL changes again");
            warned = false;
            count_with_position(conn); /* what happened while nobody listened */
            tell_tried();
        }
        struct pollfd pfd[2] = {{PQsocket(conn), POLLIN, 0}, {wake[0], POLLIN, 0}};
        int ready = poll(pfd, 2, foreign ? PUBLISH_MS : 200);
        if (atomic_load(&stop))
            break;
        bool alive = ready >= 0 &&
                     (!(pfd[0].revents & (POLLIN | POLLERR | POLLHUP)) || drain(conn, &foreign));
        int64_t now = now_ms();
        if (alive &&
            (now - last_check >= BACKSTOP_MS || (foreign && now - last_publish >= PUBLISH_MS))) {
            foreign = false;
            alive = still_there(conn, &foreign);
            last_check = last_publish = now_ms();
        }
        if (!alive) {
            nd_log(ND_LOG_WARN, "store: the PostgreSQL change listener lost its connection");
            count_with_position(NULL);
            PQfinish(conn);
            conn = NULL;
        }
    }
    PQfinish(conn);
    atomic_store(&position_known, false); /* nobody listens now */
    return NULL;
}

/*
 * Waits (lock held) until the listener has tried its first connection, at
 * most FIRST_WAIT_MS: its start counts as a foreign commit (what happened
 * while nobody listened), which empties the caches; waiting for it here,
 * before the first store is in use, keeps it from emptying answers that
 * were only just cached.
 */
static void wait_first_try(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += FIRST_WAIT_MS / 1000;
    while (!first_tried && pthread_cond_timedwait(&tried, &lock, &until) == 0)
        ;
}

enum nd_err nd_pg_listen_start(const char *conninfo)
{
    enum nd_err err = ND_OK;
    pthread_mutex_lock(&lock);
    if (users++ == 0 && !running) {
        free(listen_conninfo);
        listen_conninfo = strdup(conninfo);
        atomic_store(&stop, false);
        first_tried = false;
        if (wake[0] < 0 && pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0)
            wake[0] = wake[1] = -1;
        if (!listen_conninfo || wake[0] < 0 ||
            pthread_create(&thread, NULL, listen_main, NULL) != 0) {
            users--;
            err = ND_ERR_NOMEM;
        } else {
            running = true;
            wait_first_try();
        }
    }
    pthread_mutex_unlock(&lock);
    return err;
}

void nd_pg_listen_stop(void)
{
    bool join = false;
    pthread_mutex_lock(&lock);
    if (users > 0 && --users == 0 && running) {
        atomic_store(&stop, true);
        running = false;
        join = true;
    }
    pthread_mutex_unlock(&lock);
    if (join) {
        char byte = 1;
        ssize_t woke = write(wake[1], &byte, 1); /* fails only when a wake-up already waits */
        (void)woke;
        pthread_join(thread, NULL);
        while (read(wake[0], &byte, 1) > 0) /* nothing left to wake the next listener */
            ;
        pthread_mutex_lock(&lock);
        if (users == 0) {
            free(listen_conninfo);
            listen_conninfo = NULL;
        }
        pthread_mutex_unlock(&lock);
    }
}
