/*
 * test_openapi.c: the OpenAPI document (server/assets/openapi.json, as it is
 * compiled into the binary) and the route table (routes.c) name the same
 * endpoints. Every route must be an operation of the document (a pattern
 * is the document's path, parameter names and all; HEAD comes with GET),
 * and every operation of the document must reach its own route
 * through the real router. Adding a route without documenting it, or
 * documenting an endpoint that is not served, fails here; the checks are
 * also run on altered tables and documents to show that they can fail.
 *
 * A few properties every operation must have are checked too: a unique
 * operationId, a 2xx answer, problem documents for its errors, and for GET
 * the ETag and the 304 every 200 answer to GET comes with.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "newsd/assets.h"
#include "newsd/router.h"

#define PATH_MAX_LEN 512

/* The embedded document, parsed; NULL (reported) when missing or not JSON. */
static json_t *load_document(void)
{
    json_error_t err;
    const struct nd_asset *asset = nd_asset_find("openapi.json");
    if (asset == NULL) {
        printf("# openapi.json is not an embedded asset\n");
        return NULL;
    }
    json_t *doc = json_loadb((const char *)asset->data, asset->len, JSON_REJECT_DUPLICATES, &err);
    if (doc == NULL)
        printf("# openapi.json line %d column %d: %s\n", err.line, err.column, err.text);
    return doc;
}

static const struct {
    const char *key;
    enum nd_method method; /* 0: an operation the router cannot serve */
} operation_keys[] = {
    {"get", ND_METHOD_GET},
    {"head", ND_METHOD_HEAD},
    {"post", ND_METHOD_POST},
    {"put", ND_METHOD_PUT},
    {"patch", ND_METHOD_PATCH},
    {"delete", ND_METHOD_DELETE},
    {"options", 0},
    {"trace", 0},
};

/* True when key of a path item is an operation; *method is its method (0: none routable). */
static bool operation_method(const char *key, enum nd_method *method)
{
    for (size_t i = 0; i < sizeof operation_keys / sizeof operation_keys[0]; i++) {
        if (strcmp(key, operation_keys[i].key) == 0) {
            *method = operation_keys[i].method;
            return true;
        }
    }
    return false;
}

/* The document's name of a route's method ("get"). */
static const char *method_key(enum nd_method method)
{
    for (size_t i = 0; i < sizeof operation_keys / sizeof operation_keys[0]; i++)
        if (operation_keys[i].method == method)
            return operation_keys[i].key;
    return "?";
}

/*
 * True when the document's path is the route pattern: patterns name their
 * parameters as the document does ("/v1/articles/{id}"), so the metrics'
 * route labels are the document's paths.
 */
static bool path_has_pattern(const char *path, const char *pattern)
{
    return strcmp(path, pattern) == 0;
}

/* A concrete path for a document path: each "{name}" segment becomes "1". False if too long. */
static bool concrete_path(const char *path, char *out, size_t len)
{
    size_t used = 0;
    for (const char *p = path; *p != '\0';) {
        const char *piece = p;
        size_t n = 1;
        if (*p == '{' && strchr(p, '}') != NULL) {
            piece = "1";
            p = strchr(p, '}') + 1;
        } else {
            p++;
        }
        if (used + n >= len)
            return false;
        memcpy(out + used, piece, n);
        used += n;
    }
    out[used] = '\0';
    return true;
}

/*
 * Counts the routes of table that the document does not describe, printing
 * each: no path of that shape, more than one, or no operation for the method.
 */
static int undocumented_routes(const json_t *doc, const struct nd_route *table)
{
    int missing = 0;
    const json_t *paths = json_object_get(doc, "paths");
    for (const struct nd_route *r = table; r->pattern != NULL; r++) {
        const char *path;
        const json_t *item, *found = NULL;
        unsigned matches = 0;
        json_object_foreach((json_t *)paths, path, item)
        {
            if (path_has_pattern(path, r->pattern)) {
                found = item;
                matches++;
            }
        }
        const char *key = method_key(r->method);
        if (matches != 1 || json_object_get(found, key) == NULL) {
            printf("# route %s %s: %u document paths of its shape%s\n", key, r->pattern, matches,
                   matches == 1 ? ", without that operation" : "");
            missing++;
        }
    }
    return missing;
}

/* True when the operation method on path reaches a route of that pattern and method. */
static bool operation_routed(const struct nd_route *table, const char *path, enum nd_method method)
{
    char concrete[PATH_MAX_LEN];
    struct nd_route_match m;
    if (method == 0 || !concrete_path(path, concrete, sizeof concrete))
        return false;
    if (nd_router_match(table, method, concrete, &m) != ND_ROUTE_FOUND)
        return false;
    enum nd_method want = method == ND_METHOD_HEAD ? ND_METHOD_GET : method;
    return (m.route->method == method || m.route->method == want) &&
           path_has_pattern(path, m.route->pattern);
}

/* Counts the operations of the document that table does not serve, printing each. */
static int unrouted_operations(const json_t *doc, const struct nd_route *table)
{
    int unrouted = 0;
    const char *path, *key;
    const json_t *item, *op;
    json_object_foreach((json_t *)json_object_get(doc, "paths"), path, item)
    {
        json_object_foreach((json_t *)item, key, op)
        {
            enum nd_method method;
            if (!operation_method(key, &method))
                continue; /* parameters, summary, description, servers */
            if (!operation_routed(table, path, method)) {
                printf("# operation %s %s is not routed\n", key, path);
                unrouted++;
            }
        }
    }
    return unrouted;
}

/* The value a local "$ref" ("#/a/b") points at in doc, or NULL. */
static const json_t *resolve_pointer(const json_t *doc, const char *ref)
{
    char token[256];
    const json_t *at = doc;
    if (strncmp(ref, "#/", 2) != 0)
        return NULL;
    for (const char *p = ref + 2; at != NULL && *p != '\0';) {
        size_t n = strcspn(p, "/"), used = 0;
        for (size_t i = 0; i < n && used < sizeof token - 1; i++) {
            char c = p[i];
            if (c == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1'))
                c = p[++i] == '0' ? '~' : '/';
            token[used++] = c;
        }
        token[used] = '\0';
        at = json_object_get(at, token);
        p += n;
        if (*p == '/')
            p++;
    }
    return at;
}

/* value itself, or what its "$ref" points at. */
static const json_t *deref(const json_t *doc, const json_t *value)
{
    const char *ref = json_string_value(json_object_get(value, "$ref"));
    return ref != NULL ? resolve_pointer(doc, ref) : value;
}

/* Counts the "$ref"s anywhere under value that do not resolve, printing each. */
static int broken_refs(const json_t *doc, const json_t *value)
{
    int broken = 0;
    const char *key;
    const json_t *child;
    size_t i;
    if (json_is_array(value)) {
        json_array_foreach((json_t *)value, i, child)
        {
            broken += broken_refs(doc, child);
        }
        return broken;
    }
    json_object_foreach((json_t *)value, key, child)
    {
        if (strcmp(key, "$ref") == 0 && json_is_string(child) &&
            resolve_pointer(doc, json_string_value(child)) == NULL) {
            printf("# $ref %s does not resolve\n", json_string_value(child));
            broken++;
        }
        broken += broken_refs(doc, child);
    }
    return broken;
}

/* Checks the responses of one operation; returns the number of faults, printing each. */
static int response_faults(const json_t *doc, const char *path, const char *key, const json_t *op)
{
    int faults = 0;
    bool success = false;
    const char *status;
    const json_t *resp;
    json_object_foreach(json_object_get(op, "responses"), status, resp)
    {
        const json_t *r = deref(doc, resp);
        success = success || status[0] == '2';
        if (status[0] >= '4' &&
            json_object_get(json_object_get(r, "content"), "application/problem+json") == NULL) {
            printf("# %s %s: %s is not a problem document\n", key, path, status);
            faults++;
        }
    }
    if (!success) {
        printf("# %s %s has no 2xx answer\n", key, path);
        faults++;
    }
    if (strcmp(key, "get") == 0) {
        const json_t *ok = deref(doc, json_object_get(json_object_get(op, "responses"), "200"));
        /* an event stream never ends, so it has no ETag to revalidate */
        bool stream = json_object_get(json_object_get(ok, "content"), "text/event-stream") != NULL;
        if (!stream && (json_object_get(json_object_get(ok, "headers"), "ETag") == NULL ||
                        json_object_get(json_object_get(op, "responses"), "304") == NULL)) {
            printf("# get %s: its 200 must list ETag and a 304 must be listed\n", path);
            faults++;
        }
    }
    return faults;
}

/* Checks every operation: a unique operationId, a summary, a tag, its responses. */
static int operation_faults(const json_t *doc)
{
    int faults = 0;
    json_t *ids = json_object();
    const char *path, *key;
    const json_t *item, *op;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        json_object_foreach((json_t *)item, key, op)
        {
            enum nd_method method;
            if (!operation_method(key, &method))
                continue;
            const char *id = json_string_value(json_object_get(op, "operationId"));
            if (id == NULL || json_object_get(ids, id) != NULL ||
                !json_is_string(json_object_get(op, "summary")) ||
                json_array_size(json_object_get(op, "tags")) == 0) {
                printf("# %s %s: operationId missing or repeated, or no summary or tag\n", key,
                       path);
                faults++;
            } else {
                json_object_set_new(ids, id, json_true());
            }
            faults += response_faults(doc, path, key, op);
        }
    }
    json_decref(ids);
    return faults;
}

/* A malloc'd copy of nd_routes with room for extra more entries (zeroed). */
static struct nd_route *copy_routes(size_t extra, size_t *count)
{
    size_t n = 0;
    while (nd_routes[n].pattern != NULL)
        n++;
    struct nd_route *table = calloc(n + extra + 1, sizeof *table);
    if (table != NULL)
        memcpy(table, nd_routes, n * sizeof *table);
    *count = n;
    return table;
}

static void test_document_loads(void)
{
    const struct nd_asset *asset = nd_asset_find("openapi.json");
    CHECK(asset != NULL);
    if (asset != NULL)
        CHECK(strncmp(asset->type, "application/json", 16) == 0);
    json_t *doc = load_document();
    CHECK(doc != NULL);
    CHECK_STR(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    CHECK(json_object_size(json_object_get(doc, "paths")) > 0);
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_object_get(doc, "info"), "license"), "name")),
              "MIT");
    json_decref(doc);
}

static void test_every_route_documented(void)
{
    json_t *doc = load_document();
    CHECK(doc != NULL);
    CHECK_INT(undocumented_routes(doc, nd_routes), 0);
    json_decref(doc);
}

static void test_every_operation_routed(void)
{
    json_t *doc = load_document();
    CHECK(doc != NULL);
    CHECK_INT(unrouted_operations(doc, nd_routes), 0);
    json_decref(doc);
}

/* The checks fail on a route added to the table and on an operation the table lost. */
static void test_checks_catch_drift(void)
{
    size_t n;
    json_t *doc = load_document();
    struct nd_route *table = copy_routes(1, &n);
    CHECK(doc != NULL && table != NULL && n > 1);
    if (doc == NULL || table == NULL || n < 2)
        goto out;
    printf("# expected: one undocumented route, then one unrouted operation\n");
    table[n] = (struct nd_route){"/v1/topics", ND_METHOD_GET, nd_routes[0].handler, ND_CACHE_NEVER,
                                 ND_LANE_INLINE};
    CHECK_INT(undocumented_routes(doc, table), 1);
    table[n] = (struct nd_route){NULL, 0, NULL, ND_CACHE_NEVER, ND_LANE_INLINE};
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].pattern, "/v1/comments/{id}") == 0 &&
            table[i].method == ND_METHOD_DELETE)
            table[i].pattern = "/v1/comments/{id}/gone";
    CHECK_INT(unrouted_operations(doc, table), 1);
    /* and a path only the document knows */
    printf("# expected: one unrouted operation\n");
    json_object_set_new(json_object_get(doc, "paths"), "/v1/extra",
                        json_pack("{s:{s:s}}", "get", "summary", "not served"));
    CHECK_INT(unrouted_operations(doc, nd_routes), 1);
out:
    free(table);
    json_decref(doc);
}

static void test_path_shapes(void)
{
    char buf[64];
    CHECK(path_has_pattern("/v1/articles/{id}/comments", "/v1/articles/{id}/comments"));
    CHECK(path_has_pattern("/", "/"));
    CHECK(!path_has_pattern("/v1/articles/{id}", "/v1/articles"));
    CHECK(!path_has_pattern("/v1/articles/{slug}", "/v1/articles/{id}"));
    CHECK(!path_has_pattern("/v1/articles/{id}", "/v1/articles/{id}/comments"));
    CHECK(concrete_path("/v1/articles/{id}/comments", buf, sizeof buf));
    CHECK_STR(buf, "/v1/articles/1/comments");
    CHECK(!concrete_path("/v1/articles/{id}/comments", buf, 8));
}

static void test_operations_well_formed(void)
{
    json_t *doc = load_document();
    CHECK(doc != NULL);
    CHECK_INT(broken_refs(doc, doc), 0);
    CHECK_INT(operation_faults(doc), 0);
    json_decref(doc);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_document_loads), CHECK_CASE(test_path_shapes),
                     CHECK_CASE(test_every_route_documented),
                     CHECK_CASE(test_every_operation_routed), CHECK_CASE(test_checks_catch_drift),
                     CHECK_CASE(test_operations_well_formed));
}
