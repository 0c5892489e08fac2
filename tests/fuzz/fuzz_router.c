/*
 * fuzz_router.c: newsd's route table (server/routes.c) matched by the
 * router (server/router.c) against arbitrary paths and methods.
 *
 * The first input byte picks the method, modulo 8 (so the digits of the
 * seeds read: '0' an unknown method, which the HTTP layer passes as 0, '1'
 * GET, '2' HEAD, '3' POST, '4' PUT, '5' PATCH, '6' DELETE, '7' OPTIONS); the
 * rest is the path. Handlers are never called.
 *
 * Invariants: FOUND names a handler, and the pattern of a route serving that
 * handler and method, with the captured parameters put back into its "{}"
 * segments, is the path again (so parameters are whole, non-empty segments
 * that fit their buffers); METHOD_NOT_ALLOWED lists methods, never the one
 * asked; NOT_FOUND lists none. The Allow header text fits any buffer.
 */
#include "fuzz.h"
#include "newsd/router.h"

static const enum nd_method methods[] = {
    0,
    ND_METHOD_GET,
    ND_METHOD_HEAD,
    ND_METHOD_POST,
    ND_METHOD_PUT,
    ND_METHOD_PATCH,
    ND_METHOD_DELETE,
    ND_METHOD_OPTIONS,
};

/* True when pattern with its "{name}" segments replaced by params is path. */
static int rebuilds(const char *pattern, const struct nd_route_match *m, const char *path)
{
    size_t used = 0;
    unsigned next = 0;
    for (const char *p = pattern; *p;) {
        if (p[0] == '{' && strchr(p, '}') != NULL) {
            if (next >= m->nparams)
                return 0;
            const char *param = m->params[next++];
            size_t n = strnlen(param, ND_ROUTE_PARAM_MAX);
            if (n == 0 || n == ND_ROUTE_PARAM_MAX || strchr(param, '/') ||
                strncmp(path + used, param, n) != 0)
                return 0;
            used += n;
            p = strchr(p, '}') + 1;
        } else {
            if (path[used] != *p)
                return 0;
            used++;
            p++;
        }
    }
    return next == m->nparams && path[used] == '\0';
}

/* True when some route of the table serves m's handler for method with path. */
static int found_route(enum nd_method method, const char *path, const struct nd_route_match *m)
{
    for (const struct nd_route *r = nd_routes; r->pattern; r++) {
        int serves =
            r->method == method || (method == ND_METHOD_HEAD && r->method == ND_METHOD_GET);
        if (serves && r->handler == m->handler && rebuilds(r->pattern, m, path))
            return 1;
    }
    return 0;
}

static void check_allow(unsigned mask)
{
    char buf[80];
    for (size_t len = 0; len <= sizeof buf; len += 7) {
        memset(buf, 'x', sizeof buf);
        nd_router_allow(mask, buf, len);
        if (len > 0)
            FUZZ_REQUIRE(memchr(buf, '\0', len) != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum nd_method method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    char *path = fuzz_strndup(data + 1, size - 1);
    struct nd_route_match m;
    memset(&m, 0xA5, sizeof m);
    enum nd_route_result r = nd_router_match(nd_routes, method, path, &m);
    switch (r) {
    case ND_ROUTE_FOUND:
        FUZZ_REQUIRE(m.handler != NULL);
        FUZZ_REQUIRE(m.nparams <= ND_ROUTE_MAX_PARAMS);
        FUZZ_REQUIRE(found_route(method, path, &m));
        break;
    case ND_ROUTE_METHOD_NOT_ALLOWED:
        FUZZ_REQUIRE(m.allowed != 0 && (m.allowed & (unsigned)method) == 0);
        check_allow(m.allowed | ND_METHOD_OPTIONS);
        break;
    case ND_ROUTE_NOT_FOUND:
        FUZZ_REQUIRE(m.allowed == 0);
        break;
    default:
        FUZZ_REQUIRE(!"a result outside enum nd_route_result");
    }
    free(path);
    return 0;
}
