/*
 * url.c: percent-encoding, query strings and next-page links
 * (newsd/url.h), written into the caller's buffer so that a URL is built in
 * one pass with its other pieces.
 */
#include "newsd/url.h"

#include <string.h>

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

void nd_url_append_encoded(struct nd_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        if (unreserved(*p))
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
