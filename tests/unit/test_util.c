/*
 * test_util.c: time stamps, the count of cores, UTF-8 helpers, id parsing and
 * the error mapping.
 */
#include <unistd.h>

#include "check.h"
#include "newsd/err.h"
#include "newsd/util.h"

static void test_time_format(void)
{
    char buf[ND_TIME_BUF];
    CHECK_STR(nd_time_format(0, buf), "1970-01-01T00:00:00Z");
    CHECK_STR(nd_time_format(1752312600, buf), "2025-07-12T09:30:00Z");
    CHECK_STR(nd_time_format(951782400, buf), "2000-02-29T00:00:00Z");
    CHECK_STR(nd_time_format(253402300799, buf), "9999-12-31T23:59:59Z");
}

static void test_time_parse(void)
{
    int64_t t = -1;
    CHECK(nd_time_parse("2025-07-12T09:30:00Z", &t));
    CHECK_INT(t, 1752312600);
    CHECK(nd_time_parse("2025-07-12T11:30:00+02:00", &t));
    CHECK_INT(t, 1752312600);
    CHECK(nd_time_parse("2025-07-12T04:00:00-05:30", &t));
    CHECK_INT(t, 1752312600);
    CHECK(nd_time_parse("2025-07-12t09:30:00.123456z", &t));
    CHECK_INT(t, 1752312600);
    CHECK(nd_time_parse("2000-02-29T00:00:00Z", &t));
    CHECK_INT(t, 951782400);
}

static void test_time_parse_rejects(void)
{
    static const char *const bad[] = {
        "",
        "2025-07-12",
        "2025-07-12T09:30Z",
        "2025-07-12T09:30:00",
        "2025-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2025-07-12T24:00:00Z",
        "2025-07-12T09:30:00.Z",
        "2025-07-12T09:30:00+0200",
        "2025-07-12T09:30:00Z ",
        "2025-7-12T09:30:00Z",
        "yesterday",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t t = 42;
        if (nd_time_parse(bad[i], &t))
            printf("# accepted \"%s\"\n", bad[i]);
        CHECK(!nd_time_parse(bad[i], &t));
        CHECK_INT(t, 42);
    }
    CHECK(!nd_time_parse(NULL, NULL));
}

static void test_time_round_trip(void)
{
    char buf[ND_TIME_BUF];
    for (int64_t t = 0; t < 4102444800; t += 86400 * 37 + 3601) {
        int64_t back = -1;
        CHECK(nd_time_parse(nd_time_format(t, buf), &back));
        CHECK_INT(back, t);
    }
}

static void test_utf8(void)
{
    CHECK_INT(nd_utf8_len(""), 0);
    CHECK_INT(nd_utf8_len("abc"), 3);
    CHECK_INT(nd_utf8_len("Russia\xe2\x80\x99s"), 8);
    CHECK_INT(nd_utf8_len("\xf0\x9f\x93\xb0"), 1);
    CHECK(nd_utf8_valid("caf\xc3\xa9", 5));
    CHECK(nd_utf8_valid("\xf0\x9f\x93\xb0", 4));
    CHECK(!nd_utf8_valid("caf\xc3", 4));
    CHECK(!nd_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    CHECK(!nd_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!nd_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    CHECK(!nd_utf8_valid("a\0b", 3));
    CHECK(!nd_utf8_valid("\xff", 1));
}

/* One decoder serves validation, the JSON log and the feeds. */
static void test_utf8_decode(void)
{
    static const struct {
        const char *bytes;
        size_t n, len;
        uint32_t cp;
    } cases[] = {
        {"A", 1, 1, 0x41},
        {"\xc3\xa9", 2, 2, 0xE9},
        {"\xe2\x80\xa8", 3, 3, 0x2028},
        {"\xf0\x9f\x93\xb0", 4, 4, 0x1F4F0},
        {"\xf4\x8f\xbf\xbf", 4, 4, 0x10FFFF},
        {"\xc0\xaf", 2, 0, 0},         /* overlong */
        {"\xe0\x80\xaf", 3, 0, 0},     /* overlong */
        {"\xed\xa0\x80", 3, 0, 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0, 0}, /* past U+10FFFF */
        {"\xe2\x80", 2, 0, 0},         /* cut short */
        {"\x80", 1, 0, 0},             /* a lone continuation byte */
        {"\xe2\x28\xa1", 3, 0, 0},     /* a bad continuation byte */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t cp = 0;
        printf("# case %zu\n", i);
        CHECK_INT(nd_utf8_decode(cases[i].bytes, cases[i].n, &cp), cases[i].len);
        if (cases[i].len > 0)
            CHECK_INT(cp, cases[i].cp);
    }
}

static void test_parse_id(void)
{
    int64_t id = 0;
    CHECK(nd_parse_id("1", &id));
    CHECK_INT(id, 1);
    CHECK(nd_parse_id("9223372036854775807", &id));
    CHECK_INT(id, INT64_MAX);
    id = 7;
    CHECK(!nd_parse_id("9223372036854775808", &id));
    CHECK(!nd_parse_id("0", &id));
    CHECK(!nd_parse_id("012", &id));
    CHECK(!nd_parse_id("-1", &id));
    CHECK(!nd_parse_id("+1", &id));
    CHECK(!nd_parse_id("1a", &id));
    CHECK(!nd_parse_id("", &id));
    CHECK(!nd_parse_id(NULL, &id));
    CHECK_INT(id, 7);
}

static void test_utf8_next(void)
{
    uint32_t cp = 0;
    CHECK_INT(nd_utf8_next("\xc3\xa9x", 3, &cp), 2);
    CHECK_INT(cp, 0xE9);
    CHECK_INT(nd_utf8_next("\xc0\x80", 2, &cp), 1); /* overlong: one replacement */
    CHECK_INT(cp, ND_UTF8_REPLACEMENT);
    CHECK_INT(nd_utf8_next("\xed\xa0\x80", 3, &cp), 1); /* a surrogate */
    CHECK_INT(cp, ND_UTF8_REPLACEMENT);
    CHECK_INT(nd_utf8_next("\xe2\x82", 2, &cp), 1); /* cut short */
    CHECK_INT(cp, ND_UTF8_REPLACEMENT);
    CHECK_INT(nd_utf8_next("\x80", 1, &cp), 1);
    CHECK_INT(cp, ND_UTF8_REPLACEMENT);
    CHECK_INT(nd_utf8_next("\xf0\x9f\x8c\x8d", 4, &cp), 4);
    CHECK_INT(cp, 0x1F30D);
}

static void test_list(void)
{
    const char *text = " a ,b,, c\t,", *item;
    size_t len;
    CHECK_INT(nd_list_count(text), 5);
    static const char *const want[] = {"a", "b", "", "c", ""};
    for (size_t i = 0; i < 5; i++) {
        nd_list_next(&text, &item, &len);
        CHECK_INT(len, strlen(want[i]));
        CHECK(strncmp(item, want[i], len) == 0);
    }
    CHECK_STR(text, "");
    CHECK_INT(nd_list_count(""), 0);
    CHECK_INT(nd_list_count(" \t "), 0);
    CHECK_INT(nd_list_count("x"), 1);
    CHECK_INT(nd_list_count(" , "), 2);
    CHECK(nd_is_blank(' ') && nd_is_blank('\t') && !nd_is_blank('\n') && !nd_is_blank('x'));
}

static void test_why(void)
{
    char why[8] = "x";
    nd_why(why, sizeof why, "%s %d", "line", 12345);
    CHECK_STR(why, "line 12"); /* cut to whylen bytes */
    nd_why(NULL, 10, "%s", "nothing");
    nd_why(why, 0, "%s", "nothing");
    CHECK_STR(why, "line 12");
}

static void test_parse_uint(void)
{
    uint64_t v = 7;
    CHECK(nd_parse_uint("0", 1, 10, &v));
    CHECK_INT(v, 0);
    CHECK(nd_parse_uint("0065535", 7, 65535, &v));
    CHECK_INT(v, 65535);
    CHECK(nd_parse_uint("12x", 2, 12, &v)); /* only len bytes are read */
    CHECK_INT(v, 12);
    CHECK(nd_parse_uint("18446744073709551615", 20, UINT64_MAX, &v));
    CHECK(v == UINT64_MAX);
    v = 7;
    CHECK(!nd_parse_uint("18446744073709551616", 20, UINT64_MAX, &v));
    CHECK(!nd_parse_uint("99999999999999999999999", 23, UINT64_MAX, &v));
    CHECK(!nd_parse_uint("65536", 5, 65535, &v));
    CHECK(!nd_parse_uint("101", 3, 100, &v));
    CHECK(!nd_parse_uint("1", 1, 0, &v));
    CHECK(!nd_parse_uint("", 0, 10, &v));
    CHECK(!nd_parse_uint(NULL, 0, 10, &v));
    CHECK(!nd_parse_uint("+1", 2, 10, &v));
    CHECK(!nd_parse_uint("-1", 2, 10, &v));
    CHECK(!nd_parse_uint(" 1", 2, 10, &v));
    CHECK(!nd_parse_uint("1 ", 2, 10, &v));
    CHECK(!nd_parse_uint("1\0", 2, 10, &v));
    CHECK_INT(v, 7);
}

/* The cores online, never fewer than asked for. */
/* ms from now, with the nanoseconds carried into the seconds (1,999 ms crosses a second). */
static void test_time_after_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec t = nd_time_after_ms(CLOCK_MONOTONIC, 1999);
    CHECK(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
    int64_t diff_ms = (int64_t)(t.tv_sec - now.tv_sec) * 1000 + (t.tv_nsec - now.tv_nsec) / 1000000;
    CHECK(diff_ms >= 1999 && diff_ms < 2100);
    t = nd_time_after_ms(CLOCK_REALTIME, 0);
    CHECK(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
}

static void test_cores(void)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(online > 0);
    CHECK_INT((int)nd_cores(1), (int)online);
    CHECK_INT((int)nd_cores((unsigned)online + 3), (int)online + 3);
}

static void test_err_status(void)
{
    CHECK_INT(nd_err_http_status(ND_ERR_INVALID), 400);
    CHECK_INT(nd_err_http_status(ND_ERR_UNAUTHORIZED), 401);
    CHECK_INT(nd_err_http_status(ND_ERR_NOT_FOUND), 404);
    CHECK_INT(nd_err_http_status(ND_ERR_CONFLICT), 409);
    CHECK_INT(nd_err_http_status(ND_ERR_BUSY), 503);
    CHECK_INT(nd_err_http_status(ND_ERR_READONLY), 503);
    CHECK_INT(nd_err_http_status(ND_ERR_DB), 500);
    CHECK_STR(nd_err_str(ND_ERR_NOT_FOUND), "not found");
}

int main(void)
{
    return CHECK_RUN(
        CHECK_CASE(test_time_format), CHECK_CASE(test_utf8_decode), CHECK_CASE(test_time_parse),
        CHECK_CASE(test_time_parse_rejects), CHECK_CASE(test_time_round_trip),
        CHECK_CASE(test_utf8), CHECK_CASE(test_parse_id), CHECK_CASE(test_parse_uint),
        CHECK_CASE(test_utf8_next), CHECK_CASE(test_list), CHECK_CASE(test_why),
        CHECK_CASE(test_err_status), CHECK_CASE(test_cores), CHECK_CASE(test_time_after_ms));
}
