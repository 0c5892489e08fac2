/*
 * import_wxr_internal.h: what the WordPress importer's XML reader
 * (import_wxr.c) hands to the part that stores posts and comments
 * (import_wxr_post.c), and nobody else sees.
 */
#ifndef NEWSD_IMPORT_WXR_INTERNAL_H
#define NEWSD_IMPORT_WXR_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "newsd/import.h"
#include "newsd/store.h"

/* One wp:comment of an item, its strings malloc'd and owned. */
struct wxr_comment {
    unsigned long line;
    int64_t id;     /* wp:comment_id; 0 when missing or not a number */
    int64_t parent; /* wp:comment_parent; 0 for a top-level comment */
    char *author;   /* HTML, as WordPress stores it */
    char *content;  /* HTML */
    char *date_gmt; /* "YYYY-MM-DD HH:MM:SS" */
    char *date;
    char *approved; /* "1", "0", "spam", "trash"... */
    char *type;     /* "", "comment", "pingback", "trackback"... */
};

/* One <item> as read, every string borrowed from the reader ("" when absent). */
struct wxr_item {
    unsigned long line; /* of its <item> */
    const char *title, *link, *creator, *content, *excerpt, *post_id, *post_date, *post_date_gmt,
        *post_name, *status, *post_type, *post_password;
    const char *too_long;     /* the element that passed its size limit, or NULL */
    const json_t *categories; /* names (HTML) in file order */
    const json_t *tags;       /* names (HTML) in file order */
    struct wxr_comment *comments;
    size_t ncomments;
};

/* What the whole import shares. */
struct wxr_import {
    struct nd_store *store;
    int64_t now;
    const char *site;      /* the blog's URL, for import keys */
    const json_t *authors; /* login -> display name (HTML) */
    nd_import_refusal_fn refusal;
    void *ctx;
    struct nd_import_wxr_stats stats;
};

/*
 * Stores the post of item and its comments, or counts it as skipped, or
 * refuses it (reported). ND_OK also then; another error (store, memory)
 * stops the import.
 */
enum nd_err nd_wxr_item_import(struct wxr_import *im, const struct wxr_item *item);

#endif
