/*
 * metrics.c: newsd's own counters and their Prometheus text exposition
 * (format 0.0.4).
 *
 * Every entry of the route table gets a block of counters, and one more
 * block counts requests that matched no route ("unmatched"). A block holds
 * one counter per HTTP status (100..599, plus slot 0 for a request that
 * ended without an answer), so a label is always the real code and the
 * number of series stays bounded by the table, never by what clients send.
 * Latencies go into fixed histogram buckets, each counted on its own and
 * summed into the cumulative "le" series only when rendered; a histogram's
 * _count is the sum of its buckets, so within one page _count always equals
 * the +Inf bucket. All counters are relaxed C11 atomics: recording costs
 * three increments and never blocks a worker thread.
 */
#include "newsd/metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "newsd/buf.h"
#include "newsd/router.h"

#ifndef ND_VERSION
#define ND_VERSION "unknown"
#endif

/* Upper bounds of the latency buckets, in microseconds and as "le" text. */
static const struct {
    uint64_t usec;
    const char *le;
} bounds[] = {
    {500, "0.0005"},  {1000, "0.001"},  {2500, "0.0025"}, {5000, "0.005"},  {10000, "0.01"},
    {25000, "0.025"}, {50000, "0.05"},  {100000, "0.1"},  {250000, "0.25"}, {500000, "0.5"},
    {1000000, "1"},   {2500000, "2.5"}, {5000000, "5"},   {10000000, "10"},
};
#define NBOUNDS (sizeof bounds / sizeof bounds[0])

/* Slot 0: no answer was sent; slot s - 99: status s in 100..599. */
#define STATUS_SLOTS 501

struct histogram {
    atomic_uint_least64_t buckets[NBOUNDS + 1]; /* not cumulative; the last: above every bound */
    atomic_uint_least64_t sum_us;
};

struct route_counters {
    atomic_uint_least64_t statuses[STATUS_SLOTS];
    struct histogram latency;
};

struct nd_metrics {
    const struct nd_route *table;
    size_t nroutes;
    struct timespec started; /* real-time clock */
    struct histogram search;
    struct route_counters routes[]; /* nroutes + 1: the last counts unmatched requests */
};

/*
 * Counts the table's entries and allocates a zeroed block per entry (calloc's
 * zero bytes are a valid zero for these lock-free atomics). NULL when out of
 * memory.
 */
struct nd_metrics *nd_metrics_create(const struct nd_route *table)
{
    size_t n = 0;
    while (table[n].pattern != NULL)
        n++;
    struct nd_metrics *m = calloc(1, sizeof *m + (n + 1) * sizeof m->routes[0]);
    if (m == NULL)
        return NULL;
    m->table = table;
    m->nroutes = n;
    clock_gettime(CLOCK_REALTIME, &m->started);
    return m;
}

void nd_metrics_destroy(struct nd_metrics *m)
{
    free(m);
}

static void histogram_observe(struct histogram *h, uint64_t usec)
{
    size_t i = 0;
    while (i < NBOUNDS && usec > bounds[i].usec)
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, usec, memory_order_relaxed);
}

/* The block of route: its table index, or the unmatched block for NULL or a foreign entry. */
static size_t route_slot(const struct nd_metrics *m, const struct nd_route *route)
{
    if (route == NULL)
        return m->nroutes;
    /* Compared as integers: a pointer outside the table wraps to a huge offset. */
    uintptr_t offset = (uintptr_t)route - (uintptr_t)m->table;
    if (offset % sizeof *route != 0 || offset / sizeof *route >= m->nroutes)
        return m->nroutes;
    return offset / sizeof *route;
}

void nd_metrics_observe_request(struct nd_metrics *m, const struct nd_route *route, int status,
                                uint64_t usec)
{
    if (m == NULL)
        return;
    struct route_counters *rc = &m->routes[route_slot(m, route)];
    size_t slot = status >= 100 && status <= 599 ? (size_t)status - 99 : 0;
    atomic_fetch_add_explicit(&rc->statuses[slot], 1, memory_order_relaxed);
    histogram_observe(&rc->latency, usec);
}

void nd_metrics_observe_search(struct nd_metrics *m, uint64_t usec)
{
    if (m == NULL)
        return;
    histogram_observe(&m->search, usec);
}

/* ---- rendering ---------------------------------------------------------- */

/* One character of label text. */
static void put_char(struct nd_buf *t, char c)
{
    nd_buf_append(t, &c, 1);
}

/*
 * Appends s as the inside of a label value: backslash, double quote and line
 * feed escaped as the format demands. Route patterns name their parameters
 * as the OpenAPI document's paths do ("/v1/articles/{id}").
 */
static void put_label_value(struct nd_buf *t, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            put_char(t, '\\');
            put_char(t, *s);
        } else if (*s == '\n') {
            nd_buf_append_printf(t, "\\n");
        } else {
            put_char(t, *s);
        }
    }
}

/* Appends route="...",method="..." for block i (no braces). */
static void put_route_labels(struct nd_buf *t, const struct nd_metrics *m, size_t i)
{
    char method[64] = "";
    nd_buf_append_printf(t, "route=\"");
    if (i == m->nroutes) {
        nd_buf_append_printf(t, "unmatched");
    } else {
        put_label_value(t, m->table[i].pattern);
        nd_router_allow((unsigned)m->table[i].method, method, sizeof method);
    }
    nd_buf_append_printf(t, "\",method=\"");
    put_label_value(t, method);
    nd_buf_append_printf(t, "\"");
}

static void put_family(struct nd_buf *t, const char *name, const char *type, const char *help)
{
    nd_buf_append_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Seconds with microsecond precision, without floating point. */
static void put_seconds(struct nd_buf *t, uint64_t usec)
{
    nd_buf_append_printf(t, "%" PRIu64 ".%06" PRIu64 "\n", usec / 1000000u, usec % 1000000u);
}

/*
 * Appends the series of histogram h named name, each with the labels in
 * labels (already rendered, "" for none) before "le".
 */
static void put_histogram(struct nd_buf *t, const char *name, const char *labels,
                          const struct histogram *h)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= NBOUNDS; b++) {
        cumulative += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
        nd_buf_append_printf(t, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, sep,
                             b < NBOUNDS ? bounds[b].le : "+Inf", cumulative);
    }
    uint64_t sum = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
    nd_buf_append_printf(t, "%s_sum%s%s%s ", name, labels[0] ? "{" : "", labels,
                         labels[0] ? "}" : "");
    put_seconds(t, sum);
    nd_buf_append_printf(t, "%s_count%s%s%s %" PRIu64 "\n", name, labels[0] ? "{" : "", labels,
                         labels[0] ? "}" : "", cumulative);
}

static void put_requests(struct nd_buf *t, const struct nd_metrics *m)
{
    put_family(t, "newsd_http_requests_total", "counter",
               "Requests answered, by route, method and status (0: ended without an answer).");
    for (size_t i = 0; i <= m->nroutes; i++) {
        const struct route_counters *rc = &m->routes[i];
        for (size_t s = 0; s < STATUS_SLOTS; s++) {
            uint64_t n = atomic_load_explicit(&rc->statuses[s], memory_order_relaxed);
            if (n == 0)
                continue;
            nd_buf_append_printf(t, "newsd_http_requests_total{");
            put_route_labels(t, m, i);
            nd_buf_append_printf(t, ",status=\"%zu\"} %" PRIu64 "\n", s == 0 ? 0 : s + 99, n);
        }
    }
}

/* The latency histogram of every route, requested or not, so that rates start at zero. */
static void put_latencies(struct nd_buf *t, const struct nd_metrics *m)
{
    const char *name = "newsd_http_request_duration_seconds";
    put_family(t, name, "histogram",
               "Time from a request's arrival until its answer was sent, by route and method.");
    for (size_t i = 0; i <= m->nroutes && t->err == ND_OK; i++) {
        struct nd_buf labels = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
        put_route_labels(&labels, m, i);
        if (labels.err == ND_OK)
            put_histogram(t, name, labels.data, &m->routes[i].latency);
        else
            nd_buf_fail(t, labels.err);
        nd_buf_free(&labels);
    }
}

static void put_gauges(struct nd_buf *t, const struct nd_metrics_gauges *g)
{
    put_family(t, "newsd_http_requests_in_flight", "gauge",
               "Requests being answered, this one included.");
    nd_buf_append_printf(t, "newsd_http_requests_in_flight %u\n", g->in_flight);
    put_family(t, "newsd_http_open_connections", "gauge", "Open client connections.");
    nd_buf_append_printf(t, "newsd_http_open_connections %u\n", g->connections);
    if (g->db_bytes >= 0) {
        put_family(t, "newsd_database_size_bytes", "gauge",
                   "Size of the database: its pages times the page size, the write-ahead "
                   "log's committed pages included.");
        nd_buf_append_printf(t, "newsd_database_size_bytes %" PRId64 "\n", g->db_bytes);
    }
    if (!g->have_cache)
        return;
    put_family(t, "newsd_response_cache_hits_total", "counter",
               "Public reads answered from the response cache.");
    nd_buf_append_printf(t, "newsd_response_cache_hits_total %" PRIu64 "\n", g->cache.hits);
    put_family(t, "newsd_response_cache_misses_total", "counter",
               "Cacheable reads the response cache could not answer.");
    nd_buf_append_printf(t, "newsd_response_cache_misses_total %" PRIu64 "\n", g->cache.misses);
    put_family(t, "newsd_response_cache_stores_total", "counter",
               "Answers stored in the response cache.");
    nd_buf_append_printf(t, "newsd_response_cache_stores_total %" PRIu64 "\n", g->cache.stores);
    put_family(t, "newsd_response_cache_bytes", "gauge",
               "Bytes of answers held in the response cache.");
    nd_buf_append_printf(t, "newsd_response_cache_bytes %zu\n", g->cache.bytes);
}

static void put_replica(struct nd_buf *t, const struct nd_metrics_replica *r)
{
    if (!r->configured)
        return;
    put_family(t, "newsd_replica_reads_total", "counter",
               "Public reads sent to the PostgreSQL replica (db-replica).");
    nd_buf_append_printf(t, "newsd_replica_reads_total %" PRIu64 "\n", r->reads);
    put_family(t, "newsd_replica_position_primary_reads_total", "counter",
               "Public reads sent to the primary because the replica had not replayed the "
               "client's Newsd-Position yet.");
    nd_buf_append_printf(t, "newsd_replica_position_primary_reads_total %" PRIu64 "\n",
                         r->primary_for_position);
    put_family(t, "newsd_replica_fallbacks_total", "counter",
               "Public reads sent to the primary because the replica could not be used.");
    nd_buf_append_printf(t, "newsd_replica_fallbacks_total %" PRIu64 "\n", r->fallbacks);
}

/*
 * Renders every family. Returns a malloc'd NUL-terminated text owned by the
 * caller, its length (without the NUL) in *len; NULL when out of memory.
 */
char *nd_metrics_render(const struct nd_metrics *m, const struct nd_metrics_gauges *g, size_t *len)
{
    struct nd_buf t = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    put_family(&t, "newsd_build_info", "gauge", "The running newsd's version; always 1.");
    nd_buf_append_printf(&t, "newsd_build_info{version=\"");
    put_label_value(&t, ND_VERSION);
    nd_buf_append_printf(&t, "\"} 1\n");
    put_family(&t, "newsd_start_time_seconds", "gauge",
               "When the server started, in seconds since the Unix epoch.");
    nd_buf_append_printf(&t, "newsd_start_time_seconds %lld.%06ld\n", (long long)m->started.tv_sec,
                         m->started.tv_nsec / 1000);
    put_requests(&t, m);
    put_latencies(&t, m);
    put_gauges(&t, g);
    put_replica(&t, &g->replica);
    put_family(&t, "newsd_search_duration_seconds", "histogram",
               "Time the store spent on a search (ranking and snippets).");
    put_histogram(&t, "newsd_search_duration_seconds", "", &m->search);
    return nd_buf_take(&t, len);
}
