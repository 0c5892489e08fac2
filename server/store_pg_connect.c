/*
 * store_pg_connect.c: making PostgreSQL connections (store_pg.h): the
 * settings newsd adds to the URI's, the server's notices into the log, and
 * what this process knows of the database's reachability, so that an
 * outage is logged once and a server that is away is not asked again for
 * every request.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "newsd/log.h"
#include "store_pg.h"

void nd_pg_first_line(const char *msg, char *out, size_t size)
{
    size_t n = 0;
    if (!msg)
        msg = "";
    while (msg[n] && msg[n] != '\n' && n + 1 < size)
        n++;
    memcpy(out, msg, n);
    out[n] = '\0';
}

/*
 * The connection settings newsd gives unless the URI says otherwise (they
 * stand before the URI in the keyword list, and libpq lets later values
 * win): a server that does not answer fails a connection after a few
 * seconds instead of never (libpq waits forever by default), and TCP
 * keepalives and a user timeout find a server that vanished mid-query
 * within about a minute instead of the system's two hours. A Unix socket
 * ignores the TCP ones.
 */
static const char *const connect_keywords[] = {
    "connect_timeout",     "keepalives",       "keepalives_idle",
    "keepalives_interval", "keepalives_count", "tcp_user_timeout",
    "application_name",    "dbname",           NULL};
static const char *const connect_defaults[] = {"5", "1", "30", "10", "3", "60000", "newsd"};

/* What the server says outside an answer (a shutdown's notice), into the log. */
static void log_notice(void *arg, const char *message)
{
    char msg[256];
    (void)arg;
    nd_pg_first_line(message, msg, sizeof msg);
    nd_log(ND_LOG_INFO, "store: PostgreSQL says: %s", msg);
}

PGconn *nd_pg_connect(const char *conninfo)
{
    const char *values[sizeof connect_keywords / sizeof connect_keywords[0]];
    size_t n = sizeof connect_defaults / sizeof connect_defaults[0];
    memcpy(values, connect_defaults, sizeof connect_defaults);
    values[n] = conninfo; /* expanded: its own settings override the defaults */
    values[n + 1] = NULL;
    PGconn *conn = PQconnectdbParams(connect_keywords, values, 1);
    if (conn) /* libpq would print them on stderr as they are */
        PQsetNoticeProcessor(conn, log_notice, NULL);
    return conn;
}

/*
 * The state of each database as this process sees it (the primary, and a
 * replica with --db-replica, each a slot of its own: one being away never
 * keeps the other from being tried): the first failed connection of an
 * outage is logged (with libpq's reason: the server is down, a password is
 * wrong), the others of the same outage only at debug level, and the first
 * success after it says that the database is back. While it is away, a new
 * attempt is made at most every RETRY_US: requests in between are answered
 * ND_ERR_BUSY at once, so a server that does not answer costs one
 * connect_timeout per interval, not one per request. Should more databases
 * than slots be away at once (tests opening many), the last slot is shared.
 */
#define RETRY_US 500000
#define SLOTS 4
struct reach {
    _Atomic uint64_t of; /* a hash of the conninfo (0: a free slot) */
    atomic_bool unreachable;
    _Atomic int64_t next_attempt_us;
};
static struct reach slots[SLOTS];

/* FNV-1a of conninfo: names the database of an outage (no secret is kept); never 0. */
static uint64_t conninfo_hash(const char *conninfo)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)conninfo; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ? h : 1;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The slot of conninfo, or NULL when it has none (it was never away). */
static struct reach *find_slot(uint64_t which)
{
    for (size_t i = 0; i < SLOTS; i++)
        if (atomic_load(&slots[i].of) == which)
            return &slots[i];
    return NULL;
}

/* The slot of conninfo, taking a free or reachable one when it has none. */
static struct reach *claim_slot(uint64_t which)
{
    struct reach *r = find_slot(which);
    for (size_t i = 0; r == NULL && i < SLOTS; i++) {
        uint64_t free_of = 0;
        if (atomic_compare_exchange_strong(&slots[i].of, &free_of, which))
            r = &slots[i];
    }
    for (size_t i = 0; r == NULL && i < SLOTS; i++) {
        if (!atomic_load(&slots[i].unreachable)) {
            atomic_store(&slots[i].of, which);
            r = &slots[i];
        }
    }
    if (r == NULL) {
        r = &slots[SLOTS - 1];
        atomic_store(&r->of, which);
    }
    return r;
}

bool nd_pg_may_connect(const char *conninfo)
{
    struct reach *r = find_slot(conninfo_hash(conninfo));
    return r == NULL || !atomic_load(&r->unreachable) ||
           now_us() >= atomic_load(&r->next_attempt_us);
}

void nd_pg_connect_failed(const char *conninfo, PGconn *conn)
{
    char msg[256];
    uint64_t which = conninfo_hash(conninfo);
    nd_pg_first_line(conn ? PQerrorMessage(conn) : "out of memory", msg, sizeof msg);
    struct reach *r = claim_slot(which);
    atomic_store(&r->next_attempt_us, now_us() + RETRY_US);
    if (!atomic_exchange(&r->unreachable, true))
        nd_log(ND_LOG_ERROR, "store: cannot connect to PostgreSQL: %s", msg);
    else
        nd_log(ND_LOG_DEBUG, "store: still cannot connect to PostgreSQL: %s", msg);
}

void nd_pg_connect_succeeded(const char *conninfo)
{
    struct reach *r = find_slot(conninfo_hash(conninfo));
    if (r != NULL && atomic_exchange(&r->unreachable, false))
        nd_log(ND_LOG_INFO, "store: PostgreSQL is reachable again");
}
