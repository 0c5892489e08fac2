/*
 * buf.c: the capped growable buffer of newsd/buf.h.
 *
 * The allocation doubles from a first size that fits most answers, and is
 * never made larger than the cap and its NUL need, so a buffer capped at a
 * request's max-body never holds more than that. Failure frees the bytes at
 * once: a failed buffer costs no memory while its writer runs to its end.
 */
#include "newsd/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_ALLOC 1024

void nd_buf_init(struct nd_buf *b, size_t max)
{
    *b = (struct nd_buf){.max = max < SIZE_MAX / 2 ? max : SIZE_MAX / 2};
}

void nd_buf_free(struct nd_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    nd_buf_init(b, b->max);
}

void nd_buf_reset(struct nd_buf *b)
{
    b->len = 0;
    b->err = ND_OK;
    if (b->data != NULL)
        b->data[0] = '\0';
}

const char *nd_buf_str(const struct nd_buf *b)
{
    return b->data != NULL ? b->data : "";
}

static enum nd_err fail(struct nd_buf *b, enum nd_err err)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
    b->err = err;
    return err;
}

void nd_buf_fail(struct nd_buf *b, enum nd_err err)
{
    if (b->err == ND_OK)
        fail(b, err);
}

/* Grows the allocation to hold need bytes (the NUL included). Keeps no error. */
static enum nd_err grow(struct nd_buf *b, size_t need)
{
    if (need <= b->alloc)
        return ND_OK;
    size_t alloc = b->alloc ? b->alloc : FIRST_ALLOC;
    while (alloc < need)
        alloc *= 2;
    if (alloc > b->max + 1)
        alloc = b->max + 1;
    char *grown = realloc(b->data, alloc);
    if (grown == NULL)
        return ND_ERR_NOMEM;
    if (b->data == NULL)
        grown[0] = '\0';
    b->data = grown;
    b->alloc = alloc;
    return ND_OK;
}

enum nd_err nd_buf_reserve(struct nd_buf *b, size_t n)
{
    if (b->err != ND_OK)
        return b->err;
    if (n > b->max - b->len)
        return ND_ERR_LIMIT;
    return grow(b, b->len + n + 1);
}

enum nd_err nd_buf_append(struct nd_buf *b, const void *bytes, size_t n)
{
    if (b->err != ND_OK)
        return b->err;
    if (n > b->max - b->len)
        return fail(b, ND_ERR_LIMIT);
    if (grow(b, b->len + n + 1) != ND_OK)
        return fail(b, ND_ERR_NOMEM);
    if (n > 0)
        memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ND_OK;
}

enum nd_err nd_buf_append_str(struct nd_buf *b, const char *s)
{
    return nd_buf_append(b, s, strlen(s));
}

enum nd_err nd_buf_append_printf(struct nd_buf *b, const char *fmt, ...)
{
    va_list ap;
    if (b->err != ND_OK)
        return b->err;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b, ND_ERR_INVALID);
    if ((size_t)n > b->max - b->len)
        return fail(b, ND_ERR_LIMIT);
    if (grow(b, b->len + (size_t)n + 1) != ND_OK)
        return fail(b, ND_ERR_NOMEM);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->alloc - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return ND_OK;
}

char *nd_buf_take(struct nd_buf *b, size_t *len)
{
    char *data = NULL;
    if (b->err == ND_OK && grow(b, 1) == ND_OK) {
        data = b->data;
        if (len != NULL)
            *len = b->len;
        b->data = NULL;
    }
    nd_buf_free(b);
    return data;
}
