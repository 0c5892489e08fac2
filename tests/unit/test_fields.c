/*
 * test_fields.c: sparse fieldsets: what ?fields= accepts and refuses (with
 * the sentence a client sees), and how a selection trims objects, comment
 * trees of any depth included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "newsd/fields.h"

static const char *const names[] = {"id", "title", "body", "replies_count"};
#define NNAMES (sizeof names / sizeof names[0])

static enum nd_err parse(const char *text, struct nd_fields *f, char *why, size_t len)
{
    return nd_fields_parse(text, names, NNAMES, "a thing", f, why, len);
}

static void test_absent_keeps_everything(void)
{
    struct nd_fields f;
    char why[256] = "";
    CHECK_INT(parse(NULL, &f, why, sizeof why), ND_OK);
    CHECK(f.all);
    json_t *obj = json_pack("{s:i, s:s, s:s}", "id", 1, "title", "T", "other", "x");
    CHECK_INT(nd_fields_apply(&f, obj, NULL), ND_OK);
    CHECK_INT((long long)json_object_size(obj), 3);
    json_decref(obj);
}

static void test_selection_trims_only_the_vocabulary(void)
{
    struct nd_fields f;
    char why[256] = "";
    CHECK_INT(parse("title,id,title", &f, why, sizeof why), ND_OK);
    CHECK(!f.all);
    json_t *obj = json_pack("{s:i, s:s, s:s, s:i, s:s}", "id", 1, "title", "T", "body", "B",
                            "replies_count", 2, "outside", "kept");
    CHECK_INT(nd_fields_apply(&f, obj, NULL), ND_OK);
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(text, "{\"id\":1,\"outside\":\"kept\",\"title\":\"T\"}");
    free(text);
    json_decref(obj);
}

static void test_refusals(void)
{
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"", "fields is a comma-separated list of names without empty entries; the fields of a "
             "thing are: id, title, body, replies_count"},
        {"id,", "fields is a comma-separated list of names without empty entries; the fields of "
                "a thing are: id, title, body, replies_count"},
        {",id", "fields is a comma-separated list of names without empty entries; the fields of "
                "a thing are: id, title, body, replies_count"},
        {"id,headline", "fields: 'headline' is not a field of a thing; its fields are: id, title, "
                        "body, replies_count"},
        {"Title", "fields: 'Title' is not a field of a thing; its fields are: id, title, body, "
                  "replies_count"},
        {"id, title", "fields names a field a thing does not have; its fields are: id, title, "
                      "body, replies_count"},
        {"it's", "fields names a field a thing does not have; its fields are: id, title, body, "
                 "replies_count"},
        {"\xc3\xa9t\xc3\xa9", "fields names a field a thing does not have; its fields are: id, "
                              "title, body, replies_count"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "fields names a field a thing does not have; its "
                                              "fields are: id, title, body, replies_count"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_fields f = {.count = 99};
        char why[256] = "";
        CHECK_INT(parse(cases[i].text, &f, why, sizeof why), ND_ERR_INVALID);
        CHECK_STR(why, cases[i].why);
        CHECK_INT((long long)f.count, 99); /* untouched */
    }
}

/* A reply chain deeper than any stack would take by recursion. */
static void test_deep_tree(void)
{
    enum { DEPTH = 100000 };
    struct nd_fields f;
    char why[256] = "";
    CHECK_INT(parse("id", &f, why, sizeof why), ND_OK);
    json_t *root = json_pack("{s:i, s:s, s:[]}", "id", 0, "body", "b", "replies");
    json_t *at = root;
    for (int i = 1; i < DEPTH; i++) {
        json_t *child = json_pack("{s:i, s:s, s:[]}", "id", i, "body", "b", "replies");
        json_array_append_new(json_object_get(at, "replies"), child);
        at = child;
    }
    json_array_append_new(json_object_get(root, "replies"),
                          json_pack("{s:i, s:s, s:[]}", "id", -1, "body", "b", "replies"));
    CHECK_INT(nd_fields_apply(&f, root, "replies"), ND_OK);
    size_t seen = 0, with_body = 0;
    for (json_t *node = root; node;) {
        seen++;
        with_body += json_object_get(node, "body") != NULL;
        CHECK(json_object_get(node, "replies") != NULL);
        node = json_array_get(json_object_get(node, "replies"), 0);
    }
    CHECK_INT((long long)seen, DEPTH);
    CHECK_INT((long long)with_body, 0);
    json_t *sibling = json_array_get(json_object_get(root, "replies"), 1);
    CHECK_INT((long long)json_object_size(sibling), 2); /* id and replies */
    /* json_decref recurses: free the chain from the top, one node at a time */
    for (json_t *node = root; node;) {
        json_t *replies = json_object_get(node, "replies");
        json_t *child = json_incref(json_array_get(replies, 0));
        json_array_clear(replies);
        json_decref(node);
        node = child;
    }
}

static void test_arrays(void)
{
    struct nd_fields f;
    char why[256] = "";
    CHECK_INT(parse("body", &f, why, sizeof why), ND_OK);
    json_t *items =
        json_pack("[{s:i, s:s}, {s:i, s:s}, i]", "id", 1, "body", "a", "id", 2, "body", "b", 3);
    CHECK_INT(nd_fields_apply_all(&f, items, NULL), ND_OK);
    char *text = json_dumps(items, JSON_COMPACT);
    CHECK_STR(text, "[{\"body\":\"a\"},{\"body\":\"b\"},3]");
    free(text);
    json_decref(items);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_absent_keeps_everything),
                     CHECK_CASE(test_selection_trims_only_the_vocabulary),
                     CHECK_CASE(test_refusals), CHECK_CASE(test_deep_tree),
                     CHECK_CASE(test_arrays));
}
