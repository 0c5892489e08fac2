/*
 * alloc_pg.h: the allocation-failure test's own connection to a
 * PostgreSQL database (alloc_pg.c), the counterpart of its sqlite3 handle.
 * Failures print a TAP comment and return false (or "(error)").
 */
#ifndef NEWSD_TEST_ALLOC_PG_H
#define NEWSD_TEST_ALLOC_PG_H

#include <stdbool.h>
#include <stddef.h>

/* Connects to uri (the server's database); false when it cannot. */
bool alloc_pg_open(const char *uri);
void alloc_pg_close(void);

/* Runs sql (no parameters). */
bool alloc_pg_exec(const char *sql);

/* The first column of the first row of sql into out: "(none)" without a row. */
const char *alloc_pg_query_text(const char *sql, char *out, size_t len);

/* Keeps the seeded rows aside (temporary tables of this connection). */
bool alloc_pg_keep_base(void);

/* Every row of each of the n queries, fields joined by "|", into out (max bytes). */
void alloc_pg_snapshot(const char *const *queries, size_t n, char *out, size_t max);

/* The seeded rows back, every other row gone, the id sequences where the seed left them. */
bool alloc_pg_restore(void);

/* comment_count and the search vectors as the triggers keep them. */
bool alloc_pg_consistent(void);

#endif
