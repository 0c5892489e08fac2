/*
 * store_taxonomy.c: the tags and the authors in use, each with its number
 * of articles, for the menus and filters of a front page (GET /v1/tags,
 * GET /v1/authors). They follow the categories (store_articles.c): the same
 * shape, the same order, the same rule for drafts, one statement each, read
 * from a covering index rather than the table.
 */
#include "store_internal.h"

/*
 * As for the categories, the status test is written so that no index on
 * status can serve it: the planner then reads only the covering index that
 * starts with the name (article_tags_in_order: tag, tagged_status, ...;
 * articles_by_author: author, status, ...), already grouped.
 */
static const char tag_list_sql[] = "SELECT tag, count(*) FROM article_tags"
                                   " WHERE (tagged_status = 'published' OR :drafts)"
                                   " GROUP BY tag ORDER BY tag COLLATE NOCASE, tag";

static const char author_list_sql[] = "SELECT author, count(*) FROM articles"
                                      " WHERE author > '' AND (status = 'published' OR :drafts)"
                                      " GROUP BY author ORDER BY author COLLATE NOCASE, author";

enum nd_err nd_sqlite_tag_list(struct nd_store *store, bool drafts, json_t **out)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    return nd_store_list(st, ND_STMT_TAG_LIST, tag_list_sql,
                         ND_PARAMS(ND_INT(":drafts", drafts ? 1 : 0)), nd_row_map_shape,
                         &nd_name_count_shape, out, "tag list");
}

enum nd_err nd_sqlite_author_list(struct nd_store *store, bool drafts, json_t **out)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    return nd_store_list(st, ND_STMT_AUTHOR_LIST, author_list_sql,
                         ND_PARAMS(ND_INT(":drafts", drafts ? 1 : 0)), nd_row_map_shape,
                         &nd_name_count_shape, out, "author list");
}
