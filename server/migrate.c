/*
 * migrate.c: brings a database's schema up to the newest embedded migration.
 *
 * The applied versions are rows of schema_migrations. Each migration without
 * a row there runs, in version order, even one older than the newest applied:
 * migrations are written on branches in parallel, so 0007 may reach a
 * database before 0006 does. Each runs in its own BEGIN IMMEDIATE
 * transaction together with its row there,
 * so a migration is either wholly applied and recorded or not at all. Several
 * threads may open a new database at the same moment: the version is read
 * again once the write lock is held, and whoever comes second finds the work
 * done and applies nothing. A database that is already current is only read.
 *
 * Foreign key enforcement is off while a migration runs and every reference
 * is checked before its commit instead (the order SQLite documents for
 * changing a table's schema): a migration that rebuilds a parent table drops
 * the old one, and with enforcement on that drop would delete the child rows
 * through ON DELETE CASCADE. SQLite ignores the pragma inside a transaction,
 * so it is switched around each one.
 */
#include "newsd/migrate.h"

#include <sqlite3.h>
#include <stdio.h>

#include "newsd/log.h"
#include "newsd/util.h"
#include "store_internal.h"

static const char create_table_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                       "version INTEGER PRIMARY KEY, "
                                       "name TEXT NOT NULL, "
                                       "applied_at TEXT NOT NULL)";

/*
 * Runs every statement of the trusted, embedded script sql (which may hold
 * several) to completion. Returns the SQLite result of the first failure.
 */
static int run_script(sqlite3 *db, const char *sql)
{
    int rc = SQLITE_OK;
    while (rc == SQLITE_OK && sql && *sql) {
        sqlite3_stmt *stmt = NULL;
        const char *tail = NULL;
        rc = sqlite3_prepare_v2(db, sql, -1, &stmt, &tail);
        if (rc != SQLITE_OK)
            break;
        if (stmt) { /* NULL for a stretch of only comments or white space */
            do
                rc = sqlite3_step(stmt);
            while (rc == SQLITE_ROW);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            sqlite3_finalize(stmt);
        }
        sql = tail;
    }
    return rc;
}

/* Reads one integer answered by sql into *value. Returns the SQLite result. */
static int query_int(sqlite3 *db, const char *sql, int *value)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *value = sqlite3_column_int(stmt, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        *value = 0;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * Whether migration version is recorded as applied into *recorded (0 when
 * there is no schema_migrations table yet). Returns the SQLite result.
 */
static int is_recorded(sqlite3 *db, int version, int *recorded)
{
    int exists = 0;
    sqlite3_stmt *stmt = NULL;
    int rc = query_int(db,
                       "SELECT 1 FROM sqlite_schema "
                       "WHERE type = 'table' AND name = 'schema_migrations'",
                       &exists);
    *recorded = 0;
    if (rc != SQLITE_OK || !exists)
        return rc;
    rc = sqlite3_prepare_v2(db, "SELECT 1 FROM schema_migrations WHERE version = ?1", -1, &stmt,
                            NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(stmt, 1, version);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    *recorded = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(stmt);
    return rc;
}

/* Records migration m as applied, now. */
static int record(sqlite3 *db, const struct nd_migration *m)
{
    char now[ND_TIME_BUF];
    sqlite3_stmt *stmt = NULL;
    nd_time_format(nd_time_now(), now);
    int rc = sqlite3_prepare_v2(
        db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)", -1,
        &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(stmt, 1, m->version);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(stmt, 2, m->name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(stmt, 3, now, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * SQLITE_OK when no row breaks a foreign key, SQLITE_CONSTRAINT_FOREIGNKEY
 * (the first broken reference logged) when one does, or the failure.
 */
static int check_references(sqlite3 *db, const struct nd_migration *m)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        nd_log(ND_LOG_ERROR, "migration %s: row %lld of %s refers to a missing row of %s", m->name,
               (long long)sqlite3_column_int64(stmt, 1), (const char *)sqlite3_column_text(stmt, 0),
               (const char *)sqlite3_column_text(stmt, 2));
        rc = SQLITE_CONSTRAINT_FOREIGNKEY;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * Applies m unless another connection did so first. *ran tells which. On
 * failure the transaction is rolled back and the error logged once.
 */
static enum nd_err apply_one(sqlite3 *db, const struct nd_migration *m, int *ran)
{
    char what[128];
    int recorded = 0;
    int enforced = 0;
    *ran = 0;
    int rc = query_int(db, "PRAGMA foreign_keys", &enforced);
    if (rc == SQLITE_OK && enforced)
        rc = sqlite3_exec(db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = run_script(db, create_table_sql);
    if (rc == SQLITE_OK)
        rc = is_recorded(db, m->version, &recorded);
    if (rc == SQLITE_OK && !recorded) {
        rc = run_script(db, m->sql);
        if (rc == SQLITE_OK)
            rc = check_references(db, m);
        if (rc == SQLITE_OK)
            rc = record(db, m);
        *ran = rc == SQLITE_OK;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    enum nd_err err = ND_OK;
    if (rc != SQLITE_OK) {
        *ran = 0;
        snprintf(what, sizeof what, "migration %s", m->name);
        err = nd_store_sqlite_err(db, rc, what);
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    /* Outside the transaction again: enforcement back as the caller had it. */
    if (enforced && sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK &&
        err == ND_OK)
        err = nd_store_sqlite_err(db, sqlite3_errcode(db), "turning foreign keys on again");
    return err;
}

enum nd_err nd_migrate(struct sqlite3 *db, unsigned *applied)
{
    unsigned count = 0;
    enum nd_err err = ND_OK;
    for (unsigned i = 0; i < nd_migrations_count; i++) {
        const struct nd_migration *m = &nd_migrations[i];
        int ran = 0, recorded = 0;
        int rc = is_recorded(db, m->version, &recorded);
        if (rc != SQLITE_OK) {
            err = nd_store_sqlite_err(db, rc, "reading the schema version");
            goto out;
        }
        if (recorded)
            continue;
        err = apply_one(db, m, &ran);
        if (err != ND_OK)
            goto out;
        if (ran)
            nd_log(ND_LOG_INFO, "applied migration %s", m->name);
        count += (unsigned)ran;
    }
out:
    if (applied)
        *applied = count;
    return err;
}
