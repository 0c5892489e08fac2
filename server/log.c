/*
 * log.c: one line per event on stderr, in one of two formats.
 *
 * text (the default): "TIME LEVEL message", control characters of the
 * message replaced by '?'. json: one object per line, {"time","level","msg"}
 * plus the request's fields on access lines, every string escaped here so
 * that no value (a decoded path holding a quote, a line feed or invalid
 * UTF-8) can end the object early or start a second one.
 *
 * Lines are formatted into a stack buffer and written with one write(2), so
 * lines from different worker threads never interleave. A value too long for
 * the line is cut (at a character boundary in json); the line stays whole.
 */
#include "newsd/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "newsd/util.h"

static _Atomic int current_level = ND_LOG_INFO;
static _Atomic int current_format = ND_LOG_FORMAT_TEXT;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* The longest line either format writes, its newline included. */
#define LINE_CAP 4096
/* The longest message text before escaping (a format's own limit). */
#define MSG_CAP 2048

/* Output limits of the access line's strings in json, quotes included. */
#define METHOD_LIMIT 100
#define PATH_LIMIT 2048
#define CLIENT_LIMIT 100
#define ID_LIMIT 100

void nd_log_set_level(enum nd_log_level level)
{
    atomic_store(&current_level, (int)level);
}

enum nd_log_level nd_log_get_level(void)
{
    return (enum nd_log_level)atomic_load(&current_level);
}

void nd_log_set_format(enum nd_log_format format)
{
    atomic_store(&current_format, (int)format);
}

static bool enabled(enum nd_log_level level)
{
    return (int)level <= atomic_load(&current_level);
}

static bool json_format(void)
{
    return atomic_load(&current_format) == ND_LOG_FORMAT_JSON;
}

static void write_line(const char *line, size_t len)
{
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere left to report a failing stderr */
}

/* ---- json ---------------------------------------------------------------- */

/* A json line being built; len never exceeds LINE_CAP. */
struct line {
    char text[LINE_CAP];
    size_t len;
};

/* Appends s when it fits whole; a line that is full stays as it is. */
static void put(struct line *l, const char *s)
{
    size_t n = strlen(s);
    if (l->len + n <= LINE_CAP) {
        memcpy(l->text + l->len, s, n);
        l->len += n;
    }
}

/*
 * The JSON form of the character at s: escapes for '"', '\\', control
 * characters, DEL and the JavaScript line separators U+2028/U+2029, "\ufffd"
 * for a byte that does not start a valid UTF-8 character, the bytes
 * themselves otherwise. Writes up to 6 bytes to out and their count to
 * *outlen; returns how many input bytes were used (at least 1).
 */
static size_t json_char(const unsigned char *s, size_t n, char out[6], size_t *outlen)
{
    uint32_t cp;
    size_t used = nd_utf8_decode((const char *)s, n, &cp);

    if (used == 0) {
        memcpy(out, "\\ufffd", 6);
        *outlen = 6;
        return 1;
    }
    const char *brief = cp == '"'    ? "\\\""
                        : cp == '\\' ? "\\\\"
                        : cp == '\n' ? "\\n"
                        : cp == '\r' ? "\\r"
                        : cp == '\t' ? "\\t"
                                     : NULL;
    if (brief != NULL) {
        memcpy(out, brief, 2);
        *outlen = 2;
    } else if (cp < 0x20 || cp == 0x7f || cp == 0x2028 || cp == 0x2029) {
        char hex[7];
        snprintf(hex, sizeof hex, "\\u%04x", (unsigned)(cp & 0xffffu)); /* cp <= U+2029 here */
        memcpy(out, hex, 6);
        *outlen = 6;
    } else {
        memcpy(out, s, used);
        *outlen = used;
    }
    return used;
}

/*
 * Appends s as a JSON string of at most limit bytes, its quotes included
 * (limit >= 2, and the line has room for limit more bytes). Characters that
 * would pass the limit are left out, so a cut value is still valid JSON.
 */
static void put_string(struct line *l, const char *s, size_t limit)
{
    if (s == NULL)
        s = "";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    size_t end = l->len + limit - 1; /* where the closing quote must fit */

    l->text[l->len++] = '"';
    while (n > 0) {
        char rep[6];
        size_t replen;
        size_t used = json_char(p, n, rep, &replen);
        if (l->len + replen > end)
            break;
        memcpy(l->text + l->len, rep, replen);
        l->len += replen;
        p += used;
        n -= used;
    }
    l->text[l->len++] = '"';
}

/* "2025-07-12T09:30:00.123Z": the current UTC time to the millisecond. */
static void time_ms(char buf[32])
{
    struct timespec now;
    struct tm tm;
    char secs[24];

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, 32, "%s.%03dZ", secs, (int)(now.tv_nsec / 1000000));
}

/* Starts a json line: {"time":...,"level":...,"msg": (the message is the caller's). */
static void json_begin(struct line *l, enum nd_log_level level)
{
    char ts[32];

    time_ms(ts);
    l->len = 0;
    put(l, "{\"time\":\"");
    put(l, ts);
    put(l, "\",\"level\":\"");
    put(l, level_names[level]);
    put(l, "\",\"msg\":");
}

static void json_end(struct line *l)
{
    /* Every writer left room for these two bytes. */
    l->text[l->len++] = '}';
    l->text[l->len++] = '\n';
    write_line(l->text, l->len);
}

/* ---- the two entry points ------------------------------------------------ */

__attribute__((format(printf, 2, 0))) static void text_line(enum nd_log_level level,
                                                            const char *fmt, va_list ap)
{
    char line[MSG_CAP];
    char ts[ND_TIME_BUF];
    int n = snprintf(line, sizeof line, "%s %s ", nd_time_format(nd_time_now(), ts),
                     level_names[level]);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    /* Control characters from client-supplied text must not forge log lines. */
    for (size_t i = (size_t)n; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[len++] = '\n';
    write_line(line, len);
}

/*
 * A message cut by vsnprintf may end in the first bytes of a character:
 * drops them, so that the cut does not show as U+FFFD.
 */
static void drop_cut_char(char *msg)
{
    size_t len = strlen(msg);
    size_t start = len;
    while (start > 0 && len - start < 4 && ((unsigned char)msg[start - 1] & 0xc0) == 0x80)
        start--;
    if (start == 0 || ((unsigned char)msg[start - 1] & 0xc0) != 0xc0)
        return; /* ends in ASCII or in stray bytes, which are escaped as they are */
    start--;
    uint32_t cp;
    if (nd_utf8_decode(msg + start, len - start, &cp) == 0)
        msg[start] = '\0';
}

__attribute__((format(printf, 2, 0))) static void json_line(enum nd_log_level level,
                                                            const char *fmt, va_list ap)
{
    char msg[MSG_CAP];
    struct line l;

    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    if (n < 0)
        msg[0] = '\0';
    else if ((size_t)n >= sizeof msg)
        drop_cut_char(msg);
    json_begin(&l, level);
    put_string(&l, msg, LINE_CAP - l.len - 2);
    json_end(&l);
}

void nd_log(enum nd_log_level level, const char *fmt, ...)
{
    if (!enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    if (json_format())
        json_line(level, fmt, ap);
    else
        text_line(level, fmt, ap);
    va_end(ap);
}

void nd_log_access(const char *method, const char *path, int status, size_t bytes, uint64_t usec)
{
    nd_log_request(method, path, status, bytes, usec, NULL, NULL);
}

/* The numbers, keys and punctuation of an access line: well under this. */
#define ACCESS_FIXED 300
_Static_assert(64 + ACCESS_FIXED + METHOD_LIMIT + PATH_LIMIT + CLIENT_LIMIT + ID_LIMIT <= LINE_CAP,
               "an access line always fits");

/*
 * The json access line. Every string has its own limit and the numbers are
 * bounded, so the whole line always fits (the assertion above).
 */
static void access_json(const char *method, const char *path, int status, size_t bytes,
                        uint64_t usec, const char *client, const char *request_id)
{
    struct line l;
    char num[96];

    json_begin(&l, ND_LOG_INFO);
    put(&l, "\"access\",\"type\":\"access\",\"method\":");
    put_string(&l, method, METHOD_LIMIT);
    put(&l, ",\"path\":");
    put_string(&l, path, PATH_LIMIT);
    snprintf(num, sizeof num, ",\"status\":%d,\"bytes\":%zu,\"duration_us\":%llu", status, bytes,
             (unsigned long long)usec);
    put(&l, num);
    if (client != NULL) {
        put(&l, ",\"client\":");
        put_string(&l, client, CLIENT_LIMIT);
    }
    if (request_id != NULL) {
        put(&l, ",\"request_id\":");
        put_string(&l, request_id, ID_LIMIT);
    }
    json_end(&l);
}

void nd_log_request(const char *method, const char *path, int status, size_t bytes, uint64_t usec,
                    const char *client, const char *request_id)
{
    if (!enabled(ND_LOG_INFO))
        return;
    if (method == NULL)
        method = "-";
    if (path == NULL)
        path = "";
    if (json_format()) {
        access_json(method, path, status, bytes, usec, client, request_id);
        return;
    }
    /* The path is decoded: a space in it would shift the fields after it. */
    char safe[512];
    size_t n = 0;
    for (const char *p = path; *p && n + 4 < sizeof safe; p++) {
        if (*p == ' ') {
            memcpy(safe + n, "%20", 3);
            n += 3;
        } else {
            safe[n++] = *p;
        }
    }
    safe[n] = '\0';
    nd_log(ND_LOG_INFO, "access %s %s %d %zu %llu%s%s%s%s", method, safe, status, bytes,
           (unsigned long long)usec, client ? " client=" : "", client ? client : "",
           request_id ? " id=" : "", request_id ? request_id : "");
}
