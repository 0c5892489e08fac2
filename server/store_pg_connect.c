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
 * The state of the database as this process sees it: the first failed
 * connection of an outage is logged (with libpq's reason: the server is
 * down, a password is wrong), the others of the same outage only at debug
 * level, and the first success after it says that the database is back.
 * While it is away, a new attempt is made at most every RETRY_US: requests
 * in between are answered ND_ERR_BUSY at once, so a server that does not
 * answer costs one connect_timeout per interval, not one per request.
 */
#define RETRY_US 500000
static atomic_bool unreachable;
static _Atomic int64_t next_attempt_us;
static _Atomic uint64_t outage_of; /* a hash of the conninfo that is away */

/* FNV-1a of conninfo: names the database of an outage (no secret is kept). */
static uint64_t conninfo_hash(const char *conninfo)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)conninfo; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool nd_pg_may_connect(const char *conninfo)
{
    return !atomic_load(&unreachable) || atomic_load(&outage_of) != conninfo_hash(conninfo) ||
           now_us() >= atomic_load(&next_attempt_us);
}

void nd_pg_connect_failed(const char *conninfo, PGconn *conn)
{
    char msg[256];
    uint64_t which = conninfo_hash(conninfo);
    nd_pg_first_line(conn ? PQerrorMessage(conn) : "out of memory", msg, sizeof msg);
    atomic_store(&next_attempt_us, now_us() + RETRY_US);
    bool same = atomic_exchange(&outage_of, which) == which;
    if (!atomic_exchange(&unreachable, true) || !same)
        nd_log(ND_LOG_ERROR, "store: cannot connect to PostgreSQL: %s", msg);
    else
        nd_log(ND_LOG_DEBUG, "store: still cannot connect to PostgreSQL: %s", msg);
}

void nd_pg_connect_succeeded(const char *conninfo)
{
    if (atomic_load(&outage_of) == conninfo_hash(conninfo) && atomic_exchange(&unreachable, false))
        nd_log(ND_LOG_INFO, "store: PostgreSQL is reachable again");
}
