/*
 * store_list.c: the article list's SQL, its filters, orders and pages, for
 * both backends (store_rows.h). The statements use only what SQLite and
 * PostgreSQL both understand (row-value comparisons, LIMIT, named
 * parameters that the PostgreSQL glue numbers), so the list reads the same
 * rows in the same order on either.
 */
#include <stdio.h>
#include <string.h>

#include "store_rows.h"

static const struct {
    unsigned bit;
    const char *sql;
} list_fragments[] = {
    {ND_LIST_STATUS, " AND status = :status"},
    {ND_LIST_CATEGORY, " AND category = :category"},
    {ND_LIST_TAG, " AND id IN (SELECT article_id FROM article_tags WHERE tag = :tag)"},
    {ND_LIST_AUTHOR, " AND author = :author"},
    {ND_LIST_SINCE, " AND published_at >= :since"},
    {ND_LIST_UNTIL, " AND published_at < :until"},
};

void nd_store_filter_sql(char *sql, unsigned mask)
{
    for (size_t i = 0; i < sizeof list_fragments / sizeof list_fragments[0]; i++)
        if (mask & list_fragments[i].bit)
            strcat(sql, list_fragments[i].sql);
}

/*
 * What each order of the list needs: the kind letter of its cursors, the
 * column of its first key, the condition "after the cursor" and the ORDER BY,
 * each on the unqualified columns of articles (every order has an index of
 * its own, migrations 0001 and 0007). tag_after and tag_order_by read the
 * same order from the tag rows (migration 0004) when the tag index holds it;
 * NULL: a tag's matches are sorted by the article columns.
 */
static const struct {
    char kind;
    int key_col;
    const char *after;
    const char *order_by;
    const char *tag_after;
    const char *tag_order_by;
} orders[ND_ORDER_COUNT] = {
    [ND_ORDER_NEWEST] = {'a', ND_ACOL_PUBLISHED_AT,
                         " AND (published_at, id) < (:cursor_at, :cursor_id)",
                         " ORDER BY published_at DESC, id DESC",
                         " AND (tagged_at, article_id) < (:cursor_at, :cursor_id)",
                         " ORDER BY tagged_at DESC, article_id DESC"},
    [ND_ORDER_OLDEST] = {'o', ND_ACOL_PUBLISHED_AT,
                         " AND (published_at, id) > (:cursor_at, :cursor_id)",
                         " ORDER BY published_at, id",
                         " AND (tagged_at, article_id) > (:cursor_at, :cursor_id)",
                         " ORDER BY tagged_at, article_id"},
    [ND_ORDER_UPDATED] = {'u', ND_ACOL_UPDATED_AT,
                          " AND (updated_at, id) < (:cursor_at, :cursor_id)",
                          " ORDER BY updated_at DESC, id DESC", NULL, NULL},
    [ND_ORDER_COMMENTED] = {'m', ND_ACOL_COMMENT_COUNT,
                            " AND (comment_count, id) < (:cursor_at, :cursor_id)",
                            " ORDER BY comment_count DESC, id DESC", NULL, NULL},
};

/*
 * With a tag, the list is read from the tag's rows in article_tags, which
 * carry the newest order (migration 0004), so a page of newest or oldest
 * stops after limit rows whatever the size of the table; status and
 * category are the tag row's copies (SQLite's 0013, PostgreSQL's 0008), so
 * the rows of other categories are passed over inside the tag's index; the
 * other filters apply to the article. The other orders sort the tag's
 * matches.
 */
static void tag_list_sql(char *sql, unsigned mask, enum nd_article_order order,
                         enum nd_sql_dialect dialect)
{
    /* SQLite takes CROSS JOIN as "in this order"; PostgreSQL's planner needs no such hint */
    strcpy(sql, dialect == ND_SQL_SQLITE
                    ? "SELECT " ND_ARTICLE_LIST_COLUMNS " FROM article_tags"
                      " CROSS JOIN articles ON articles.id = article_tags.article_id"
                      " WHERE tag = :tag"
                    : "SELECT " ND_ARTICLE_LIST_COLUMNS " FROM article_tags"
                      " JOIN articles ON articles.id = article_tags.article_id"
                      " WHERE tag = :tag");
    if (mask & ND_LIST_STATUS)
        strcat(sql, " AND tagged_status = :status");
    if (mask & ND_LIST_CATEGORY)
        strcat(sql, " AND tagged_category = :category");
    nd_store_filter_sql(
        sql, mask & ~(unsigned)(ND_LIST_TAG | ND_LIST_STATUS | ND_LIST_CATEGORY | ND_LIST_CURSOR));
    bool from_tags = orders[order].tag_order_by != NULL;
    if (mask & ND_LIST_CURSOR)
        strcat(sql, from_tags ? orders[order].tag_after : orders[order].after);
    strcat(sql, from_tags ? orders[order].tag_order_by : orders[order].order_by);
    strcat(sql, " LIMIT :limit");
}

/*
 * On PostgreSQL the most commented order is read from article_comment_order
 * (migration postgres/0007), which copies each article's status and count
 * under an index of its own: an index of articles on comment_count would make
 * every comment write a new version of the article into all its indexes.
 */
static void counted_list_sql(char *sql, unsigned mask)
{
    strcpy(sql, "SELECT " ND_ARTICLE_LIST_COLUMNS " FROM article_comment_order"
                " JOIN articles ON articles.id = article_comment_order.article_id WHERE true");
    if (mask & ND_LIST_STATUS)
        strcat(sql, " AND counted_status = :status");
    nd_store_filter_sql(sql, mask & ~(unsigned)(ND_LIST_STATUS | ND_LIST_CURSOR));
    if (mask & ND_LIST_CURSOR)
        strcat(sql, " AND (counted, article_id) < (:cursor_at, :cursor_id)");
    strcat(sql, " ORDER BY counted DESC, article_id DESC LIMIT :limit");
}

void nd_list_sql(char *sql, size_t size, enum nd_article_order order, unsigned mask,
                 enum nd_sql_dialect dialect)
{
    char text[ND_LIST_SQL_MAX] = "SELECT " ND_ARTICLE_LIST_COLUMNS " FROM articles WHERE true";
    if (mask & ND_LIST_TAG) {
        tag_list_sql(text, mask, order, dialect);
    } else if (order == ND_ORDER_COMMENTED && dialect == ND_SQL_POSTGRES) {
        counted_list_sql(text, mask);
    } else {
        nd_store_filter_sql(text, mask & ~(unsigned)ND_LIST_CURSOR);
        if (mask & ND_LIST_CURSOR)
            strcat(text, orders[order].after);
        strcat(text, orders[order].order_by);
        strcat(text, " LIMIT :limit");
    }
    snprintf(sql, size, "%s", text);
}

unsigned nd_store_filter_mask(const struct nd_article_filter *flt, bool has_cursor)
{
    unsigned mask = has_cursor ? ND_LIST_CURSOR : 0;
    mask |= flt->status != ND_STATUS_ANY ? ND_LIST_STATUS : 0;
    mask |= flt->category ? ND_LIST_CATEGORY : 0;
    mask |= flt->tag ? ND_LIST_TAG : 0;
    mask |= flt->author ? ND_LIST_AUTHOR : 0;
    mask |= flt->has_since ? ND_LIST_SINCE : 0;
    mask |= flt->has_until ? ND_LIST_UNTIL : 0;
    return mask;
}

void nd_store_filter_params(struct nd_param params[ND_FILTER_PARAMS], unsigned mask,
                            const struct nd_article_filter *flt, const int64_t cursor[2])
{
    const struct nd_param all[ND_FILTER_PARAMS] = {
        ND_TEXT_IF(mask & ND_LIST_STATUS, ":status",
                   flt->status == ND_STATUS_DRAFT ? "draft" : "published"),
        ND_TEXT_IF(mask & ND_LIST_CATEGORY, ":category", flt->category),
        ND_TEXT_IF(mask & ND_LIST_TAG, ":tag", flt->tag),
        ND_TEXT_IF(mask & ND_LIST_AUTHOR, ":author", flt->author),
        ND_INT_IF(mask & ND_LIST_SINCE, ":since", flt->since),
        ND_INT_IF(mask & ND_LIST_UNTIL, ":until", flt->until),
        ND_INT_IF(mask & ND_LIST_CURSOR, ":cursor_at", cursor[0]),
        ND_INT_IF(mask & ND_LIST_CURSOR, ":cursor_id", cursor[1]),
    };
    memcpy(params, all, sizeof all);
}

/*
 * A page of the list in order: the cursor holds the last article's key of
 * the order and its id, under the order's kind letter.
 */
struct nd_page nd_list_page(enum nd_article_order order, unsigned limit)
{
    struct nd_page page = {orders[order].kind,
                           2,
                           {{ND_KEY_INT, orders[order].key_col, 0}, {ND_KEY_INT, ND_ACOL_ID, 0}},
                           limit,
                           nd_row_map_shape,
                           &nd_article_shape,
                           NULL};
    return page;
}
