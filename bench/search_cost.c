/*
 * search_cost.c: runs searches through newsd's own store code, for
 * bench/search_cost.py to count their instructions under callgrind.
 *
 *   search_cost DB QUERIES N
 *
 * Opens DB as newsd does (nd_store_open), then for each of the first N lines
 * of the file QUERIES (a query as typed in the search box) runs the search
 * newsd runs for GET /v1/search?q=LINE: the first page of 20, best first,
 * snippets included, and renders the snippets as HTML. With N = 0 it only
 * opens and closes the store: the difference between the two counts is
 * the cost of N searches. Built with ND_COST_TRANSLATE, it speaks the
 * store interface of the commits before the parsed query (an FTS5
 * expression in nd_search_params.match), to measure an older checkout.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/search.h"
#include "newsd/store.h"

static int search_once(struct nd_store *st, const char *text)
{
    char why[256];
    /* no time limit: under callgrind a search runs fifty times slower */
    struct nd_search_params p = {.limit = 20};
    p.filter.status = ND_STATUS_PUBLISHED;
#ifdef ND_COST_TRANSLATE
    char *fts = NULL;
    if (nd_search_translate(text, &fts, why, sizeof why) != ND_OK) {
        fprintf(stderr, "search_cost: %s: %s\n", text, why);
        return 1;
    }
    p.match = fts;
#else
    struct nd_search_query q;
    if (nd_search_parse(text, &q, why, sizeof why) != ND_OK) {
        fprintf(stderr, "search_cost: %s: %s\n", text, why);
        return 1;
    }
    p.query = &q;
#endif
    json_t *items = NULL;
    char *next = NULL;
    enum nd_err err = nd_store_search(st, &p, &items, &next);
#ifdef ND_COST_TRANSLATE
    free(fts);
#endif
    if (err != ND_OK) {
        fprintf(stderr, "search_cost: %s: error %d\n", text, (int)err);
        return 1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        char *html = nd_search_snippet_html(json_string_value(json_object_get(item, "snippet")));
        free(html);
    }
    json_decref(items);
    free(next);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: search_cost DB QUERIES N\n");
        return 2;
    }
    long n = strtol(argv[3], NULL, 10);
    FILE *f = fopen(argv[2], "r");
    struct nd_store *st = NULL;
    struct nd_store_options opts = {.synchronous = ND_SYNC_NORMAL, .busy_timeout_ms = 1000};
    if (!f || nd_store_open(argv[1], &opts, &st) != ND_OK) {
        fprintf(stderr, "search_cost: cannot open %s or %s\n", argv[1], argv[2]);
        return 1;
    }
    char line[1024];
    int status = 0;
    for (long i = 0; i < n && fgets(line, sizeof line, f); i++) {
        line[strcspn(line, "\n")] = '\0';
        status |= search_once(st, line);
    }
    fclose(f);
    nd_store_close(st);
    return status;
}
