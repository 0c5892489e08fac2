/*
 * handler_write.h: what the handlers of writes share: the prelude of PATCH
 * and DELETE of an article or a comment, the store-and-body step of a
 * creation, DELETE itself, and the 201 answer of a creation.
 */
#ifndef NEWSD_HANDLER_WRITE_H
#define NEWSD_HANDLER_WRITE_H

#include <jansson.h>
#include <stdint.h>

#include "newsd/http.h"
#include "newsd/store.h"

/*
 * The start of every keyed write to one resource (PATCH and DELETE of an
 * article or a comment): a valid key, the id in the path (bad_id is the 400's
 * detail when it is not one) and this thread's store. Returns 0 with *id and
 * *store set, or the status of the problem it answered (401, 400, 503).
 */
int nd_handler_keyed_target(struct nd_request *req, const char *bad_id, int64_t *id,
                            struct nd_store **store);

/*
 * The step every creation takes once the caller may write (key or rate limit
 * checked): this thread's store and the request body as JSON. Returns 0 with
 * *store set and *body a new reference the caller releases, or the status of
 * the problem it answered (503 without a database, or a status of
 * nd_request_json); then neither is written.
 */
int nd_handler_store_and_body(struct nd_request *req, struct nd_store **store, json_t **body);

/*
 * DELETE of one resource by id, with a key: remove(store, id) from the store,
 * then 204, 404 naming "no NOUN with id N", or the store's error. bad_id as
 * for nd_handler_keyed_target. Returns the status.
 */
int nd_handler_delete(struct nd_request *req, const char *bad_id, const char *noun,
                      enum nd_err (*remove)(struct nd_store *store, int64_t id));

/*
 * 201 with Location: PREFIX + the "id" of created (a reference taken) and
 * created as the body. Returns the status (500 when out of memory).
 */
int nd_handler_respond_created(struct nd_request *req, const char *prefix, json_t *created);

#endif
