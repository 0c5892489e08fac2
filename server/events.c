/*
 * events.c: the hub that turns the change log into Server-Sent Events (see
 * newsd/events.h for what it sends and when).
 *
 * Each subscriber has a cursor: the newest change id it has been given or
 * has skipped (changes it may not see are skipped once and for all). head
 * is the newest change the hub has read for everyone. A step reads the
 * changes after head once (a batch), then, for each subscriber:
 *   - cursor >= the old head: it is caught up; it gets the batch's changes
 *     after its cursor that it may see;
 *   - cursor older: it is behind (it asked for a replay, or its buffer was
 *     full); it reads on from the log on its own, a page at a time, until
 *     its buffer is full or it has caught up.
 * A subscriber whose cursor the log no longer holds gets a reset and jumps
 * to the newest change. A write that finds a buffer full leaves the cursor
 * where it was, so nothing is ever lost or sent twice.
 *
 * The hub's lock guards the subscribers, head and the flags (poked is
 * atomic: a write's nd_events_notify never waits for the lock); the thread
 * holds it through a step (its reads). Lock order: the hub's, then a
 * stream's (http_stream.c).
 */
#include "newsd/events.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "newsd/log.h"
#include "newsd/proxy.h"
#include "newsd/store.h"
#include "newsd/util.h"

#define BATCH_MAX 256                /* changes read for everyone per step */
#define BACKFILL_PAGE 100            /* changes a subscriber behind reads per page */
#define BACKFILL_PAGES 8             /* pages per subscriber per step */
#define PRUNE_EVERY_S 3600           /* the log is pruned this often */
#define STORE_RETRY_S 5              /* a database that cannot be opened is tried again */
#define RETRY_LINE "retry: 3000\n\n" /* how long a browser waits before reconnecting */

struct event {
    int64_t id;
    bool public;
    char *text;
    size_t len;
};

struct batch {
    struct event items[BATCH_MAX];
    size_t n;
};

struct subscriber {
    struct nd_stream *stream; /* a reference */
    char client[ND_ADDR_TEXT_MAX];
    bool all;
    int64_t cursor;
    bool new_cursor; /* a cursor from the client, not yet checked against the log */
    uint64_t last_write_us;
};

struct nd_events {
    const struct nd_config *cfg;
    struct nd_store *store; /* the thread's own */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_bool poked; /* set without the lock too (nd_events_notify) */
    bool stopping;
    bool stopped;
    struct subscriber *subs;
    size_t nsubs;
    size_t cap;
    int64_t head;
    bool head_known;
    struct batch batch; /* the step's, kept here rather than on the stack */
    uint64_t next_prune_us;
    uint64_t next_open_us;
    bool open_failure_logged;
};

/* ---- rendering --------------------------------------------------------- */

/* "id: N\nevent: KIND\ndata: JSON\n\n" for change, malloc'd into *text. */
static enum nd_err render(int64_t id, const json_t *change, char **text, size_t *len)
{
    char *data = json_dumps(change, JSON_COMPACT);
    const char *kind = json_string_value(json_object_get(change, "kind"));
    if (data == NULL || kind == NULL) {
        free(data);
        return ND_ERR_NOMEM;
    }
    size_t size = strlen(data) + strlen(kind) + 64;
    char *out = malloc(size);
    if (out == NULL) {
        free(data);
        return ND_ERR_NOMEM;
    }
    int n = snprintf(out, size, "id: %" PRId64 "\nevent: %s\ndata: %s\n\n", id, kind, data);
    free(data);
    *text = out;
    *len = (size_t)n;
    return ND_OK;
}

/* Writes text to sub, noting the time when it was buffered. */
static enum nd_stream_result send_text(struct subscriber *sub, const char *text, size_t len)
{
    enum nd_stream_result r = nd_stream_write(sub->stream, text, len);
    if (r == ND_STREAM_WRITTEN)
        sub->last_write_us = nd_monotonic_us();
    return r;
}

/* ---- the subscriber behind --------------------------------------------- */

/* Sends the reset of a subscriber the log cannot serve, and moves it to the newest change. */
static void send_reset(struct nd_events *ev, struct subscriber *sub)
{
    char text[400];
    int64_t through = 0, last = 0;
    if (nd_store_changes_bounds(ev->store, &through, &last) != ND_OK)
        return; /* logged; tried again next step */
    int n = snprintf(text, sizeof text,
                     "id: %" PRId64 "\nevent: reset\ndata: {\"next_since\":%" PRId64
                     ",\"detail\":\"the change log no longer holds the changes after %" PRId64
                     ": load everything again; events go on after %" PRId64 "\"}\n\n",
                     last, last, sub->cursor, last);
    if (send_text(sub, text, (size_t)n) == ND_STREAM_WRITTEN)
        sub->cursor = last;
}

/* nd_change_fn of a backfill: one change to one subscriber. */
static enum nd_err backfill_one(void *ctx, int64_t id, bool public, const json_t *change)
{
    struct subscriber *sub = ctx;
    char *text = NULL;
    size_t len = 0;
    (void)public; /* the read asked only for what sub may see */
    enum nd_err err = render(id, change, &text, &len);
    if (err != ND_OK)
        return err;
    enum nd_stream_result r = send_text(sub, text, len);
    free(text);
    if (r != ND_STREAM_WRITTEN)
        return ND_ERR_LIMIT; /* full or closed: stop here, the cursor stays */
    sub->cursor = id;
    return ND_OK;
}

/*
 * A cursor the client gave that is newer than the log's newest change
 * comes from another database (a restored or replaced one): reset. A
 * cursor older than head is checked by its first backfill instead.
 */
static void check_new_cursor(struct nd_events *ev, struct subscriber *sub)
{
    int64_t through = 0, last = 0;
    if (sub->cursor > ev->head && nd_store_changes_bounds(ev->store, &through, &last) == ND_OK &&
        sub->cursor > last)
        send_reset(ev, sub);
    sub->new_cursor = false;
}

/* Feeds a subscriber that is behind from the log, a few pages at most. */
static void backfill(struct nd_events *ev, struct subscriber *sub)
{
    for (int i = 0; i < BACKFILL_PAGES; i++) {
        struct nd_change_page page;
        enum nd_err err = nd_store_changes_read(ev->store, sub->cursor, sub->all, BACKFILL_PAGE,
                                                backfill_one, sub, &page);
        if (err == ND_ERR_NOT_FOUND) {
            send_reset(ev, sub);
            return;
        }
        if (err != ND_OK)
            return; /* a full buffer (ND_ERR_LIMIT), or logged by the store */
        sub->cursor = page.next;
        if (!page.more)
            return;
    }
}

/* ---- one step ---------------------------------------------------------- */

/* nd_change_fn of the batch: renders each new change once. */
static enum nd_err batch_one(void *ctx, int64_t id, bool public, const json_t *change)
{
    struct batch *b = ctx;
    struct event *e = &b->items[b->n];
    enum nd_err err = render(id, change, &e->text, &e->len);
    if (err != ND_OK)
        return err;
    e->id = id;
    e->public = public;
    b->n++;
    return ND_OK;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->items[i].text);
    b->n = 0;
}

/*
 * Reads the changes after head into b and moves head on. Returns true when
 * more are waiting. A head the log no longer holds (pruned, or a replaced
 * database) jumps to the newest change.
 */
static bool read_batch(struct nd_events *ev, struct batch *b)
{
    struct nd_change_page page = {0, false};
    int64_t through = 0, last = 0;
    if (!ev->head_known) {
        if (nd_store_changes_bounds(ev->store, &through, &ev->head) != ND_OK)
            return false;
        ev->head_known = true;
    }
    enum nd_err err =
        nd_store_changes_read(ev->store, ev->head, true, BATCH_MAX, batch_one, b, &page);
    if (err == ND_ERR_NOT_FOUND && nd_store_changes_bounds(ev->store, &through, &last) == ND_OK) {
        nd_log(ND_LOG_WARN, "events: the change log moved from %" PRId64 " to %" PRId64, ev->head,
               last);
        ev->head = last;
        return false;
    }
    if (err != ND_OK) {
        batch_free(b);
        return false;
    }
    ev->head = page.next;
    return page.more;
}

/* What a caught-up subscriber gets of the batch. */
static void deliver(struct subscriber *sub, const struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct event *e = &b->items[i];
        if (e->id <= sub->cursor)
            continue;
        if ((e->public || sub->all) && send_text(sub, e->text, e->len) != ND_STREAM_WRITTEN)
            return; /* behind from now on: fed from the log */
        sub->cursor = e->id;
    }
}

/* Drops subscriber i (its stream is gone). */
static void remove_sub(struct nd_events *ev, size_t i)
{
    nd_stream_release(ev->subs[i].stream);
    ev->subs[i] = ev->subs[--ev->nsubs];
}

/* Opens the thread's store when it has none (not more often than every few seconds). */
static bool have_store(struct nd_events *ev)
{
    if (ev->store != NULL)
        return true;
    uint64_t now = nd_monotonic_us();
    if (now < ev->next_open_us)
        return false;
    struct nd_store_options opts = {ev->cfg->synchronous, ev->cfg->busy_timeout_ms,
                                    ev->cfg->db_cache_size, ev->cfg->db_mmap_size, false};
    enum nd_err err = nd_store_open(ev->cfg->db_path, &opts, &ev->store);
    if (err != ND_OK) {
        ev->store = NULL;
        ev->next_open_us = now + STORE_RETRY_S * 1000000ULL;
        char shown[512];
        if (!ev->open_failure_logged)
            nd_log(ND_LOG_ERROR, "events: cannot open the database %s: %s",
                   nd_store_describe(ev->cfg->db_path, shown, sizeof shown), nd_err_str(err));
        ev->open_failure_logged = true;
        return false;
    }
    return true;
}

/* One step (the lock held): returns true when more changes are waiting. */
static bool step(struct nd_events *ev)
{
    struct batch *b = &ev->batch;
    if (ev->nsubs == 0) {
        /* Nobody to tell: read nothing (and allocate nothing); the next
         * subscriber makes the hub find the newest change again. */
        ev->head_known = false;
        return false;
    }
    if (!have_store(ev))
        return false;
    int64_t old_head = ev->head;
    bool caught_up_before = ev->head_known;
    bool more = read_batch(ev, b);
    uint64_t beat = (uint64_t)ev->cfg->events_heartbeat * 1000000ULL;
    for (size_t i = 0; i < ev->nsubs;) {
        struct subscriber *sub = &ev->subs[i];
        if (nd_stream_gone(sub->stream)) {
            remove_sub(ev, i);
            continue;
        }
        if (sub->new_cursor)
            check_new_cursor(ev, sub);
        if (caught_up_before && sub->cursor >= old_head)
            deliver(sub, b);
        else
            backfill(ev, sub);
        if (nd_monotonic_us() - sub->last_write_us >= beat)
            send_text(sub, ": ping\n\n", 8);
        i++;
    }
    batch_free(b);
    return more;
}

/* ---- the thread -------------------------------------------------------- */

static void prune(struct nd_events *ev)
{
    unsigned long removed = 0;
    int64_t before = nd_time_now() - (int64_t)ev->cfg->change_log_days * 86400;
    if (nd_store_changes_prune(ev->store, before, &removed) == ND_OK && removed > 0)
        nd_log(ND_LOG_INFO, "events: pruned %lu changes older than %u days", removed,
               ev->cfg->change_log_days);
}

static void wait_ms(struct nd_events *ev, unsigned ms)
{
    struct timespec until = nd_time_after_ms(CLOCK_MONOTONIC, ms);
    while (!atomic_load(&ev->poked) && !ev->stopping)
        if (pthread_cond_timedwait(&ev->wake, &ev->lock, &until) != 0)
            break;
}

static void *run(void *arg)
{
    struct nd_events *ev = arg;
    pthread_mutex_lock(&ev->lock);
    while (!ev->stopping) {
        atomic_store(&ev->poked, false);
        bool more = step(ev);
        if (nd_monotonic_us() >= ev->next_prune_us && have_store(ev)) {
            ev->next_prune_us = nd_monotonic_us() + PRUNE_EVERY_S * 1000000ULL;
            pthread_mutex_unlock(&ev->lock); /* subscribers need not wait for it */
            prune(ev);
            pthread_mutex_lock(&ev->lock);
        }
        if (!more)
            wait_ms(ev, ND_EVENTS_POLL_MS);
    }
    pthread_mutex_unlock(&ev->lock);
    return NULL;
}

enum nd_err nd_events_start(const struct nd_config *cfg, struct nd_events **out)
{
    pthread_condattr_t attr;
    struct nd_events *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return ND_ERR_NOMEM;
    ev->cfg = cfg;
    atomic_init(&ev->poked, false);
    pthread_mutex_init(&ev->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ev->wake, &attr);
    pthread_condattr_destroy(&attr);
    int rc = pthread_create(&ev->thread, NULL, run, ev);
    if (rc != 0) {
        nd_log(ND_LOG_ERROR, "events: cannot start the thread: %s", strerror(rc));
        pthread_cond_destroy(&ev->wake);
        pthread_mutex_destroy(&ev->lock);
        free(ev);
        return ND_ERR_IO;
    }
    *out = ev;
    return ND_OK;
}

/*
 * Never waits for the lock: a write must not wait for a step of the hub,
 * which holds it through its reads. When the lock is taken, the hub is
 * awake (it sees poked before it waits again) or another caller holds it
 * briefly (it pokes too, or the poll finds the change).
 */
void nd_events_notify(struct nd_events *ev)
{
    if (ev == NULL)
        return;
    atomic_store(&ev->poked, true);
    if (pthread_mutex_trylock(&ev->lock) != 0)
        return;
    pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->lock);
}

/* Counts the open streams, in all and of client, dropping those that are gone. */
static void count_open(struct nd_events *ev, const char *client, size_t *same)
{
    *same = 0;
    for (size_t i = 0; i < ev->nsubs;) {
        if (nd_stream_gone(ev->subs[i].stream)) {
            remove_sub(ev, i);
            continue;
        }
        if (strcmp(ev->subs[i].client, client) == 0)
            (*same)++;
        i++;
    }
}

enum nd_events_admit nd_events_subscribe(struct nd_events *ev, struct nd_stream *stream,
                                         const char *client, bool all, int64_t since)
{
    enum nd_events_admit result = ND_EVENTS_ADMITTED;
    size_t same = 0;
    pthread_mutex_lock(&ev->lock);
    if (ev->stopping) {
        result = ND_EVENTS_STOPPED;
        goto out;
    }
    count_open(ev, client, &same);
    if (ev->nsubs >= ev->cfg->events_limit) {
        result = ND_EVENTS_FULL;
        goto out;
    }
    if (same >= ev->cfg->events_per_client) {
        /* A stream whose client left while it waited is noticed only when
         * something is written to it: ping this client's streams now, so
         * that its retry finds their places free if they are gone. */
        for (size_t i = 0; i < ev->nsubs; i++)
            if (strcmp(ev->subs[i].client, client) == 0)
                send_text(&ev->subs[i], ": ping\n\n", 8);
        result = ND_EVENTS_CLIENT_FULL;
        goto out;
    }
    if (ev->nsubs == ev->cap) {
        size_t cap = ev->cap ? ev->cap * 2 : 16;
        struct subscriber *grown = realloc(ev->subs, cap * sizeof *grown);
        if (grown == NULL) {
            result = ND_EVENTS_NOMEM;
            goto out;
        }
        ev->subs = grown;
        ev->cap = cap;
    }
    struct subscriber *sub = &ev->subs[ev->nsubs++];
    memset(sub, 0, sizeof *sub);
    sub->stream = stream;
    snprintf(sub->client, sizeof sub->client, "%s", client);
    sub->all = all;
    sub->cursor = since;
    sub->new_cursor = true;
    send_text(sub, RETRY_LINE, sizeof RETRY_LINE - 1);
    atomic_store(&ev->poked, true); /* a replay starts at once */
    pthread_cond_signal(&ev->wake);
out:
    pthread_mutex_unlock(&ev->lock);
    return result;
}

void nd_events_stop(struct nd_events *ev)
{
    if (ev == NULL)
        return;
    pthread_mutex_lock(&ev->lock);
    bool joined = ev->stopped;
    ev->stopping = true;
    ev->stopped = true;
    pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->lock);
    if (!joined)
        pthread_join(ev->thread, NULL);
    pthread_mutex_lock(&ev->lock);
    for (size_t i = 0; i < ev->nsubs; i++) {
        nd_stream_end(ev->subs[i].stream);
        nd_stream_release(ev->subs[i].stream);
    }
    ev->nsubs = 0;
    pthread_mutex_unlock(&ev->lock);
}

void nd_events_destroy(struct nd_events *ev)
{
    if (ev == NULL)
        return;
    nd_events_stop(ev);
    nd_store_close(ev->store);
    free(ev->subs);
    pthread_cond_destroy(&ev->wake);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}
