/*
 * fuzz_validate.c: request-body validation (server/validate.c) on whatever
 * JSON arbitrary bytes decode to, as the HTTP layer decodes a body
 * (JSON_REJECT_DUPLICATES, any value at the top).
 *
 * Each decoded value is checked as an article (POST), as a comment, and as a
 * merge patch on two stored articles (one with a derived summary, one with a
 * hand-written one); an object value is also used as the stored article a
 * fixed patch applies to.
 *
 * Invariants: the result is ND_OK or ND_ERR_INVALID (allocation does not fail
 * here); ND_OK adds no error and yields values within the documented rules
 * (trimmed non-empty title and body, valid slug, at most 20 distinct tags,
 * every string valid UTF-8); ND_ERR_INVALID adds at least one well-formed
 * {"field","message"} entry and leaves the output untouched.
 */
#include <jansson.h>
#include <stdbool.h>
#include <strings.h>

#include "fuzz.h"
#include "newsd/text.h"
#include "newsd/util.h"
#include "newsd/validate.h"

#define NOW 1752312600 /* 2025-07-12T09:30:00Z */

static const char current_derived[] =
    "{\"id\":1,\"slug\":\"lavrov-praises\",\"title\":\"Lavrov praises\","
    "\"summary\":\"First paragraph.\",\"body\":\"First paragraph.\\n\\nSecond.\","
    "\"author\":\"\",\"category\":\"World\",\"tags\":[\"russia\",\"north-korea\"],"
    "\"source_url\":null,\"status\":\"published\",\"published_at\":\"2025-07-12T09:30:00Z\","
    "\"created_at\":\"2025-07-12T09:30:00Z\",\"updated_at\":\"2025-07-12T09:30:00Z\","
    "\"comment_count\":2}";
static const char current_given[] =
    "{\"id\":2,\"slug\":\"draft-note\",\"title\":\"Draft note\",\"summary\":\"Hand-written.\","
    "\"body\":\"Body text.\",\"author\":\"Ann\",\"category\":\"\",\"tags\":[],"
    "\"source_url\":\"https://example.com/a\",\"status\":\"draft\","
    "\"published_at\":\"2024-01-01T00:00:00Z\",\"created_at\":\"2024-01-01T00:00:00Z\","
    "\"updated_at\":\"2024-01-01T00:00:00Z\",\"comment_count\":0}";
static const char fixed_patch[] = "{\"body\":\"A new body.\\n\\nMore.\"}";

static bool is_space_at(const char *s)
{
    return *s == ' ' || (*s >= '\t' && *s <= '\r') || strncmp(s, "\xC2\xA0", 2) == 0;
}

/* A string that is valid UTF-8 and, unless empty is allowed, not empty. */
static void check_string(const char *s, bool may_be_empty)
{
    FUZZ_REQUIRE(s != NULL);
    size_t len = strlen(s);
    FUZZ_REQUIRE(nd_utf8_valid(s, len));
    FUZZ_REQUIRE(may_be_empty || len > 0);
    if (len > 0)
        FUZZ_REQUIRE(!is_space_at(s) && !is_space_at(s + len - 1));
}

/* errors grew from before, and every new entry is {"field": s, "message": non-empty s}. */
static void check_errors(const json_t *errors, size_t before)
{
    FUZZ_REQUIRE(json_array_size(errors) > before);
    for (size_t i = before; i < json_array_size(errors); i++) {
        const json_t *e = json_array_get(errors, i);
        const char *message = json_string_value(json_object_get(e, "message"));
        FUZZ_REQUIRE(json_is_string(json_object_get(e, "field")));
        FUZZ_REQUIRE(message != NULL && message[0] != '\0');
    }
}

static void check_article(enum nd_err rc, const struct nd_article_input *in, const json_t *errors,
                          size_t before)
{
    static const struct nd_article_input untouched;
    FUZZ_REQUIRE(rc == ND_OK || rc == ND_ERR_INVALID);
    if (rc != ND_OK) {
        check_errors(errors, before);
        FUZZ_REQUIRE(memcmp(in, &untouched, sizeof *in) == 0);
        return;
    }
    FUZZ_REQUIRE(json_array_size(errors) == before);
    FUZZ_REQUIRE(nd_slug_valid(in->slug));
    check_string(in->title, false);
    FUZZ_REQUIRE(nd_utf8_len(in->title) <= ND_TITLE_MAX);
    check_string(in->body, false);
    FUZZ_REQUIRE(strlen(in->body) <= ND_BODY_MAX_BYTES);
    check_string(in->summary, true);
    check_string(in->author, true);
    check_string(in->category, true);
    FUZZ_REQUIRE(in->ntags <= ND_TAGS_MAX);
    for (size_t i = 0; i < in->ntags; i++) {
        check_string(in->tags[i], false);
        for (size_t j = 0; j < i; j++)
            FUZZ_REQUIRE(strcmp(in->tags[i], in->tags[j]) != 0);
    }
    if (in->source_url) {
        check_string(in->source_url, false);
        FUZZ_REQUIRE(strncasecmp(in->source_url, "http", 4) == 0);
    }
}

static void as_article(const json_t *value, json_t *errors)
{
    struct nd_article_input in = {0};
    size_t before = json_array_size(errors);
    enum nd_err rc = nd_validate_article(value, NOW, &in, errors);
    check_article(rc, &in, errors, before);
    if (rc == ND_OK)
        FUZZ_REQUIRE(json_object_get(value, "published_at") || in.published_at == NOW);
    nd_article_input_fini(&in);
}

static void as_patch(const json_t *current, const json_t *patch, json_t *errors)
{
    struct nd_article_input in = {0};
    size_t before = json_array_size(errors);
    json_t *current_copy = json_deep_copy(current);
    json_t *patch_copy = json_deep_copy(patch);
    FUZZ_REQUIRE(current_copy != NULL && patch_copy != NULL);
    enum nd_err rc = nd_validate_article_patch(current, patch, NOW, &in, errors);
    check_article(rc, &in, errors, before);
    /* both borrowed values stay unchanged */
    FUZZ_REQUIRE(json_equal(current_copy, current) && json_equal(patch_copy, patch));
    json_decref(patch_copy);
    json_decref(current_copy);
    nd_article_input_fini(&in);
}

static void as_comment(const json_t *value, json_t *errors)
{
    static const struct nd_comment_input untouched;
    struct nd_comment_input in = {0};
    size_t before = json_array_size(errors);
    enum nd_err rc = nd_validate_comment(value, &in, errors);
    FUZZ_REQUIRE(rc == ND_OK || rc == ND_ERR_INVALID);
    if (rc == ND_OK) {
        FUZZ_REQUIRE(json_array_size(errors) == before);
        check_string(in.author, false);
        FUZZ_REQUIRE(nd_utf8_len(in.author) <= ND_AUTHOR_MAX);
        check_string(in.body, false);
        FUZZ_REQUIRE(nd_utf8_len(in.body) <= ND_COMMENT_BODY_MAX);
        FUZZ_REQUIRE(!in.has_parent || in.parent_id >= 1);
    } else {
        check_errors(errors, before);
        FUZZ_REQUIRE(memcmp(&in, &untouched, sizeof in) == 0);
    }
    nd_comment_input_fini(&in);
}

static json_t *load(const char *text)
{
    json_t *value = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_REQUIRE(value != NULL);
    return value;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *value =
        json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (value == NULL)
        return 0;
    json_t *errors = json_array();
    json_t *derived = load(current_derived);
    json_t *given = load(current_given);
    json_t *patch = load(fixed_patch);
    FUZZ_REQUIRE(errors != NULL);

    as_article(value, errors);
    as_comment(value, errors);
    as_patch(derived, value, errors);
    as_patch(given, value, errors);
    if (json_is_object(value))
        as_patch(value, patch, errors);

    json_decref(patch);
    json_decref(given);
    json_decref(derived);
    json_decref(errors);
    json_decref(value);
    return 0;
}
