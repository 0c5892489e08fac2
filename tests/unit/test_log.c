/*
 * test_log.c: the two log formats, read back from what log.c really writes
 * to stderr (redirected into a temporary file for each case). The json
 * cases parse every line with Jansson and check its fields and that hostile
 * text (quotes, line feeds, control characters, invalid UTF-8, overlong
 * values) stays inside its one line.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "newsd/log.h"

/* What the log calls in between wrote to stderr. */
struct capture {
    FILE *file;
    int saved;
    char text[16384];
};

static void capture_begin(struct capture *c)
{
    fflush(stderr);
    c->file = tmpfile();
    c->saved = dup(STDERR_FILENO);
    c->text[0] = '\0';
    if (c->file != NULL)
        dup2(fileno(c->file), STDERR_FILENO);
}

/* Restores stderr; returns the captured text (c->text) or "" when capture failed. */
static const char *capture_end(struct capture *c)
{
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    if (c->file == NULL)
        return c->text;
    rewind(c->file);
    size_t n = fread(c->text, 1, sizeof c->text - 1, c->file);
    c->text[n] = '\0';
    fclose(c->file);
    return c->text;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* The captured text as one JSON object; NULL (and a failed check) unless it is exactly one line. */
static json_t *one_object(const char *text)
{
    size_t len = strlen(text);
    CHECK_INT(count_lines(text), 1);
    CHECK(len > 0 && text[len - 1] == '\n');
    json_error_t err;
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (obj == NULL)
        printf("# not JSON (%s): %.300s\n", err.text, text);
    CHECK(json_is_object(obj));
    return obj;
}

static const char *str_field(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

/* "2025-07-12T09:30:00.123Z" */
static int is_time_ms(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (s == NULL || strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
            return 0;
    return 1;
}

static void test_text_diagnostic_unchanged(void)
{
    struct capture c;
    nd_log_set_format(ND_LOG_FORMAT_TEXT);
    capture_begin(&c);
    nd_log(ND_LOG_WARN, "disk %s at %d%%", "full", 99);
    const char *text = capture_end(&c);
    /* "YYYY-MM-DDTHH:MM:SSZ warn disk full at 99%\n" */
    CHECK_INT(strlen(text), 21 + strlen("warn disk full at 99%\n"));
    CHECK(strlen(text) > 21 && strcmp(text + 21, "warn disk full at 99%\n") == 0);
    CHECK(text[19] == 'Z' && text[20] == ' ');
}

static void test_text_access_unchanged(void)
{
    struct capture c;
    nd_log_set_format(ND_LOG_FORMAT_TEXT);
    capture_begin(&c);
    nd_log_request("GET", "/v1/a b\nx", 404, 123, 456, "10.0.0.7", "abc-1");
    const char *text = capture_end(&c);
    CHECK_INT(count_lines(text), 1);
    CHECK_STR(strlen(text) > 21 ? text + 21 : "",
              "info access GET /v1/a%20b?x 404 123 456 client=10.0.0.7 id=abc-1\n");
}

static void test_json_diagnostic_shape(void)
{
    struct capture c;
    nd_log_set_format(ND_LOG_FORMAT_JSON);
    capture_begin(&c);
    nd_log(ND_LOG_ERROR, "cannot open %s", "the database");
    json_t *obj = one_object(capture_end(&c));
    CHECK_INT(json_object_size(obj), 3);
    CHECK(is_time_ms(str_field(obj, "time")));
    CHECK_STR(str_field(obj, "level"), "error");
    CHECK_STR(str_field(obj, "msg"), "cannot open the database");
    json_decref(obj);
    nd_log_set_format(ND_LOG_FORMAT_TEXT);
}

static void test_json_access_shape(void)
{
    struct capture c;
    nd_log_set_format(ND_LOG_FORMAT_JSON);
    capture_begin(&c);
    nd_log_request("PATCH", "/v1/articles/7", 200, 5120, 987654, "2001:db8::1", "req-42");
    json_t *obj = one_object(capture_end(&c));
    CHECK(is_time_ms(str_field(obj, "time")));
    CHECK_STR(str_field(obj, "level"), "info");
    CHECK_STR(str_field(obj, "msg"), "access");
    CHECK_STR(str_field(obj, "type"), "access");
    CHECK_STR(str_field(obj, "method"), "PATCH");
    CHECK_STR(str_field(obj, "path"), "/v1/articles/7");
    CHECK_INT(json_integer_value(json_object_get(obj, "status")), 200);
    CHECK_INT(json_integer_value(json_object_get(obj, "bytes")), 5120);
    CHECK_INT(json_integer_value(json_object_get(obj, "duration_us")), 987654);
    CHECK(json_is_integer(json_object_get(obj, "status")));
    CHECK_STR(str_field(obj, "client"), "2001:db8::1");
    CHECK_STR(str_field(obj, "request_id"), "req-42");
    CHECK_INT(json_object_size(obj), 11);
    json_decref(obj);

    /* nd_log_access has no client or id: the fields are left out. */
    capture_begin(&c);
    nd_log_access("GET", "/health", 200, 15, 3);
    obj = one_object(capture_end(&c));
    CHECK(json_object_get(obj, "client") == NULL);
    CHECK(json_object_get(obj, "request_id") == NULL);
    CHECK_STR(str_field(obj, "path"), "/health");
    json_decref(obj);
    nd_log_set_format(ND_LOG_FORMAT_TEXT);
}

/* Quotes, backslashes, line feeds and every other control character round-trip exactly. */
static void test_json_escapes(void)
{
    static const char path[] = "/v1/\"q\"\\x\n{\"level\":\"error\"}\r\t\b\f\x01\x1f\x7f/end";
    struct capture c;
    nd_log_set_format(ND_LOG_FORMAT_JSON);
    capture_begin(&c);
    nd_log_request("GET", path, 404, 0, 1, "127.0.0.1", "x");
    const char *text = capture_end(&c);
    json_t *obj = one_object(text);
    CHECK_STR(str_field(obj, "path"), path);
    CHECK_STR(str_field(obj, "level"), "info");
    /* No raw control byte anywhere but the final newline. */
    for (size_t i = 0; text[i + 1] != '\0'; i++)
        CHECK((unsigned char)text[i] >= 0x20 && text[i] != 0x7f);
    CHECK(strstr(text, "\\u007f") != NULL && strstr(text, "\\u0001") != NULL);
    json_decref(obj);

    capture_begin(&c);
    nd_log(ND_LOG_WARN, "two\nlines \"quoted\" \\ and U+2028 \xe2\x80\xa8 here");
    text = capture_end(&c);
    obj = one_object(text);
    CHECK_STR(str_field(obj, "msg"), "two\nlines \"quoted\" \\ and U+2028 \xe2\x80\xa8 here");
    CHECK(strstr(text, "\\u2028") != NULL);
    json_decref(obj);
    nd_log_set_format(ND_LOG_FORMAT_TEXT);
}

/* Valid UTF-8 passes as is; every invalid sequence becomes U+FFFD. */
static void test_json_invalid_utf8(void)
{
    struct capture c;
    nd_log_set_format(ND_LOG_FORMAT_JSON);
    capture_begin(&c);
    /* é, a lone continuation byte, an overlong '/', a surrogate, a cut 3-byte form, 😀 */
    nd_log_request("GET", "/caf\xc3\xa9/\x80/\xc0\xaf/\xed\xa0\x80/\xe2\x82/\xf0\x9f\x98\x80", 404,
                   0, 1, NULL, NULL);
    json_t *obj = one_object(capture_end(&c));
    CHECK_STR(str_field(obj, "path"),
              "/caf\xc3\xa9/\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd/"
              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd/\xf0\x9f\x98\x80");
    json_decref(obj);
    nd_log_set_format(ND_LOG_FORMAT_TEXT);
}

/* A value past its limit is cut at a character boundary; the line stays one valid object. */
static void test_json_long_values(void)
{
    char *path = malloc(20001);
    struct capture c;
    if (path == NULL) {
        CHECK(path != NULL);
        return;
    }
    /* '"' escapes to two bytes, "é" is two bytes: a cut may not split either. */
    for (size_t i = 0; i < 20000; i += 4)
        memcpy(path + i, "a\"\xc3\xa9", 4);
    path[20000] = '\0';
    nd_log_set_format(ND_LOG_FORMAT_JSON);
    capture_begin(&c);
    nd_log_request("GET", path, 414, 0, 1, "127.0.0.1", "id-1");
    const char *text = capture_end(&c);
    json_t *obj = one_object(text);
    const char *got = str_field(obj, "path");
    CHECK(got != NULL && strlen(got) > 1000 && strlen(got) < 2048);
    CHECK(got != NULL && strncmp(got, path, strlen(got)) == 0);
    CHECK_STR(str_field(obj, "request_id"), "id-1");
    CHECK_INT(json_integer_value(json_object_get(obj, "status")), 414);
    CHECK(strlen(text) <= 4096);
    json_decref(obj);

    capture_begin(&c);
    nd_log(ND_LOG_WARN, "%s", path);
    text = capture_end(&c);
    obj = one_object(text);
    got = str_field(obj, "msg");
    CHECK(got != NULL && strlen(got) > 1000 && strncmp(got, path, strlen(got)) == 0);
    CHECK(strlen(text) <= 4096);
    json_decref(obj);
    free(path);
    nd_log_set_format(ND_LOG_FORMAT_TEXT);
}

/* The level applies to both formats; access lines are info. */
static void test_json_level_filter(void)
{
    struct capture c;
    nd_log_set_format(ND_LOG_FORMAT_JSON);
    nd_log_set_level(ND_LOG_WARN);
    capture_begin(&c);
    nd_log(ND_LOG_INFO, "hidden");
    nd_log_request("GET", "/", 200, 0, 1, NULL, NULL);
    nd_log(ND_LOG_DEBUG, "hidden too");
    nd_log(ND_LOG_WARN, "shown");
    json_t *obj = one_object(capture_end(&c));
    CHECK_STR(str_field(obj, "msg"), "shown");
    CHECK_STR(str_field(obj, "level"), "warn");
    json_decref(obj);
    nd_log_set_level(ND_LOG_INFO);
    nd_log_set_format(ND_LOG_FORMAT_TEXT);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_text_diagnostic_unchanged),
                     CHECK_CASE(test_text_access_unchanged), CHECK_CASE(test_json_diagnostic_shape),
                     CHECK_CASE(test_json_access_shape), CHECK_CASE(test_json_escapes),
                     CHECK_CASE(test_json_invalid_utf8), CHECK_CASE(test_json_long_values),
                     CHECK_CASE(test_json_level_filter));
}
