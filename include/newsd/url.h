/*
 * url.h: the pieces of URLs newsd reads and writes, each parsed or written
 * in exactly one place: host[:port] (RFC 3986 3.2.2 and 3.2.3, as a Host
 * header, an origin or a URL's authority carries it), percent-encoding,
 * query strings, and the Link header of a next page.
 */
#ifndef NEWSD_URL_H
#define NEWSD_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "newsd/buf.h"

/* A parsed host[:port]; the strings are borrowed from the text parsed. */
struct nd_hostport {
    const char *host;      /* a name or an IPv4 address, or an IPv6 literal without its brackets */
    size_t host_len;       /* > 0 */
    bool bracketed;        /* host was written "[...]": an IPv6 literal */
    int port;              /* 0..65535; -1 when none was written, or ':' with no digits */
    const char *port_text; /* the port's digits as written; NULL when there is no ':' */
    size_t port_len;       /* 0 for an empty port ("host:") */
};

/*
 * Parses "host[:port]" at the start of text (len bytes) and stops at the
 * end, or at the first '/', '?' or '#' after it. host is a non-empty
 * reg-name (letters, digits, "-._~", '%' and RFC 3986's sub-delims
 * "!$&'()*+,;=") or "[" IPv6 address "]" (checked with inet_pton); a port
 * is 1..5 digits, at most 65535, or empty ("host:", which RFC 3986 allows
 * and says means the same as no port; a caller may refuse it). Returns a pointer just past what was
 * parsed, with *out filled; NULL, writing nothing, when the text is not
 * that (an empty host, a bad IPv6 literal, a port that is not 0..65535, a
 * character outside those sets, user info).
 */
const char *nd_url_parse_hostport(const char *text, size_t len, struct nd_hostport *out);

/*
 * nd_url_parse_hostport for the authority of an IRI (RFC 3987 ihost): a
 * reg-name may also hold the bytes 0x80..0xFF, the UTF-8 of a host name
 * written in its own script ("bücher.example"), taken as they are (the
 * caller's text is UTF-8). For URLs that people type or paste, such as an
 * article's source_url; the Host header and origins keep the ASCII form.
 */
const char *nd_url_parse_ihostport(const char *text, size_t len, struct nd_hostport *out);

/* True when c is one of RFC 3986's unreserved characters: A-Z a-z 0-9 - . _ ~ */
bool nd_url_unreserved(unsigned char c);

/* Appends s with every byte but RFC 3986's unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX. */
void nd_url_append_encoded(struct nd_buf *b, const char *s);

/*
 * Appends a query string "?a=1&b=2" of the {name, value} pairs in params,
 * both percent-encoded (nd_url_append_encoded); a pair with a NULL value is
 * left out, and with no value at all nothing is appended.
 */
void nd_url_append_query(struct nd_buf *b, const char *const params[][2], size_t nparams);

/*
 * The value of a Link header to the next page: "<PATH?QUERY>; rel=\"next\""
 * with the query of nd_url_append_query. path is written as it is; every
 * name and value is percent-encoded, so from a path without them the
 * result never holds CR, LF, '<' or '>'. Returns a malloc'd string, NULL
 * when out of memory.
 */
char *nd_url_build_next_link(const char *path, const char *const params[][2], size_t nparams);

#endif
