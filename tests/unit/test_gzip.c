/*
 * test_gzip.c: reading Accept-Encoding (q-values, "*", case, junk) and the
 * gzip encoder, whose output zlib must inflate back to the input.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "check.h"
#include "newsd/gzip.h"

struct accept_case {
    const char *header;
    bool accepted;
};

static void test_accepted(void)
{
    static const struct accept_case cases[] = {
        {NULL, false},
        {"", false},
        {"gzip", true},
        {"GZip", true},
        {"x-gzip", true},
        {"deflate, gzip, br", true},
        {"br;q=1.0, gzip;q=0.8", true},
        {"gzip;q=0", false},
        {"gzip; q=0.000", false},
        {"gzip;q=0.001", true},
        {"gzip;q=1", true},
        {"gzip;q=1.000", true},
        {"gzip;q=1.5", false},    /* above 1: malformed */
        {"gzip;q=0.0001", false}, /* four decimals: malformed */
        {"gzip;q=abc", false},
        {"gzip;level=1", true}, /* another parameter leaves q at 1 */
        {"gzip;level=1;q=0", false},
        {"identity", false},
        {"br, deflate", false},
        {"*", true},
        {"*;q=0", false},
        {"gzip;q=0, *", false}, /* gzip named: "*" does not speak for it */
        {"*;q=0, gzip", true},
        {"gzipx", false},
        {"xgzip", false},
        {" , ,gzip", true},
        {"identity;q=0", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        printf("# Accept-Encoding: %s\n", cases[i].header ? cases[i].header : "(none)");
        CHECK(nd_gzip_accepted(cases[i].header) == cases[i].accepted);
    }
}

/* Inflates a gzip stream; the result is malloc'd. */
static char *inflate_all(const char *in, size_t len, size_t cap, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    char *out = malloc(cap);
    if (out == NULL || inflateInit2(&zs, 15 + 16) != Z_OK) {
        free(out);
        return NULL;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    int rc = inflate(&zs, Z_FINISH);
    *outlen = zs.total_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_round_trip(void)
{
    size_t len = 64 * 1024;
    char *text = malloc(len);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    for (size_t i = 0; i < len; i++)
        text[i] = "{\"title\":\"news of the day\",\"id\":"[i % 33];
    for (int level = 1; level <= 9; level += 4) {
        char *packed = NULL;
        size_t packed_len = 0, back_len = 0;
        CHECK(nd_gzip_encode(text, len, level, &packed, &packed_len));
        CHECK(packed_len > 18 && packed_len < len / 10);
        CHECK((unsigned char)packed[0] == 0x1f && (unsigned char)packed[1] == 0x8b);
        char *back = inflate_all(packed, packed_len, len + 1, &back_len);
        CHECK(back != NULL);
        CHECK_INT(back_len, len);
        CHECK(back != NULL && memcmp(back, text, len) == 0);
        free(back);
        free(packed);
    }
    free(text);
}

/* Bytes that do not shrink are left alone: the answer goes out as it is. */
static void test_incompressible(void)
{
    unsigned char noise[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (unsigned char)(x >> 16);
    }
    char *out = (char *)"untouched";
    size_t outlen = 7;
    CHECK(!nd_gzip_encode(noise, sizeof noise, 6, &out, &outlen));
    CHECK_STR(out, "untouched");
    CHECK_INT(outlen, 7);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_accepted), CHECK_CASE(test_round_trip),
                     CHECK_CASE(test_incompressible));
}
