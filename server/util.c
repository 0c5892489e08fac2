/*
 * util.c: RFC 3339 time stamps, UTF-8, strict decimal numbers and
 * comma-separated lists.
 *
 * Times are converted with the days-from-civil arithmetic rather than
 * timegm()/gmtime_r() on purpose: it is exact for the whole 1970..9999 range,
 * needs no locale or time zone state and is safe in every thread.
 */
#include "newsd/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t nd_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

uint64_t nd_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct timespec nd_time_after_ms(clockid_t clock, unsigned ms)
{
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

unsigned nd_cores(unsigned at_least)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > (long)at_least ? (unsigned)cores : at_least;
}

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

char *nd_time_format(int64_t t, char buf[ND_TIME_BUF])
{
    int64_t days = t / 86400;
    int64_t secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999;
    /* Written digit by digit: every answer carries a few of these, and
     * snprintf's format parsing cost more than the rest of the work. */
    unsigned h = (unsigned)(secs / 3600), mi = (unsigned)(secs / 60 % 60),
             s = (unsigned)(secs % 60);
    unsigned yy = (unsigned)y;
    char *p = buf;
    *p++ = (char)('0' + yy / 1000);
    *p++ = (char)('0' + yy / 100 % 10);
    *p++ = (char)('0' + yy / 10 % 10);
    *p++ = (char)('0' + yy % 10);
    const unsigned parts[] = {m, d, h, mi, s};
    const char seps[] = {'-', '-', 'T', ':', ':'};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        *p++ = seps[i];
        *p++ = (char)('0' + parts[i] / 10);
        *p++ = (char)('0' + parts[i] % 10);
    }
    *p++ = 'Z';
    *p = '\0';
    return buf;
}

/* Reads exactly n digits at *p into *out and advances *p. */
static bool digits(const char **p, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool nd_time_parse(const char *text, int64_t *out)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = text;
    unsigned y, mo, d, h, mi, s;
    if (!text || !digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return false;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return false;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
        !digits(&p, 2, &s))
        return false;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60)
        return false;
    if (d > mdays[mo - 1] + (mo == 2 && leap(y)))
        return false;
    if (s == 60)
        s = 59; /* a leap second is folded into the second before it */
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        unsigned oh, om;
        p++;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
            return false;
        offset = sign * (int64_t)(oh * 3600 + om * 60);
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset;
    if (t < 0)
        return false;
    *out = t;
    return true;
}

size_t nd_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

size_t nd_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    static const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    const unsigned char *p = (const unsigned char *)s;
    size_t len;
    uint32_t c;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2;
        c = p[0] & 0x1Fu;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        c = p[0] & 0x0Fu;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        c = p[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3Fu);
    }
    /* overlong forms, surrogates and code points past U+10FFFF */
    if (c < min_for_len[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

size_t nd_utf8_next(const char *s, size_t n, uint32_t *cp)
{
    size_t len = nd_utf8_decode(s, n, cp);
    if (len == 0) {
        *cp = ND_UTF8_REPLACEMENT;
        len = 1;
    }
    return len;
}

bool nd_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = nd_utf8_decode(s + i, len - i, &cp);
        if (n == 0 || cp == 0)
            return false;
        i += n;
    }
    return true;
}

bool nd_parse_uint(const char *text, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (text == NULL || len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        unsigned digit = (unsigned)(text[i] - '0');
        if (digit > max || v > (max - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

bool nd_parse_id(const char *text, int64_t *out)
{
    uint64_t v;
    if (text == NULL || text[0] < '1' || text[0] > '9' ||
        !nd_parse_uint(text, strlen(text), INT64_MAX, &v))
        return false;
    *out = (int64_t)v;
    return true;
}

size_t nd_list_count(const char *text)
{
    size_t n = 1;
    bool blank = true;
    for (const char *p = text; *p != '\0'; p++) {
        n += *p == ',';
        blank = blank && nd_is_blank(*p);
    }
    return blank ? 0 : n;
}

void nd_list_next(const char **rest, const char **item, size_t *len)
{
    const char *start = *rest;
    const char *comma = strchr(start, ',');
    const char *end = comma != NULL ? comma : start + strlen(start);
    *rest = comma != NULL ? comma + 1 : end;
    while (start < end && nd_is_blank(*start))
        start++;
    while (end > start && nd_is_blank(end[-1]))
        end--;
    *item = start;
    *len = (size_t)(end - start);
}

void nd_why(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    if (why == NULL || whylen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}
