/*
 * cursor.c: pagination cursors as 17 bytes (the kind letter, then the two
 * integers as 64-bit big-endian two's complement) in URL-safe base64 without
 * padding: always 23 characters. libsodium's decoder rejects stray
 * characters and non-zero trailing bits, so every position has exactly one
 * text and anything else is ND_ERR_INVALID.
 */
#include "newsd/cursor.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_BYTES 17
#define CURSOR_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define CURSOR_CHARS (sodium_base64_ENCODED_LEN(CURSOR_BYTES, CURSOR_VARIANT) - 1)

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

char *nd_cursor_encode(char kind, int64_t a, int64_t b)
{
    unsigned char bin[CURSOR_BYTES];
    bin[0] = (unsigned char)kind;
    put_u64(bin + 1, (uint64_t)a);
    put_u64(bin + 9, (uint64_t)b);
    char *text = malloc(CURSOR_CHARS + 1);
    if (!text)
        return NULL;
    sodium_bin2base64(text, CURSOR_CHARS + 1, bin, sizeof bin, CURSOR_VARIANT);
    return text;
}

/* Two's complement back to int64_t without relying on implementation-defined conversion. */
static int64_t to_signed(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return (int64_t)v;
    return -(int64_t)(~v) - 1;
}

enum nd_err nd_cursor_decode(const char *text, char kind, int64_t *a, int64_t *b)
{
    unsigned char bin[CURSOR_BYTES];
    size_t bin_len = 0;
    const char *end = NULL;
    if (!text || strnlen(text, CURSOR_CHARS + 1) != CURSOR_CHARS)
        return ND_ERR_INVALID;
    if (sodium_base642bin(bin, sizeof bin, text, CURSOR_CHARS, NULL, &bin_len, &end,
                          CURSOR_VARIANT) != 0)
        return ND_ERR_INVALID;
    if (bin_len != CURSOR_BYTES || end != text + CURSOR_CHARS || bin[0] != (unsigned char)kind)
        return ND_ERR_INVALID;
    *a = to_signed(get_u64(bin + 1));
    *b = to_signed(get_u64(bin + 9));
    return ND_OK;
}
