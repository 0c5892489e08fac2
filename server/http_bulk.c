/*
 * http_bulk.c: POST /v1/articles/bulk, articles as newline-delimited JSON,
 * stored as the lines arrive.
 *
 * The body is never buffered whole. Each piece libmicrohttpd hands over is
 * cut into lines (a line split between pieces waits in a buffer of at most
 * bulk-max-line bytes); each line is read, validated and stored exactly as
 * POST /v1/articles would (nd_validate_article, nd_store_article_create),
 * each in its own savepoint of a batch, so a bad line never undoes its
 * neighbours. A batch is committed every BATCH_LINES lines and at the end of
 * every piece, so no transaction waits on the network and a slow client
 * never holds the write lock; the response cache is invalidated after each
 * commit. Every line takes a token of its key's write budget, as a single
 * write does.
 *
 * One result per line (blank lines have none) goes, once the line's batch
 * is committed, to an unlinked temporary file as NDJSON (a line whose batch
 * failed to commit is answered 503 there, never 201):
 * {"line":N,"status":201,"id":..,"slug":..,"location":..}, or the problem document a single create
 * would answer, with "line" added. Once the body has ended, the file is the answer's body, streamed
 * by libmicrohttpd from the file. Memory stays at one line and one piece, whatever the number of
 * lines.
 *
 * Refused at once, before any line is read: no or a bad key (401), a
 * Content-Type other than application/x-ndjson (415), a Content-Length over
 * bulk-max-body (413). A chunked body that passes bulk-max-body, or a line
 * past bulk-max-lines, ends the reading: what came before is stored and
 * answered, and one last result with status 413 names the limit.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http_internal.h"
#include "newsd/auth.h"
#include "newsd/handlers.h"
#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/store.h"
#include "newsd/util.h"
#include "newsd/validate.h"

#define NDJSON_TYPE "application/x-ndjson"
#define BATCH_LINES 500

struct nd_bulk {
    json_t *pending;    /* results of the lines since the last commit, spooled after it */
    FILE *spool;        /* the results, one JSON line each */
    uint64_t spool_len; /* bytes written to spool */
    char *line;         /* the part of a line received so far */
    size_t line_len;
    bool line_too_long; /* the current line passed bulk-max-line: skipped to its end */
    unsigned long lineno;
    unsigned long lines;    /* non-blank lines read */
    unsigned long in_batch; /* lines in the open batch */
    uint64_t body_seen;
    bool stopped; /* a limit ended the reading; the rest is discarded */
    bool failed;  /* the spool could not be written: the answer is a 500 */
    char key_id[ND_KEY_ID_LEN + 1];
    char request_id[ND_REQUEST_ID_MAX + 1]; /* in every problem, as in a single write's */
};

void nd_http_bulk_destroy(struct nd_bulk *bulk)
{
    if (bulk == NULL)
        return;
    if (bulk->spool != NULL)
        fclose(bulk->spool);
    json_decref(bulk->pending);
    free(bulk->line);
    free(bulk);
}

/* "application/x-ndjson" in any case, alone or followed by parameters. */
static bool is_ndjson(const char *ctype)
{
    size_t n = sizeof NDJSON_TYPE - 1;
    if (ctype == NULL)
        return false;
    ctype += strspn(ctype, " \t");
    if (strncasecmp(ctype, NDJSON_TYPE, n) != 0)
        return false;
    ctype += n;
    ctype += strspn(ctype, " \t");
    return *ctype == '\0' || *ctype == ';';
}

/* Keeps the result of a line (obj taken) until its batch is committed. */
static void spool_result(struct nd_bulk *bulk, json_t *obj)
{
    if (obj == NULL || json_array_append_new(bulk->pending, obj) != 0)
        bulk->failed = true;
}

/*
 * Writes the pending results to the spool. When their batch was not
 * committed, a line that was created is not: its result becomes a 503.
 */
static void flush_pending(struct nd_bulk *bulk, bool committed)
{
    size_t i;
    json_t *obj;
    json_array_foreach(bulk->pending, i, obj)
    {
        if (!committed && json_integer_value(json_object_get(obj, "status")) == 201) {
            json_t *line = json_incref(json_object_get(obj, "line"));
            json_object_clear(obj);
            if (json_object_set_new(obj, "line", line) != 0 ||
                json_object_set_new(obj, "type", json_string("about:blank")) != 0 ||
                json_object_set_new(obj, "title", json_string(nd_http_reason(503))) != 0 ||
                json_object_set_new(obj, "status", json_integer(503)) != 0 ||
                json_object_set_new(obj, "detail",
                                    json_string("the batch holding this line could not be "
                                                "committed; send the line again")) != 0 ||
                json_object_set_new(obj, "request_id", json_string(bulk->request_id)) != 0)
                bulk->failed = true;
        }
        char *text = nd_json_dumps(obj, JSON_COMPACT);
        size_t len = text != NULL ? strlen(text) : 0;
        if (text == NULL || fwrite(text, 1, len, bulk->spool) != len ||
            fputc('\n', bulk->spool) == EOF)
            bulk->failed = true;
        else
            bulk->spool_len += len + 1;
        free(text);
    }
    json_array_clear(bulk->pending);
}

/* The problem document of line lineno: status, detail, errors (taken, may be NULL). */
static void spool_problem(struct nd_bulk *bulk, int status, json_t *errors, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void spool_problem(struct nd_bulk *bulk, int status, json_t *errors, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_t *doc = json_pack("{s:I, s:s, s:s, s:i, s:s, s:s}", "line", (json_int_t)bulk->lineno,
                            "type", "about:blank", "title", nd_http_reason(status), "status",
                            status, "detail", nd_utf8_valid(detail, strlen(detail)) ? detail : "",
                            "request_id", bulk->request_id);
    if (doc != NULL && errors != NULL && json_object_set(doc, "errors", errors) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    json_decref(errors);
    spool_result(bulk, doc);
}

/* Commits the open batch, if any, makes readers see it, and spools the results. */
static void commit_batch(struct nd_request *req, struct nd_bulk *bulk)
{
    bool committed = true;
    if (bulk->in_batch > 0) {
        enum nd_err err = nd_store_batch_end(nd_request_store(req), true);
        committed = err == ND_OK;
        if (!committed)
            nd_log(ND_LOG_ERROR, "bulk: a batch of %lu lines ending at line %lu was not committed",
                   bulk->in_batch, bulk->lineno);
        bulk->in_batch = 0;
        if (req->srv->cache != NULL)
            nd_cache_invalidate(req->srv->cache);
    }
    flush_pending(bulk, committed);
}

/* Takes a token of the key's write budget for one line; false (429 spooled) when out. */
static bool take_line_token(struct nd_request *req, struct nd_bulk *bulk)
{
    struct nd_ratelimit_result r;
    if (nd_http_rate_acquire(req, ND_LIMIT_WRITES, bulk->key_id, &r))
        return true;
    spool_problem(bulk, 429, NULL, "too many writes with this API key; try again in %u s",
                  r.retry_after_s);
    return false;
}

/* Stores the validated article of the line, spooling its result. */
static void create_article(struct nd_request *req, struct nd_bulk *bulk,
                           const struct nd_article_input *in)
{
    struct nd_store *store = nd_request_store(req);
    struct nd_article_fields fields;
    json_t *article = NULL;
    char detail[256];
    enum nd_err err = store == NULL ? ND_ERR_DB : ND_OK;
    if (err == ND_OK && bulk->in_batch == 0)
        err = nd_store_batch_begin(store);
    if (err == ND_OK) {
        bulk->in_batch++;
        nd_article_input_fields(in, &fields);
        err = nd_store_article_create(store, &fields, &article);
    }
    if (err == ND_OK) {
        int64_t id = json_integer_value(json_object_get(article, "id"));
        char location[64];
        snprintf(location, sizeof location, "/v1/articles/%" PRId64, id);
        spool_result(bulk, json_pack("{s:I, s:i, s:I, s:O, s:s}", "line", (json_int_t)bulk->lineno,
                                     "status", 201, "id", (json_int_t)id, "slug",
                                     json_object_get(article, "slug"), "location", location));
    } else {
        int status = nd_article_write_problem(err, in, 0, detail, sizeof detail);
        spool_problem(bulk, status, NULL, "%s", detail);
    }
    json_decref(article);
    if (bulk->in_batch >= BATCH_LINES)
        commit_batch(req, bulk);
}

/* One whole line (without its line feed): read, check, store, answer. */
static void take_line(struct nd_request *req, struct nd_bulk *bulk, const char *text, size_t len)
{
    json_error_t jerr;
    struct nd_article_input in = {0};
    bool nomem = false;

    size_t blank = 0;
    if (len > 0 && text[len - 1] == '\r')
        len--;
    while (blank < len && (text[blank] == ' ' || text[blank] == '\t'))
        blank++;
    if (blank == len)
        return; /* a blank line: no article, no result */
    if (++bulk->lines > nd_request_config(req)->bulk_max_lines) {
        spool_problem(bulk, 413, NULL,
                      "more than %u lines (bulk-max-lines): this line and the rest were not read",
                      nd_request_config(req)->bulk_max_lines);
        bulk->stopped = true;
        return;
    }
    if (!take_line_token(req, bulk))
        return;
    if (!nd_utf8_valid(text, len)) {
        spool_problem(bulk, 400, NULL, "the line is not valid UTF-8 text");
        return;
    }
    json_t *doc = nd_json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr, &nomem);
    if (doc == NULL) {
        if (nomem)
            spool_problem(bulk, 500, NULL, "%s", nd_err_str(ND_ERR_NOMEM));
        else
            spool_problem(bulk, 400, NULL, "malformed JSON at column %d: %s", jerr.column,
                          jerr.text);
        return;
    }
    json_t *errors = json_array();
    enum nd_err err =
        errors != NULL ? nd_validate_article(doc, nd_time_now(), &in, errors) : ND_ERR_NOMEM;
    if (err == ND_ERR_INVALID) {
        spool_problem(bulk, 422, json_incref(errors), "the request has invalid fields");
    } else if (err != ND_OK) {
        spool_problem(bulk, 500, NULL, "%s", nd_err_str(err));
    } else {
        create_article(req, bulk, &in);
    }
    json_decref(errors);
    nd_article_input_fini(&in);
    json_decref(doc);
}

/* Adds bytes of the current line; a line that passes bulk-max-line is answered and skipped. */
static void line_add(struct nd_request *req, struct nd_bulk *bulk, const char *data, size_t len)
{
    size_t max = nd_request_config(req)->bulk_max_line;
    if (bulk->line_too_long)
        return;
    if (bulk->line_len + len > max) {
        bulk->line_too_long = true;
        bulk->line_len = 0;
        return;
    }
    memcpy(bulk->line + bulk->line_len, data, len);
    bulk->line_len += len;
}

/* The current line has ended (a line feed, or the end of the body). */
static void line_end(struct nd_request *req, struct nd_bulk *bulk)
{
    bulk->lineno++;
    if (bulk->line_too_long) {
        if (++bulk->lines > nd_request_config(req)->bulk_max_lines) {
            spool_problem(bulk, 413, NULL,
                          "more than %u lines (bulk-max-lines): this line and the rest were not "
                          "read",
                          nd_request_config(req)->bulk_max_lines);
            bulk->stopped = true;
        } else {
            spool_problem(bulk, 413, NULL, "the line is longer than %zu bytes (bulk-max-line)",
                          nd_request_config(req)->bulk_max_line);
        }
    } else {
        take_line(req, bulk, bulk->line, bulk->line_len);
    }
    bulk->line_len = 0;
    bulk->line_too_long = false;
}

void nd_http_bulk_feed(struct nd_request *req, const char *data, size_t len)
{
    struct nd_bulk *bulk = req->bulk;
    const struct nd_config *cfg = nd_request_config(req);
    /* the lines that end within bulk-max-body are taken; the limit stops the rest */
    uint64_t room = bulk->body_seen < cfg->bulk_max_body ? cfg->bulk_max_body - bulk->body_seen : 0;
    bool over = len > room;
    bulk->body_seen += len;
    if (over)
        len = (size_t)room;
    while (len > 0 && !bulk->stopped && !bulk->failed) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl != NULL ? (size_t)(nl - data) : len;
        line_add(req, bulk, data, n);
        if (nl == NULL)
            break;
        line_end(req, bulk);
        data += n + 1;
        len -= n + 1;
    }
    if (over && !bulk->stopped) {
        bulk->lineno++;
        spool_problem(bulk, 413, NULL,
                      "the request body is larger than %zu bytes (bulk-max-body): this line and "
                      "the rest were not read",
                      cfg->bulk_max_body);
        bulk->stopped = true;
    }
    commit_batch(req, bulk);
}

int nd_http_bulk_start(struct nd_request *req, unsigned long long length)
{
    const struct nd_config *cfg = nd_request_config(req);
    int status = nd_request_require_key(req);
    if (status != 0)
        return status;
    if (!is_ndjson(nd_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE)))
        return nd_http_set_problem(req, 415, "Content-Type must be " NDJSON_TYPE, NULL);
    const char *coding = nd_request_header(req, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (coding != NULL && strcasecmp(coding, "identity") != 0) {
        nd_respond_header(req, MHD_HTTP_HEADER_ACCEPT_ENCODING, "identity");
        return nd_http_set_problem(req, 415, "request bodies must not be content-encoded", NULL);
    }
    if (length > cfg->bulk_max_body)
        return nd_respond_problem(req, 413,
                                  "the request body is larger than %zu bytes (bulk-max-body)",
                                  cfg->bulk_max_body);
    struct nd_bulk *bulk = calloc(1, sizeof *bulk);
    if (bulk != NULL) {
        bulk->line = malloc(cfg->bulk_max_line > 0 ? cfg->bulk_max_line : 1);
        bulk->pending = json_array();
        bulk->spool = tmpfile();
    }
    if (bulk == NULL || bulk->line == NULL || bulk->pending == NULL || bulk->spool == NULL ||
        !nd_auth_key_id(nd_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION), bulk->key_id)) {
        if (bulk != NULL && bulk->spool == NULL)
            nd_log(ND_LOG_ERROR, "bulk: no temporary file for the results");
        nd_http_bulk_destroy(bulk);
        return nd_http_set_problem(req, 503, "the server cannot take a bulk write right now", NULL);
    }
    snprintf(bulk->request_id, sizeof bulk->request_id, "%s", req->request_id);
    req->bulk = bulk;
    return 0;
}

int nd_handle_articles_bulk(struct nd_request *req)
{
    struct nd_bulk *bulk = req->bulk;
    if (bulk == NULL) /* nd_http_bulk_start answered already; not reached */
        return nd_http_set_problem(req, 500, NULL, NULL);
    if (!bulk->stopped && (bulk->line_len > 0 || bulk->line_too_long)) {
        line_end(req, bulk); /* a last line without its line feed */
        commit_batch(req, bulk);
    }
    if (bulk->failed || fflush(bulk->spool) != 0) {
        nd_log(ND_LOG_ERROR, "bulk: the results could not be written to a temporary file");
        return nd_http_set_problem(req, 500, NULL, NULL);
    }
    int fd = dup(fileno(bulk->spool));
    if (fd < 0)
        return nd_http_set_problem(req, 503, "the server cannot answer right now", NULL);
    return nd_http_respond_fd(req, 200, NDJSON_TYPE, fd, bulk->spool_len);
}
