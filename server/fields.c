/*
 * fields.c: sparse fieldsets (see newsd/fields.h): parsing ?fields= against
 * an endpoint's vocabulary, and trimming the rendered resources to it.
 */
#include "newsd/fields.h"

#include <stdio.h>
#include <string.h>

#include "newsd/util.h"

/* True when the len bytes at name are worth echoing: short printable ASCII. */
static bool echoable(const char *name, size_t len)
{
    if (len > ND_FIELD_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (name[i] < 0x21 || name[i] > 0x7e || name[i] == '\'')
            return false;
    return true;
}

/* The index of the len bytes at name in names, or count when absent. */
static size_t lookup(const char *name, size_t len, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    return count;
}

/* Writes "NAMES[0], NAMES[1], ..." into buf (cut short when it does not fit). */
static void list_names(const char *const *names, size_t count, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

enum nd_err nd_fields_parse(const char *text, const char *const *names, size_t count,
                            const char *what, struct nd_fields *out, char *why, size_t whylen)
{
    char known[512];
    uint32_t chosen = 0;
    if (!text) {
        *out = (struct nd_fields){.names = names, .count = count, .all = true};
        return ND_OK;
    }
    if (count > ND_FIELDS_MAX)
        return ND_ERR_INVALID;
    list_names(names, count, known, sizeof known);
    for (const char *p = text;; p++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        size_t i = lookup(p, len, names, count);
        if (len == 0) {
            nd_why(why, whylen,
                   "fields is a comma-separated list of names without empty entries; "
                   "the fields of %s are: %s",
                   what, known);
            return ND_ERR_INVALID;
        }
        if (i == count && echoable(p, len)) {
            nd_why(why, whylen, "fields: '%.*s' is not a field of %s; its fields are: %s", (int)len,
                   p, what, known);
            return ND_ERR_INVALID;
        }
        if (i == count) {
            nd_why(why, whylen, "fields names a field %s does not have; its fields are: %s", what,
                   known);
            return ND_ERR_INVALID;
        }
        chosen |= UINT32_C(1) << i;
        if (!comma)
            break;
        p = comma;
    }
    *out = (struct nd_fields){.names = names, .count = count, .chosen = chosen};
    return ND_OK;
}

/* Deletes obj's members of the vocabulary that f does not choose. */
static void trim(const struct nd_fields *f, json_t *obj)
{
    for (size_t i = 0; i < f->count; i++)
        if (!(f->chosen & (UINT32_C(1) << i)))
            json_object_del(obj, f->names[i]);
}

enum nd_err nd_fields_apply(const struct nd_fields *f, json_t *obj, const char *nested)
{
    enum nd_err err = ND_OK;
    if (f->all || !json_is_object(obj))
        return ND_OK;
    trim(f, obj);
    json_t *children = nested ? json_object_get(obj, nested) : NULL;
    if (json_array_size(children) == 0)
        return ND_OK;
    /* The arrays still to visit, borrowed from the tree (which holds them). */
    json_t *todo = json_array();
    if (!todo)
        return ND_ERR_NOMEM;
    if (json_array_append(todo, children) != 0)
        err = ND_ERR_NOMEM;
    while (err == ND_OK && json_array_size(todo) > 0) {
        json_t *arr = json_array_get(todo, json_array_size(todo) - 1);
        json_incref(arr);
        json_array_remove(todo, json_array_size(todo) - 1);
        for (size_t i = 0; i < json_array_size(arr) && err == ND_OK; i++) {
            json_t *child = json_array_get(arr, i);
            if (!json_is_object(child))
                continue;
            trim(f, child);
            json_t *below = json_object_get(child, nested);
            if (json_array_size(below) > 0 && json_array_append(todo, below) != 0)
                err = ND_ERR_NOMEM;
        }
        json_decref(arr);
    }
    json_decref(todo);
    return err;
}

enum nd_err nd_fields_apply_all(const struct nd_fields *f, json_t *items, const char *nested)
{
    enum nd_err err = ND_OK;
    for (size_t i = 0; i < json_array_size(items) && err == ND_OK && !f->all; i++)
        err = nd_fields_apply(f, json_array_get(items, i), nested);
    return err;
}
