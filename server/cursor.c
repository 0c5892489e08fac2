/*
 * cursor.c: pagination cursors as 1 + 8n bytes (the kind letter, then the n
 * integers as 64-bit big-endian two's complement) in URL-safe base64 without
 * padding: always 23 characters for two integers, 34 for three. Only
 * alphabet characters are let through to libsodium's decoder, which rejects
 * non-zero trailing bits, so every position has exactly one text and
 * anything else is ND_ERR_INVALID.
 */
#include "newsd/cursor.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_MAX_VALUES 3
#define CURSOR_MAX_BYTES (1 + 8 * CURSOR_MAX_VALUES)
#define CURSOR_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
/* Characters of the text of a cursor of n bytes, without the NUL. */
#define CURSOR_CHARS(n) (sodium_base64_ENCODED_LEN((n), CURSOR_VARIANT) - 1)

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

/* A new cursor text for kind and the n values v, or NULL when out of memory. */
static char *encode(char kind, const int64_t *v, size_t n)
{
    unsigned char bin[CURSOR_MAX_BYTES];
    size_t bytes = 1 + 8 * n;
    bin[0] = (unsigned char)kind;
    for (size_t i = 0; i < n; i++)
        put_u64(bin + 1 + 8 * i, (uint64_t)v[i]);
    char *text = malloc(CURSOR_CHARS(bytes) + 1);
    if (!text)
        return NULL;
    sodium_bin2base64(text, CURSOR_CHARS(bytes) + 1, bin, bytes, CURSOR_VARIANT);
    return text;
}

char *nd_cursor_encode(char kind, int64_t a, int64_t b)
{
    const int64_t v[2] = {a, b};
    return encode(kind, v, 2);
}

char *nd_cursor_encode3(char kind, int64_t a, int64_t b, int64_t c)
{
    const int64_t v[3] = {a, b, c};
    return encode(kind, v, 3);
}

/* Two's complement back to int64_t without relying on implementation-defined conversion. */
static int64_t to_signed(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return (int64_t)v;
    return -(int64_t)(~v) - 1;
}

/*
 * True when the n characters at text are all of the URL-safe base64
 * alphabet. libsodium 1.0.18's decoder must not see anything else: it takes
 * every byte above 0x7F for an alphabet character (0xFF for '_'), which would
 * give one position several texts.
 */
static bool urlsafe_alphabet(const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Decodes text as a cursor of kind with exactly n values into v. */
static enum nd_err decode_values(const char *text, char kind, int64_t *v, size_t n)
{
    unsigned char bin[CURSOR_MAX_BYTES];
    size_t bytes = 1 + 8 * n;
    size_t chars = CURSOR_CHARS(bytes);
    size_t bin_len = 0;
    const char *end = NULL;
    if (!text || strnlen(text, chars + 1) != chars || !urlsafe_alphabet(text, chars))
        return ND_ERR_INVALID;
    if (sodium_base642bin(bin, sizeof bin, text, chars, NULL, &bin_len, &end, CURSOR_VARIANT) != 0)
        return ND_ERR_INVALID;
    if (bin_len != bytes || end != text + chars || bin[0] != (unsigned char)kind)
        return ND_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        v[i] = to_signed(get_u64(bin + 1 + 8 * i));
    return ND_OK;
}

enum nd_err nd_cursor_decode(const char *text, char kind, int64_t *a, int64_t *b)
{
    int64_t v[2];
    enum nd_err err = decode_values(text, kind, v, 2);
    if (err != ND_OK)
        return err;
    *a = v[0];
    *b = v[1];
    return ND_OK;
}

enum nd_err nd_cursor_decode3(const char *text, char kind, int64_t *a, int64_t *b, int64_t *c)
{
    int64_t v[3];
    enum nd_err err = decode_values(text, kind, v, 3);
    if (err != ND_OK)
        return err;
    *a = v[0];
    *b = v[1];
    *c = v[2];
    return ND_OK;
}
