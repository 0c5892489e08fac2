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

#include "newsd/events.h"
#include "newsd/handlers.h"
#include "newsd/proxy.h"
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

/* The 429 or 503 of a stream over a limit, with Retry-After. */
static int answer_refused(struct nd_request *req, enum nd_events_admit why)
{
    const struct nd_config *cfg = nd_request_config(req);
    char retry[16];
    snprintf(retry, sizeof retry, "%u", cfg->events_heartbeat);
    if (!nd_respond_header(req, "Retry-After", retry))
        return nd_respond_err(req, ND_ERR_NOMEM, NULL);
    switch (why) {
    case ND_EVENTS_CLIENT_FULL:
        return nd_respond_problem(req, 429,
                                  "this client address has %u event streams open "
                                  "(events-per-client): close one before opening another",
                                  cfg->events_per_client);
    case ND_EVENTS_FULL:
        return nd_respond_problem(req, 503,
                                  "%u event streams are open, the most this server keeps "
                                  "(events-limit): try again later, or poll /v1/changes",
                                  cfg->events_limit);
    case ND_EVENTS_STOPPED:
        return nd_respond_problem(req, 503, "the server is stopping: reconnect in a moment");
    case ND_EVENTS_NOMEM:
    case ND_EVENTS_ADMITTED:
        break;
    }
    return nd_respond_err(req, ND_ERR_NOMEM, NULL);
}

/*
 * Where a new stream starts: after the client's Last-Event-ID (what an
 * EventSource sends when it reconnects), else after ?since=, else after the
 * newest change. Returns 0 with *since set, or the status of the problem.
 */
static int stream_start(struct nd_request *req, int64_t *since)
{
    const char *header = nd_request_header(req, "Last-Event-ID");
    const char *text = header != NULL ? header : nd_request_query(req, "since");
    if (text != NULL) {
        if (!parse_position(text, since))
            return nd_respond_problem(req, 400, "%s must be " POSITION_HINT,
                                      header != NULL ? "Last-Event-ID" : "since");
        return 0;
    }
    struct nd_store *store = nd_request_store(req);
    int64_t through = 0;
    if (store == NULL)
        return nd_respond_problem(req, 503, "the database is unavailable");
    enum nd_err err = nd_store_changes_bounds(store, &through, since);
    return err == ND_OK ? 0 : nd_respond_err(req, err, NULL);
}

int nd_handle_events(struct nd_request *req)
{
    int64_t since = 0;
    int status = stream_start(req, &since);
    if (status != 0)
        return status;
    /* Proxies must neither keep nor buffer it (X-Accel-Buffering: nginx). */
    if (!nd_respond_header(req, "Cache-Control", "no-store") ||
        !nd_respond_header(req, "X-Accel-Buffering", "no"))
        return nd_respond_err(req, ND_ERR_NOMEM, NULL);
    struct nd_stream *stream = nd_stream_create(ND_EVENTS_BUFFER);
    if (stream == NULL)
        return nd_respond_err(req, ND_ERR_NOMEM, NULL);
    /* The answer takes its reference first: the hub may end and drop the
     * stream as soon as it has it. A problem answer set later drops it. */
    status = nd_respond_stream(req, "text/event-stream", stream);
    if (nd_request_method(req) == ND_METHOD_HEAD) {
        /* the same head as GET's, and an empty body that is over at once */
        nd_stream_end(stream);
        nd_stream_release(stream);
        return status;
    }
    /* counted like the other per-address limits: an IPv6 client by its /64 */
    char client[ND_ADDR_TEXT_MAX];
    nd_proxy_bucket_key(nd_request_client(req), client, sizeof client);
    enum nd_events_admit admit =
        nd_events_subscribe(nd_request_events(req), stream, client, nd_request_has_key(req), since);
    if (admit != ND_EVENTS_ADMITTED) {
        nd_stream_release(stream);
        return answer_refused(req, admit);
    }
    return status; /* the hub has taken this function's reference */
}
