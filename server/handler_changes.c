/*
 * handler_changes.c: the change log over HTTP. GET /v1/changes pages
 * through it as JSON; GET /v1/events streams it as Server-Sent Events (the
 * stream itself is events.c's). Both show readers without a key only the
 * public changes, and both tell a client whose position the log no longer
 * holds to load everything again: /v1/changes with a 410, /v1/events with
 * an "event: reset" (events.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/handlers.h"
#include "newsd/store.h"
#include "newsd/url.h"
#include "newsd/util.h"
#include "newsd/validate.h"

#define POSITION_HINT "a change id: a whole number, 0 or more, as an earlier answer gave it"

/*
 * A position in the log: "0" or a positive id. False for anything else
 * (signs, spaces, leading zeros, past INT64_MAX).
 */
static bool parse_position(const char *text, int64_t *out)
{
    if (text != NULL && strcmp(text, "0") == 0) {
        *out = 0;
        return true;
    }
    return nd_parse_id(text, out);
}

/* nd_change_fn appending to a JSON array. */
static enum nd_err append_change(void *ctx, int64_t id, bool public, const json_t *change)
{
    (void)id;
    (void)public;
    return json_array_append(ctx, (json_t *)change) == 0 ? ND_OK : ND_ERR_NOMEM;
}

/* The 410 of a position the log does not hold, saying where it stands now. */
static int answer_gone(struct nd_request *req, struct nd_store *store, int64_t since)
{
    int64_t through = 0, last = 0;
    enum nd_err err = nd_store_changes_bounds(store, &through, &last);
    if (err != ND_OK)
        return nd_respond_err(req, err, NULL);
    if (since > last)
        return nd_respond_problem(req, 410,
                                  "since %" PRId64 " is newer than the newest change (%" PRId64
                                  "): this is another database; load everything again, then "
                                  "follow the changes from since=%" PRId64,
                                  since, last, last);
    return nd_respond_problem(req, 410,
                              "the changes after %" PRId64 " are no longer kept (the log starts "
                              "after %" PRId64 "): load everything again, then follow the "
                              "changes from since=%" PRId64,
                              since, through, last);
}

/*
 * {"data":items,"next_cursor":"N"|null,"next_since":N}, with a Link to the
 * next page when more changes are waiting. Takes items.
 */
static int respond_changes(struct nd_request *req, json_t *items, unsigned limit,
                           const struct nd_change_page *page)
{
    char next[24], limit_text[12];
    char *link = NULL;
    int status;
    snprintf(next, sizeof next, "%" PRId64, page->next);
    snprintf(limit_text, sizeof limit_text, "%u", limit);
    json_t *body = json_pack("{s:o, s:s?, s:I}", "data", items, "next_cursor",
                             page->more ? next : NULL, "next_since", (json_int_t)page->next);
    if (body == NULL)
        return nd_respond_err(req, ND_ERR_NOMEM, NULL);
    if (page->more) {
        const char *const params[][2] = {{"limit", limit_text}, {"since", next}};
        link = nd_url_build_next_link("/v1/changes", params, 2);
        if (link == NULL || !nd_respond_header(req, "Link", link)) {
            json_decref(body);
            status = nd_respond_err(req, ND_ERR_NOMEM, NULL);
            goto out;
        }
    }
    status = nd_respond_json(req, 200, body);
out:
    free(link);
    return status;
}

int nd_handle_changes(struct nd_request *req)
{
    unsigned limit;
    int64_t since = -1;
    struct nd_change_page page;
    const char *since_text = nd_request_query(req, "since");
    if (!nd_validate_limit(nd_request_query(req, "limit"), &limit))
        return nd_respond_problem(req, 400, "limit must be an integer from 1 to %d", ND_LIMIT_MAX);
    if (since_text != NULL && !parse_position(since_text, &since))
        return nd_respond_problem(req, 400, "since must be " POSITION_HINT);
    struct nd_store *store = nd_request_store(req);
    if (store == NULL)
        return nd_respond_unavailable(req);
    json_t *items = json_array();
    if (items == NULL)
        return nd_respond_err(req, ND_ERR_NOMEM, NULL);
    enum nd_err err = nd_store_changes_read(store, since, nd_request_has_key(req), limit,
                                            append_change, items, &page);
    if (err != ND_OK) {
        json_decref(items);
        if (err == ND_ERR_NOT_FOUND)
            return answer_gone(req, store, since);
        return nd_respond_err(req, err, NULL);
    }
    return respond_changes(req, items, limit, &page);
}
