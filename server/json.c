/*
 * json.c: Jansson's allocations, watched, so that a parse or a dump that met
 * a failed allocation is never taken for a good one (see newsd/json.h).
 */
#include "newsd/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static json_malloc_t next_malloc = malloc;
static _Thread_local bool alloc_failed;

static void *watched_malloc(size_t size)
{
    void *p = next_malloc(size);
    if (p == NULL)
        alloc_failed = true;
    return p;
}

void nd_json_watch(void)
{
    json_malloc_t current;
    json_free_t release;
    json_get_alloc_funcs(&current, &release);
    if (current == watched_malloc)
        return;
    next_malloc = current;
    json_set_alloc_funcs(watched_malloc, release);
}

void nd_json_watch_reset(void)
{
    alloc_failed = false;
}

bool nd_json_watch_failed(void)
{
    return alloc_failed;
}

char *nd_json_dumps(const json_t *value, size_t flags)
{
    alloc_failed = false;
    char *text = json_dumps(value, flags);
    if (alloc_failed) {
        free(text);
        return NULL;
    }
    return text;
}

json_t *nd_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err, bool *nomem)
{
    alloc_failed = false;
    json_t *value = json_loadb(buf, len, flags, err);
    *nomem = alloc_failed || (value == NULL && json_error_code(err) == json_error_out_of_memory);
    if (*nomem) {
        json_decref(value);
        return NULL;
    }
    return value;
}

/* ---- strings ------------------------------------------------------------ */

/*
 * The length of the UTF-8 sequence at s (n bytes left) by Jansson's rules
 * (utf.c: RFC 3629, no overlong forms, no surrogates, nothing past
 * U+10FFFF; NUL is allowed), or 0 when it is not one.
 */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool nd_json_utf8_valid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        /* ASCII eight bytes at a time: most text is, and this is the cost of a long body */
        uint64_t word;
        if (len - i >= sizeof word) {
            memcpy(&word, s + i, sizeof word);
            if ((word & 0x8080808080808080ULL) == 0) {
                i += sizeof word;
                continue;
            }
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_sequence(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

json_t *nd_json_stringn(const char *text, size_t len)
{
    if (text == NULL || !nd_json_utf8_valid(text, len))
        return NULL;
    return json_stringn_nocheck(text, len);
}

/* ---- rendering ---------------------------------------------------------- */

/* json_dump_callback's writer for the one kind of value nd_json_render hands to Jansson. */
static int append_chunk(const char *chunk, size_t size, void *data)
{
    return nd_buf_append(data, chunk, size) == ND_OK ? 0 : -1;
}

/*
 * A string with Jansson's escapes (dump.c without JSON_ENSURE_ASCII or
 * JSON_ESCAPE_SLASH): '"', '\\' and the five named control characters by
 * name, the other control characters as \u00XX with upper-case hex, every
 * other byte as it is. The text was checked as UTF-8 when the value was
 * made (Jansson's string constructors refuse anything else), so it is
 * copied in runs between the bytes to escape rather than decoded character
 * by character, which is where json_dump_callback spent its time.
 */
/* Eight bytes of a string at once: does one of them need an escape? (See nd_json_render_string.) */
static bool word_needs_escape(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t control = (w - ones * 0x20) & ~w;   /* a byte below 0x20 */
    uint64_t is_quote = (quote - ones) & ~quote; /* a byte that was '"' */
    uint64_t is_backslash = (backslash - ones) & ~backslash;
    return ((control | is_quote | is_backslash) & highs) != 0;
}

void nd_json_render_string(struct nd_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;
    nd_buf_append(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t word;
        /* whole words without a byte to escape are skipped: most of a body is */
        while (n - i >= sizeof word) {
            memcpy(&word, s + i, sizeof word);
            if (word_needs_escape(word))
                break;
            i += sizeof word;
        }
        if (i == n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        size_t esc_len = 2;
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc_len = sizeof esc;
            break;
        }
        nd_buf_append(out, s + run, i - run);
        nd_buf_append(out, esc, esc_len);
        run = i + 1;
    }
    nd_buf_append(out, s + run, n - run);
    nd_buf_append(out, "\"", 1);
}

void nd_json_render_integer(struct nd_buf *out, int64_t v)
{
    char digits[24];
    size_t i = sizeof digits;
    /* negated as unsigned, so that the smallest value does not overflow */
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        digits[--i] = '-';
    nd_buf_append(out, digits + i, sizeof digits - i);
}

static bool render_value(const json_t *v, struct nd_buf *out, unsigned depth)
{
    const char *sep = "";
    if (depth > ND_JSON_RENDER_DEPTH)
        return false;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        nd_buf_append(out, "{", 1);
        for (void *it = json_object_iter((json_t *)v); it != NULL;
             it = json_object_iter_next((json_t *)v, it)) {
            nd_buf_append_str(out, sep);
            nd_json_render_string(out, json_object_iter_key(it), json_object_iter_key_len(it));
            nd_buf_append(out, ":", 1);
            if (!render_value(json_object_iter_value(it), out, depth + 1))
                return false;
            sep = ",";
        }
        nd_buf_append(out, "}", 1);
        break;
    case JSON_ARRAY:
        nd_buf_append(out, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            nd_buf_append_str(out, sep);
            if (!render_value(json_array_get(v, i), out, depth + 1))
                return false;
            sep = ",";
        }
        nd_buf_append(out, "]", 1);
        break;
    case JSON_STRING:
        nd_json_render_string(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        nd_json_render_integer(out, json_integer_value(v));
        break;
    case JSON_REAL: /* rare (search scores): Jansson's own digits, whatever its rules */
        if (json_dump_callback(v, append_chunk, out, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
            return false;
        break;
    case JSON_TRUE:
        nd_buf_append(out, "true", 4);
        break;
    case JSON_FALSE:
        nd_buf_append(out, "false", 5);
        break;
    case JSON_NULL:
        nd_buf_append(out, "null", 4);
        break;
    }
    return out->err == ND_OK;
}

bool nd_json_render(const json_t *value, struct nd_buf *out)
{
    alloc_failed = false;
    return value != NULL && render_value(value, out, 0) && !alloc_failed;
}
