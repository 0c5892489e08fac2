/*
 * db_fixture.h: database files for the store's unit tests: a temporary
 * folder with a database path in it, removed again with its WAL files; SQL
 * run on such a file through a connection of its own, as another program
 * would write it; and a database as an older release left it, with only
 * the first migrations applied and recorded.
 */
#ifndef NEWSD_TEST_DB_FIXTURE_H
#define NEWSD_TEST_DB_FIXTURE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "newsd/migrate.h"

/* A new temporary folder in dir and the path of a database in it (not made yet). */
static inline bool temp_db(char *dir, size_t dirlen, char *path, size_t pathlen)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, dirlen, "%s/newsd-store-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        return false;
    snprintf(path, pathlen, "%s/newsd.db", dir);
    return true;
}

/* Removes the database at path with its WAL files, then its folder dir. */
static inline void remove_db(const char *dir, const char *path)
{
    char side[600];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    rmdir(dir);
}

/*
 * Runs sql on the database at path through a connection of its own, closed
 * again before it returns. A failure is a failed check; returns whether it ran.
 */
static inline bool db_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    CHECK_INT(rc, SQLITE_OK);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        CHECK_INT(rc, SQLITE_OK);
    }
    sqlite3_close(db);
    return rc == SQLITE_OK;
}

/*
 * Makes the database at path what a release with only the first upto
 * migrations left: each applied and recorded in schema_migrations, then
 * seed_sql run on it. Returns whether it all ran (a failure is a failed check).
 */
static inline bool legacy_db(const char *path, unsigned upto, const char *seed_sql)
{
    CHECK(upto <= nd_migrations_count);
    if (upto > nd_migrations_count)
        return false;
    bool ok = db_exec(path, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                            "name TEXT NOT NULL, applied_at TEXT NOT NULL)");
    for (unsigned i = 0; ok && i < upto; i++) {
        char record[200];
        snprintf(record, sizeof record, "INSERT INTO schema_migrations VALUES (%d, '%s', 'then')",
                 nd_migrations[i].version, nd_migrations[i].name);
        ok = db_exec(path, nd_migrations[i].sql) && db_exec(path, record);
    }
    return ok && db_exec(path, seed_sql);
}

#endif
