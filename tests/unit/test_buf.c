/*
 * test_buf.c: the capped growable buffer: appends, printf, the cap, the
 * sticky error, reuse after a reset and handing the bytes over.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "newsd/buf.h"

static void test_append_and_take(void)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    CHECK_INT(nd_buf_append_str(&b, "abc"), ND_OK);
    CHECK_INT(nd_buf_append(&b, "d\0e", 3), ND_OK);
    CHECK_INT(nd_buf_append_printf(&b, "-%d-%s", 42, "x"), ND_OK);
    CHECK_INT(b.len, 11);
    CHECK(memcmp(b.data, "abcd\0e-42-x", 12) == 0);
    size_t len = 0;
    char *text = nd_buf_take(&b, &len);
    CHECK_INT(len, 11);
    CHECK(text != NULL && memcmp(text, "abcd\0e-42-x", 12) == 0);
    CHECK(b.data == NULL && b.len == 0 && b.err == ND_OK);
    free(text);
}

static void test_empty_take(void)
{
    struct nd_buf b;
    nd_buf_init(&b, 16);
    size_t len = 7;
    char *text = nd_buf_take(&b, &len);
    CHECK_STR(text, "");
    CHECK_INT(len, 0);
    free(text);
}

static void test_growth(void)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    char want[5000];
    for (size_t i = 0; i < sizeof want; i++) {
        want[i] = (char)('a' + i % 26);
        CHECK_INT(nd_buf_append(&b, &want[i], 1), ND_OK);
    }
    CHECK_INT(b.len, sizeof want);
    CHECK(b.alloc > b.len && b.data[b.len] == '\0');
    CHECK(memcmp(b.data, want, sizeof want) == 0);
    nd_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
    nd_buf_free(NULL);
}

static void test_cap(void)
{
    struct nd_buf b;
    nd_buf_init(&b, 5);
    CHECK_INT(nd_buf_append_str(&b, "12345"), ND_OK);
    CHECK(b.alloc <= 6);
    CHECK_INT(nd_buf_append_str(&b, "6"), ND_ERR_LIMIT);
    CHECK(b.data == NULL && b.len == 0);
    /* the error stays: nothing more goes in, take gives NULL */
    CHECK_INT(nd_buf_append_str(&b, ""), ND_ERR_LIMIT);
    CHECK_INT(nd_buf_append_printf(&b, "%d", 1), ND_ERR_LIMIT);
    CHECK(nd_buf_take(&b, NULL) == NULL);
    /* taken, the buffer is usable again, same cap */
    CHECK_INT(nd_buf_append_printf(&b, "%s", "123456"), ND_ERR_LIMIT);
    nd_buf_free(&b);
    CHECK_INT(nd_buf_append_printf(&b, "%d", 12345), ND_OK);
    nd_buf_free(&b);
}

static void test_reserve_and_fail(void)
{
    struct nd_buf b;
    nd_buf_init(&b, 100);
    CHECK_INT(nd_buf_reserve(&b, 101), ND_ERR_LIMIT); /* a hint: no error kept */
    CHECK_INT(b.err, ND_OK);
    CHECK_INT(nd_buf_reserve(&b, 100), ND_OK);
    CHECK_INT(b.alloc, 101);
    char *at = b.data;
    CHECK_INT(nd_buf_append(&b, "x", 1), ND_OK);
    CHECK(b.data == at);
    nd_buf_fail(&b, ND_ERR_NOMEM);
    CHECK_INT(b.err, ND_ERR_NOMEM);
    CHECK_INT(nd_buf_append(&b, "x", 1), ND_ERR_NOMEM);
    nd_buf_fail(&b, ND_ERR_LIMIT); /* the first failure is the one kept */
    CHECK_INT(b.err, ND_ERR_NOMEM);
    nd_buf_free(&b);
}

/* A buffer filled again and again keeps its memory; a reset forgets a failure. */
static void test_reset_and_str(void)
{
    struct nd_buf b;
    nd_buf_init(&b, 8);
    CHECK_STR(nd_buf_str(&b), "");
    CHECK_INT(nd_buf_append_str(&b, "harbour"), ND_OK);
    CHECK_STR(nd_buf_str(&b), "harbour");
    const char *kept = b.data;
    nd_buf_reset(&b);
    CHECK(b.data == kept && b.len == 0);
    CHECK_STR(nd_buf_str(&b), "");
    CHECK_INT(nd_buf_append_str(&b, "quay"), ND_OK);
    CHECK(b.data == kept);
    CHECK_STR(nd_buf_str(&b), "quay");
    CHECK_INT(nd_buf_append_str(&b, "side walk"), ND_ERR_LIMIT);
    CHECK_STR(nd_buf_str(&b), "");
    nd_buf_reset(&b);
    CHECK_INT(b.err, ND_OK);
    CHECK_INT(b.max, 8);
    CHECK_INT(nd_buf_append_str(&b, "pier"), ND_OK);
    CHECK_STR(nd_buf_str(&b), "pier");
    nd_buf_free(&b);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_append_and_take), CHECK_CASE(test_empty_take),
                     CHECK_CASE(test_growth), CHECK_CASE(test_cap),
                     CHECK_CASE(test_reserve_and_fail), CHECK_CASE(test_reset_and_str));
}
