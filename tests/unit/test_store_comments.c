/*
 * test_store_comments.c: comments in the store, on :memory: with the real
 * migrations: create and get, comment_count, delete with replies reattached,
 * flat lists and trees (deep ones too); then moderation: pending and visible
 * comments, replies to pending comments, filtered flat lists and trees,
 * search, and the recount done by migration 0003.
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "newsd/buf.h"
#include "newsd/cursor.h"
#include "newsd/json.h"
#include "newsd/migrate.h"
#include "newsd/search.h"
#include "newsd/store.h"
#include "store_fixture.h"

static int64_t article(struct nd_store *st, const char *slug)
{
    struct nd_article_fields f = fields(slug, 1700000000);
    return create(st, &f);
}

/* Posts a comment (parent 0: none) with flags; returns its id, 0 on failure. */
static int64_t post(struct nd_store *st, int64_t art, int64_t parent, unsigned flags)
{
    struct nd_comment_fields f = {art, parent != 0, parent, "reader", "A lighthouse comment."};
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_post(st, &f, flags, &c), ND_OK);
    int64_t id = c ? id_of(c) : 0;
    if (c)
        CHECK_STR(str_of(c, "status"), (flags & ND_COMMENT_PENDING) ? "pending" : "visible");
    json_decref(c);
    return id;
}

static int64_t count_of(struct nd_store *st, int64_t art)
{
    json_t *a = NULL;
    CHECK_INT(nd_store_article_get(st, art, &a), ND_OK);
    int64_t n = json_integer_value(json_object_get(a, "comment_count"));
    json_decref(a);
    return n;
}

static void set_status(struct nd_store *st, int64_t id, bool pending)
{
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_set_status(st, id, pending, &c), ND_OK);
    CHECK_STR(c ? str_of(c, "status") : NULL, pending ? "pending" : "visible");
    json_decref(c);
}

/* ---- comments: create, count, delete, lists and trees ----------------- */

static void test_comment_create(void)
{
    int64_t a, b;
    struct nd_store *st = open_two(&a, &b);
    struct nd_comment_fields f = {a, false, 0, "reader", "Hello there."};
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_create(st, &f, &c), ND_OK);
    CHECK_INT(json_object_size(c), 7);
    CHECK_INT(json_integer_value(json_object_get(c, "article_id")), a);
    CHECK(json_is_null(json_object_get(c, "parent_id")));
    CHECK_STR(str_of(c, "author"), "reader");
    CHECK_STR(str_of(c, "body"), "Hello there.");
    CHECK_STR(str_of(c, "status"), "visible");
    CHECK(str_of(c, "created_at") != NULL);
    int64_t top = id_of(c);
    json_t *again = NULL;
    CHECK_INT(nd_store_comment_get(st, top, &again), ND_OK);
    CHECK(json_equal(again, c));
    json_decref(again);
    json_decref(c);

    f.has_parent = true;
    f.parent_id = top;
    CHECK_INT(nd_store_comment_create(st, &f, &c), ND_OK);
    CHECK_INT(json_integer_value(json_object_get(c, "parent_id")), top);
    json_decref(c);

    json_t *none = (json_t *)&none;
    f.article_id = b; /* the parent belongs to article a */
    CHECK_INT(nd_store_comment_create(st, &f, &none), ND_ERR_INVALID);
    f.parent_id = 9999;
    CHECK_INT(nd_store_comment_create(st, &f, &none), ND_ERR_INVALID);
    f.article_id = 9999;
    f.has_parent = false;
    CHECK_INT(nd_store_comment_create(st, &f, &none), ND_ERR_NOT_FOUND);
    CHECK(none == (json_t *)&none);
    CHECK_INT(nd_store_comment_get(st, 9999, &none), ND_ERR_NOT_FOUND);
    nd_store_close(st);
}

static void test_comment_count(void)
{
    int64_t a, b;
    struct nd_store *st = open_two(&a, &b);
    int64_t c1 = comment(st, a, 0);
    comment(st, a, c1);
    comment(st, a, 0);
    comment(st, b, 0);
    CHECK_INT(count_of(st, a), 3);
    CHECK_INT(count_of(st, b), 1);
    CHECK_INT(nd_store_comment_delete(st, c1), ND_OK);
    CHECK_INT(count_of(st, a), 2);
    CHECK_INT(count_of(st, b), 1);
    nd_store_close(st);
}

static int64_t parent_of(struct nd_store *st, int64_t id)
{
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_get(st, id, &c), ND_OK);
    json_t *p = json_object_get(c, "parent_id");
    int64_t parent = json_is_null(p) ? 0 : json_integer_value(p);
    json_decref(c);
    return parent;
}

static void test_comment_delete_reattach(void)
{
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    int64_t top = comment(st, a, 0);
    int64_t mid = comment(st, a, top);
    int64_t leaf1 = comment(st, a, mid);
    int64_t leaf2 = comment(st, a, mid);
    CHECK_INT(nd_store_comment_delete(st, mid), ND_OK);
    CHECK_INT(parent_of(st, leaf1), top);
    CHECK_INT(parent_of(st, leaf2), top);
    CHECK_INT(nd_store_comment_delete(st, top), ND_OK);
    CHECK_INT(parent_of(st, leaf1), 0);
    CHECK_INT(parent_of(st, leaf2), 0);
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_get(st, mid, &c), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_comment_delete(st, mid), ND_ERR_NOT_FOUND);
    CHECK_INT(count_of(st, a), 2);
    nd_store_close(st);
}

static void test_comment_list_flat(void)
{
    int64_t a, b;
    struct nd_store *st = open_two(&a, &b);
    int64_t first = comment(st, a, 0);
    for (int i = 0; i < 6; i++) {
        if (i % 2)
            comment(st, a, i % 3 ? first : 0);
        else
            comment(st, b, 0);
    }
    /* a has first and the three made for i = 1, 3, 5; b's are interleaved */
    char *cursor = NULL;
    int64_t prev = 0;
    int total = 0, pages = 0;
    do {
        json_t *items = NULL;
        char *next = NULL;
        CHECK_INT(nd_store_comment_list(st, a, false, 2, cursor, &items, &next), ND_OK);
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *item = json_array_get(items, i);
            CHECK(id_of(item) > prev);
            CHECK_INT(json_integer_value(json_object_get(item, "article_id")), a);
            CHECK(json_object_get(item, "replies") == NULL);
            prev = id_of(item);
            total++;
        }
        json_decref(items);
        free(cursor);
        cursor = next;
        pages++;
    } while (cursor && pages < 10);
    free(cursor);
    CHECK_INT(total, 4);
    CHECK_INT(pages, 2);

    json_t *items = (json_t *)&items;
    char *next = NULL;
    CHECK_INT(nd_store_comment_list(st, a, false, 2, "!!", &items, &next), ND_ERR_INVALID);
    char *wrong = nd_cursor_encode('a', T0, 1);
    CHECK_INT(nd_store_comment_list(st, a, false, 2, wrong, &items, &next), ND_ERR_INVALID);
    free(wrong);
    wrong = nd_cursor_encode('c', 1, 5); /* a comment cursor always has 0 there */
    CHECK_INT(nd_store_comment_list(st, a, true, 2, wrong, &items, &next), ND_ERR_INVALID);
    free(wrong);
    CHECK_INT(nd_store_comment_list(st, a, false, 0, NULL, &items, &next), ND_ERR_INVALID);
    CHECK(items == (json_t *)&items);
    CHECK_INT(nd_store_comment_list(st, 9999, false, 5, NULL, &items, &next), ND_OK);
    CHECK_INT(json_array_size(items), 0);
    CHECK(next == NULL);
    json_decref(items);
    nd_store_close(st);
}

/* Checks that node has the given id and n replies, and returns the array. */
static json_t *expect_node(json_t *node, int64_t id, size_t n)
{
    json_t *replies = json_object_get(node, "replies");
    CHECK_INT(id_of(node), id);
    CHECK(json_is_array(replies));
    CHECK_INT(json_array_size(replies), n);
    return replies;
}

static void test_comment_tree(void)
{
    int64_t a, b;
    struct nd_store *st = open_two(&a, &b);
    int64_t t1 = comment(st, a, 0);
    int64_t t2 = comment(st, a, 0);
    int64_t r1 = comment(st, a, t1);
    comment(st, b, 0); /* another article's comment in between */
    int64_t r2 = comment(st, a, t1);
    int64_t r1a = comment(st, a, r1);
    int64_t t3 = comment(st, a, 0);
    int64_t r3 = comment(st, a, t3);
    int64_t r1b = comment(st, a, r1);

    json_t *items = NULL;
    char *next = NULL;
    CHECK_INT(nd_store_comment_list(st, a, true, 2, NULL, &items, &next), ND_OK);
    CHECK_INT(json_array_size(items), 2);
    json_t *t1_replies = expect_node(json_array_get(items, 0), t1, 2);
    json_t *r1_replies = expect_node(json_array_get(t1_replies, 0), r1, 2);
    expect_node(json_array_get(r1_replies, 0), r1a, 0);
    expect_node(json_array_get(r1_replies, 1), r1b, 0);
    expect_node(json_array_get(t1_replies, 1), r2, 0);
    expect_node(json_array_get(items, 1), t2, 0);
    CHECK(next != NULL);
    json_decref(items);

    json_t *page2 = NULL;
    char *last = NULL;
    CHECK_INT(nd_store_comment_list(st, a, true, 2, next, &page2, &last), ND_OK);
    CHECK_INT(json_array_size(page2), 1);
    json_t *t3_replies = expect_node(json_array_get(page2, 0), t3, 1);
    expect_node(json_array_get(t3_replies, 0), r3, 0);
    CHECK(last == NULL);
    json_decref(page2);
    free(next);
    nd_store_close(st);
}

static void test_comment_tree_deep(void)
{
    enum { DEPTH = 10000 };
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    int64_t parent = 0, middle = 0;
    for (int i = 0; i < DEPTH; i++) {
        parent = comment(st, a, parent);
        if (i == DEPTH / 2)
            middle = parent;
    }
    CHECK_INT(nd_store_comment_delete(st, middle), ND_OK);

    json_t *items = NULL;
    char *next = NULL;
    CHECK_INT(nd_store_comment_list(st, a, true, 10, NULL, &items, &next), ND_OK);
    CHECK_INT(json_array_size(items), 1);
    int depth = 0;
    int64_t prev = 0;
    for (json_t *node = json_array_get(items, 0); node;
         node = json_array_get(json_object_get(node, "replies"), 0)) {
        CHECK(id_of(node) > prev);
        prev = id_of(node);
        depth++;
    }
    CHECK_INT(depth, DEPTH - 1);
    CHECK_INT(prev, parent);
    json_decref(items);

    CHECK_INT(count_of(st, a), DEPTH - 1);
    CHECK_INT(nd_store_article_delete(st, a), ND_OK);
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_get(st, parent, &c), ND_ERR_NOT_FOUND);
    nd_store_close(st);
}

/* ---- moderation ----------------------------------------------------- */

static void test_count_follows_status(void)
{
    struct nd_store *st = open_memory();
    int64_t a = article(st, "a"), b = article(st, "b");
    int64_t v = post(st, a, 0, 0);
    int64_t p = post(st, a, 0, ND_COMMENT_PENDING);
    post(st, b, 0, ND_COMMENT_PENDING);
    CHECK_INT(count_of(st, a), 1);
    CHECK_INT(count_of(st, b), 0);
    set_status(st, p, false);
    CHECK_INT(count_of(st, a), 2);
    set_status(st, p, false); /* already visible: counted once */
    CHECK_INT(count_of(st, a), 2);
    set_status(st, v, true);
    CHECK_INT(count_of(st, a), 1);
    set_status(st, v, true);
    CHECK_INT(count_of(st, a), 1);
    CHECK_INT(nd_store_comment_delete(st, v), ND_OK); /* pending: not counted */
    CHECK_INT(count_of(st, a), 1);
    CHECK_INT(nd_store_comment_delete(st, p), ND_OK);
    CHECK_INT(count_of(st, a), 0);
    json_t *none = NULL;
    CHECK_INT(nd_store_comment_set_status(st, 999, false, &none), ND_ERR_NOT_FOUND);
    CHECK(none == NULL);
    nd_store_close(st);
}

static void test_reply_to_pending(void)
{
    struct nd_store *st = open_memory();
    int64_t a = article(st, "a");
    int64_t p = post(st, a, 0, ND_COMMENT_PENDING);
    int64_t v = post(st, a, 0, 0);
    struct nd_comment_fields f = {a, true, p, "reader", "A reply."};
    json_t *c = NULL;
    /* A reader cannot reply to what they cannot see... */
    CHECK_INT(nd_store_comment_post(st, &f, ND_COMMENT_VISIBLE_PARENT, &c), ND_ERR_INVALID);
    CHECK(c == NULL);
    /* ...a key holder can, and a reply to a visible comment is fine for both. */
    CHECK_INT(nd_store_comment_post(st, &f, 0, &c), ND_OK);
    json_decref(c);
    c = NULL;
    f.parent_id = v;
    CHECK_INT(nd_store_comment_post(st, &f, ND_COMMENT_VISIBLE_PARENT | ND_COMMENT_PENDING, &c),
              ND_OK);
    CHECK_STR(c ? str_of(c, "status") : NULL, "pending");
    json_decref(c);
    nd_store_close(st);
}

/* The ids of a flat list page, written to ids (room for 32); returns how many. */
static int flat_ids(struct nd_store *st, int64_t art, enum nd_comment_filter which,
                    const char *cursor, int64_t *ids, char **next)
{
    json_t *items = NULL;
    CHECK_INT(nd_store_comment_list_filtered(st, art, which, false, 2, cursor, &items, next),
              ND_OK);
    int n = (int)json_array_size(items);
    for (int i = 0; i < n && i < 32; i++)
        ids[i] = id_of(json_array_get(items, (size_t)i));
    json_decref(items);
    return n;
}

/* Every id of a flat list with filter which, in pages of 2. */
static int flat_all(struct nd_store *st, int64_t art, enum nd_comment_filter which, int64_t *ids)
{
    char *cursor = NULL;
    int total = 0;
    do {
        char *next = NULL;
        total += flat_ids(st, art, which, cursor, ids + total, &next);
        free(cursor);
        cursor = next;
    } while (cursor && total < 30);
    free(cursor);
    return total;
}

static void test_flat_filters(void)
{
    struct nd_store *st = open_memory();
    int64_t a = article(st, "a");
    int64_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = post(st, a, 0, i % 3 == 1 ? ND_COMMENT_PENDING : 0);
    int64_t ids[32];
    CHECK_INT(flat_all(st, a, ND_COMMENTS_VISIBLE, ids), 4);
    CHECK(ids[0] == c[0] && ids[1] == c[2] && ids[2] == c[3] && ids[3] == c[5]);
    CHECK_INT(flat_all(st, a, ND_COMMENTS_PENDING, ids), 2);
    CHECK(ids[0] == c[1] && ids[1] == c[4]);
    CHECK_INT(flat_all(st, a, ND_COMMENTS_ANY, ids), 6);
    /* A cursor belongs to the list with its filter. */
    char *next = NULL, *later = NULL;
    json_t *items = NULL;
    flat_ids(st, a, ND_COMMENTS_VISIBLE, NULL, ids, &next);
    CHECK(next != NULL);
    CHECK_INT(
        nd_store_comment_list_filtered(st, a, ND_COMMENTS_PENDING, false, 2, next, &items, &later),
        ND_ERR_INVALID);
    CHECK_INT(nd_store_comment_list(st, a, false, 2, next, &items, &later), ND_ERR_INVALID);
    /* The flat and tree views of one filter share cursors. */
    CHECK_INT(
        nd_store_comment_list_filtered(st, a, ND_COMMENTS_VISIBLE, true, 2, next, &items, &later),
        ND_OK);
    json_decref(items);
    free(next);
    free(later);
    later = NULL;
    CHECK_INT(nd_store_comment_list_filtered(st, a, (enum nd_comment_filter)7, false, 2, NULL,
                                             &items, &later),
              ND_ERR_INVALID);
    nd_store_close(st);
}

#define NAMES 12 /* comments of the tree test, named by index; 0 unused */

/*
 * A tree as text: "id(child child) id" with children in brackets, so that a
 * whole shape compares in one CHECK_STR.
 */
static void shape(const json_t *nodes, const int64_t *names, char *out, size_t len)
{
    size_t used = strlen(out);
    for (size_t i = 0; i < json_array_size(nodes) && used + 8 < len; i++) {
        const json_t *node = json_array_get(nodes, i);
        int64_t id = id_of(node);
        int name = 0;
        while (name < NAMES && names[name] != id)
            name++;
        used += (size_t)snprintf(out + used, len - used, "%s%d", i ? " " : "", name);
        const json_t *replies = json_object_get(node, "replies");
        if (json_array_size(replies) > 0) {
            snprintf(out + used, len - used, "(");
            shape(replies, names, out, len);
            used = strlen(out);
            used += (size_t)snprintf(out + used, len - used, ")");
        }
    }
}

/* The whole tree of filter which (one page of up to 100), as shape() text. */
static void tree_text(struct nd_store *st, int64_t art, enum nd_comment_filter which,
                      const int64_t *names, char *out, size_t len)
{
    json_t *items = NULL;
    char *next = NULL;
    out[0] = '\0';
    CHECK_INT(nd_store_comment_list_filtered(st, art, which, true, 100, NULL, &items, &next),
              ND_OK);
    CHECK(next == NULL);
    shape(items, names, out, len);
    json_decref(items);
}

static void test_filtered_trees(void)
{
    struct nd_store *st = open_memory();
    int64_t a = article(st, "a");
    int64_t c[NAMES] = {0}; /* c[n] is comment "n" of the shapes below */
    char text[256];
    /* 1 visible
     *   2 pending
     *     3 visible
     *       4 visible
     *     5 pending
     *       6 visible
     * 7 pending
     *   8 visible
     *     9 pending
     * 10 visible
     *   11 pending */
    c[1] = post(st, a, 0, 0);
    c[2] = post(st, a, c[1], ND_COMMENT_PENDING);
    c[3] = post(st, a, c[2], 0);
    c[4] = post(st, a, c[3], 0);
    c[5] = post(st, a, c[2], ND_COMMENT_PENDING);
    c[6] = post(st, a, c[5], 0);
    c[7] = post(st, a, 0, ND_COMMENT_PENDING);
    c[8] = post(st, a, c[7], 0);
    c[9] = post(st, a, c[8], ND_COMMENT_PENDING);
    c[10] = post(st, a, 0, 0);
    c[11] = post(st, a, c[10], ND_COMMENT_PENDING);
    tree_text(st, a, ND_COMMENTS_ANY, c, text, sizeof text);
    CHECK_STR(text, "1(2(3(4) 5(6))) 7(8(9)) 10(11)");
    /* Readers: each visible comment under its nearest visible ancestor. */
    tree_text(st, a, ND_COMMENTS_VISIBLE, c, text, sizeof text);
    CHECK_STR(text, "1(3(4) 6) 8 10");
    tree_text(st, a, ND_COMMENTS_PENDING, c, text, sizeof text);
    CHECK_STR(text, "2(5) 7(9) 11");
    /* parent_id is not rewritten: 3 still names its pending parent 2. */
    json_t *items = NULL;
    char *next = NULL;
    CHECK_INT(
        nd_store_comment_list_filtered(st, a, ND_COMMENTS_VISIBLE, true, 100, NULL, &items, &next),
        ND_OK);
    json_t *three = json_array_get(json_object_get(json_array_get(items, 0), "replies"), 0);
    CHECK_INT(json_integer_value(json_object_get(three, "parent_id")), c[2]);
    json_decref(items);
    /* Pages count the top level of the filtered tree. */
    CHECK_INT(
        nd_store_comment_list_filtered(st, a, ND_COMMENTS_VISIBLE, true, 2, NULL, &items, &next),
        ND_OK);
    CHECK_INT(json_array_size(items), 2);
    CHECK(next != NULL);
    json_decref(items);
    char *last = NULL;
    CHECK_INT(
        nd_store_comment_list_filtered(st, a, ND_COMMENTS_VISIBLE, true, 2, next, &items, &last),
        ND_OK);
    CHECK_INT(json_array_size(items), 1);
    CHECK_INT(id_of(json_array_get(items, 0)), c[10]);
    CHECK(last == NULL);
    json_decref(items);
    free(next);
    /* Approving everything gives readers the whole tree back. */
    for (int i = 1; i < NAMES; i++)
        set_status(st, c[i], false);
    tree_text(st, a, ND_COMMENTS_VISIBLE, c, text, sizeof text);
    CHECK_STR(text, "1(2(3(4) 5(6))) 7(8(9)) 10(11)");
    CHECK_INT(count_of(st, a), 11);
    nd_store_close(st);
}

static void test_search_skips_pending(void)
{
    struct nd_store *st = open_memory();
    int64_t a = article(st, "a");
    int64_t p = post(st, a, 0, ND_COMMENT_PENDING);
    struct nd_search_query q;
    char why[256];
    CHECK_INT(nd_search_parse("lighthouse", &q, why, sizeof why), ND_OK);
    struct nd_search_params params = {.query = &q, .comments = true, .limit = 10};
    json_t *items = NULL;
    char *next = NULL;
    CHECK_INT(nd_store_search(st, &params, &items, &next), ND_OK);
    CHECK_INT(json_array_size(items), 0);
    json_decref(items);
    set_status(st, p, false);
    CHECK_INT(nd_store_search(st, &params, &items, &next), ND_OK);
    CHECK_INT(json_array_size(items), 1);
    json_decref(items);
    nd_store_close(st);
}

/* A database of migration 0002, with a stale comment_count, counted again by 0003. */
static void test_migration_recounts(void)
{
    SQLITE_ONLY("SQLite's migration 0003 over a database of 0002");
    struct temp_db file;
    CHECK(nd_migrations_count >= 3 && nd_migrations[2].version == 3);
    struct nd_store *st =
        legacy_store(&file, 2,
                     "INSERT INTO articles (slug, title, body, published_at, created_at, "
                     "updated_at) VALUES ('old', 'Old', 'Old text.', 1, 1, 1);"
                     "INSERT INTO comments (article_id, author, body, created_at) "
                     "VALUES (1, 'r', 'one', 1), (1, 'r', 'two', 1);"
                     "UPDATE articles SET comment_count = 7;",
                     &options);
    if (st) {
        CHECK_INT(count_of(st, 1), 2);
        int64_t p = post(st, 1, 0, ND_COMMENT_PENDING);
        CHECK_INT(count_of(st, 1), 2);
        set_status(st, p, false);
        CHECK_INT(count_of(st, 1), 3);
        nd_store_close(st);
    }
    remove_db(&file);
}

/* The items of a page as nd_json_render writes each, comma-separated. */
static void render_items(const json_t *items, struct nd_buf *out)
{
    for (size_t i = 0; i < json_array_size(items); i++) {
        if (i > 0)
            nd_buf_append(out, ",", 1);
        CHECK(nd_json_render(json_array_get(items, i), out));
    }
}

/*
 * A flat page written as text (nd_store_comment_list_text) is the very
 * bytes of its items rendered, with the same next cursor: text holding
 * quotes, backslashes, control characters, non-ASCII and markup, a reply's
 * parent_id beside a top-level null, for every filter, page after page.
 */
static void test_list_text(void)
{
    struct nd_store *st = open_memory();
    int64_t a = article(st, "a");
    const char *bodies[] = {"plain",
                            "quote \" backslash \\ tab\t nl\n cr\r",
                            "ctl \x01\x1f\x7f end",
                            "\xc3\xa9 \xe6\xbc\xa2 \xf0\x9f\x98\x80",
                            "</script>&amp;",
                            "last"};
    int64_t first = 0;
    for (int i = 0; i < 6; i++) {
        struct nd_comment_fields f = {a, i % 2 == 1, first, i == 2 ? "Zo\xc3\xab \"z\"" : "reader",
                                      bodies[i]};
        json_t *c = NULL;
        CHECK_INT(nd_store_comment_post(st, &f, i == 3 ? ND_COMMENT_PENDING : 0, &c), ND_OK);
        if (i == 0)
            first = c ? id_of(c) : 0;
        json_decref(c);
    }
    const enum nd_comment_filter filters[] = {ND_COMMENTS_VISIBLE, ND_COMMENTS_PENDING,
                                              ND_COMMENTS_ANY};
    const size_t totals[] = {5, 1, 6};
    for (size_t w = 0; w < 3; w++) {
        char *cursor = NULL;
        size_t seen = 0;
        do {
            json_t *items = NULL;
            char *next = NULL, *next_text = NULL;
            struct nd_buf want = ND_BUF_INIT(1 << 20), got = ND_BUF_INIT(1 << 20);
            CHECK_INT(
                nd_store_comment_list_filtered(st, a, filters[w], false, 2, cursor, &items, &next),
                ND_OK);
            render_items(items, &want);
            seen += json_array_size(items);
            CHECK_INT(nd_store_comment_list_text(st, a, filters[w], 2, cursor, &got, &next_text),
                      ND_OK);
            CHECK(want.len > 0);
            CHECK_STR(nd_buf_str(&got), nd_buf_str(&want));
            CHECK_STR(next_text ? next_text : "(none)", next ? next : "(none)");
            json_decref(items);
            nd_buf_free(&want);
            nd_buf_free(&got);
            free(next_text);
            free(cursor);
            cursor = next;
        } while (cursor && seen < 10);
        CHECK_INT((int)seen, (int)totals[w]);
        free(cursor);
    }
    /* a cursor of another list is refused, as for the items */
    char *next = NULL, *later = NULL;
    struct nd_buf got = ND_BUF_INIT(1 << 20);
    CHECK_INT(nd_store_comment_list_text(st, a, ND_COMMENTS_VISIBLE, 2, NULL, &got, &next), ND_OK);
    CHECK(next != NULL);
    CHECK_INT(nd_store_comment_list_text(st, a, ND_COMMENTS_PENDING, 2, next, &got, &later),
              ND_ERR_INVALID);
    nd_buf_free(&got);
    free(next);
    free(later);
    nd_store_close(st);
}

int main(void)
{
    return STORE_CHECK_RUN(CHECK_CASE(test_comment_create), CHECK_CASE(test_comment_count),
                           CHECK_CASE(test_comment_delete_reattach),
                           CHECK_CASE(test_comment_list_flat), CHECK_CASE(test_comment_tree),
                           CHECK_CASE(test_comment_tree_deep),
                           CHECK_CASE(test_count_follows_status), CHECK_CASE(test_reply_to_pending),
                           CHECK_CASE(test_flat_filters), CHECK_CASE(test_filtered_trees),
                           CHECK_CASE(test_search_skips_pending),
                           CHECK_CASE(test_migration_recounts), CHECK_CASE(test_list_text));
}
