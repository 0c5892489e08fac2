/*
 * test_router.c: route matching on a table of its own (no I/O, no server).
 * The handlers are distinct functions, so a match is checked by identity.
 */
#include <string.h>

#include "check.h"
#include "newsd/router.h"

static int list_things(struct nd_request *req)
{
    (void)req;
    return 1;
}
static int create_thing(struct nd_request *req)
{
    (void)req;
    return 2;
}
static int get_thing(struct nd_request *req)
{
    (void)req;
    return 3;
}
static int delete_thing(struct nd_request *req)
{
    (void)req;
    return 4;
}
static int list_parts(struct nd_request *req)
{
    (void)req;
    return 5;
}
static int get_part(struct nd_request *req)
{
    (void)req;
    return 6;
}
static int head_special(struct nd_request *req)
{
    (void)req;
    return 7;
}
static int get_special(struct nd_request *req)
{
    (void)req;
    return 8;
}

static int bulk_things(struct nd_request *req)
{
    (void)req;
    return 9;
}

static const struct nd_route table[] = {
    {"/things", ND_METHOD_GET, list_things, ND_CACHE_SHARED, ND_LANE_INLINE},
    {"/things", ND_METHOD_POST, create_thing, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/things/{}", ND_METHOD_GET, get_thing, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/things/{}", ND_METHOD_DELETE, delete_thing, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/things/bulk", ND_METHOD_POST, bulk_things, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/things/{}/parts", ND_METHOD_GET, list_parts, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/things/{}/parts/{}", ND_METHOD_GET, get_part, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/special", ND_METHOD_GET, get_special, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/special", ND_METHOD_HEAD, head_special, ND_CACHE_NEVER, ND_LANE_INLINE},
    {NULL, 0, NULL, ND_CACHE_NEVER, ND_LANE_INLINE},
};

/* One matching case as data: method, path, the handler and captures expected. */
struct found_case {
    enum nd_method method;
    const char *path;
    nd_handler_fn handler;
    unsigned nparams;
    const char *p0;
    const char *p1;
};

/* The route's cache policy travels with the match (HEAD takes GET's). */
static void test_cacheable_flag(void)
{
    struct nd_route_match m;
    CHECK_INT(nd_router_match(table, ND_METHOD_GET, "/things", &m), ND_ROUTE_FOUND);
    CHECK(m.cacheable);
    CHECK_INT(nd_router_match(table, ND_METHOD_HEAD, "/things", &m), ND_ROUTE_FOUND);
    CHECK(m.cacheable);
    CHECK_INT(nd_router_match(table, ND_METHOD_POST, "/things", &m), ND_ROUTE_FOUND);
    CHECK(!m.cacheable);
    CHECK_INT(nd_router_match(nd_routes, ND_METHOD_GET, "/health", &m), ND_ROUTE_FOUND);
    CHECK(!m.cacheable);
    CHECK_INT(nd_router_match(nd_routes, ND_METHOD_GET, "/v1/articles/7", &m), ND_ROUTE_FOUND);
    CHECK_INT(m.cacheable, ND_CACHE_SHARED);
    /* the feeds hold links made from Host: cached per host */
    CHECK_INT(nd_router_match(nd_routes, ND_METHOD_GET, "/v1/feed.atom", &m), ND_ROUTE_FOUND);
    CHECK_INT(m.cacheable, ND_CACHE_PER_HOST);
}

static void test_found(void)
{
    static const struct found_case cases[] = {
        {ND_METHOD_GET, "/things", list_things, 0, NULL, NULL},
        {ND_METHOD_POST, "/things", create_thing, 0, NULL, NULL},
        {ND_METHOD_GET, "/things/42", get_thing, 1, "42", NULL},
        {ND_METHOD_GET, "/things/a-slug", get_thing, 1, "a-slug", NULL},
        {ND_METHOD_DELETE, "/things/7", delete_thing, 1, "7", NULL},
        {ND_METHOD_GET, "/things/7/parts", list_parts, 1, "7", NULL},
        {ND_METHOD_GET, "/things/7/parts/x9", get_part, 2, "7", "x9"},
        {ND_METHOD_HEAD, "/things/7/parts/x9", get_part, 2, "7", "x9"},
        {ND_METHOD_HEAD, "/things", list_things, 0, NULL, NULL},
        {ND_METHOD_GET, "/special", get_special, 0, NULL, NULL},
        /* Captures are raw bytes: percent-decoding is the HTTP layer's business. */
        {ND_METHOD_GET, "/things/a%20b", get_thing, 1, "a%20b", NULL},
        /* An explicit HEAD route wins over the GET fallback, even listed later. */
        {ND_METHOD_HEAD, "/special", head_special, 0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct found_case *c = &cases[i];
        struct nd_route_match m;
        printf("# %s\n", c->path);
        CHECK_INT(nd_router_match(table, c->method, c->path, &m), ND_ROUTE_FOUND);
        CHECK(m.handler == c->handler);
        CHECK_INT(m.nparams, c->nparams);
        if (c->nparams > 0)
            CHECK_STR(m.params[0], c->p0);
        if (c->nparams > 1)
            CHECK_STR(m.params[1], c->p1);
    }
}

static void test_not_found(void)
{
    static const char *const paths[] = {
        "",
        "/",
        "/nothing",
        "/things/",
        "//things",
        "/things//parts",
        "/Things",
        "/thingsx",
        "/things/1/",
        "/things/1/parts/",
        "/things/1/parts/2/3",
        "things",
        "/things/1/other",
        "/specia",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct nd_route_match m;
        printf("# '%s'\n", paths[i]);
        CHECK_INT(nd_router_match(table, ND_METHOD_GET, paths[i], &m), ND_ROUTE_NOT_FOUND);
        CHECK(m.handler == NULL);
        CHECK_INT(m.allowed, 0);
    }
}

static void test_method_not_allowed(void)
{
    struct nd_route_match m;

    CHECK_INT(nd_router_match(table, ND_METHOD_DELETE, "/things", &m), ND_ROUTE_METHOD_NOT_ALLOWED);
    CHECK(m.handler == NULL);
    CHECK_INT(m.allowed, ND_METHOD_GET | ND_METHOD_HEAD | ND_METHOD_POST);

    CHECK_INT(nd_router_match(table, ND_METHOD_PATCH, "/things/5", &m),
              ND_ROUTE_METHOD_NOT_ALLOWED);
    CHECK_INT(m.allowed, ND_METHOD_GET | ND_METHOD_HEAD | ND_METHOD_DELETE);

    CHECK_INT(nd_router_match(table, ND_METHOD_POST, "/things/5/parts/6", &m),
              ND_ROUTE_METHOD_NOT_ALLOWED);
    CHECK_INT(m.allowed, ND_METHOD_GET | ND_METHOD_HEAD);

    /* OPTIONS is not in the table: the caller turns this 405 into 204 + Allow. */
    CHECK_INT(nd_router_match(table, ND_METHOD_OPTIONS, "/things", &m),
              ND_ROUTE_METHOD_NOT_ALLOWED);
    CHECK_INT(m.allowed, ND_METHOD_GET | ND_METHOD_HEAD | ND_METHOD_POST);

    /* A literal segment beats a parameter: /things/bulk is not a thing's id. */
    CHECK_INT(nd_router_match(table, ND_METHOD_POST, "/things/bulk", &m), ND_ROUTE_FOUND);
    CHECK(m.handler == bulk_things);
    CHECK_INT(m.nparams, 0);
    CHECK_INT(nd_router_match(table, ND_METHOD_GET, "/things/bulk", &m),
              ND_ROUTE_METHOD_NOT_ALLOWED);
    CHECK_INT(m.allowed, ND_METHOD_POST);
    CHECK_INT(nd_router_match(table, ND_METHOD_GET, "/things/bulky", &m), ND_ROUTE_FOUND);
    CHECK(m.handler == get_thing);

    /* A method the server does not know at all (0) on a known path. */
    CHECK_INT(nd_router_match(table, (enum nd_method)0, "/things/5/parts", &m),
              ND_ROUTE_METHOD_NOT_ALLOWED);
    CHECK_INT(m.allowed, ND_METHOD_GET | ND_METHOD_HEAD);
}

static void test_segment_limits(void)
{
    char path[ND_ROUTE_PARAM_MAX + 16];
    struct nd_route_match m;

    /* Exactly ND_ROUTE_PARAM_MAX - 1 bytes still fit. */
    strcpy(path, "/things/");
    memset(path + 8, 'a', ND_ROUTE_PARAM_MAX - 1);
    path[8 + ND_ROUTE_PARAM_MAX - 1] = '\0';
    CHECK_INT(nd_router_match(table, ND_METHOD_GET, path, &m), ND_ROUTE_FOUND);
    CHECK_INT(strlen(m.params[0]), ND_ROUTE_PARAM_MAX - 1);

    /* One more byte is not a match at all: 404, not a truncated id. */
    memset(path + 8, 'a', ND_ROUTE_PARAM_MAX);
    path[8 + ND_ROUTE_PARAM_MAX] = '\0';
    CHECK_INT(nd_router_match(table, ND_METHOD_GET, path, &m), ND_ROUTE_NOT_FOUND);
}

/* The root pattern matches the root alone; the entry goes to metrics; named parameters. */
static void test_root(void)
{
    static const struct nd_route rooted[] = {
        {"/", ND_METHOD_GET, list_things, ND_CACHE_NEVER, ND_LANE_INLINE},
        {"/things", ND_METHOD_GET, get_thing, ND_CACHE_NEVER, ND_LANE_INLINE},
        {"/named/{id}/parts/{part}", ND_METHOD_GET, get_part, ND_CACHE_NEVER, ND_LANE_INLINE},
        {NULL, 0, NULL, ND_CACHE_NEVER, ND_LANE_INLINE},
    };
    struct nd_route_match m;
    CHECK_INT(nd_router_match(rooted, ND_METHOD_GET, "/", &m), ND_ROUTE_FOUND);
    CHECK(m.handler == list_things);
    CHECK(m.route == &rooted[0]);
    CHECK_INT(m.nparams, 0);
    CHECK_INT(nd_router_match(rooted, ND_METHOD_GET, "/things", &m), ND_ROUTE_FOUND);
    CHECK(m.route == &rooted[1]);
    CHECK_INT(nd_router_match(rooted, ND_METHOD_GET, "//", &m), ND_ROUTE_NOT_FOUND);
    CHECK(m.route == NULL);
    CHECK_INT(nd_router_match(rooted, ND_METHOD_GET, "/x", &m), ND_ROUTE_NOT_FOUND);
    CHECK_INT(nd_router_match(rooted, ND_METHOD_POST, "/", &m), ND_ROUTE_METHOD_NOT_ALLOWED);
    CHECK(m.route == NULL);
    /* a named parameter captures like "{}" */
    CHECK_INT(nd_router_match(rooted, ND_METHOD_GET, "/named/7/parts/x", &m), ND_ROUTE_FOUND);
    CHECK(m.handler == get_part);
    CHECK_INT(m.nparams, 2);
    CHECK_STR(m.params[0], "7");
    CHECK_STR(m.params[1], "x");
    CHECK_INT(nd_router_match(rooted, ND_METHOD_GET, "/named/{id}/parts", &m), ND_ROUTE_NOT_FOUND);
}

static void test_allow(void)
{
    char buf[64];

    CHECK_STR(nd_router_allow(ND_METHOD_GET | ND_METHOD_HEAD | ND_METHOD_POST, buf, sizeof buf),
              "GET, HEAD, POST");
    CHECK_STR(
        nd_router_allow(ND_METHOD_OPTIONS | ND_METHOD_DELETE | ND_METHOD_GET, buf, sizeof buf),
        "GET, DELETE, OPTIONS");
    CHECK_STR(nd_router_allow(0x7f, buf, sizeof buf),
              "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    CHECK_STR(nd_router_allow(0, buf, sizeof buf), "");
    /* A short buffer keeps whole names only. */
    CHECK_STR(nd_router_allow(ND_METHOD_GET | ND_METHOD_HEAD, buf, 8), "GET");
    CHECK_STR(nd_router_allow(ND_METHOD_GET | ND_METHOD_HEAD, buf, 10), "GET, HEAD");
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_found), CHECK_CASE(test_root), CHECK_CASE(test_not_found),
                     CHECK_CASE(test_method_not_allowed), CHECK_CASE(test_segment_limits),
                     CHECK_CASE(test_allow), CHECK_CASE(test_cacheable_flag));
}
