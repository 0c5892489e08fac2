/*
 * cors.c: the CORS policy made from cors-origins, and the headers it adds.
 *
 * Listed origins are checked when the setting is read and kept in lower
 * case; an Origin header is compared with them ignoring case (scheme and host
 * are case-insensitive) but echoed back exactly as the browser sent it,
 * which is what the browser compares. A list has no wildcard patterns: an
 * origin is allowed by being written out in full.
 */
#include "newsd/cors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "newsd/url.h"
#include "newsd/util.h"

#define ORIGIN_MAX 256

enum mode {
    MODE_OFF,
    MODE_ANY,
    MODE_LIST,
};

struct nd_cors {
    enum mode mode;
    bool credentials;
    size_t n;
    char *origins[];
};

/* A DNS name as a browser serialises it: letters, digits, '-' and '.'. */
static bool is_host_name(const char *s, size_t len)
{
    if (len == 0 || s[0] == '.' || s[0] == '-' || s[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

/* True when origin (len bytes) is "scheme://host[:port]" as described in cors.h. */
static bool origin_valid(const char *origin, size_t len)
{
    unsigned default_port;
    size_t skip;

    if (len > 8 && strncasecmp(origin, "https://", 8) == 0) {
        skip = 8;
        default_port = 443;
    } else if (len > 7 && strncasecmp(origin, "http://", 7) == 0) {
        skip = 7;
        default_port = 80;
    } else {
        return false;
    }
    struct nd_hostport hp;
    if (nd_url_parse_hostport(origin + skip, len - skip, &hp) != origin + len)
        return false; /* not host[:port] alone: a path, a bad address or port */
    if (!hp.bracketed && !is_host_name(hp.host, hp.host_len))
        return false;
    /* a browser writes the port without leading zeros, never empty and never the default one */
    if (hp.port_text == NULL)
        return true;
    return hp.port_len > 0 && hp.port_text[0] != '0' && (unsigned)hp.port != default_port;
}

/* Copies one item of the list (len bytes at start) in lower case into cors, or says why it is bad.
 */
static enum nd_err add_origin(struct nd_cors *cors, const char *start, size_t len, char *why,
                              size_t whylen)
{
    if (len >= ORIGIN_MAX || !origin_valid(start, len)) {
        nd_why(why, whylen,
               "\"%.*s\" is not an origin such as https://news.example or "
               "http://localhost:3000 (scheme, host and a port other than the default; no "
               "path); use * alone for any origin",
               (int)(len > 60 ? 60 : len), start);
        return ND_ERR_INVALID;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return ND_ERR_NOMEM;
    for (size_t i = 0; i < len; i++)
        copy[i] = (char)tolower((unsigned char)start[i]);
    copy[len] = '\0';
    cors->origins[cors->n++] = copy;
    return ND_OK;
}

enum nd_err nd_cors_create(const char *origins, bool credentials, struct nd_cors **out, char *why,
                           size_t whylen)
{
    size_t n = nd_list_count(origins);
    enum nd_err rc = ND_OK;
    struct nd_cors *cors = calloc(1, sizeof *cors + n * sizeof cors->origins[0]);

    if (cors == NULL)
        return ND_ERR_NOMEM;
    cors->mode = n == 0 ? MODE_OFF : MODE_LIST;
    const char *p = origins;
    const char *item;
    size_t len;
    if (n == 1) {
        nd_list_next(&p, &item, &len);
        if (len == 1 && item[0] == '*') {
            cors->mode = MODE_ANY;
            goto out;
        }
        p = origins;
    }
    cors->credentials = credentials;
    for (size_t i = 0; i < n && rc == ND_OK; i++) {
        nd_list_next(&p, &item, &len);
        rc = add_origin(cors, item, len, why, whylen);
    }
out:
    if (rc != ND_OK) {
        nd_cors_destroy(cors);
        return rc;
    }
    *out = cors;
    return ND_OK;
}

void nd_cors_destroy(struct nd_cors *cors)
{
    if (cors == NULL)
        return;
    for (size_t i = 0; i < cors->n; i++)
        free(cors->origins[i]);
    free(cors);
}

static bool listed(const struct nd_cors *cors, const char *origin)
{
    for (size_t i = 0; i < cors->n; i++)
        if (strcasecmp(cors->origins[i], origin) == 0)
            return true;
    return false;
}

/*
 * Adds Access-Control-Allow-Origin (and -Credentials) when origin may read.
 * Returns whether it may.
 */
static bool allow_origin(const struct nd_cors *cors, const char *origin, nd_cors_header_fn add,
                         void *ctx)
{
    if (cors->mode == MODE_ANY) {
        add(ctx, "Access-Control-Allow-Origin", "*");
        return true;
    }
    add(ctx, "Vary", "Origin");
    if (origin == NULL || !listed(cors, origin))
        return false;
    add(ctx, "Access-Control-Allow-Origin", origin);
    if (cors->credentials)
        add(ctx, "Access-Control-Allow-Credentials", "true");
    return true;
}

/*
 * With "*" the headers go on every answer, Origin or not: then a cache can
 * never hand a browser an answer stored for curl without them.
 */
void nd_cors_actual(const struct nd_cors *cors, const char *origin, nd_cors_header_fn add,
                    void *ctx)
{
    if (cors == NULL || cors->mode == MODE_OFF)
        return;
    if (allow_origin(cors, origin, add, ctx))
        add(ctx, "Access-Control-Expose-Headers", ND_CORS_EXPOSE_HEADERS);
}

enum nd_cors_preflight nd_cors_preflight(const struct nd_cors *cors, const char *origin,
                                         const char *methods, nd_cors_header_fn add, void *ctx)
{
    if (cors == NULL || cors->mode == MODE_OFF)
        return ND_CORS_PREFLIGHT_OFF;
    if (!allow_origin(cors, origin, add, ctx))
        return ND_CORS_PREFLIGHT_DENIED;
    add(ctx, "Access-Control-Allow-Methods", methods);
    add(ctx, "Access-Control-Allow-Headers", ND_CORS_ALLOW_HEADERS);
    add(ctx, "Access-Control-Max-Age", ND_CORS_MAX_AGE);
    return ND_CORS_PREFLIGHT_ALLOWED;
}
