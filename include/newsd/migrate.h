/*
 * migrate.h: schema migrations, embedded into the binary at build time from
 * migrations/sqlite/NNNN_name.sql (and migrations/postgres/ for the
 * PostgreSQL store) and applied in order, each in its own transaction,
 * recorded in the table schema_migrations so that a re-run applies nothing.
 * The store's backend applies them when it opens a database
 * (nd_store_open); this header only lists what is embedded.
 */
#ifndef NEWSD_MIGRATE_H
#define NEWSD_MIGRATE_H

#include "newsd/err.h"

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
 * same data model once all have run (docs/postgresql.md). Each runs in one
 * transaction with its schema_migrations row (store_pg.c).
 */
extern const struct nd_migration nd_pg_migrations[];
extern const unsigned nd_pg_migrations_count;

#endif
