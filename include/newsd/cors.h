/*
 * cors.h: Cross-Origin Resource Sharing for browser frontends.
 *
 * The cors-origins setting says which web origins may read newsd's answers
 * from a browser:
 *   "*"        any origin may read (the default); credentials are never
 *              allowed, so a browser never sends cookies or HTTP
 *              authentication along (an Authorization header set by the
 *              script itself still works);
 *   a list     "https://news.example, http://localhost:3000": exactly those
 *              origins, the request's Origin echoed back with Vary: Origin;
 *              with cors-credentials also Access-Control-Allow-Credentials;
 *   ""         CORS is off: no CORS header is ever sent.
 * An origin not allowed gets no CORS header at all (the browser then keeps
 * the answer from the script), and its preflight request is refused.
 *
 * The decisions are pure: headers are handed to a callback, so everything
 * here is unit-tested on its own (tests/unit/test_cors.c).
 */
#ifndef NEWSD_CORS_H
#define NEWSD_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "newsd/err.h"

/* What a preflight may ask to send, and how long a browser may cache the answer. */
#define ND_CORS_ALLOW_HEADERS                                                                      \
    "Authorization, Content-Type, If-None-Match, Newsd-Position, X-Request-Id"
#define ND_CORS_MAX_AGE "7200"
/* The response headers a script may read beyond the CORS-safelisted ones. */
#define ND_CORS_EXPOSE_HEADERS                                                                     \
    "ETag, Link, Location, Newsd-Position, Retry-After, RateLimit-Limit, RateLimit-Remaining, "    \
    "RateLimit-Reset, X-Request-Id"

struct nd_cors;

/*
 * Parses the cors-origins value into a policy. Each listed origin is
 * "http://" or "https://", a host (a name, an IPv4 address or a bracketed
 * IPv6 one) and an optional port other than the scheme's default, with no
 * path: exactly what a browser sends in Origin. credentials is ignored with
 * "*". ND_ERR_INVALID writes a sentence naming the bad origin to why (whylen
 * bytes) and leaves *out untouched; ND_ERR_NOMEM.
 */
enum nd_err nd_cors_create(const char *origins, bool credentials, struct nd_cors **out, char *why,
                           size_t whylen);

/* Frees the policy. Accepts NULL. */
void nd_cors_destroy(struct nd_cors *cors);

/* Receives one response header (both strings borrowed for the call). */
typedef void (*nd_cors_header_fn)(void *ctx, const char *name, const char *value);

/*
 * The CORS headers of an actual (not preflight) answer to a request whose
 * Origin header is origin (NULL when absent): Access-Control-Allow-Origin,
 * -Expose-Headers and, when configured, -Allow-Credentials; and with a list
 * of origins Vary: Origin on every answer, allowed or not, so that caches
 * keep the answers of different origins apart.
 */
void nd_cors_actual(const struct nd_cors *cors, const char *origin, nd_cors_header_fn add,
                    void *ctx);

enum nd_cors_preflight {
    ND_CORS_PREFLIGHT_OFF,     /* CORS is off: answer as a plain OPTIONS */
    ND_CORS_PREFLIGHT_ALLOWED, /* headers added: answer 204 */
    ND_CORS_PREFLIGHT_DENIED,  /* the origin may not: answer 403, no CORS header */
};

/*
 * Answers a preflight (OPTIONS with Origin and Access-Control-Request-Method)
 * from origin to a resource that serves methods (text such as "GET, HEAD,
 * POST"): Access-Control-Allow-Origin, -Allow-Methods (methods),
 * -Allow-Headers, -Max-Age, -Allow-Credentials when configured, and Vary:
 * Origin with a list. Headers are added only for ND_CORS_PREFLIGHT_ALLOWED
 * (Vary also for DENIED).
 */
enum nd_cors_preflight nd_cors_preflight(const struct nd_cors *cors, const char *origin,
                                         const char *methods, nd_cors_header_fn add, void *ctx);

#endif
