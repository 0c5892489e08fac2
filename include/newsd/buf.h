/*
 * buf.h: one growable byte buffer with a hard size cap, used by every part
 * of newsd that builds output of unknown length (documents, feeds, metrics,
 * request bodies, links).
 *
 * A buffer is caller storage: nd_buf_init it with its cap, append, then take
 * its bytes or free it. The first failure (out of memory, or the cap
 * reached) is remembered: the bytes are freed at once and every later
 * append does nothing and returns the same error, so a writer may run to
 * its end and check once. While it holds bytes they are NUL-terminated (the
 * NUL is not counted in len nor against max). Allocations go through
 * malloc/realloc/free like the rest of newsd.
 */
#ifndef NEWSD_BUF_H
#define NEWSD_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "newsd/err.h"

/* A cap for output that has no limit of its own: far above any answer newsd gives. */
#define ND_BUF_MAX_DOCUMENT ((size_t)1 << 30)

struct nd_buf {
    char *data;      /* NULL until the first byte, and after a failure */
    size_t len;      /* bytes held, without the NUL */
    size_t alloc;    /* bytes allocated at data */
    size_t max;      /* len never passes it */
    enum nd_err err; /* ND_OK, or the first failure: ND_ERR_NOMEM or ND_ERR_LIMIT */
};

/* An empty buffer of cap max (at most SIZE_MAX / 2), as an initialiser. */
#define ND_BUF_INIT(max)                                                                           \
    {                                                                                              \
        NULL, 0, 0, (max), ND_OK                                                                   \
    }

/* Makes b an empty buffer that will hold at most max bytes. Allocates nothing. */
void nd_buf_init(struct nd_buf *b, size_t max);

/* Frees b's bytes and makes it empty again (same max, no error). Accepts NULL. */
void nd_buf_free(struct nd_buf *b);

/*
 * Makes b empty again (same max, no error) but keeps its allocation, for a
 * writer that fills one buffer many times (a field of each record it
 * reads). nd_buf_free still frees it in the end.
 */
void nd_buf_reset(struct nd_buf *b);

/*
 * b's bytes as a string, borrowed until b next changes: "" when it holds
 * none or holds an error.
 */
const char *nd_buf_str(const struct nd_buf *b);

/*
 * Appends n bytes of bytes (which may hold NULs). Returns ND_OK;
 * ND_ERR_LIMIT when len would pass max, ND_ERR_NOMEM when the buffer could
 * not grow (either way the bytes are freed and the error stays, see above);
 * or the error b already holds.
 */
enum nd_err nd_buf_append(struct nd_buf *b, const void *bytes, size_t n);

/* nd_buf_append of the NUL-terminated s. */
enum nd_err nd_buf_append_str(struct nd_buf *b, const char *s);

/* nd_buf_append of printf(fmt, ...)'s text. ND_ERR_INVALID (kept) when fmt cannot be formatted. */
enum nd_err nd_buf_append_printf(struct nd_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Marks b failed with err (not ND_OK), as a failed append would: for a
 * writer whose piece made elsewhere could not be made. Frees the bytes.
 */
void nd_buf_fail(struct nd_buf *b, enum nd_err err);

/*
 * Makes room for n more bytes at once, so that appending them allocates no
 * more. A hint: on failure (ND_ERR_NOMEM, or ND_ERR_LIMIT when len + n
 * passes max) the buffer is left as it was and no error is kept.
 */
enum nd_err nd_buf_reserve(struct nd_buf *b, size_t n);

/*
 * Hands b's bytes to the caller: a malloc'd NUL-terminated string ("" when
 * nothing was appended), its length in *len unless len is NULL. NULL when b
 * holds an error or the empty string cannot be allocated. Either way b is
 * empty afterwards, as nd_buf_free leaves it.
 */
char *nd_buf_take(struct nd_buf *b, size_t *len);

#endif
