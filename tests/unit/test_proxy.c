/*
 * test_proxy.c: the trusted-proxies list and the choice of the client
 * address from the peer and X-Forwarded-For.
 */
#include <stdlib.h>

#include "check.h"
#include "newsd/proxy.h"

static struct nd_proxy_list *parse(const char *text)
{
    struct nd_proxy_list *list = NULL;
    char err[256] = "";
    CHECK_INT(nd_proxy_list_parse(text, &list, err, sizeof err), ND_OK);
    CHECK_STR(err, "");
    return list;
}

/* The client address chosen for peer and forwarded_for under the list text. */
static const char *client(const char *proxies, const char *peer, const char *forwarded_for)
{
    static char out[ND_ADDR_TEXT_MAX];
    struct nd_proxy_list *list = parse(proxies);
    nd_proxy_client(list, peer, forwarded_for, out, sizeof out);
    nd_proxy_list_destroy(list);
    return out;
}

static void test_parse_valid(void)
{
    struct nd_proxy_list *list = parse(" 10.0.0.0/8 , 192.168.1.7,::1, fd00::/8,"
                                       "::ffff:172.16.0.0/108, 0.0.0.0/0");
    CHECK(list != NULL);
    nd_proxy_list_destroy(list);
    list = parse("");
    CHECK(list != NULL);
    CHECK(!nd_proxy_list_contains(list, "127.0.0.1"));
    nd_proxy_list_destroy(list);
    nd_proxy_list_destroy(parse("  "));
    nd_proxy_list_destroy(NULL);
}

static void test_parse_invalid(void)
{
    static const char *const bad[] = {
        "10.0.0.0/33",        "fd00::/129",  "10.0.0.1/",         "10.0.0.1/-1",
        "10.0.0.1/8x",        "example.com", "10.0.0.1,",         ",10.0.0.1",
        "10.0.0.1,,10.0.0.2", "10.0.0",      "::ffff:10.0.0.0/8", "*",
        "10.0.0.1 10.0.0.2",  "[::1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct nd_proxy_list *list = NULL;
        char err[256] = "";
        CHECK_INT(nd_proxy_list_parse(bad[i], &list, err, sizeof err), ND_ERR_INVALID);
        CHECK(list == NULL);
        CHECK(strstr(err, "is not an IP address") != NULL);
        if (list != NULL)
            printf("# accepted \"%s\"\n", bad[i]);
    }
}

static void test_contains(void)
{
    struct nd_proxy_list *list = parse("10.1.0.0/16, 192.168.1.7, fd00::/8, ::ffff:172.16.0.0/108");
    CHECK(nd_proxy_list_contains(list, "10.1.200.3"));
    CHECK(!nd_proxy_list_contains(list, "10.2.0.1"));
    CHECK(nd_proxy_list_contains(list, "192.168.1.7"));
    CHECK(!nd_proxy_list_contains(list, "192.168.1.8"));
    CHECK(nd_proxy_list_contains(list, "fd12:3456::1"));
    CHECK(!nd_proxy_list_contains(list, "fe80::1"));
    /* IPv4-mapped addresses are IPv4, on either side. */
    CHECK(nd_proxy_list_contains(list, "::ffff:10.1.0.9"));
    CHECK(nd_proxy_list_contains(list, "172.16.5.5"));
    CHECK(!nd_proxy_list_contains(list, "172.32.0.1"));
    CHECK(!nd_proxy_list_contains(list, "not an address"));
    nd_proxy_list_destroy(list);
    /* Host bits in a network are ignored, as nginx does. */
    list = parse("10.9.8.7/8");
    CHECK(nd_proxy_list_contains(list, "10.200.0.1"));
    nd_proxy_list_destroy(list);
    list = parse("0.0.0.0/0");
    CHECK(nd_proxy_list_contains(list, "203.0.113.9"));
    CHECK(!nd_proxy_list_contains(list, "2001:db8::1"));
    nd_proxy_list_destroy(list);
}

static void test_untrusted_peer(void)
{
    /* By default, and from a peer not in the list, the header is ignored. */
    CHECK_STR(client("", "127.0.0.1", "203.0.113.9"), "127.0.0.1");
    CHECK_STR(client("10.0.0.0/8", "127.0.0.1", "203.0.113.9"), "127.0.0.1");
    CHECK_STR(client("", "2001:db8::1", NULL), "2001:db8::1");
    CHECK_STR(client("", "unknown", "1.2.3.4"), "unknown");
}

/* One forwarded-for header as a peer gives it, and the client newsd must take from it. */
struct hop_case {
    const char *peer, *header, *want;
};

/* Every case, with the proxies trusted. */
static void check_clients(const char *proxies, const struct hop_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        CHECK_STR(client(proxies, cases[i].peer, cases[i].header), cases[i].want);
}

static void test_trusted_peer(void)
{
    static const struct hop_case cases[] = {
        /* One proxy: the header's last entry is the client. */
        {"127.0.0.1", "203.0.113.9", "203.0.113.9"},
        /* A client lying on the left end does not matter. */
        {"127.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"},
        /* Trusted hops are skipped from the right. */
        {"127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.1.1, 10.2.2.2", "203.0.113.9"},
        /* Every hop trusted: the left-most one. */
        {"127.0.0.1", "10.1.1.1,10.2.2.2", "10.1.1.1"},
        /* No header, or an empty one: the proxy itself. */
        {"127.0.0.1", NULL, "127.0.0.1"},
        {"127.0.0.1", "", "127.0.0.1"},
        {"127.0.0.1", "  ", "127.0.0.1"},
        /* Garbage stops the walk at the last trusted hop. */
        {"127.0.0.1", "203.0.113.9, unknown", "127.0.0.1"},
        {"127.0.0.1", "203.0.113.9, garbage, 10.0.0.5", "10.0.0.5"},
        {"127.0.0.1", "203.0.113.9,", "127.0.0.1"},
    };
    check_clients("127.0.0.1, 10.0.0.0/8", cases, sizeof cases / sizeof *cases);
}

static void test_entry_forms(void)
{
    static const struct hop_case cases[] = {
        {"127.0.0.1", "203.0.113.9:4711", "203.0.113.9"},
        {"127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"},
        {"127.0.0.1", "[2001:db8::1]", "2001:db8::1"},
        {"127.0.0.1", "2001:DB8:0:0::1", "2001:db8::1"},
        {"127.0.0.1", "::ffff:198.51.100.4", "198.51.100.4"},
        {"127.0.0.1", "\t198.51.100.4 ", "198.51.100.4"},
        {"127.0.0.1", "[2001:db8::1", "127.0.0.1"},
        /* A peer given as an IPv4-mapped address is trusted as IPv4. */
        {"::ffff:127.0.0.1", "198.51.100.4", "198.51.100.4"},
    };
    check_clients("127.0.0.1", cases, sizeof cases / sizeof *cases);
}

static void test_bucket_key(void)
{
    char out[ND_ADDR_TEXT_MAX];
    nd_proxy_bucket_key("2001:db8:1:2:3:4:5:6", out, sizeof out);
    CHECK_STR(out, "2001:db8:1:2::");
    nd_proxy_bucket_key("2001:db8:1:2:ffff::9", out, sizeof out);
    CHECK_STR(out, "2001:db8:1:2::");
    nd_proxy_bucket_key("198.51.100.4", out, sizeof out);
    CHECK_STR(out, "198.51.100.4");
    nd_proxy_bucket_key("unknown", out, sizeof out);
    CHECK_STR(out, "unknown");
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_parse_valid), CHECK_CASE(test_parse_invalid),
                     CHECK_CASE(test_contains), CHECK_CASE(test_untrusted_peer),
                     CHECK_CASE(test_trusted_peer), CHECK_CASE(test_entry_forms),
                     CHECK_CASE(test_bucket_key));
}
