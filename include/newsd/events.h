/*
 * events.h: the hub behind GET /v1/events, which streams the change log
 * (store.h) as Server-Sent Events.
 *
 * One thread of its own, with its own database connection, reads each new
 * change once, renders it once and writes it to every stream allowed to see
 * it; streams that fell behind (a replay after Last-Event-ID, or a client
 * slower than the changes come) are fed from the log at their own pace,
 * and a stream whose position the log no longer holds gets "event: reset".
 * It wakes when a local write says so (nd_events_notify) and otherwise
 * polls the log four times a second, which is how other processes' writes
 * (newsd import) are seen. It also sends the heartbeats of idle streams and
 * prunes the log (change-log-days) once an hour. Streams wait without a
 * worker thread (http.h, struct nd_stream).
 *
 * An event: "id: N\nevent: KIND\ndata: {change as JSON}\n\n", the change
 * as store.h describes it; a reset: "id: N\nevent: reset\ndata:
 * {\"next_since\":N,\"detail\":...}\n\n" with N the newest change (the
 * stream goes on from there); a heartbeat: ": ping\n\n".
 */
#ifndef NEWSD_EVENTS_H
#define NEWSD_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "newsd/config.h"
#include "newsd/err.h"
#include "newsd/http.h"

/* Bytes of events a stream buffers for a client that reads slowly; past
 * that it is fed from the log again once the client has caught up. */
#define ND_EVENTS_BUFFER (64 * 1024)

/* How often the log is polled for other processes' writes. */
#define ND_EVENTS_POLL_MS 250

struct nd_events;

/*
 * Starts the hub for cfg (borrowed for its life: db, change-log-days,
 * events-*). The database is opened by the hub's thread, again and again
 * until it can be: a missing database delays events, it does not stop the
 * server. ND_ERR_NOMEM, or ND_ERR_IO when the thread cannot start (logged).
 */
enum nd_err nd_events_start(const struct nd_config *cfg, struct nd_events **out);

/* A write of this process has committed: look at the log now. Thread-safe. */
void nd_events_notify(struct nd_events *events);

enum nd_events_admit {
    ND_EVENTS_ADMITTED = 0,
    ND_EVENTS_CLIENT_FULL, /* events-per-client streams of this client are open */
    ND_EVENTS_FULL,        /* events-limit streams are open in all */
    ND_EVENTS_STOPPED,     /* the server is stopping */
    ND_EVENTS_NOMEM,
};

/*
 * Adds stream to the hub: it gets a "retry:" line at once, then every
 * change after since (a change id from the client, or the newest id when it
 * gave none) that it may see (all: drafts and pending comments too), until
 * the hub stops or the stream is gone. client (copied) is the address the
 * per-client limit counts. On ND_EVENTS_ADMITTED the hub has taken the
 * caller's reference to stream; otherwise the caller keeps it. Thread-safe.
 */
enum nd_events_admit nd_events_subscribe(struct nd_events *events, struct nd_stream *stream,
                                         const char *client, bool all, int64_t since);

/*
 * Stops the thread and ends every stream (each sends what it has buffered,
 * then its answer ends), and refuses new ones. Idempotent.
 */
void nd_events_stop(struct nd_events *events);

/* Stops the hub (nd_events_stop) and frees it. Accepts NULL. */
void nd_events_destroy(struct nd_events *events);

#endif
