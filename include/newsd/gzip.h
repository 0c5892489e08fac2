/*
 * gzip.h: content coding of answers (RFC 9110 8.4.1.3) with zlib.
 *
 * Both functions are pure: the HTTP layer decides per request whether the
 * client takes gzip, and encodes the rendered bytes once (a cached answer
 * is kept already encoded).
 */
#ifndef NEWSD_GZIP_H
#define NEWSD_GZIP_H

#include <stdbool.h>
#include <stddef.h>

/* Answers no longer than this go out as they are: the header would eat the gain. */
#define ND_GZIP_MIN_BYTES 1024

/*
 * True when an Accept-Encoding value (may be NULL: no header) accepts gzip:
 * "gzip" or "x-gzip" with a q-value above 0, or else "*" above 0. Codings
 * are compared without regard to case; a malformed q-value counts as 0.
 */
bool nd_gzip_accepted(const char *accept_encoding);

/*
 * Encodes len bytes of in as a gzip stream at level (1..9) into a malloc'd
 * buffer (*out, *outlen). False when out of memory, or when the encoding
 * would not be smaller than the input (*out is then untouched).
 */
bool nd_gzip_encode(const void *in, size_t len, int level, char **out, size_t *outlen);

#endif
