/*
 * alloc_db.h: the allocation-failure test's own connection to the
 * database the server under test stores in, one implementation per backend
 * (alloc_sqlite.c, alloc_pg.c). Failures print a TAP comment and return
 * false.
 */
#ifndef NEWSD_TEST_ALLOC_DB_H
#define NEWSD_TEST_ALLOC_DB_H

#include <stdbool.h>
#include <stddef.h>

struct alloc_db {
    /* Connects to db (the server's database: a file path or a URI). */
    bool (*open)(const char *db);
    /* Keeps the seeded rows aside (temporary tables of this connection). */
    bool (*keep_base)(void);
    /* Every row of each of the n queries, fields joined by "|", into out (max bytes). */
    void (*snapshot)(const char *const *queries, size_t n, char *out, size_t max);
    /*
     * The seeded rows back, every other row gone, ids counting on from where
     * the seed left them; false also when the server holds a transaction open.
     */
    bool (*restore)(void);
    /* True when nothing a half-done write could break is broken. */
    bool (*consistent)(void);
    void (*close)(void);
};

extern const struct alloc_db alloc_sqlite, alloc_pg;

#endif
