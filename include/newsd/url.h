/*
 * url.h: the pieces of URLs newsd reads and writes, each parsed or written
 * in exactly one place: percent-encoding,
 * query strings, and the Link header of a next page.
 */
#ifndef NEWSD_URL_H
#define NEWSD_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "newsd/buf.h"

/* Appends s with every byte but RFC 3986's unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX. */
void nd_url_append_encoded(struct nd_buf *b, const char *s);

/*
 * Appends a query string "?a=1&b=2" of the {name, value} pairs in params,
 * both percent-encoded (nd_url_append_encoded); a pair with a NULL value is
 * left out, and with no value at all nothing is appended.
 */
void nd_url_append_query(struct nd_buf *b, const char *const params[][2], size_t nparams);

/*
 * The value of a Link header to the next page: "<PATH?QUERY>; rel=\"next\""
 * with the query of nd_url_append_query. path is written as it is; every
 * name and value is percent-encoded, so from a path without them the
 * result never holds CR, LF, '<' or '>'. Returns a malloc'd string, NULL
 * when out of memory.
 */
char *nd_url_build_next_link(const char *path, const char *const params[][2], size_t nparams);

#endif
