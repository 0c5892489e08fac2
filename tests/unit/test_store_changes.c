/*
 * test_store_changes.c: the change log on the real migrations. Each write of
 * the store adds exactly the change it should (kind, visibility, fields); a
 * write that fails adds none; an article's deletion is one change, not one
 * per comment; reads page in id order with the public filter and say where
 * to go on; pruning keeps ids growing and makes older positions too far
 * behind (ND_ERR_NOT_FOUND), as is a position newer than the log.
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "db_fixture.h"
#include "newsd/store.h"
#include "newsd/util.h"

static const struct nd_store_options options = {ND_SYNC_OFF, 1000, 0, 0, false};

static struct nd_store *open_memory(void)
{
    return fresh_store(&options);
}

static struct nd_article_fields fields(const char *slug, const char *title, bool draft)
{
    struct nd_article_fields f = {.slug = slug,
                                  .slug_derived = true,
                                  .title = title,
                                  .summary = "",
                                  .body = "The body.",
                                  .author = "",
                                  .category = "",
                                  .draft = draft,
                                  .published_at = 1700000000};
    return f;
}

static int64_t id_of(json_t *obj)
{
    int64_t id = obj ? json_integer_value(json_object_get(obj, "id")) : 0;
    json_decref(obj);
    return id;
}

static int64_t article(struct nd_store *st, const char *slug, bool draft)
{
    struct nd_article_fields f = fields(slug, "A title", draft);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_OK);
    return id_of(art);
}

static void update(struct nd_store *st, int64_t id, const char *slug, const char *title, bool draft)
{
    struct nd_article_fields f = fields(slug, title, draft);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_update(st, id, &f, &art), ND_OK);
    json_decref(art);
}

static int64_t comment(struct nd_store *st, int64_t article_id, bool pending)
{
    struct nd_comment_fields f = {.article_id = article_id, .author = "reader", .body = "Hi"};
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_post(st, &f, pending ? ND_COMMENT_PENDING : 0, &c), ND_OK);
    return id_of(c);
}

/* What a read collected: "kind:article[/comment]:p|k" items joined by spaces. */
struct collected {
    char text[2048];
    json_t *last; /* the last change seen (a reference) */
};

static enum nd_err collect(void *ctx, int64_t id, bool public, const json_t *change)
{
    struct collected *c = ctx;
    size_t len = strlen(c->text);
    const json_t *cid = json_object_get(change, "comment_id");
    CHECK_INT(json_integer_value(json_object_get(change, "id")), id);
    if (cid)
        snprintf(c->text + len, sizeof c->text - len, "%s%s:%lld/%lld:%c", len ? " " : "",
                 json_string_value(json_object_get(change, "kind")),
                 (long long)json_integer_value(json_object_get(change, "article_id")),
                 (long long)json_integer_value(cid), public ? 'p' : 'k');
    else
        snprintf(c->text + len, sizeof c->text - len, "%s%s:%lld:%c", len ? " " : "",
                 json_string_value(json_object_get(change, "kind")),
                 (long long)json_integer_value(json_object_get(change, "article_id")),
                 public ? 'p' : 'k');
    json_decref(c->last);
    c->last = json_deep_copy(change);
    return ND_OK;
}

/* Reads from since; returns the collected text (static) and fills *page. */
static const char *read_log(struct nd_store *st, int64_t since, bool all, unsigned limit,
                            struct nd_change_page *page, json_t **last)
{
    static struct collected c;
    memset(c.text, 0, sizeof c.text);
    c.last = NULL;
    CHECK_INT(nd_store_changes_read(st, since, all, limit, collect, &c, page), ND_OK);
    if (last)
        *last = c.last;
    else
        json_decref(c.last);
    return c.text;
}

static void test_kinds_and_visibility(void)
{
    struct nd_store *st = open_memory();
    struct nd_change_page page;
    int64_t a = article(st, "one", false);
    int64_t d = article(st, "two", true);
    update(st, a, "one", "Edited", false);
    update(st, d, "two", "Draft edit", true);
    update(st, d, "two", "Now out", false);
    update(st, a, "one", "Secret", true);
    update(st, a, "one", "Back", false);
    int64_t c1 = comment(st, a, false);
    int64_t c2 = comment(st, a, true);
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_set_status(st, c2, false, &c), ND_OK);
    json_decref(c);
    CHECK_INT(nd_store_comment_delete(st, c1), ND_OK);
    char want[1024];
    snprintf(want, sizeof want,
             "article.published:%lld:p article.drafted:%lld:k article.updated:%lld:p "
             "article.updated:%lld:k article.published:%lld:p article.unpublished:%lld:p "
             "article.published:%lld:p comment.added:%lld/%lld:p comment.added:%lld/%lld:k "
             "comment.moderated:%lld/%lld:p comment.removed:%lld/%lld:p",
             (long long)a, (long long)d, (long long)a, (long long)d, (long long)d, (long long)a,
             (long long)a, (long long)a, (long long)c1, (long long)a, (long long)c2, (long long)a,
             (long long)c2, (long long)a, (long long)c1);
    json_t *last = NULL;
    CHECK_STR(read_log(st, 0, true, 100, &page, &last), want);
    CHECK_INT(page.next, 11);
    CHECK(!page.more);
    CHECK_STR(json_string_value(json_object_get(last, "status")), "visible");
    CHECK(json_object_get(last, "slug") == NULL);
    json_decref(last);

    /* The unpublished change tells the slug and title readers knew. */
    read_log(st, 5, true, 1, &page, &last);
    CHECK_STR(json_string_value(json_object_get(last, "kind")), "article.unpublished");
    CHECK_STR(json_string_value(json_object_get(last, "title")), "Edited");
    CHECK_STR(json_string_value(json_object_get(last, "status")), "draft");
    CHECK_STR(json_string_value(json_object_get(last, "published_at")), "2023-11-14T22:13:20Z");
    CHECK(page.more);
    CHECK_INT(page.next, 6);
    json_decref(last);

    /* Readers without a key: the drafts and the pending comment are left out. */
    CHECK_INT(strlen(read_log(st, 0, false, 100, &page, NULL)) > 0, 1);
    CHECK(strstr(read_log(st, 0, false, 100, &page, NULL), ":k") == NULL);
    CHECK_INT(page.next, 11);
    /* A page of 2 public changes after 1 skips the hidden 2 and 4. */
    CHECK_STR(read_log(st, 1, false, 2, &page, NULL), "article.updated:1:p article.published:2:p");
    CHECK_INT(page.next, 5);
    CHECK(page.more);
    nd_store_close(st);
}

static void test_failed_write_logs_nothing(void)
{
    struct nd_store *st = open_memory();
    struct nd_change_page page;
    article(st, "taken", false);
    struct nd_article_fields f = fields("taken", "Clash", false);
    f.slug_derived = false;
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_ERR_CONFLICT);
    struct nd_comment_fields cf = {.article_id = 99, .author = "r", .body = "b"};
    CHECK_INT(nd_store_comment_create(st, &cf, &art), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_article_delete(st, 99), ND_ERR_NOT_FOUND);
    CHECK_STR(read_log(st, 0, true, 100, &page, NULL), "article.published:1:p");
    CHECK_INT(page.next, 1);
    nd_store_close(st);
}

static void test_article_delete_is_one_change(void)
{
    struct nd_store *st = open_memory();
    struct nd_change_page page;
    int64_t a = article(st, "gone", false);
    int64_t parent = 0;
    for (int i = 0; i < 50; i++) {
        struct nd_comment_fields f = {.article_id = a,
                                      .has_parent = parent != 0,
                                      .parent_id = parent,
                                      .author = "r",
                                      .body = "b"};
        json_t *c = NULL;
        CHECK_INT(nd_store_comment_create(st, &f, &c), ND_OK);
        parent = id_of(c);
    }
    int64_t d = article(st, "draft", true);
    CHECK_INT(nd_store_article_delete(st, a), ND_OK);
    CHECK_INT(nd_store_article_delete(st, d), ND_OK);
    CHECK_STR(read_log(st, 51, true, 100, &page, NULL),
              "article.drafted:2:k article.deleted:1:p article.deleted:2:k");
    CHECK_STR(read_log(st, 51, false, 100, &page, NULL), "article.deleted:1:p");
    CHECK_INT(page.next, 54);
    nd_store_close(st);
}

static enum nd_err refuse(void *ctx, int64_t id, bool public, const json_t *change)
{
    (void)ctx;
    (void)id;
    (void)public;
    (void)change;
    return ND_ERR_NOMEM;
}

static void test_bounds_and_pruning(void)
{
    struct nd_store *st = open_memory();
    struct nd_change_page page = {77, true};
    int64_t through = -1, last = -1;
    CHECK_INT(nd_store_changes_bounds(st, &through, &last), ND_OK);
    CHECK_INT(through, 0);
    CHECK_INT(last, 0);
    CHECK_STR(read_log(st, -1, true, 10, &page, NULL), "");
    CHECK_INT(page.next, 0);
    for (int i = 0; i < 5; i++)
        article(st, i % 2 ? "odd" : "even", false);
    CHECK_INT(
        nd_store_changes_read(st, 6, true, 10, collect, &(struct collected){{0}, NULL}, &page),
        ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_changes_read(st, 0, true, 10, refuse, NULL, &page), ND_ERR_NOMEM);
    CHECK_INT(nd_store_changes_read(st, 0, true, 0, collect, NULL, &page), ND_ERR_INVALID);
    CHECK_INT(nd_store_changes_read(st, 0, true, 1001, collect, NULL, &page), ND_ERR_INVALID);

    unsigned long removed = 99;
    CHECK_INT(nd_store_changes_prune(st, 1000, &removed), ND_OK); /* nothing that old */
    CHECK_INT(removed, 0);
    CHECK_INT(nd_store_changes_prune(st, nd_time_now() + 10, &removed), ND_OK);
    CHECK_INT(removed, 5);
    CHECK_INT(nd_store_changes_bounds(st, &through, &last), ND_OK);
    CHECK_INT(through, 5);
    CHECK_INT(last, 5);
    CHECK_INT(nd_store_changes_read(st, 4, true, 10, collect, NULL, &page), ND_ERR_NOT_FOUND);
    CHECK_STR(read_log(st, 5, true, 10, &page, NULL), "");
    CHECK_INT(page.next, 5);
    /* Ids go on growing after the log was emptied. */
    int64_t a = article(st, "after", false);
    CHECK_STR(read_log(st, -1, true, 10, &page, NULL), "article.published:6:p");
    CHECK_INT(a, 6);
    CHECK_INT(page.next, 6);
    nd_store_close(st);
}

/*
 * A database that has 0007 but not 0006 (the branches met in that order)
 * gets 0006 when it is opened: a migration older than the newest applied
 * one still runs.
 */
static void test_older_migration_applied_late(void)
{
    SQLITE_ONLY("SQLite's migrations 0006 and 0007");
    struct temp_db file;
    struct nd_store *st = temp_store(&file, &options);
    nd_store_close(st);
    st = NULL;
    db_exec(file.path, "DROP TRIGGER changes_article_insert; DROP TRIGGER changes_article_update;"
                       "DROP TRIGGER changes_article_delete; DROP TRIGGER changes_comment_insert;"
                       "DROP TRIGGER changes_comment_delete; DROP TRIGGER changes_comment_status;"
                       "DROP TABLE changes; DROP TABLE changes_pruned;"
                       "DELETE FROM schema_migrations WHERE version = 6");
    CHECK_INT(nd_store_open(file.path, &options, &st), ND_OK);
    CHECK_INT(nd_store_migrations_applied(st), 1);
    struct nd_change_page page;
    article(st, "late", false);
    CHECK_STR(read_log(st, 0, true, 10, &page, NULL), "article.published:1:p");
    nd_store_close(st);
    remove_db(&file);
}

int main(void)
{
    return STORE_CHECK_RUN(
        CHECK_CASE(test_kinds_and_visibility), CHECK_CASE(test_failed_write_logs_nothing),
        CHECK_CASE(test_article_delete_is_one_change), CHECK_CASE(test_bounds_and_pruning),
        CHECK_CASE(test_older_migration_applied_late));
}
