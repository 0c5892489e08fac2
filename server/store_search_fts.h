/*
 * store_search_fts.h: what the SQLite store's search adds to FTS5: the
 * translation of a parsed search query (newsd/search.h) into an FTS5 MATCH
 * expression, and the nd_snippet() auxiliary function. Only the store's
 * search code and its tests see it: the expression never leaves the store.
 */
#ifndef NEWSD_STORE_SEARCH_FTS_H
#define NEWSD_STORE_SEARCH_FTS_H

#include <sqlite3.h>

#include "newsd/err.h"
#include "newsd/search.h"

/*
 * Writes q (which nd_search_parse made, so its invariants hold) as an FTS5
 * expression into *fts, malloc'd, for the caller to free. ND_ERR_NOMEM: out
 * of memory, *fts untouched.
 */
enum nd_err nd_store_search_fts(const struct nd_search_query *q, char **fts);

/*
 * Registers nd_snippet(table, open, close, ellipsis, tokens) on db: the text
 * FTS5's snippet(table, -1, open, close, ellipsis, tokens) gives for the
 * row, made without tokenising what it does not quote
 * (store_search_snippet.c). ND_ERR_DB when db has no FTS5 or refuses it.
 */
enum nd_err nd_store_search_functions(sqlite3 *db);

#endif
