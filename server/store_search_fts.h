/*
 * store_search_fts.h: the SQLite store's translation of a parsed search
 * query (newsd/search.h) into an FTS5 MATCH expression. Only the store's
 * search code and its tests see it: the expression never leaves the store.
 */
#ifndef NEWSD_STORE_SEARCH_FTS_H
#define NEWSD_STORE_SEARCH_FTS_H

#include "newsd/err.h"
#include "newsd/search.h"

/*
 * Writes q (which nd_search_parse made, so its invariants hold) as an FTS5
 * expression into *fts, malloc'd, for the caller to free. ND_ERR_NOMEM: out
 * of memory, *fts untouched.
 */
enum nd_err nd_store_search_fts(const struct nd_search_query *q, char **fts);

#endif
