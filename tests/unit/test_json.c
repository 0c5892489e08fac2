/*
 * test_json.c: nd_json_render writes the very bytes Jansson's own compact
 * dump writes (every escape, integers at their limits, reals, nesting,
 * insertion order, NULs inside strings), and fails rather than half-writes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "newsd/json.h"

/* True when nd_json_render of v equals json_dumps of it, byte for byte. */
static bool same_as_jansson(const json_t *v)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    bool ok = want != NULL && nd_json_render(v, &b) && b.len == strlen(want) &&
              memcmp(b.data, want, b.len) == 0;
    if (!ok)
        fprintf(stderr, "# want %s\n# got  %s\n", want ? want : "(null)", nd_buf_str(&b));
    free(want);
    nd_buf_free(&b);
    return ok;
}

static void test_every_byte_escape(void)
{
    /* each byte below 0x80 alone, then all of them in one string with text around */
    char all[3 * 128];
    size_t n = 0;
    for (int c = 0; c < 128; c++) {
        char one[3] = {'a', (char)c, 'z'};
        json_t *s = json_stringn(one, sizeof one);
        CHECK(s != NULL && same_as_jansson(s));
        json_decref(s);
        memcpy(all + n, one, sizeof one);
        n += sizeof one;
    }
    json_t *s = json_stringn(all, n);
    CHECK(s != NULL && same_as_jansson(s));
    json_decref(s);
}

/* An escape at every position of strings around the eight-byte words the renderer skips by. */
static void test_escape_positions(void)
{
    const char specials[] = {'"', '\\', '\n', 0x1f, 0x01, '\t'};
    for (size_t len = 1; len <= 26; len++)
        for (size_t pos = 0; pos < len; pos++)
            for (size_t k = 0; k < sizeof specials; k++) {
                char text[28] = "\xc3\xa9"; /* half of them start with a two-byte letter */
                size_t off = k % 2 ? 2 : 0;
                memset(text + off, 'a', len);
                text[off + pos] = specials[k];
                json_t *v = json_stringn(text, off + len);
                CHECK(v != NULL && same_as_jansson(v));
                json_decref(v);
            }
}

static void test_unicode_and_nul(void)
{
    const char *texts[] = {"", "caf\xc3\xa9 \xe2\x80\xa8 \xe2\x80\xa9 \xf0\x9f\x93\xb0",
                           "a/b</script>", "\x7f", "tab\tand\nnewline\r\n\"quoted\" back\\slash"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_t *s = json_string(texts[i]);
        CHECK(s != NULL && same_as_jansson(s));
        json_decref(s);
    }
    json_t *nul = json_stringn("a\0b", 3);
    CHECK(nul != NULL && same_as_jansson(nul));
    json_decref(nul);
}

static void test_numbers_and_constants(void)
{
    const json_int_t ints[] = {0, 1, -1, 9, 10, -10, 1234567890123LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        json_t *v = json_integer(ints[i]);
        CHECK(same_as_jansson(v));
        json_decref(v);
    }
    const double reals[] = {0.0, -0.5, 1.0, 3.25, 1e300, -1.5e-7, 12.345678901234567};
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        json_t *v = json_real(reals[i]);
        CHECK(same_as_jansson(v));
        json_decref(v);
    }
    CHECK(same_as_jansson(json_true()));
    CHECK(same_as_jansson(json_false()));
    CHECK(same_as_jansson(json_null()));
}

static void test_documents(void)
{
    json_t *doc = json_pack("{s:i, s:s, s:[s,s], s:n, s:{}, s:[], s:{s:[{s:b}, {}]}, s:f}", "id", 7,
                            "title", "A \"title\"\n", "tags", "x", "y\\", "source_url", "empty",
                            "list", "nested", "deep", "ok", 1, "score", -2.5);
    CHECK(doc != NULL);
    /* keys that need escapes, added after the others: insertion order is kept */
    CHECK(json_object_set_new(doc, "key\twith \"escapes\"", json_integer(-3)) == 0);
    CHECK(json_object_set_new(doc, "a", json_string("last")) == 0);
    CHECK(same_as_jansson(doc));
    /* a key removed and set again moves to the end in both */
    CHECK(json_object_del(doc, "title") == 0);
    CHECK(json_object_set_new(doc, "title", json_string("again")) == 0);
    CHECK(same_as_jansson(doc));
    json_decref(doc);
}

static void test_depth_and_failure(void)
{
    json_t *top = json_array(), *cur = top;
    for (int i = 0; i < ND_JSON_RENDER_DEPTH + 1; i++) {
        json_t *child = json_array();
        CHECK(json_array_append_new(cur, child) == 0);
        cur = child;
    }
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    CHECK(!nd_json_render(top, &b));
    nd_buf_free(&b);
    json_decref(top);

    /* a full buffer fails the render and keeps its error */
    json_t *s = json_string("more than eight bytes");
    struct nd_buf small = ND_BUF_INIT(8);
    CHECK(!nd_json_render(s, &small));
    CHECK_INT(small.err, ND_ERR_LIMIT);
    nd_buf_free(&small);
    json_decref(s);
    CHECK(!nd_json_render(NULL, &small));
}

/* Accepts exactly what json_stringn accepts: fixed cases, then many random byte strings. */
static void test_utf8_same_as_jansson(void)
{
    const char *cases[] = {"plain",
                           "caf\xc3\xa9",
                           "\xc0\x80",
                           "\xc1\xbf",
                           "\xe0\x80\x80",
                           "\xed\xa0\x80",
                           "\xef\xbf\xbf",
                           "\xf0\x8f\xbf\xbf",
                           "\xf4\x8f\xbf\xbf",
                           "\xf4\x90\x80\x80",
                           "\xf5\x80\x80\x80",
                           "\xe2\x82",
                           "abcdefgh\xe2\x82\xac",
                           "abcdefg\x80"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *want = json_stringn(cases[i], strlen(cases[i]));
        json_t *got = nd_json_stringn(cases[i], strlen(cases[i]));
        CHECK((want == NULL) == (got == NULL));
        CHECK(want == NULL || json_equal(want, got));
        json_decref(want);
        json_decref(got);
    }
    json_t *nul = nd_json_stringn("a\0b", 3);
    CHECK(nul != NULL && json_string_length(nul) == 3);
    json_decref(nul);
    uint32_t seed = 12345;
    size_t accepted = 0, disagree = 0;
    for (int round = 0; round < 200000; round++) {
        unsigned char bytes[12];
        size_t n = 1 + round % sizeof bytes;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            /* mostly the bytes that start or continue sequences, some ASCII */
            bytes[i] = (unsigned char)(r % 4 == 0 ? r % 0x80 : 0x80 + r % 0x80);
        }
        json_t *want = json_stringn((const char *)bytes, n);
        bool ok = nd_json_utf8_valid((const char *)bytes, n);
        accepted += ok;
        disagree += (want != NULL) != ok;
        json_decref(want);
    }
    CHECK_INT(disagree, 0);
    CHECK(accepted > 1000); /* the random strings did reach the valid side too */
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_every_byte_escape), CHECK_CASE(test_escape_positions),
                     CHECK_CASE(test_unicode_and_nul), CHECK_CASE(test_numbers_and_constants),
                     CHECK_CASE(test_documents), CHECK_CASE(test_depth_and_failure),
                     CHECK_CASE(test_utf8_same_as_jansson));
}
