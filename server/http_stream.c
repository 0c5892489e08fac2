/*
 * http_stream.c: answers whose body is written later, by another thread,
 * for as long as the client stays (GET /v1/events).
 *
 * A struct nd_stream is a capped byte buffer between a producer (events.c)
 * and libmicrohttpd's content reader. The reader never blocks: it hands out
 * what is buffered, and when nothing is, it suspends the connection
 * (MHD_suspend_connection, which needs MHD_ALLOW_SUSPEND_RESUME) and returns
 * 0, so the stream holds no worker thread while it waits. The next write, or
 * the end, resumes it. The buffer's lock makes "nothing buffered, so
 * suspend" and "bytes added, so resume" exclusive: a resume is never lost,
 * and libmicrohttpd is never asked to resume a connection that is not
 * suspended (undefined behaviour).
 *
 * Lock order: a stream's lock, then libmicrohttpd's own (inside suspend
 * and resume). The response's free callback, which libmicrohttpd may call
 * under its own locks, takes no lock: it only marks the stream gone and
 * drops its reference.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "newsd/log.h"

#define STREAM_FIRST_CAP 1024
#define STREAM_BLOCK 8192 /* most bytes one call of the reader is asked for */

struct nd_stream {
    pthread_mutex_t lock;
    atomic_uint refs;
    atomic_bool gone; /* the answer is over: nothing will be read any more */
    char *buf;
    size_t start; /* the unread bytes are buf[start, start + len) */
    size_t len;
    size_t cap;
    size_t max; /* the most bytes buffered at once */
    bool ended;
    bool suspended; /* this stream suspended conn and nobody resumed it yet */
    struct MHD_Connection *conn;
};

struct nd_stream *nd_stream_create(size_t max_buffered)
{
    struct nd_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    atomic_init(&s->gone, false);
    s->max = max_buffered > 0 ? max_buffered : STREAM_FIRST_CAP;
    return s;
}

void nd_stream_release(struct nd_stream *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s->buf);
    free(s);
}

/* Wakes the connection if this stream put it to sleep. Called with the lock held. */
static void wake(struct nd_stream *s)
{
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

/* Makes room for add more bytes (within max). False when out of memory. */
static bool make_room(struct nd_stream *s, size_t add)
{
    if (s->start > 0) {
        memmove(s->buf, s->buf + s->start, s->len);
        s->start = 0;
    }
    if (s->len + add <= s->cap)
        return true;
    size_t cap = s->cap > 0 ? s->cap : STREAM_FIRST_CAP;
    while (cap < s->len + add)
        cap *= 2;
    if (cap > s->max)
        cap = s->max;
    char *grown = realloc(s->buf, cap);
    if (grown == NULL)
        return false;
    s->buf = grown;
    s->cap = cap;
    return true;
}

enum nd_stream_result nd_stream_write(struct nd_stream *s, const char *data, size_t len)
{
    enum nd_stream_result result = ND_STREAM_WRITTEN;
    pthread_mutex_lock(&s->lock);
    if (s->ended || atomic_load(&s->gone)) {
        result = ND_STREAM_CLOSED;
        goto out;
    }
    if (len > s->max - s->len || !make_room(s, len)) {
        result = ND_STREAM_FULL;
        goto out;
    }
    memcpy(s->buf + s->start + s->len, data, len);
    s->len += len;
    wake(s);
out:
    pthread_mutex_unlock(&s->lock);
    return result;
}

void nd_stream_end(struct nd_stream *s)
{
    pthread_mutex_lock(&s->lock);
    s->ended = true;
    wake(s);
    pthread_mutex_unlock(&s->lock);
}

bool nd_stream_gone(const struct nd_stream *s)
{
    return atomic_load(&s->gone);
}

int nd_respond_stream(struct nd_request *req, const char *type, struct nd_stream *s)
{
    nd_respond_static(req, 200, type, "", 0);
    nd_stream_release(req->stream);
    atomic_fetch_add(&s->refs, 1);
    req->stream = s;
    return 200;
}

/* libmicrohttpd's content reader: never blocks (see the top of the file). */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct nd_stream *s = cls;
    ssize_t n;
    (void)pos;
    pthread_mutex_lock(&s->lock);
    if (s->len > 0) {
        size_t take = s->len < max ? s->len : max;
        memcpy(buf, s->buf + s->start, take);
        s->start += take;
        s->len -= take;
        if (s->len == 0)
            s->start = 0;
        n = (ssize_t)take;
    } else if (s->ended) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        MHD_suspend_connection(s->conn);
        s->suspended = true;
        n = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* The response is done with: the producer learns it from nd_stream_gone. */
static void free_stream(void *cls)
{
    struct nd_stream *s = cls;
    atomic_store(&s->gone, true);
    nd_stream_release(s);
}

struct MHD_Response *nd_http_stream_response(struct nd_request *req)
{
    struct nd_stream *s = req->stream;
    pthread_mutex_lock(&s->lock);
    s->conn = req->conn;
    pthread_mutex_unlock(&s->lock);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                                  read_stream, s, free_stream);
    if (resp == NULL) {
        nd_log(ND_LOG_ERROR, "out of memory for the stream answering %s", req->path);
        return NULL;
    }
    req->stream = NULL; /* the response holds the reference now */
    return resp;
}
