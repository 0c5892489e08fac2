/*
 * util.h: small pure helpers shared by several modules: RFC 3339 time
 * stamps, the count of cores, UTF-8 decoding and counting, strict decimal
 * numbers and comma-separated lists.
 */
#ifndef NEWSD_UTIL_H
#define NEWSD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Room for "YYYY-MM-DDTHH:MM:SSZ" and its NUL. */
#define ND_TIME_BUF 21

/* Seconds since the Unix epoch, from the real-time clock. */
int64_t nd_time_now(void);

/* Microseconds of the monotonic clock, for durations. */
uint64_t nd_monotonic_us(void);

/* The time ms milliseconds from now on clock, for timed waits and deadlines. */
struct timespec nd_time_after_ms(clockid_t clock, unsigned ms);

/* The cores online, or at_least when there are fewer (or the count is unknown). */
unsigned nd_cores(unsigned at_least);

/*
 * Writes t as "YYYY-MM-DDTHH:MM:SSZ" (UTC) into buf, which has room for
 * ND_TIME_BUF bytes. Returns buf.
 */
char *nd_time_format(int64_t t, char buf[ND_TIME_BUF]);

/*
 * Parses an RFC 3339 date-time ("2025-07-12T09:30:00Z", with optional
 * fractional seconds, which are dropped, and "Z" or a "+hh:mm"/"-hh:mm"
 * offset, which is applied) into seconds since the epoch. Years 1970..9999.
 * Returns false, writing nothing, when text is not such a time stamp.
 */
bool nd_time_parse(const char *text, int64_t *out);

/*
 * Number of Unicode code points in the valid UTF-8 string s (every string
 * that Jansson hands out is valid UTF-8).
 */
size_t nd_utf8_len(const char *s);

/* Returns true when s is valid UTF-8 of len bytes with no NUL byte. */
bool nd_utf8_valid(const char *s, size_t len);

/*
 * newsd's one UTF-8 decoder, strict: the length in bytes (1..4) of the valid
 * UTF-8 character at s (n > 0 bytes left), its code point in *cp; 0, writing
 * nothing, when the bytes there are not one (an overlong form, a surrogate,
 * a value past U+10FFFF, a cut sequence). Callers that must refuse invalid
 * text use this; callers that must go on use nd_utf8_next.
 */
size_t nd_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* What nd_utf8_next reads an invalid byte as. */
#define ND_UTF8_REPLACEMENT 0xFFFD

/*
 * nd_utf8_decode with the replacing policy: a byte that does not start a
 * valid character counts as one character, ND_UTF8_REPLACEMENT, so that
 * damaged text still advances byte by byte. Returns 1..4 (n > 0).
 */
size_t nd_utf8_next(const char *s, size_t n, uint32_t *cp);

/*
 * The one strict decimal parser: the len bytes at text must all be digits
 * (at least one; no sign, space, or other character; leading zeros
 * allowed) of a value at most max. Returns true with the value in *out;
 * false, writing nothing, otherwise (overflow included).
 */
bool nd_parse_uint(const char *text, size_t len, uint64_t max, uint64_t *out);

/*
 * Parses a positive decimal id (1..INT64_MAX, digits only, no sign, no
 * leading zero). Returns false, writing nothing, otherwise.
 */
bool nd_parse_id(const char *text, int64_t *out);

/* True for the blanks of a setting or a line of text: space and tab. */
static inline bool nd_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * The number of items of a comma-separated list ("a, b,c" has 3; "a,,b" and
 * "a," have an empty item each): 0 when text is empty or only blanks.
 */
size_t nd_list_count(const char *text);

/*
 * Reads the next item of a comma-separated list at *rest: its start in
 * *item and its length in *len, blanks around it left out (an empty item
 * has len 0), and moves *rest past it and its comma. Call it
 * nd_list_count(text) times from rest = text.
 */
void nd_list_next(const char **rest, const char **item, size_t *len);

/*
 * The one way a function tells its caller what went wrong: every function
 * that can explain a failure takes "char *why, size_t whylen" and fills it
 * with this, printf-style, cut to whylen bytes. Writes nothing when why is
 * NULL or whylen is 0.
 */
void nd_why(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
