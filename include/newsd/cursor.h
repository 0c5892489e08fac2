/*
 * cursor.h: opaque pagination cursors.
 *
 * A cursor names a position in one ordering: a kind letter and two integers
 * (three for search results). Kinds: the article list 'a' newest first
 * (published_at, id), 'o' oldest first (the same keys), 'u' recently
 * updated (updated_at, id), 'm' most commented (comment_count, id);
 * comments 'c' (by id); search 's' articles and 't' comments best first
 * (score, time, id), 'n' articles and 'k' comments newest first (0, time,
 * id). A cursor of one kind never decodes as another, so a cursor follows
 * only the order that made it. It is sent to
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
