/*
 * migrate.h: schema migrations, embedded into the binary at build time from
 * migrations/NNNN_name.sql and applied in order, each in its own
 * transaction, recorded in the table schema_migrations so that a re-run
 * applies nothing. The store's backend applies them when it opens a
 * database (nd_store_open); this header only lists what is embedded.
 */
#ifndef NEWSD_MIGRATE_H
#define NEWSD_MIGRATE_H

#include "newsd/err.h"

struct nd_migration {
    int version;
    const char *name;
    const char *sql;
};

/* Generated from migrations/ by migrations/embed.py, ordered by version. */
extern const struct nd_migration nd_migrations[];
extern const unsigned nd_migrations_count;

#endif
