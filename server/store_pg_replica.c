/*
 * store_pg_replica.c: what reading from a PostgreSQL hot standby needs of
 * the store (store.h, "replicas and write-ahead log positions"): opening a
 * read-only store on the standby, the position of each write's commit in
 * the write-ahead log, and how far the standby has replayed.
 *
 * A client that just wrote must not read older data from a standby that
 * has not replayed its write yet. So each write's connection reads the
 * primary's insert position right after the commit (store_pg_write.c),
 * the HTTP layer hands it
 * to the client, and a read that brings it back goes to the standby only
 * when pg_last_wal_replay_lsn() there is at or past it. The insert position
 * rather than pg_current_wal_lsn(): with synchronous_commit off the commit
 * record may not be written out yet when COMMIT returns, and the write
 * position would then be older than the commit.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "newsd/log.h"
#include "newsd/migrate.h"
#include "store_pg.h"

/* How long a replica's replay position is reused before it is asked again. */
#define REPLAY_FRESH_US 5000

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The position in the first column of a one-row result, or 0 (NULL, no row, an error). */
uint64_t nd_pg_result_position(const PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
        return 0;
    return nd_store_position_parse(PQgetvalue(res, 0, 0));
}

/*
 * The standby's schema must be the one this binary migrates the primary
 * to: a standby still replaying an older one would answer with columns
 * missing. One log line per store that is refused.
 */
static enum nd_err check_schema(struct nd_pg *st)
{
    int want =
        nd_pg_migrations_count > 0 ? nd_pg_migrations[nd_pg_migrations_count - 1].version : 0;
    PGresult *res = PQexec(st->conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    enum nd_err err = ND_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        err = nd_pg_err(st, res, "replica schema");
        if (err != ND_ERR_BUSY)
            nd_log(ND_LOG_WARN, "store: the replica has no newsd schema; it is not used");
        err = ND_ERR_BUSY;
    } else if (atoi(PQgetvalue(res, 0, 0)) != want) {
        nd_log(ND_LOG_WARN,
               "store: the replica's schema is at version %s, the primary's at %d; the replica "
               "is not used until they match",
               PQgetvalue(res, 0, 0), want);
        err = ND_ERR_BUSY;
    }
    PQclear(res);
    return err;
}

enum nd_err nd_pg_open_replica(const char *db, const struct nd_store_options *opts,
                               struct nd_store **out)
{
    struct nd_pg *st = NULL;
    enum nd_err err = nd_pg_open_common(db, opts, true, &st);
    if (err != ND_OK)
        return err;
    err = check_schema(st);
    if (err != ND_OK) {
        nd_pg_close(&st->base);
        return err;
    }
    nd_pg_connect_succeeded(st->conninfo);
    *out = &st->base;
    return ND_OK;
}

void nd_pg_note_write(struct nd_pg *st, uint64_t pos)
{
    st->write_position = pos;
    if (pos != 0)
        nd_pg_note_position(pos);
    else
        nd_pg_forget_position();
}

/* The standby's replay position, reused for REPLAY_FRESH_US. */
static enum nd_err replay_position(struct nd_pg *st, uint64_t *out)
{
    enum nd_err err = nd_pg_ready(st); /* a standby that went away is noticed here */
    if (err != ND_OK)
        return err;
    int64_t now = now_us();
    if (st->replay_asked_us != 0 && now - st->replay_asked_us < REPLAY_FRESH_US) {
        *out = st->replay_position;
        return ND_OK;
    }
    /*
     * A standby promoted since (a failover) is its own primary: what it
     * shows is current, up to just before its insert position (a commit at
     * that very position might still be under way).
     */
    PGresult *res = PQexec(st->conn, "SELECT CASE WHEN pg_is_in_recovery() THEN "
                                     "pg_last_wal_replay_lsn() ELSE "
                                     "pg_current_wal_insert_lsn() - 1 END");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        err = nd_pg_err(st, res, "replay position");
        PQclear(res);
        return err;
    }
    st->replay_position = nd_pg_result_position(res); /* NULL: nothing replayed yet */
    st->replay_asked_us = now;
    PQclear(res);
    *out = st->replay_position;
    return ND_OK;
}

static enum nd_err current_position(struct nd_pg *st, uint64_t *out)
{
    enum nd_err err = nd_pg_ready(st);
    if (err != ND_OK)
        return err;
    PGresult *res = PQexec(st->conn, "SELECT pg_current_wal_lsn()");
    uint64_t pos = nd_pg_result_position(res);
    if (pos == 0)
        err = nd_pg_err(st, res, "current position");
    PQclear(res);
    if (err == ND_OK)
        *out = pos;
    return err;
}

enum nd_err nd_pg_position(struct nd_store *store, enum nd_position which, uint64_t *out)
{
    struct nd_pg *st = nd_pg_of(store);
    switch (which) {
    case ND_POSITION_WRITE:
        if (st->write_position == 0)
            return ND_ERR_NOT_FOUND;
        *out = st->write_position;
        st->write_position = 0;
        return ND_OK;
    case ND_POSITION_REPLAY:
        return replay_position(st, out);
    case ND_POSITION_KNOWN:
        return nd_pg_known_position(out) ? ND_OK : ND_ERR_BUSY;
    case ND_POSITION_CURRENT:
        return st->replica ? ND_ERR_INVALID : current_position(st, out);
    }
    return ND_ERR_INVALID;
}
