/*
 * handler_write.c: what the handlers of writes share: the prelude of PATCH
 * and DELETE (key, id, store), the store-and-body step of a creation, DELETE
 * itself, and the 201 answer of a creation (see newsd/handler_write.h).
 */
#include "newsd/handler_write.h"

#include <inttypes.h>
#include <stdio.h>

#include "newsd/util.h"

int nd_handler_keyed_target(struct nd_request *req, const char *bad_id, int64_t *id,
                            struct nd_store **store)
{
    int status = nd_request_require_key(req);
    if (status != 0)
        return status;
    if (!nd_parse_id(nd_request_param(req, 0), id))
        return nd_respond_problem(req, 400, "%s", bad_id);
    *store = nd_request_store(req);
    if (*store == NULL)
        return nd_respond_unavailable(req);
    return 0;
}

int nd_handler_store_and_body(struct nd_request *req, struct nd_store **store, json_t **body)
{
    struct nd_store *found = nd_request_store(req);
    if (found == NULL)
        return nd_respond_unavailable(req);
    int status = nd_request_json(req, body);
    if (status == 0)
        *store = found;
    return status;
}

int nd_handler_delete(struct nd_request *req, const char *bad_id, const char *noun,
                      enum nd_err (*remove)(struct nd_store *store, int64_t id))
{
    int64_t id;
    struct nd_store *store = NULL;
    int status = nd_handler_keyed_target(req, bad_id, &id, &store);
    if (status != 0)
        return status;
    enum nd_err err = remove(store, id);
    if (err == ND_ERR_NOT_FOUND)
        return nd_respond_problem(req, 404, "no %s with id %" PRId64, noun, id);
    if (err != ND_OK) {
        char detail[64];
        snprintf(detail, sizeof detail, "could not delete the %s", noun);
        return nd_respond_err(req, err, detail);
    }
    return nd_respond_json(req, 204, NULL);
}

int nd_handler_respond_created(struct nd_request *req, const char *prefix, json_t *created)
{
    char location[64];
    snprintf(location, sizeof location, "%s%" PRId64, prefix,
             (int64_t)json_integer_value(json_object_get(created, "id")));
    if (!nd_respond_header(req, "Location", location)) {
        json_decref(created);
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    }
    return nd_respond_json(req, 201, created);
}
