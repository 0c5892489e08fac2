/*
 * store_pg_migrate.c: the PostgreSQL schema's migrations (migrations/postgres,
 * embedded as nd_pg_migrations): every one the database has not recorded in
 * schema_migrations, in order, each in one transaction with its record, all
 * under a session advisory lock so that several instances starting at once
 * take turns and each after the first finds the work done.
 */
#include <stdio.h>
#include <stdlib.h>

#include "newsd/log.h"
#include "newsd/migrate.h"
#include "store_pg.h"

/* The key of the advisory lock that makes instances starting at once migrate in turn. */
#define MIGRATION_LOCK "7244510163"

static enum nd_err applied_versions(struct nd_pg *st, PGresult **res)
{
    *res = PQexec(st->conn, "SELECT version FROM schema_migrations ORDER BY version");
    if (PQresultStatus(*res) == PGRES_TUPLES_OK)
        return ND_OK;
    enum nd_err err = nd_pg_err(st, *res, "migrations");
    PQclear(*res);
    *res = NULL;
    return err;
}

static bool recorded(const PGresult *res, int version)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (atoi(PQgetvalue(res, i, 0)) == version)
            return true;
    return false;
}

/* Applies migration m in a transaction of its own, recording it. */
static enum nd_err apply(struct nd_pg *st, const struct nd_migration *m)
{
    char record[512];
    /* a migration may rebuild a large table: the session's statement timeout is not for it */
    enum nd_err err = nd_pg_script(st, "BEGIN; SET LOCAL statement_timeout = 0", "migration");
    if (err != ND_OK)
        return err;
    err = nd_pg_script(st, m->sql, m->name);
    int len = snprintf(record, sizeof record,
                       "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, "
                       "'%s', to_char(now() AT TIME ZONE 'UTC', "
                       "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))",
                       m->version, m->name);
    if (err == ND_OK && (len < 0 || (size_t)len >= sizeof record)) {
        nd_log(ND_LOG_ERROR, "store: the name of migration %s is too long", m->name);
        err = ND_ERR_DB;
    }
    if (err == ND_OK)
        err = nd_pg_script(st, record, m->name);
    if (err == ND_OK)
        err = nd_pg_script(st, "COMMIT", m->name);
    else
        nd_pg_script(st, "ROLLBACK", m->name);
    if (err == ND_OK)
        nd_log(ND_LOG_INFO, "store: applied PostgreSQL migration %s", m->name);
    return err;
}

/*
 * Every migration the database has not recorded, in order, each in its own
 * transaction, under a session advisory lock: several instances starting at
 * once take turns, and each after the first finds the work done.
 */
enum nd_err nd_pg_migrate(struct nd_pg *st)
{
    PGresult *done = NULL;
    enum nd_err err = nd_pg_script(st, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", "migrations");
    if (err != ND_OK)
        return err;
    err = nd_pg_script(st,
                       "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                       "name text NOT NULL, applied_at text NOT NULL)",
                       "migrations");
    if (err == ND_OK)
        err = applied_versions(st, &done);
    for (unsigned i = 0; i < nd_pg_migrations_count && err == ND_OK; i++) {
        if (recorded(done, nd_pg_migrations[i].version))
            continue;
        err = apply(st, &nd_pg_migrations[i]);
        if (err == ND_OK)
            st->base.migrations_applied++;
    }
    PQclear(done);
    nd_pg_script(st, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")", "migrations");
    return err;
}
