/*
 * json.c: Jansson's allocations, watched, so that a parse or a dump that met
 * a failed allocation is never taken for a good one (see newsd/json.h).
 */
#include "newsd/json.h"

#include <stdlib.h>

static json_malloc_t next_malloc = malloc;
static _Thread_local bool alloc_failed;

static void *watched_malloc(size_t size)
{
    void *p = next_malloc(size);
    if (p == NULL)
        alloc_failed = true;
    return p;
}

void nd_json_watch(void)
{
    json_malloc_t current;
    json_free_t release;
    json_get_alloc_funcs(&current, &release);
    if (current == watched_malloc)
        return;
    next_malloc = current;
    json_set_alloc_funcs(watched_malloc, release);
}

void nd_json_watch_reset(void)
{
    alloc_failed = false;
}

bool nd_json_watch_failed(void)
{
    return alloc_failed;
}

char *nd_json_dumps(const json_t *value, size_t flags)
{
    alloc_failed = false;
    char *text = json_dumps(value, flags);
    if (alloc_failed) {
        free(text);
        return NULL;
    }
    return text;
}

json_t *nd_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err, bool *nomem)
{
    alloc_failed = false;
    json_t *value = json_loadb(buf, len, flags, err);
    *nomem = alloc_failed || (value == NULL && json_error_code(err) == json_error_out_of_memory);
    if (*nomem) {
        json_decref(value);
        return NULL;
    }
    return value;
}
