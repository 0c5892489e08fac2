/*
 * test_url.c: percent-encoding, query strings and next-page links.
 */
#include <stdlib.h>

#include "check.h"
#include "newsd/url.h"

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
    return CHECK_RUN(CHECK_CASE(test_encoded), CHECK_CASE(test_query), CHECK_CASE(test_next_link));
}
