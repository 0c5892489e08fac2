/*
 * search.h: the search-box query language, translated into a safe FTS5
 * expression, and the HTML rendering of FTS5 snippets.
 *
 * The language (what a person types):
 *   words          all must match (AND)
 *   "a phrase"     the words in this order
 *   word*          a prefix (at least ND_SEARCH_MIN_PREFIX characters)
 *   -word -"a b"   must not match
 *   a OR b         either (OR binds tighter than the implied AND)
 * Every term is emitted as a quoted FTS5 string, so nothing the user types
 * is ever read as FTS5 syntax (column filters, NEAR, ^, parentheses), and the
 * result is bound as a parameter, never pasted into SQL.
 */
#ifndef NEWSD_SEARCH_H
#define NEWSD_SEARCH_H

#include <stddef.h>

#include "newsd/err.h"

#define ND_SEARCH_MAX_BYTES 512      /* longest query text */
#define ND_SEARCH_MAX_TERMS 16       /* most terms, excluded ones included */
#define ND_SEARCH_MIN_PREFIX 2       /* shortest word before a '*' */
#define ND_SEARCH_TIME_LIMIT_MS 1000 /* longest one search may run */
#define ND_SEARCH_WINDOW 1000        /* newest matches ranked by one search */

/*
 * Translates query into an FTS5 MATCH expression (malloc'd, in *fts).
 * ND_ERR_INVALID: the query cannot be searched; why (whylen bytes) gets a
 * sentence saying what to change, fit for a 400 problem's detail.
 * ND_ERR_NOMEM: out of memory. *fts is written only on ND_OK.
 */
enum nd_err nd_search_translate(const char *query, char **fts, char *why, size_t whylen);

/* The bytes FTS5's snippet() is asked to put around each match. */
#define ND_SNIPPET_OPEN "\x01"
#define ND_SNIPPET_CLOSE "\x02"

/*
 * Renders a raw snippet (text with ND_SNIPPET_OPEN/CLOSE around matches) as
 * HTML: matches in <mark>...</mark>, & < > " ' escaped, other control
 * characters but tab and newline dropped. Returns a malloc'd string, NULL
 * when out of memory.
 */
char *nd_search_snippet_html(const char *raw);

#endif
