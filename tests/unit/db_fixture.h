/*
 * db_fixture.h: database files for the store's unit tests: a temporary
 * folder with a database path in it, removed again with its WAL files; SQL
 * run on such a file through a connection of its own, as another program
 * would write it; and a database as an older release left it, with only
 * the first migrations applied and recorded.
 *
 * On PostgreSQL (backend_fixture.h) a "temporary database" is a new
 * database on the test server, its path the postgresql:// URI, and SQL run
 * on it goes through libpq; a legacy database is SQLite's history alone.
 */
#ifndef NEWSD_TEST_DB_FIXTURE_H
#define NEWSD_TEST_DB_FIXTURE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend_fixture.h"
#include "check.h"
#include "newsd/migrate.h"
#include "newsd/store.h"

/* A temporary folder and the path of a database in it (PostgreSQL: the URI of a new database). */
struct temp_db {
    char dir[512];
    char path[600];
};

/* Makes a new temporary folder for t (the database is not made yet); false, as a failed check, when
 * it cannot. */
static inline bool temp_db(struct temp_db *t)
{
    const char *base = getenv("TMPDIR");
    if (on_postgres()) {
        t->dir[0] = '\0';
        return pg_new_db(false, t->path, sizeof t->path);
    }
    snprintf(t->dir, sizeof t->dir, "%s/newsd-store-XXXXXX", base && *base ? base : "/tmp");
    t->path[0] = '\0';
    if (!mkdtemp(t->dir)) {
        CHECK(!"a temporary folder");
        return false;
    }
    snprintf(t->path, sizeof t->path, "%s/newsd.db", t->dir);
    return true;
}

/* Removes t's database with its WAL files, then its folder. */
static inline void remove_db(const struct temp_db *t)
{
    char side[620];
    if (t->path[0] == '\0' || on_postgres())
        return; /* dropped when the case ends */
    unlink(t->path);
    snprintf(side, sizeof side, "%s-wal", t->path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", t->path);
    unlink(side);
    rmdir(t->dir);
}

/* A store on the database at path (NULL after a failed check). */
static inline struct nd_store *store_at(const char *path, const struct nd_store_options *opts)
{
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open(path, opts, &st), ND_OK);
    return st;
}

/* A store on a new database in a new temporary folder t (NULL after a failed check). */
static inline struct nd_store *temp_store(struct temp_db *t, const struct nd_store_options *opts)
{
    return temp_db(t) ? store_at(t->path, opts) : NULL;
}

/*
 * A store on a database of its own that nobody else sees: ":memory:" on
 * SQLite, a new database on PostgreSQL (already migrated: a copy of a
 * template, see backend_fixture.h). NULL after a failed check.
 */
static inline struct nd_store *fresh_store(const struct nd_store_options *opts)
{
    char uri[600];
    if (!on_postgres())
        return store_at(":memory:", opts);
    return pg_new_db(true, uri, sizeof uri) ? store_at(uri, opts) : NULL;
}

/*
 * Runs sql on the database at path through a connection of its own, closed
 * again before it returns. A failure is a failed check; returns whether it ran.
 */
static inline bool db_exec(const char *path, const char *sql)
{
    if (on_postgres())
        return pg_exec(path, sql);
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
    CHECK(!on_postgres()); /* SQLite's migrations */
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

/*
 * A store on a database in a new temporary folder t that the first upto
 * migrations made and seed_sql filled (see legacy_db), now opened and so
 * migrated the rest of the way. NULL after a failed check.
 */
static inline struct nd_store *legacy_store(struct temp_db *t, unsigned upto, const char *seed_sql,
                                            const struct nd_store_options *opts)
{
    if (!temp_db(t) || !legacy_db(t->path, upto, seed_sql))
        return NULL;
    return store_at(t->path, opts);
}

#endif
