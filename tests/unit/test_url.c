/*
 * test_url.c: host[:port], percent-encoding, query strings and next-page
 * links.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "newsd/url.h"

/* Parses text whole; NULL when it does not parse to its end. */
static const char *parsed(const char *text, struct nd_hostport *hp)
{
    size_t len = strlen(text);
    const char *end = nd_url_parse_hostport(text, len, hp);
    return end == text + len ? end : NULL;
}

static void test_hostport(void)
{
    struct nd_hostport hp;
    CHECK(parsed("news.example", &hp) != NULL);
    CHECK(hp.host_len == 12 && !hp.bracketed && hp.port == -1 && hp.port_text == NULL);
    CHECK(parsed("127.0.0.1:8080", &hp) != NULL);
    CHECK(hp.host_len == 9 && hp.port == 8080 && hp.port_len == 4);
    CHECK(parsed("[::1]:0", &hp) != NULL);
    CHECK(hp.bracketed && hp.host_len == 3 && strncmp(hp.host, "::1", 3) == 0 && hp.port == 0);
    CHECK(parsed("[2001:db8::1]", &hp) != NULL);
    CHECK(hp.bracketed && hp.port == -1);
    CHECK(parsed("a:065535", &hp) == NULL); /* more than 5 digits */
    CHECK(parsed("a:65535", &hp) != NULL && hp.port == 65535);
    CHECK(parsed("x%41!$&'()*+,;=-._~", &hp) != NULL);
    /* RFC 3986 3.2.3: an empty port is allowed, and is no port */
    CHECK(parsed("a:", &hp) != NULL);
    CHECK(hp.host_len == 1 && hp.port == -1 && hp.port_text != NULL && hp.port_len == 0);
    CHECK(parsed("[::1]:", &hp) != NULL && hp.port == -1 && hp.port_len == 0);
    static const char *const bad[] = {
        "",          ":80",   ":",      "a:65536", "a:99999999999999999999",
        "a:-1",      "a:+1",  "a b",    "a:8 0",   "[::1",
        "[]",        "[::g]", "[::1]x", "a@b",     "a:b:c",
        "[::1]:80x", "<a>",   "\"a\"",  "a\\b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hp.port = 12345;
        if (parsed(bad[i], &hp) != NULL)
            printf("# accepted \"%s\"\n", bad[i]);
        CHECK(parsed(bad[i], &hp) == NULL);
        CHECK_INT(hp.port, 12345); /* nothing written */
    }
    /* a path, query or fragment ends it */
    const char *text = "h:81/p?q";
    CHECK(nd_url_parse_hostport(text, strlen(text), &hp) == text + 4);
    CHECK(hp.port == 81);
    text = "h?q";
    CHECK(nd_url_parse_hostport(text, strlen(text), &hp) == text + 1);
    text = "[::1]#f";
    CHECK(nd_url_parse_hostport(text, strlen(text), &hp) == text + 5);
    /* only len bytes are read */
    CHECK(nd_url_parse_hostport("h:80junk", 4, &hp) != NULL && hp.port == 80);
}

/* An IRI's host may be written in its own script; the Host header's may not. */
static void test_ihostport(void)
{
    struct nd_hostport hp;
    const char *text = "b\xc3\xbc"
                       "cher.example:8080/x";
    const char *end = nd_url_parse_ihostport(text, strlen(text), &hp);
    CHECK(end == text + strlen(text) - 2);
    CHECK(hp.host_len == 15 && hp.port == 8080 && !hp.bracketed);
    CHECK(nd_url_parse_hostport(text, strlen(text), &hp) == NULL);
    text = "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84";
    CHECK(nd_url_parse_ihostport(text, strlen(text), &hp) == text + strlen(text));
    /* everything else is as strict as the ASCII form */
    static const char *const bad[] = {"", "a b", "<a>", "a:65536", "[::g]", "a@b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(nd_url_parse_ihostport(bad[i], strlen(bad[i]), &hp) != bad[i] + strlen(bad[i]));
}

static void test_encoded(void)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    nd_url_append_encoded(&b, "AZaz09-._~ /%\x7f\xff");
    CHECK_STR(b.data, "AZaz09-._~%20%2F%25%7F%FF");
    nd_buf_free(&b);
}

static void test_query(void)
{
    const char *const params[][2] = {
        {"category", "a b&c=d"}, {"tag", NULL}, {"author", "é/?#"}, {"limit", "5"}};
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    nd_url_append_query(&b, params, 4);
    CHECK_STR(b.data, "?category=a%20b%26c%3Dd&author=%C3%A9%2F%3F%23&limit=5");
    nd_buf_free(&b);
    const char *const none[][2] = {{"category", NULL}};
    nd_url_append_query(&b, none, 1);
    nd_url_append_query(&b, none, 0);
    char *q = nd_buf_take(&b, NULL);
    CHECK_STR(q, "");
    free(q);
    /* after other text the query still starts with '?' */
    nd_buf_append_str(&b, "/v1/feed.atom");
    nd_url_append_query(&b, params + 3, 1);
    CHECK_STR(b.data, "/v1/feed.atom?limit=5");
    nd_buf_free(&b);
}

static void test_next_link(void)
{
    const char *const params[][2] = {
        {"limit", "2"},
        {"cursor", "YWJj-_"},
        {"category", "Billboard Lifestyle"},
        {"tag", NULL},
        {"author", "a&b=c/\xc3\xa9<>\r\n"},
        {"since", NULL},
    };
    char *link = nd_url_build_next_link("/v1/articles", params, 6);
    CHECK_STR(link, "</v1/articles?limit=2&cursor=YWJj-_&category=Billboard%20Lifestyle"
                    "&author=a%26b%3Dc%2F%C3%A9%3C%3E%0D%0A>; rel=\"next\"");
    free(link);
    link = nd_url_build_next_link("/v1/articles/3/comments", params + 5, 1);
    CHECK_STR(link, "</v1/articles/3/comments>; rel=\"next\"");
    free(link);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_hostport), CHECK_CASE(test_ihostport),
                     CHECK_CASE(test_encoded), CHECK_CASE(test_query), CHECK_CASE(test_next_link));
}
