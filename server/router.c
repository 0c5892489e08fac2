/*
 * router.c: matching (method, path) against a route table.
 *
 * A path is compared segment by segment with each pattern: a literal segment
 * must be equal byte for byte, a "{}" segment captures one non-empty segment
 * of at most ND_ROUTE_PARAM_MAX - 1 bytes. There is no normalisation: an
 * empty segment ("//", or a trailing "/" as in "/v1/articles/") never matches,
 * so such paths are 404 rather than silently aliased to another resource.
 *
 * While scanning, the methods of every pattern that matches the path are
 * collected, so a known path with another method becomes 405 with the right
 * Allow list. HEAD is served by a GET route unless the table names HEAD itself.
 */
#include "newsd/router.h"

#include <stdbool.h>
#include <string.h>

/*
 * Compares pattern with path. On a match returns true and writes the
 * captured segments to params/nparams; on a mismatch the outputs may hold
 * partial captures and must be ignored.
 */
static bool match_pattern(const char *pattern, const char *path,
                          char params[ND_ROUTE_MAX_PARAMS][ND_ROUTE_PARAM_MAX], unsigned *nparams)
{
    const char *p = pattern;
    const char *s = path;
    unsigned n = 0;

    if (*p != '/' || *s != '/')
        return false;
    if (p[1] == '\0') { /* the root, which has no segment */
        *nparams = 0;
        return s[1] == '\0';
    }
    while (*p == '/' && *s == '/') {
        p++;
        s++;
        size_t plen = strcspn(p, "/");
        size_t slen = strcspn(s, "/");
        if (slen == 0)
            return false; /* empty segment: "//" or a trailing slash */
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (n >= ND_ROUTE_MAX_PARAMS || slen >= ND_ROUTE_PARAM_MAX)
                return false;
            memcpy(params[n], s, slen);
            params[n][slen] = '\0';
            n++;
        } else if (plen != slen || memcmp(p, s, slen) != 0) {
            return false;
        }
        p += plen;
        s += slen;
    }
    if (*p != '\0' || *s != '\0')
        return false;
    *nparams = n;
    return true;
}

/* The methods a route serves: its own, plus HEAD where it serves GET. */
static unsigned route_mask(const struct nd_route *route)
{
    unsigned mask = (unsigned)route->method;
    if (mask & ND_METHOD_GET)
        mask |= ND_METHOD_HEAD;
    return mask;
}

/*
 * Scans the table twice: once for the fewest parameters any matching
 * pattern has, then among those patterns only. An exact method match wins
 * at once; for HEAD the first GET route is remembered and used only when no
 * HEAD route exists.
 */
enum nd_route_result nd_router_match(const struct nd_route *table, enum nd_method method,
                                     const char *path, struct nd_route_match *m)
{
    char params[ND_ROUTE_MAX_PARAMS][ND_ROUTE_PARAM_MAX];
    unsigned nparams = 0;
    const struct nd_route *head_fallback = NULL;
    const struct nd_route *found = NULL;

    memset(m, 0, sizeof *m);
    /* A path that a pattern names literally ("/v1/articles/bulk") is not a
     * parameter of another ("/v1/articles/{id}"): fewest parameters win. */
    unsigned fewest = ND_ROUTE_MAX_PARAMS + 1;
    for (const struct nd_route *r = table; r->pattern != NULL; r++)
        if (match_pattern(r->pattern, path, params, &nparams) && nparams < fewest)
            fewest = nparams;
    for (const struct nd_route *r = table; r->pattern != NULL && found == NULL; r++) {
        if (!match_pattern(r->pattern, path, params, &nparams) || nparams != fewest)
            continue;
        m->allowed |= route_mask(r);
        if (r->method == method) {
            found = r;
        } else if (method == ND_METHOD_HEAD && r->method == ND_METHOD_GET &&
                   head_fallback == NULL) {
            head_fallback = r;
        }
    }
    if (found == NULL)
        found = head_fallback;
    if (found == NULL)
        return m->allowed != 0 ? ND_ROUTE_METHOD_NOT_ALLOWED : ND_ROUTE_NOT_FOUND;

    /* Captures are taken again from the chosen route: a later candidate may
     * have overwritten the buffer while the table was scanned. */
    match_pattern(found->pattern, path, m->params, &m->nparams);
    m->route = found;
    m->handler = found->handler;
    m->cacheable = found->cacheable;
    m->allowed = 0;
    return ND_ROUTE_FOUND;
}

char *nd_router_allow(unsigned mask, char *buf, size_t len)
{
    static const struct {
        enum nd_method method;
        const char *name;
    } names[] = {
        {ND_METHOD_GET, "GET"},         {ND_METHOD_HEAD, "HEAD"},   {ND_METHOD_POST, "POST"},
        {ND_METHOD_PUT, "PUT"},         {ND_METHOD_PATCH, "PATCH"}, {ND_METHOD_DELETE, "DELETE"},
        {ND_METHOD_OPTIONS, "OPTIONS"},
    };
    size_t used = 0;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(mask & (unsigned)names[i].method))
            continue;
        const char *sep = used > 0 ? ", " : "";
        size_t need = strlen(sep) + strlen(names[i].name);
        if (used + need >= len)
            break; /* a short buffer gets a shorter, still well-formed list */
        memcpy(buf + used, sep, strlen(sep));
        memcpy(buf + used + strlen(sep), names[i].name, strlen(names[i].name));
        used += need;
        buf[used] = '\0';
    }
    return buf;
}
