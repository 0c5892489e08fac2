/*
 * url.c: host[:port], percent-encoding, query strings and next-page links
 * (newsd/url.h); what is written goes into the caller's buffer so that a
 * URL is built in one pass with its other pieces.
 *
 * The host[:port] parser follows the shape of h2o's url parser: a bracketed
 * IPv6 literal or a run of reg-name characters, then an optional port whose
 * range is checked, stopping where a path, query or fragment begins. Rules
 * narrower than RFC 3986 (an origin's host name, a port without leading
 * zeros) are the caller's, applied to what this returns.
 */
#include "newsd/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "newsd/util.h"

#define IPV6_TEXT_MAX 64

bool nd_url_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* A character of a reg-name; with iri, also a byte of a non-ASCII character (ireg-name). */
static bool reg_name_char(unsigned char c, bool iri)
{
    return nd_url_unreserved(c) || (c != '\0' && strchr("%!$&'()*+,;=", c) != NULL) ||
           (iri && c >= 0x80);
}

static bool ends_authority(char c)
{
    return c == '/' || c == '?' || c == '#';
}

static bool ipv6_literal(const char *s, size_t len)
{
    char text[IPV6_TEXT_MAX];
    struct in6_addr addr;
    if (len == 0 || len >= sizeof text)
        return false;
    memcpy(text, s, len);
    text[len] = '\0';
    return inet_pton(AF_INET6, text, &addr) == 1;
}

static const char *parse_hostport(const char *text, size_t len, bool iri, struct nd_hostport *out)
{
    const char *p = text, *end = text + len;
    struct nd_hostport hp = {.port = -1};

    if (p < end && *p == '[') {
        const char *close = memchr(p, ']', len);
        if (close == NULL || !ipv6_literal(p + 1, (size_t)(close - p - 1)))
            return NULL;
        hp.host = p + 1;
        hp.host_len = (size_t)(close - p - 1);
        hp.bracketed = true;
        p = close + 1;
    } else {
        while (p < end && reg_name_char((unsigned char)*p, iri))
            p++;
        if (p == text)
            return NULL;
        hp.host = text;
        hp.host_len = (size_t)(p - text);
    }
    if (p < end && *p == ':') {
        const char *digits = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        uint64_t port = 0;
        if (p > digits &&
            (p - digits > 5 || !nd_parse_uint(digits, (size_t)(p - digits), 65535, &port)))
            return NULL;
        hp.port = p > digits ? (int)port : -1;
        hp.port_text = digits;
        hp.port_len = (size_t)(p - digits);
    }
    if (p < end && !ends_authority(*p))
        return NULL;
    *out = hp;
    return p;
}

const char *nd_url_parse_hostport(const char *text, size_t len, struct nd_hostport *out)
{
    return parse_hostport(text, len, false, out);
}

const char *nd_url_parse_ihostport(const char *text, size_t len, struct nd_hostport *out)
{
    return parse_hostport(text, len, true, out);
}

void nd_url_append_encoded(struct nd_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        if (nd_url_unreserved(*p))
            nd_buf_append(b, p, 1);
        else
            nd_buf_append(b, esc, 3);
    }
}

void nd_url_append_query(struct nd_buf *b, const char *const params[][2], size_t nparams)
{
    char separator = '?';
    for (size_t i = 0; i < nparams; i++) {
        if (params[i][1] == NULL)
            continue;
        nd_buf_append(b, &separator, 1);
        nd_url_append_encoded(b, params[i][0]);
        nd_buf_append(b, "=", 1);
        nd_url_append_encoded(b, params[i][1]);
        separator = '&';
    }
}

char *nd_url_build_next_link(const char *path, const char *const params[][2], size_t nparams)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    nd_buf_append(&b, "<", 1);
    nd_buf_append_str(&b, path);
    nd_url_append_query(&b, params, nparams);
    nd_buf_append_str(&b, ">; rel=\"next\"");
    return nd_buf_take(&b, NULL);
}
