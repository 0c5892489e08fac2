/*
 * migrate.h: schema migrations, embedded into the binary at build time from
 * migrations/sqlite/NNNN_name.sql (and migrations/postgres/ for the
 * PostgreSQL store) and applied in order, each in its own transaction,
 * recorded in the table schema_migrations so that a re-run applies nothing.
 */
#ifndef NEWSD_MIGRATE_H
#define NEWSD_MIGRATE_H

#include "newsd/err.h"

struct sqlite3;

struct nd_migration {
    int version;
    const char *name;
    const char *sql;
};

/* Generated from migrations/sqlite/ by migrations/embed.py, ordered by version. */
extern const struct nd_migration nd_migrations[];
extern const unsigned nd_migrations_count;

/*
 * The same for PostgreSQL, from migrations/postgres/: its own numbers, the
 * same data model once all have run (docs/postgresql.md). Each is to run in
 * one transaction with its schema_migrations row, as nd_migrate runs
 * SQLite's.
 */
extern const struct nd_migration nd_pg_migrations[];
extern const unsigned nd_pg_migrations_count;

/*
 * Applies every migration the database has not recorded, in version order,
 * also one older than the newest it has (migrations of parallel branches
 * meet in any order; each must then not depend on a later one). *applied (may be NULL)
 * gets how many ran. On failure the failing migration is rolled back, the
 * earlier ones stay, and the error is logged once here.
 */
enum nd_err nd_migrate(struct sqlite3 *db, unsigned *applied);

#endif
