/*
 * log.c: one line per event on stderr, "TIME LEVEL message".
 *
 * Lines are formatted into a stack buffer and written with one write(2), so
 * lines from different worker threads never interleave.
 */
#include "newsd/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "newsd/util.h"

static _Atomic int current_level = ND_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void nd_log_set_level(enum nd_log_level level)
{
    atomic_store(&current_level, (int)level);
}

enum nd_log_level nd_log_get_level(void)
{
    return (enum nd_log_level)atomic_load(&current_level);
}

__attribute__((format(printf, 2, 0))) static void vlog(enum nd_log_level level, const char *fmt,
                                                       va_list ap)
{
    char line[2048];
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
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere left to report a failing stderr */
}

void nd_log(enum nd_log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&current_level))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void nd_log_access(const char *method, const char *path, int status, size_t bytes, uint64_t usec)
{
    nd_log_request(method, path, status, bytes, usec, NULL, NULL);
}

void nd_log_request(const char *method, const char *path, int status, size_t bytes, uint64_t usec,
                    const char *client, const char *request_id)
{
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
