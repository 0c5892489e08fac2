/*
 * cursor.h: opaque pagination cursors.
 *
 * A cursor names a position in one ordering: a kind letter ('a' articles by
 * published_at and id, 'c' comments by id) and two integers (three for
 * search results). It is sent to
 * clients as URL-safe base64 without padding, so it never needs escaping in a
 * query string. Decoding is strict: anything else is ND_ERR_INVALID.
 */
#ifndef NEWSD_CURSOR_H
#define NEWSD_CURSOR_H

#include <stdint.h>

#include "newsd/err.h"

/* A new malloc'd cursor text, or NULL when out of memory. */
char *nd_cursor_encode(char kind, int64_t a, int64_t b);

/* Decodes text made by nd_cursor_encode with the same kind. */
enum nd_err nd_cursor_decode(const char *text, char kind, int64_t *a, int64_t *b);

/* The same for positions of three integers ('s' and 't': search results). */
char *nd_cursor_encode3(char kind, int64_t a, int64_t b, int64_t c);
enum nd_err nd_cursor_decode3(const char *text, char kind, int64_t *a, int64_t *b, int64_t *c);

#endif
