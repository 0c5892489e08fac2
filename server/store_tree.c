/*
 * store_tree.c: threaded comment lists assembled from rows, for every
 * backend (store_rows.h). A backend reads the page's top-level comments
 * (each made a node by nd_tree_node) and then, in id order, every reply
 * below them with the id of the node it hangs under; nd_tree_hang puts each
 * into its place. Parents are older than their replies (smaller ids), so
 * one pass in id order always meets a node before its replies.
 */
#include <stdio.h>
#include <stdlib.h>

#include "newsd/log.h"
#include "store_rows.h"

void nd_node_index_fini(struct nd_node_index *ix)
{
    free(ix->ids);
    free(ix->replies);
}

static enum nd_err index_add(struct nd_node_index *ix, int64_t id, json_t *replies)
{
    if (ix->len == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 64;
        int64_t *ids = realloc(ix->ids, cap * sizeof *ids);
        if (!ids)
            return ND_ERR_NOMEM;
        ix->ids = ids;
        json_t **reps = realloc(ix->replies, cap * sizeof *reps);
        if (!reps)
            return ND_ERR_NOMEM;
        ix->replies = reps;
        ix->cap = cap;
    }
    ix->ids[ix->len] = id;
    ix->replies[ix->len] = replies;
    ix->len++;
    return ND_OK;
}

/* The replies array of node id, or NULL when id is not in ix. */
static json_t *index_find(const struct nd_node_index *ix, int64_t id)
{
    size_t lo = 0, hi = ix->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ix->len && ix->ids[lo] == id ? ix->replies[lo] : NULL;
}

enum nd_err nd_tree_node(const struct nd_row *row, const void *how, json_t **out)
{
    struct nd_node_index *ix = (struct nd_node_index *)how;
    json_t *node = NULL;
    enum nd_err err = nd_row_map_shape(row, &nd_comment_shape, &node);
    if (err != ND_OK)
        return err;
    json_t *replies = json_array();
    if (json_object_set_new(node, "replies", replies) != 0)
        err = ND_ERR_NOMEM;
    if (err == ND_OK)
        err = index_add(ix, nd_row_int(row, ND_CCOL_ID), replies);
    if (err != ND_OK) {
        json_decref(node);
        return err;
    }
    *out = node;
    return ND_OK;
}

enum nd_err nd_tree_hang(const struct nd_row *row, int anchor_col, const struct nd_node_index *tops,
                         struct nd_node_index *below)
{
    int64_t parent = nd_row_int(row, anchor_col);
    json_t *siblings = index_find(below, parent);
    json_t *node = NULL;
    if (!siblings)
        siblings = index_find(tops, parent);
    /* Parents come first in id order; a miss means the data is damaged. */
    if (!siblings) {
        nd_log(ND_LOG_ERROR, "store: comment %lld has no parent in its thread",
               (long long)nd_row_int(row, ND_CCOL_ID));
        return ND_ERR_DB;
    }
    enum nd_err err = nd_tree_node(row, below, &node);
    if (err == ND_OK && json_array_append_new(siblings, node) != 0)
        err = ND_ERR_NOMEM;
    return err;
}

char *nd_node_ids_json(const struct nd_node_index *ix)
{
    size_t cap = 2 + ix->len * 21, used = 0;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    text[used++] = '[';
    for (size_t i = 0; i < ix->len; i++)
        used += (size_t)snprintf(text + used, cap - used, "%s%lld", i ? "," : "",
                                 (long long)ix->ids[i]);
    snprintf(text + used, cap - used, "]");
    return text;
}
