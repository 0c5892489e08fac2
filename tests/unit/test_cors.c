/*
 * test_cors.c: parsing cors-origins and the headers of actual and preflight
 * answers, collected through the header callback.
 */
#include <stdlib.h>

#include "check.h"
#include "newsd/cors.h"

/* The headers one call added, as "Name: value" lines. */
struct collected {
    char text[2048];
    unsigned count;
};

static void collect(void *ctx, const char *name, const char *value)
{
    struct collected *c = ctx;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s: %s\n", name, value);
    c->count++;
}

static struct nd_cors *make(const char *origins, bool credentials)
{
    struct nd_cors *cors = NULL;
    char err[256] = "";
    CHECK_INT(nd_cors_create(origins, credentials, &cors, err, sizeof err), ND_OK);
    CHECK_STR(err, "");
    return cors;
}

static void actual(const struct nd_cors *cors, const char *origin, struct collected *c)
{
    memset(c, 0, sizeof *c);
    nd_cors_actual(cors, origin, collect, c);
}

static void test_parse(void)
{
    static const char *const good[] = {
        "*",
        " * ",
        "",
        "  ",
        "https://news.example",
        "http://localhost:3000",
        "https://a.example, http://b.example:8080",
        "http://127.0.0.1:5173",
        "http://[::1]:8080",
        "HTTPS://News.Example",
    };
    static const char *const bad[] = {
        "https://news.example/",
        "https://news.example/path",
        "news.example",
        "ftp://x.example",
        "https://",
        "https://x.example:443",
        "http://x.example:80",
        "http://x.example:0",
        "http://x.example:65536",
        "http://x.example:08",
        "*, https://x.example",
        "null",
        "https://a.example,,https://b.example",
        "https://x.example,",
        "http://[zz]:80",
        "https://under_score.example",
        "https://.example",
        "https://x.example:",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        nd_cors_destroy(make(good[i], false));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct nd_cors *cors = NULL;
        char err[256] = "";
        CHECK_INT(nd_cors_create(bad[i], false, &cors, err, sizeof err), ND_ERR_INVALID);
        CHECK(cors == NULL);
        CHECK(strstr(err, "is not an origin") != NULL);
        if (cors != NULL)
            printf("# accepted \"%s\"\n", bad[i]);
        nd_cors_destroy(cors);
    }
    nd_cors_destroy(NULL);
}

static void test_any(void)
{
    struct nd_cors *cors = make("*", true); /* credentials never go with "*" */
    struct collected c;

    actual(cors, "https://anything.example", &c);
    CHECK_STR(c.text, "Access-Control-Allow-Origin: *\n"
                      "Access-Control-Expose-Headers: " ND_CORS_EXPOSE_HEADERS "\n");
    /* Without an Origin too, so that a cache never stores an answer without them. */
    actual(cors, NULL, &c);
    CHECK_INT(c.count, 2);
    CHECK(strstr(c.text, "Credentials") == NULL);
    CHECK(strstr(c.text, "Vary") == NULL);
    CHECK(strstr(c.text, "RateLimit-Remaining") != NULL);
    nd_cors_destroy(cors);
}

static void test_list(void)
{
    struct nd_cors *cors = make("https://news.example, http://localhost:3000", false);
    struct collected c;

    actual(cors, "http://localhost:3000", &c);
    CHECK_STR(c.text, "Vary: Origin\n"
                      "Access-Control-Allow-Origin: http://localhost:3000\n"
                      "Access-Control-Expose-Headers: " ND_CORS_EXPOSE_HEADERS "\n");
    /* Scheme and host compare without case; the Origin is echoed as sent. */
    actual(cors, "HTTPS://NEWS.example", &c);
    CHECK(strstr(c.text, "Access-Control-Allow-Origin: HTTPS://NEWS.example\n") != NULL);
    /* Another origin, another port or scheme, no Origin: only Vary. */
    static const char *const others[] = {"https://evil.example", "http://news.example",
                                         "https://news.example:8443", "null",
                                         "https://news.example.evil.example"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        actual(cors, others[i], &c);
        CHECK_STR(c.text, "Vary: Origin\n");
    }
    actual(cors, NULL, &c);
    CHECK_STR(c.text, "Vary: Origin\n");
    nd_cors_destroy(cors);
}

static void test_credentials(void)
{
    struct nd_cors *with = make("https://news.example", true);
    struct nd_cors *without = make("https://news.example", false);
    struct collected c;

    actual(with, "https://news.example", &c);
    CHECK(strstr(c.text, "Access-Control-Allow-Credentials: true\n") != NULL);
    actual(with, "https://evil.example", &c);
    CHECK(strstr(c.text, "Credentials") == NULL);
    actual(without, "https://news.example", &c);
    CHECK(strstr(c.text, "Credentials") == NULL);
    nd_cors_destroy(with);
    nd_cors_destroy(without);
}

static void test_off(void)
{
    struct nd_cors *cors = make("", true);
    struct collected c;

    actual(cors, "https://news.example", &c);
    CHECK_INT(c.count, 0);
    memset(&c, 0, sizeof c);
    CHECK_INT(nd_cors_preflight(cors, "https://news.example", "GET", collect, &c),
              ND_CORS_PREFLIGHT_OFF);
    CHECK_INT(c.count, 0);
    nd_cors_destroy(cors);
    actual(NULL, "https://news.example", &c);
    CHECK_INT(c.count, 0);
}

/* A preflight from origin asking for methods gets want, with exactly the headers want_text. */
static void check_preflight(const struct nd_cors *cors, const char *origin, const char *methods,
                            enum nd_cors_preflight want, const char *want_text)
{
    struct collected c = {0};
    CHECK_INT(nd_cors_preflight(cors, origin, methods, collect, &c), want);
    CHECK_STR(c.text, want_text);
}

static void test_preflight(void)
{
    struct nd_cors *any = make("*", false);
    struct nd_cors *list = make("https://news.example", true);

    check_preflight(any, "https://x.example", "GET, HEAD, POST", ND_CORS_PREFLIGHT_ALLOWED,
                    "Access-Control-Allow-Origin: *\n"
                    "Access-Control-Allow-Methods: GET, HEAD, POST\n"
                    "Access-Control-Allow-Headers: " ND_CORS_ALLOW_HEADERS "\n"
                    "Access-Control-Max-Age: " ND_CORS_MAX_AGE "\n");
    check_preflight(list, "https://news.example", "GET, PATCH", ND_CORS_PREFLIGHT_ALLOWED,
                    "Vary: Origin\n"
                    "Access-Control-Allow-Origin: https://news.example\n"
                    "Access-Control-Allow-Credentials: true\n"
                    "Access-Control-Allow-Methods: GET, PATCH\n"
                    "Access-Control-Allow-Headers: " ND_CORS_ALLOW_HEADERS "\n"
                    "Access-Control-Max-Age: " ND_CORS_MAX_AGE "\n");
    check_preflight(list, "https://evil.example", "GET", ND_CORS_PREFLIGHT_DENIED,
                    "Vary: Origin\n");
    CHECK(strstr(ND_CORS_ALLOW_HEADERS, "Authorization") != NULL);
    nd_cors_destroy(any);
    nd_cors_destroy(list);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_parse), CHECK_CASE(test_any), CHECK_CASE(test_list),
                     CHECK_CASE(test_credentials), CHECK_CASE(test_off),
                     CHECK_CASE(test_preflight));
}
