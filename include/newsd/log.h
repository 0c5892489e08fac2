/*
 * log.h: diagnostics and the access log, both on stderr.
 *
 * Nothing that could hold a secret is ever passed here: no request body, no
 * Authorization header, no key.
 */
#ifndef NEWSD_LOG_H
#define NEWSD_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "newsd/config.h"

void nd_log_set_level(enum nd_log_level level);
enum nd_log_level nd_log_get_level(void);

/* text (the default) or json: every line, diagnostics and access log alike, one JSON object. */
void nd_log_set_format(enum nd_log_format format);

/* Writes one line "LEVEL message" when level is enabled. Thread-safe. */
void nd_log(enum nd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Writes one access-log line at level info:
 * "access METHOD PATH STATUS BYTES USEC". path is the request path without
 * its query string.
 */
void nd_log_access(const char *method, const char *path, int status, size_t bytes, uint64_t usec);

/*
 * The access-log line of the HTTP server: nd_log_access's fields, then
 * "client=ADDR id=REQUEST_ID" (either left out when NULL). client is the
 * address trusted-proxies decided on; request_id the request's X-Request-Id.
 */
void nd_log_request(const char *method, const char *path, int status, size_t bytes, uint64_t usec,
                    const char *client, const char *request_id);

#endif
