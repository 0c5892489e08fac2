/*
 * proxy.c: the trusted-proxies list and the client address behind proxies.
 *
 * Addresses are compared as bytes: an IPv4 address (also when written as an
 * IPv4-mapped IPv6 address) is 4 bytes, an IPv6 one 16, and a network is an
 * address with a prefix length whose host bits are cleared when parsed.
 * Text in X-Forwarded-For is read one comma-separated entry at a time from
 * the right end, each copied to a small buffer, so nothing here allocates
 * per request.
 */
#include "newsd/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/util.h"

#define ENTRY_MAX 64 /* longest entry read as an address: "[v6]:port" fits */

struct ip {
    int family; /* AF_INET or AF_INET6 */
    unsigned char bytes[16];
};

struct net {
    struct ip ip;
    unsigned prefix;
};

struct nd_proxy_list {
    size_t n;
    struct net nets[];
};

/* Parses an address literal of len bytes; IPv4-mapped IPv6 becomes IPv4. */
static bool parse_ip(const char *text, size_t len, struct ip *out)
{
    char buf[ENTRY_MAX];
    struct in6_addr a6;

    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->bytes) == 1) {
        out->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, buf, &a6) != 1)
        return false;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        out->family = AF_INET;
        memcpy(out->bytes, &a6.s6_addr[12], 4);
    } else {
        out->family = AF_INET6;
        memcpy(out->bytes, a6.s6_addr, 16);
    }
    return true;
}

static void format_ip(const struct ip *ip, char *out, size_t len)
{
    if (inet_ntop(ip->family, ip->bytes, out, (socklen_t)len) == NULL)
        snprintf(out, len, "unknown");
}

static unsigned bits_of(int family)
{
    return family == AF_INET ? 32 : 128;
}

/* Clears the bits of ip after the first prefix. */
static void mask_ip(struct ip *ip, unsigned prefix)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned first = i * 8;
        if (first >= prefix)
            ip->bytes[i] = 0;
        else if (prefix - first < 8)
            ip->bytes[i] &= (unsigned char)(0xff << (8 - (prefix - first)));
    }
}

/* Digits only, at most 3, as the prefix of an address of family. */
static bool parse_prefix(const char *text, size_t len, bool mapped, int family, unsigned *out)
{
    uint64_t v;
    if (len > 3 || !nd_parse_uint(text, len, 999, &v))
        return false;
    if (mapped) { /* "::ffff:10.0.0.0/104" is 10.0.0.0/8 */
        if (v < 96 || v > 128)
            return false;
        v -= 96;
    }
    if (v > bits_of(family))
        return false;
    *out = (unsigned)v;
    return true;
}

/* One list item, "ADDR" or "ADDR/PREFIX", already trimmed. */
static bool parse_net(const char *text, size_t len, struct net *out)
{
    const char *slash = memchr(text, '/', len);
    size_t addr_len = slash != NULL ? (size_t)(slash - text) : len;

    if (!parse_ip(text, addr_len, &out->ip))
        return false;
    out->prefix = bits_of(out->ip.family);
    if (slash != NULL) {
        bool mapped = out->ip.family == AF_INET && memchr(text, ':', addr_len) != NULL;
        if (!parse_prefix(slash + 1, len - addr_len - 1, mapped, out->ip.family, &out->prefix))
            return false;
    }
    mask_ip(&out->ip, out->prefix);
    return true;
}

/*
 * Parses the list in two passes: count the items, then fill an array of
 * exactly that size. On failure err names the item.
 */
enum nd_err nd_proxy_list_parse(const char *text, struct nd_proxy_list **out, char *why,
                                size_t whylen)
{
    size_t n = nd_list_count(text);
    const char *p = text;

    struct nd_proxy_list *list = calloc(1, sizeof *list + n * sizeof list->nets[0]);
    if (list == NULL)
        return ND_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *start;
        size_t len;
        nd_list_next(&p, &start, &len);
        if (!parse_net(start, len, &list->nets[i])) {
            int shown = (int)(len > 60 ? 60 : len);
            nd_why(why, whylen,
                   "\"%.*s\" is not an IP address or network (such as 10.0.0.1, "
                   "10.0.0.0/8 or fd00::/8)",
                   shown, start);
            free(list);
            return ND_ERR_INVALID;
        }
    }
    list->n = n;
    *out = list;
    return ND_OK;
}

void nd_proxy_list_destroy(struct nd_proxy_list *list)
{
    free(list);
}

static bool list_has(const struct nd_proxy_list *list, const struct ip *ip)
{
    if (list == NULL)
        return false;
    for (size_t i = 0; i < list->n; i++) {
        struct ip masked = *ip;
        if (list->nets[i].ip.family != ip->family)
            continue;
        mask_ip(&masked, list->nets[i].prefix);
        if (memcmp(masked.bytes, list->nets[i].ip.bytes, sizeof masked.bytes) == 0)
            return true;
    }
    return false;
}

bool nd_proxy_list_contains(const struct nd_proxy_list *list, const char *addr)
{
    struct ip ip;
    return parse_ip(addr, strlen(addr), &ip) && list_has(list, &ip);
}

/* Narrows [*start, *end) to its text without surrounding blanks. */
static void trim_span(const char **start, const char **end)
{
    while (*start < *end && nd_is_blank(**start))
        (*start)++;
    while (*end > *start && nd_is_blank((*end)[-1]))
        (*end)--;
}

/*
 * Reads one X-Forwarded-For entry: an address, optionally "[v6]" or with a
 * port ("1.2.3.4:80", "[v6]:80"). False when it is not one.
 */
static bool parse_entry(const char *start, const char *end, struct ip *out)
{
    trim_span(&start, &end);
    if (start < end && *start == '[') {
        const char *close = memchr(start, ']', (size_t)(end - start));
        if (close == NULL)
            return false;
        return parse_ip(start + 1, (size_t)(close - start - 1), out);
    }
    const char *colon = memchr(start, ':', (size_t)(end - start));
    if (colon != NULL && memchr(colon + 1, ':', (size_t)(end - colon - 1)) == NULL)
        end = colon; /* one colon: IPv4 with a port */
    return parse_ip(start, (size_t)(end - start), out);
}

void nd_proxy_client(const struct nd_proxy_list *list, const char *peer, const char *forwarded_for,
                     char *out, size_t len)
{
    struct ip hop;

    if (!parse_ip(peer, strlen(peer), &hop)) {
        snprintf(out, len, "%s", peer);
        return;
    }
    if (forwarded_for != NULL && list_has(list, &hop)) {
        const char *end = forwarded_for + strlen(forwarded_for);
        for (;;) {
            const char *start = end;
            while (start > forwarded_for && start[-1] != ',')
                start--;
            struct ip entry;
            if (!parse_entry(start, end, &entry))
                break; /* not an address: keep the last trusted hop */
            hop = entry;
            if (!list_has(list, &hop) || start == forwarded_for)
                break;
            end = start - 1;
        }
    }
    format_ip(&hop, out, len);
}

void nd_proxy_bucket_key(const char *addr, char *out, size_t len)
{
    struct ip ip;
    if (!parse_ip(addr, strlen(addr), &ip)) {
        snprintf(out, len, "%s", addr);
        return;
    }
    if (ip.family == AF_INET6)
        mask_ip(&ip, 64);
    format_ip(&ip, out, len);
}
