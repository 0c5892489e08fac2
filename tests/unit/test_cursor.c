/*
 * test_cursor.c: pagination cursors round-trip, and decoding rejects
 * everything that nd_cursor_encode did not make for the same kind.
 */
#include <stdlib.h>

#include "check.h"
#include "newsd/cursor.h"

/* Decodes text as kind and reports the result only. */
static enum nd_err decode_two(const char *text, char kind)
{
    int64_t a = 0, b = 0;
    return nd_cursor_decode(text, kind, &a, &b);
}

static void test_round_trip(void)
{
    static const int64_t values[][2] = {
        {0, 0},
        {1752312600, 42},
        {INT64_MAX, INT64_MAX},
        {1, INT64_MAX - 1},
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char *text = nd_cursor_encode('a', values[i][0], values[i][1]);
        int64_t a = -7, b = -7;
        CHECK(text != NULL);
        CHECK_INT(nd_cursor_decode(text, 'a', &a, &b), ND_OK);
        CHECK_INT(a, values[i][0]);
        CHECK_INT(b, values[i][1]);
        free(text);
    }
}

static void test_negative_numbers(void)
{
    char *text = nd_cursor_encode('c', -1, INT64_MIN);
    int64_t a = 0, b = 0;
    CHECK_INT(nd_cursor_decode(text, 'c', &a, &b), ND_OK);
    CHECK_INT(a, -1);
    CHECK(b == INT64_MIN);
    free(text);
}

static void test_url_safe(void)
{
    /* Values whose bytes map to the characters that differ from plain base64. */
    char *text = nd_cursor_encode('a', -1, -1);
    CHECK(text && strlen(text) == 23);
    CHECK(text && strpbrk(text, "+/=") == NULL);
    CHECK(text && strchr(text, '_') != NULL);
    free(text);
}

static void test_kind_mismatch(void)
{
    char *text = nd_cursor_encode('c', 5, 0);
    int64_t a = 99, b = 99;
    CHECK_INT(nd_cursor_decode(text, 'a', &a, &b), ND_ERR_INVALID);
    /* Out-parameters are written only on success. */
    CHECK_INT(a, 99);
    CHECK_INT(b, 99);
    CHECK_INT(decode_two(text, 'c'), ND_OK);
    free(text);
}

static void test_empty_and_null(void)
{
    CHECK_INT(decode_two("", 'a'), ND_ERR_INVALID);
    CHECK_INT(decode_two(NULL, 'a'), ND_ERR_INVALID);
}

static void test_garbage(void)
{
    CHECK_INT(decode_two("hello", 'a'), ND_ERR_INVALID);
    CHECK_INT(decode_two("not a cursor at all!!!!", 'a'), ND_ERR_INVALID); /* 23 chars */
    CHECK_INT(decode_two("AAAAAAAAAAAAAAAAAAAAAAA", 'a'), ND_ERR_INVALID); /* kind 0 */
}

static void test_non_base64(void)
{
    char *text = nd_cursor_encode('a', 1752312600, 42);
    char bad[32];
    strcpy(bad, text);
    bad[5] = '+'; /* plain base64, not the URL-safe alphabet */
    CHECK_INT(decode_two(bad, 'a'), ND_ERR_INVALID);
    strcpy(bad, text);
    bad[5] = '%';
    CHECK_INT(decode_two(bad, 'a'), ND_ERR_INVALID);
    strcpy(bad, text);
    bad[22] = '='; /* padding is not allowed */
    CHECK_INT(decode_two(bad, 'a'), ND_ERR_INVALID);
    free(text);
}

static void test_non_canonical(void)
{
    /* The last character carries 2 unused bits; a cursor with them set is not ours. */
    char *text = nd_cursor_encode('a', 0, 0);
    char bad[32];
    strcpy(bad, text);
    CHECK(bad[22] == 'A');
    bad[22] = 'B';
    CHECK_INT(decode_two(bad, 'a'), ND_ERR_INVALID);
    free(text);
}

static void test_wrong_length(void)
{
    char *text = nd_cursor_encode('a', 1752312600, 42);
    char buf[64];
    snprintf(buf, sizeof buf, "%sAAAA", text); /* too long */
    CHECK_INT(decode_two(buf, 'a'), ND_ERR_INVALID);
    snprintf(buf, sizeof buf, "%.22s", text); /* too short */
    CHECK_INT(decode_two(buf, 'a'), ND_ERR_INVALID);
    free(text);

    char huge[4096];
    memset(huge, 'A', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    CHECK_INT(decode_two(huge, 'a'), ND_ERR_INVALID);
}

int main(void)
{
    return CHECK_RUN(
        CHECK_CASE(test_round_trip), CHECK_CASE(test_negative_numbers), CHECK_CASE(test_url_safe),
        CHECK_CASE(test_kind_mismatch), CHECK_CASE(test_empty_and_null), CHECK_CASE(test_garbage),
        CHECK_CASE(test_non_base64), CHECK_CASE(test_non_canonical), CHECK_CASE(test_wrong_length));
}
