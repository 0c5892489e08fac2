/*
 * test_metrics.c: the counters of metrics.c and their text exposition.
 *
 * Observations go into a metrics object made on a small route table of the
 * test's own; the rendered page is then read back the way a scraper would
 * (one "series value" per line) and its numbers compared with what was
 * observed: exact counts per status, buckets that add up, escaped labels,
 * a HELP and TYPE for every family, and exact totals after several threads
 * observed at once while another rendered.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "newsd/metrics.h"
#include "newsd/router.h"

static int dummy(struct nd_request *req)
{
    (void)req;
    return 200;
}

static const struct nd_route table[] = {
    {"/health", ND_METHOD_GET, dummy, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/v1/articles/{id}", ND_METHOD_GET, dummy, ND_CACHE_SHARED, ND_LANE_INLINE},
    {"/v1/articles/{id}", ND_METHOD_PATCH, dummy, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/odd\"pa\\th\n", ND_METHOD_POST, dummy, ND_CACHE_NEVER, ND_LANE_INLINE},
    {NULL, 0, NULL, ND_CACHE_NEVER, ND_LANE_INLINE},
};

#define HEALTH (&table[0])
#define ARTICLE_GET (&table[1])
#define ARTICLE_PATCH (&table[2])
#define ODD (&table[3])

static const char *const bucket_les[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                         "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                         "1",      "2.5",   "5",      "10",    "+Inf"};
#define NBUCKETS (sizeof bucket_les / sizeof bucket_les[0])

static char *render(const struct nd_metrics *m, const struct nd_metrics_gauges *g)
{
    struct nd_metrics_gauges none = {.db_bytes = -1};
    size_t len = 0;
    char *text = nd_metrics_render(m, g ? g : &none, &len);
    if (text == NULL)
        return NULL;
    CHECK_INT(strlen(text), len);
    return text;
}

/*
 * The value of the one sample line "series value" in text; -1 when there is
 * none, -2 when there are several (both fail any comparison with a count).
 */
static double value_of(const char *text, const char *series)
{
    size_t n = strlen(series);
    double found = -1;
    int hits = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (end == NULL)
            end = line + strlen(line);
        if ((size_t)(end - line) > n && strncmp(line, series, n) == 0 && line[n] == ' ') {
            found = strtod(line + n + 1, NULL);
            hits++;
        }
        line = *end ? end + 1 : end;
    }
    return hits > 1 ? -2 : found;
}

/* value_of for the series "prefix{labels,le=\"le\"}" of a histogram's buckets. */
static double bucket_of(const char *text, const char *name, const char *labels, const char *le)
{
    char series[512];
    snprintf(series, sizeof series, "%s_bucket{%s%sle=\"%s\"}", name, labels, *labels ? "," : "",
             le);
    return value_of(text, series);
}

/*
 * Whether the buckets of one histogram series never decrease and +Inf
 * equals _count; the +Inf count in *total. Thread-safe (no CHECK).
 */
static bool cumulative(const char *text, const char *name, const char *labels, double *total)
{
    double last = 0;
    bool ok = true;
    for (size_t b = 0; b < NBUCKETS; b++) {
        double v = bucket_of(text, name, labels, bucket_les[b]);
        ok = ok && v >= last;
        last = v;
    }
    char series[512];
    snprintf(series, sizeof series, "%s_count%s%s%s", name, *labels ? "{" : "", labels,
             *labels ? "}" : "");
    *total = last;
    return ok && value_of(text, series) == last;
}

/* cumulative() as a check; returns the +Inf count. */
static double check_cumulative(const char *text, const char *name, const char *labels)
{
    double total = 0;
    bool ok = cumulative(text, name, labels, &total);
    if (!ok)
        printf("# %s{%s}: buckets not cumulative or _count off\n", name, labels);
    CHECK(ok);
    return total;
}

/* Name of the metric of a sample line: up to '{' or ' '. */
static size_t metric_name_len(const char *line)
{
    return strcspn(line, "{ ");
}

/*
 * The page's shape: every line is a HELP, a TYPE or a sample; each sample's
 * family (its name, or the name without _bucket/_sum/_count for a
 * histogram) was announced by a HELP and a TYPE line before it; no family is
 * announced twice; the text ends with a line feed.
 */
static void check_shape(const char *text)
{
    CHECK(text[0] != '\0' && text[strlen(text) - 1] == '\n');
    char *copy = strdup(text);
    char families[64][96];
    size_t nfamilies = 0;
    char helped[96] = "";
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[96];
        if (sscanf(line, "# HELP %95s ", name) == 1) {
            snprintf(helped, sizeof helped, "%s", name);
            continue;
        }
        if (sscanf(line, "# TYPE %95s ", name) == 1) {
            CHECK_STR(name, helped); /* HELP right before TYPE, same family */
            for (size_t i = 0; i < nfamilies; i++)
                CHECK(strcmp(families[i], name) != 0);
            if (nfamilies < 64)
                snprintf(families[nfamilies++], sizeof families[0], "%s", name);
            continue;
        }
        CHECK(line[0] != '#');
        size_t n = metric_name_len(line);
        CHECK(strncmp(line, "newsd_", 6) == 0);
        CHECK(nfamilies > 0);
        const char *family = nfamilies ? families[nfamilies - 1] : "";
        size_t fl = strlen(family);
        bool ok =
            n >= fl && strncmp(line, family, fl) == 0 &&
            (n == fl || strncmp(line + fl, "_bucket", n - fl) == 0 ||
             strncmp(line + fl, "_sum", n - fl) == 0 || strncmp(line + fl, "_count", n - fl) == 0);
        if (!ok)
            printf("# sample outside its family %s: %s\n", family, line);
        CHECK(ok);
    }
    free(copy);
}

static void test_counts_per_route_and_status(void)
{
    struct nd_metrics *m = nd_metrics_create(table);
    CHECK(m != NULL);
    for (int i = 0; i < 3; i++)
        nd_metrics_observe_request(m, HEALTH, 200, 100);
    nd_metrics_observe_request(m, ARTICLE_GET, 200, 100);
    nd_metrics_observe_request(m, ARTICLE_GET, 200, 100);
    nd_metrics_observe_request(m, ARTICLE_GET, 404, 100);
    nd_metrics_observe_request(m, ARTICLE_GET, 304, 100);
    nd_metrics_observe_request(m, ARTICLE_PATCH, 422, 100);
    nd_metrics_observe_request(m, NULL, 405, 100);
    nd_metrics_observe_request(m, NULL, 405, 100);
    nd_metrics_observe_request(m, NULL, 0, 100);
    nd_metrics_observe_request(m, NULL, 599, 100);
    char *text = render(m, NULL);
    CHECK(text != NULL);
    if (text == NULL)
        goto out;
    const char *r = "newsd_http_requests_total";
    char s[256];
#define REQ(route, method, status)                                                                 \
    (snprintf(s, sizeof s, "%s{route=\"%s\",method=\"%s\",status=\"%s\"}", r, route, method,       \
              status),                                                                             \
     value_of(text, s))
    CHECK(REQ("/health", "GET", "200") == 3);
    CHECK(REQ("/v1/articles/{id}", "GET", "200") == 2);
    CHECK(REQ("/v1/articles/{id}", "GET", "404") == 1);
    CHECK(REQ("/v1/articles/{id}", "GET", "304") == 1);
    CHECK(REQ("/v1/articles/{id}", "PATCH", "422") == 1);
    CHECK(REQ("unmatched", "", "405") == 2);
    CHECK(REQ("unmatched", "", "0") == 1);
    CHECK(REQ("unmatched", "", "599") == 1);
    /* Statuses never seen have no series; the raw pattern never shows. */
    CHECK(REQ("/health", "GET", "404") == -1);
    CHECK(REQ("/v1/articles/{id}", "PATCH", "200") == -1);
    CHECK(strstr(text, "{param}") == NULL);
#undef REQ
    check_shape(text);
out:
    free(text);
    nd_metrics_destroy(m);
}

static void test_histogram_buckets(void)
{
    struct nd_metrics *m = nd_metrics_create(table);
    /* 100 us, exactly 500 us (le is inclusive), 501 us, 3 s, 20 s (past every bound) */
    const uint64_t usecs[] = {100, 500, 501, 3000000, 20000000};
    for (size_t i = 0; i < sizeof usecs / sizeof usecs[0]; i++)
        nd_metrics_observe_request(m, HEALTH, 200, usecs[i]);
    char *text = render(m, NULL);
    if (text == NULL) {
        CHECK(text != NULL);
        goto out;
    }
    const char *name = "newsd_http_request_duration_seconds";
    const char *labels = "route=\"/health\",method=\"GET\"";
    const double want[NBUCKETS] = {2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 5};
    for (size_t b = 0; b < NBUCKETS; b++) {
        double got = bucket_of(text, name, labels, bucket_les[b]);
        if (got != want[b])
            printf("# le=%s: %g, want %g\n", bucket_les[b], got, want[b]);
        CHECK(got == want[b]);
    }
    CHECK(check_cumulative(text, name, labels) == 5);
    CHECK(value_of(text, "newsd_http_request_duration_seconds_sum{route=\"/health\","
                         "method=\"GET\"}") == 23.001101);
    CHECK(strstr(text, "_sum{route=\"/health\",method=\"GET\"} 23.001101\n") != NULL);
    /* Routes without a request still have their (empty) histogram. */
    CHECK(check_cumulative(text, name, "route=\"/v1/articles/{id}\",method=\"PATCH\"") == 0);
    CHECK(check_cumulative(text, name, "route=\"unmatched\",method=\"\"") == 0);
    check_shape(text);
out:
    free(text);
    nd_metrics_destroy(m);
}

static void test_label_escaping(void)
{
    struct nd_metrics *m = nd_metrics_create(table);
    nd_metrics_observe_request(m, ODD, 201, 10);
    char *text = render(m, NULL);
    if (text == NULL) {
        CHECK(text != NULL);
        goto out;
    }
    /* backslash and quote get a backslash, the line feed becomes \n */
    CHECK(value_of(text, "newsd_http_requests_total{route=\"/odd\\\"pa\\\\th\\n\","
                         "method=\"POST\",status=\"201\"}") == 1);
    CHECK(strstr(text, "pa\\th") == NULL);
    CHECK(strstr(text, "th\n") == NULL);
    check_shape(text);
out:
    free(text);
    nd_metrics_destroy(m);
}

static void test_foreign_route_is_unmatched(void)
{
    static const struct nd_route other = {"/elsewhere", ND_METHOD_GET, dummy, ND_CACHE_NEVER,
                                          ND_LANE_INLINE};
    struct nd_metrics *m = nd_metrics_create(table);
    nd_metrics_observe_request(m, &other, 200, 10);
    /* a pointer into the middle of an entry is not that entry */
    nd_metrics_observe_request(m, (const struct nd_route *)((const char *)HEALTH + 1), 200, 10);
    char *text = render(m, NULL);
    if (text == NULL) {
        CHECK(text != NULL);
        goto out;
    }
    CHECK(value_of(text, "newsd_http_requests_total{route=\"unmatched\",method=\"\","
                         "status=\"200\"}") == 2);
    CHECK(strstr(text, "/elsewhere") == NULL);
    CHECK(value_of(text, "newsd_http_requests_total{route=\"/health\",method=\"GET\","
                         "status=\"200\"}") == -1);
out:
    free(text);
    nd_metrics_destroy(m);
    /* metrics off: observing into NULL does nothing, and destroy accepts NULL */
    nd_metrics_observe_request(NULL, HEALTH, 200, 10);
    nd_metrics_observe_search(NULL, 10);
    nd_metrics_destroy(NULL);
}

static void test_gauges_and_cache(void)
{
    struct nd_metrics *m = nd_metrics_create(table);
    struct nd_metrics_gauges g = {
        .in_flight = 3,
        .connections = 7,
        .db_bytes = 65536,
        .have_cache = true,
        .cache = {.hits = 11, .misses = 12, .stores = 13, .bytes = 4096},
    };
    char *text = render(m, &g);
    if (text == NULL) {
        CHECK(text != NULL);
        goto out;
    }
    CHECK(value_of(text, "newsd_http_requests_in_flight") == 3);
    CHECK(value_of(text, "newsd_http_open_connections") == 7);
    CHECK(value_of(text, "newsd_database_size_bytes") == 65536);
    CHECK(value_of(text, "newsd_response_cache_hits_total") == 11);
    CHECK(value_of(text, "newsd_response_cache_misses_total") == 12);
    CHECK(value_of(text, "newsd_response_cache_stores_total") == 13);
    CHECK(value_of(text, "newsd_response_cache_bytes") == 4096);
    CHECK(strstr(text, "# TYPE newsd_response_cache_hits_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE newsd_database_size_bytes gauge\n") != NULL);
    CHECK(value_of(text, "newsd_build_info{version=\"" ND_VERSION "\"}") == 1);
    check_shape(text);
    free(text);

    /* Without a cache or a known size those families are left out entirely. */
    g.have_cache = false;
    g.db_bytes = -1;
    text = render(m, &g);
    if (text == NULL) {
        CHECK(text != NULL);
        goto out;
    }
    CHECK(strstr(text, "newsd_response_cache") == NULL);
    CHECK(strstr(text, "newsd_database_size_bytes") == NULL);
    CHECK(value_of(text, "newsd_http_requests_in_flight") == 3);
    check_shape(text);
out:
    free(text);
    nd_metrics_destroy(m);
}

static void test_start_time_and_search(void)
{
    time_t before = time(NULL);
    struct nd_metrics *m = nd_metrics_create(table);
    time_t after = time(NULL);
    nd_metrics_observe_search(m, 1200);
    nd_metrics_observe_search(m, 80000);
    char *text = render(m, NULL);
    if (text == NULL) {
        CHECK(text != NULL);
        goto out;
    }
    double start = value_of(text, "newsd_start_time_seconds");
    CHECK(start >= (double)before && start < (double)after + 1);
    const char *name = "newsd_search_duration_seconds";
    CHECK(check_cumulative(text, name, "") == 2);
    CHECK(bucket_of(text, name, "", "0.001") == 0);
    CHECK(bucket_of(text, name, "", "0.0025") == 1);
    CHECK(bucket_of(text, name, "", "0.05") == 1);
    CHECK(bucket_of(text, name, "", "0.1") == 2);
    CHECK(strstr(text, "newsd_search_duration_seconds_sum 0.081200\n") != NULL);
    check_shape(text);
out:
    free(text);
    nd_metrics_destroy(m);
}

/* ---- concurrency --------------------------------------------------------- */

#define THREADS 6
#define PER_THREAD 40000

struct hammer {
    struct nd_metrics *m;
    unsigned seed;
};

static atomic_bool hammering;

/* Thread i observes PER_THREAD requests: route i % 3, statuses 200 and 404 alternating. */
static void *hammer(void *arg)
{
    const struct hammer *h = arg;
    const struct nd_route *route = &table[h->seed % 3];
    for (unsigned i = 0; i < PER_THREAD; i++) {
        nd_metrics_observe_request(h->m, route, i % 2 ? 404 : 200, (uint64_t)(i % 1000) * 7);
        nd_metrics_observe_search(h->m, 3);
    }
    return NULL;
}

/*
 * Renders again and again while the others observe: every page must be
 * consistent. Returns the number of bad pages (CHECK is not thread-safe).
 */
static void *scrape(void *arg)
{
    struct nd_metrics *m = arg;
    struct nd_metrics_gauges none = {.db_bytes = -1};
    uintptr_t bad = 0;
    unsigned pages = 0;
    while (atomic_load(&hammering) || pages == 0) {
        size_t len;
        char *text = nd_metrics_render(m, &none, &len);
        double total;
        if (text == NULL ||
            !cumulative(text, "newsd_http_request_duration_seconds",
                        "route=\"/health\",method=\"GET\"", &total) ||
            !cumulative(text, "newsd_search_duration_seconds", "", &total))
            bad++;
        free(text);
        pages++;
    }
    return (void *)bad;
}

static void test_concurrent_observers(void)
{
    struct nd_metrics *m = nd_metrics_create(table);
    pthread_t threads[THREADS], scraper;
    struct hammer args[THREADS];
    atomic_store(&hammering, true);
    CHECK(pthread_create(&scraper, NULL, scrape, m) == 0);
    for (unsigned i = 0; i < THREADS; i++) {
        args[i] = (struct hammer){m, i};
        CHECK(pthread_create(&threads[i], NULL, hammer, &args[i]) == 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    atomic_store(&hammering, false);
    void *bad = NULL;
    pthread_join(scraper, &bad);
    CHECK_INT((uintptr_t)bad, 0);

    char *text = render(m, NULL);
    if (text == NULL) {
        CHECK(text != NULL);
        goto out;
    }
    /* THREADS / 3 threads per route, each half 200 and half 404 */
    const double per_route = (double)THREADS / 3 * PER_THREAD;
    const char *routes[] = {"route=\"/health\",method=\"GET\"",
                            "route=\"/v1/articles/{id}\",method=\"GET\"",
                            "route=\"/v1/articles/{id}\",method=\"PATCH\""};
    /* each thread's latencies: 7 us times 0..999, PER_THREAD / 1000 times over */
    const double sum_us_per_thread = 7.0 * (999.0 * 1000 / 2) * (PER_THREAD / 1000);
    for (size_t r = 0; r < 3; r++) {
        char s[256];
        snprintf(s, sizeof s, "newsd_http_requests_total{%s,status=\"200\"}", routes[r]);
        CHECK(value_of(text, s) == per_route / 2);
        snprintf(s, sizeof s, "newsd_http_requests_total{%s,status=\"404\"}", routes[r]);
        CHECK(value_of(text, s) == per_route / 2);
        CHECK(check_cumulative(text, "newsd_http_request_duration_seconds", routes[r]) ==
              per_route);
        snprintf(s, sizeof s, "newsd_http_request_duration_seconds_sum{%s}", routes[r]);
        double want = sum_us_per_thread * THREADS / 3 / 1e6;
        double got = value_of(text, s);
        CHECK(got > want - 1e-6 && got < want + 1e-6);
    }
    CHECK(check_cumulative(text, "newsd_search_duration_seconds", "") ==
          (double)THREADS * PER_THREAD);
out:
    free(text);
    nd_metrics_destroy(m);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_counts_per_route_and_status),
                     CHECK_CASE(test_histogram_buckets), CHECK_CASE(test_label_escaping),
                     CHECK_CASE(test_foreign_route_is_unmatched), CHECK_CASE(test_gauges_and_cache),
                     CHECK_CASE(test_start_time_and_search), CHECK_CASE(test_concurrent_observers));
}
