/*
 * gzip.c: reading Accept-Encoding and encoding answers with zlib's deflate
 * in its gzip wrapper (windowBits 15 + 16).
 */
#include "newsd/gzip.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

/* Skips optional white space. */
static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/*
 * The q-value of the parameters starting at p (after a coding's name, up to
 * the next ',' or the end): 1000 for none, 0..1000 for "q=0.5" (in
 * thousandths), 0 when it is malformed.
 */
static int qvalue(const char *p)
{
    p = skip_ows(p);
    while (*p == ';') {
        p = skip_ows(p + 1);
        if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            if (*p != '0' && *p != '1')
                return 0;
            int q = (*p - '0') * 1000, scale = 100;
            p++;
            if (*p == '.') {
                for (p++; *p >= '0' && *p <= '9'; p++) {
                    if (scale == 0)
                        return 0; /* more than three decimals */
                    q += (*p - '0') * scale;
                    scale /= 10;
                }
            }
            p = skip_ows(p);
            return (*p == '\0' || *p == ',' || *p == ';') && q <= 1000 ? q : 0;
        }
        while (*p != '\0' && *p != ';' && *p != ',')
            p++;
    }
    return 1000;
}

bool nd_gzip_accepted(const char *accept_encoding)
{
    int gzip = -1, any = -1; /* q-values; -1 = not named */

    for (const char *p = accept_encoding; p != NULL && *p != '\0';) {
        p = skip_ows(p);
        size_t n = strcspn(p, " \t;,");
        if ((n == 4 && strncasecmp(p, "gzip", 4) == 0) ||
            (n == 6 && strncasecmp(p, "x-gzip", 6) == 0))
            gzip = qvalue(p + n);
        else if (n == 1 && *p == '*')
            any = qvalue(p + n);
        p = strchr(p, ',');
        if (p != NULL)
            p++;
    }
    if (gzip >= 0)
        return gzip > 0;
    return any > 0;
}

bool nd_gzip_encode(const void *in, size_t len, int level, char **out, size_t *outlen)
{
    z_stream zs;
    bool ok = false;
    char *buf = NULL;

    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    if (len < 2 || len > UINT_MAX) /* zlib counts in uInt; no answer is that large */
        goto out;
    size_t cap = deflateBound(&zs, (uLong)len);
    if (cap >= len)
        cap = len - 1; /* only a smaller result is wanted */
    buf = malloc(cap);
    if (buf == NULL)
        goto out;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        goto out; /* did not fit in fewer bytes than the input */
    *out = buf;
    *outlen = zs.total_out;
    buf = NULL;
    ok = true;
out:
    deflateEnd(&zs);
    free(buf);
    return ok;
}
