/*
 * store_fixture.h: the set-up the store's unit tests share: a store on
 * ":memory:" (on PostgreSQL a new database of its own: backend_fixture.h)
 * with the real embedded migrations, articles and comments made
 * through the store's own interface, and lists read back as arrays of ids
 * (database files on disk come from db_fixture.h).
 * Helpers are static inline so each test file takes only what it uses.
 */
#ifndef NEWSD_TEST_STORE_FIXTURE_H
#define NEWSD_TEST_STORE_FIXTURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "db_fixture.h"
#include "newsd/store.h"

#define T0 INT64_C(1752312600) /* 2025-07-12T09:30:00Z */

static const struct nd_store_options options = {ND_SYNC_NORMAL, 2000, 0, 0, false};

static inline struct nd_store *open_memory(void)
{
    return fresh_store(&options);
}

static inline struct nd_article_fields fields(const char *slug, int64_t published_at)
{
    struct nd_article_fields f = {
        .slug = slug,
        .title = "A title",
        .summary = "A summary",
        .body = "The body.\n\nSecond paragraph.",
        .author = "",
        .category = "",
        .published_at = published_at,
    };
    return f;
}

static inline int64_t id_of(const json_t *obj)
{
    return json_integer_value(json_object_get(obj, "id"));
}

static inline const char *str_of(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Creates an article from f and returns its id (0 after a failed check). */
static inline int64_t create(struct nd_store *st, const struct nd_article_fields *f)
{
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, f, &art), ND_OK);
    int64_t id = art ? id_of(art) : 0;
    json_decref(art);
    return id;
}

/* Creates an article with a unique slug, the given time and category/author. */
static inline int64_t create_at(struct nd_store *st, int64_t published_at, const char *category,
                                const char *author, bool draft)
{
    static unsigned serial;
    char slug[32];
    snprintf(slug, sizeof slug, "article-%u", ++serial);
    struct nd_article_fields f = fields(slug, published_at);
    f.category = category;
    f.author = author;
    f.draft = draft;
    return create(st, &f);
}

/* A store on ":memory:" with two published articles at T0, their ids in *a and *b. */
static inline struct nd_store *open_two(int64_t *a, int64_t *b)
{
    struct nd_store *st = open_memory();
    *a = create_at(st, T0, "", "", false);
    *b = create_at(st, T0, "", "", false);
    return st;
}

static inline int64_t comment(struct nd_store *st, int64_t article, int64_t parent)
{
    struct nd_comment_fields f = {article, parent != 0, parent, "reader", "A comment."};
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_create(st, &f, &c), ND_OK);
    int64_t id = c ? id_of(c) : 0;
    json_decref(c);
    return id;
}

/*
 * Lists one page into ids (room for 128); returns how many, with the next
 * cursor (or NULL) in *next. -1 when the list fails (err in *err).
 */
static inline int list_ids(struct nd_store *st, const struct nd_article_filter *flt, unsigned limit,
                           const char *cursor, int64_t *ids, char **next)
{
    json_t *items = NULL;
    enum nd_err err = nd_store_article_list(st, flt, limit, cursor, &items, next);
    if (err != ND_OK)
        return -1;
    int n = (int)json_array_size(items);
    for (int i = 0; i < n && i < 128; i++)
        ids[i] = id_of(json_array_get(items, (size_t)i));
    json_decref(items);
    return n;
}

/* Every id matching flt, following cursors with pages of 2. */
static inline int list_all(struct nd_store *st, const struct nd_article_filter *flt, int64_t *ids)
{
    char *cursor = NULL;
    int total = 0;
    do {
        char *next = NULL;
        int n = list_ids(st, flt, 2, cursor, ids + total, &next);
        free(cursor);
        cursor = next;
        if (n < 0)
            return -1;
        total += n;
    } while (cursor && total < 100);
    free(cursor);
    return total;
}

#endif
