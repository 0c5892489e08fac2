#!/usr/bin/env python3
"""test_metrics.py: GET /metrics, newsd's counters for Prometheus.

The page a real server answers must pass `promtool check metrics` (Debian's
prometheus package; scripts/test installs it, and without it this test
fails) with nothing to complain about, before and after traffic. Then known
requests are made (200s, 404s, a 405, a search, a cache miss and a hit) and
every counter they touch must have moved by exactly what they add; the
database size must grow with inserts, the in-flight gauge must count the
scrape itself, and with --metrics=false the page must not exist.

The server runs with one worker thread, so that each request is complete
(and counted) before the next begins, and the response cache sees every
request in order: the expected deltas are then exact, not approximate.
"""

import gzip
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Tap, binary_from_argv, serve, short  # noqa: E402

BIN = binary_from_argv(
    single="exact counter deltas of one process, which one worker thread makes exact")
tap = Tap()

EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
FAMILIES = {
    "newsd_build_info": "gauge",
    "newsd_start_time_seconds": "gauge",
    "newsd_http_requests_total": "counter",
    "newsd_http_request_duration_seconds": "histogram",
    "newsd_http_requests_in_flight": "gauge",
    "newsd_http_open_connections": "gauge",
    "newsd_database_size_bytes": "gauge",
    "newsd_search_duration_seconds": "histogram",
    "newsd_response_cache_hits_total": "counter",
    "newsd_response_cache_misses_total": "counter",
    "newsd_response_cache_stores_total": "counter",
    "newsd_response_cache_bytes": "gauge",
}


def scrape_text(srv, headers=None):
    """The page as text; ends the current point unless it is a 200 of the exposition type."""
    resp = srv.request("GET", "/metrics", headers=headers)
    tap.require(resp.status == 200, f"GET /metrics answered {resp}")
    tap.require(resp.headers.get("Content-Type") == EXPOSITION,
                f"Content-Type {resp.headers.get('Content-Type')!r}, want {EXPOSITION!r}")
    body = resp.body
    if resp.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return body.decode("utf-8")


def parse(text):
    """Sample lines as {series: value}; the series is the text before the last space."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        tap.require(series not in samples, f"series twice on the page: {series}")
        samples[series] = float(value)
    return samples


def scrape(srv):
    return parse(scrape_text(srv))


def requests_series(route, method, status):
    return (f'newsd_http_requests_total{{route="{route}",method="{method}",'
            f'status="{status}"}}')


def duration_count(route, method):
    return f'newsd_http_request_duration_seconds_count{{route="{route}",method="{method}"}}'


def promtool_check(text):
    """promtool check metrics on text: exit 0 and not a word of complaint."""
    tap.require(os.access(PROMTOOL, os.X_OK),
                f"promtool not found ({PROMTOOL}): install Debian's prometheus package")
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode("utf-8"),
                          capture_output=True, timeout=60)
    complaints = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip()
    tap.check(proc.returncode == 0, f"promtool exit status {proc.returncode}: {complaints}")
    tap.check(complaints == "", f"promtool complains:\n{complaints}")


def test_fresh_page(srv):
    text = scrape_text(srv)
    promtool_check(text)
    for name, kind in FAMILIES.items():
        tap.check(f"# HELP {name} " in text, f"no HELP line for {name}")
        tap.check(f"# TYPE {name} {kind}\n" in text, f"no TYPE {kind} line for {name}")
    samples = parse(text)
    tap.eq(samples.get(f'newsd_build_info{{version="{srv.version}"}}'), 1.0,
           "newsd_build_info names the running version")
    tap.check(samples.get("newsd_start_time_seconds", 0) > 1.6e9, "a start time is given")
    tap.check("/v1/articles/{id}/comments" in text and "{}" not in text,
              "route labels are the OpenAPI paths, parameters by name")


def test_gzip_page(srv):
    """Prometheus asks for gzip: the compressed page is the same valid page."""
    resp = srv.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
    tap.require(resp.status == 200, f"GET /metrics with gzip answered {resp}")
    tap.eq(resp.headers.get("Content-Encoding"), "gzip", "a page over 1 KiB is gzipped")
    promtool_check(gzip.decompress(resp.body).decode("utf-8"))


def test_counters_move(srv):
    art = srv.create_article(title="Counted reads", body="Ocelots are counted here.")
    path = f"/v1/articles/{art['id']}"
    before = scrape(srv)
    calls = [
        ("GET", "/health", 200), ("GET", "/health", 200), ("GET", "/health", 200),
        ("GET", "/v1/articles/999999", 404), ("GET", "/v1/articles/999998", 404),
        ("GET", "/no/such/path", 404), ("DELETE", "/health", 405),
        ("GET", "/v1/search?q=ocelots", 200),
        ("GET", path, 200), ("GET", path, 200),  # a miss that is stored, then a hit
    ]
    for method, target, status in calls:
        resp = srv.request(method, target)
        tap.require(resp.status == status, f"{method} {target}: {resp}, want {status}")
    after = scrape(srv)

    def moved(series, want):
        old, new = before.get(series, 0.0), after.get(series)
        tap.check(new is not None and new - old == want,
                  f"{series}: {old} -> {new}, want a move of {want}")

    moved(requests_series("/health", "GET", 200), 3)
    moved(requests_series("/v1/articles/{id}", "GET", 404), 2)
    moved(requests_series("/v1/articles/{id}", "GET", 200), 2)
    moved(requests_series("unmatched", "", 404), 1)
    moved(requests_series("unmatched", "", 405), 1)
    moved(requests_series("/v1/search", "GET", 200), 1)
    moved(requests_series("/metrics", "GET", 200), 1)  # the first scrape, done by now
    moved(duration_count("/health", "GET"), 3)
    moved(duration_count("/v1/articles/{id}", "GET"), 4)
    moved(duration_count("unmatched", ""), 2)
    moved("newsd_search_duration_seconds_count", 1)
    moved("newsd_response_cache_hits_total", 1)
    # two 404s, the search and the first read of the article
    moved("newsd_response_cache_misses_total", 4)
    moved("newsd_response_cache_stores_total", 2)  # the search and the article
    tap.check(after["newsd_response_cache_bytes"] > before["newsd_response_cache_bytes"],
              "the cache holds more bytes after two stores")
    untouched = [s for s in after if s.startswith("newsd_http_requests_total")
                 and 'route="/v1/articles",' in s]
    tap.check(all(after[s] == before.get(s, 0.0) for s in untouched),
              f"nothing counted on routes not asked: {untouched}")
    tap.check(after.get("newsd_http_requests_in_flight", 0) >= 1,
              "the scrape counts itself in flight")
    tap.check(after.get("newsd_http_open_connections", 0) >= 1,
              "and its connection is open")
    promtool_check(scrape_text(srv))


def test_histogram_consistent(srv):
    samples = scrape(srv)
    name = "newsd_http_request_duration_seconds"
    labels = 'route="/health",method="GET"'
    les = ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
           "1", "2.5", "5", "10", "+Inf"]
    counts = [samples.get(f'{name}_bucket{{{labels},le="{le}"}}') for le in les]
    tap.require(None not in counts, f"missing buckets: {counts}")
    tap.check(counts == sorted(counts), f"buckets are not cumulative: {counts}")
    tap.eq(counts[-1], samples.get(f"{name}_count{{{labels}}}"), "+Inf equals _count")
    tap.check(samples.get(f"{name}_sum{{{labels}}}", -1) > 0, "_sum adds real time")
    tap.check(counts[-1] >= 3, "the reads of /health are in it")


def test_database_size(srv):
    size0 = scrape(srv).get("newsd_database_size_bytes")
    tap.require(size0 is not None and size0 > 0, f"database size {size0}")
    for i in range(20):
        srv.create_article(title=f"Bulk {i}", body=("lorem ipsum dolor " * 250))
    size1 = scrape(srv).get("newsd_database_size_bytes")
    tap.check(size1 is not None and size1 > size0,
              f"database size {size0} -> {size1} after 20 inserts of 4.5 KB")


def test_not_cached(srv):
    first = scrape(srv)
    second = scrape(srv)
    series = requests_series("/metrics", "GET", 200)
    tap.eq(second.get(series, 0) - first.get(series, 0), 1.0,
           "each scrape sees the one before it (never a cached page)")


def test_metrics_off(srv):
    resp = srv.request("GET", "/metrics")
    tap.eq(resp.status, 404, "GET /metrics with metrics off")
    for issue in resp.problem_issues():
        tap.check(False, issue)
    tap.eq(srv.request("GET", "/health").status, 200, "the rest of the server works")


def test_cache_off(srv):
    text = scrape_text(srv)
    tap.check("newsd_response_cache" not in text,
              "without a cache there are no cache families: " + short(text[-600:]))
    promtool_check(text)


def server_version():
    proc = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=30)
    # the first line is "newsd VERSION"; a second names the storage backends
    lines = proc.stdout.splitlines()
    words = lines[0].split() if lines else []
    return words[-1] if words else ""


def main():
    version = server_version()

    def know_version(srv):
        srv.version = version

    serve(tap, BIN, [
        ("a fresh page passes promtool, every family announced", test_fresh_page),
        ("the gzipped page is the same valid page", test_gzip_page),
        ("counters move by exactly the requests made", test_counters_move),
        ("latency buckets are cumulative, +Inf is the count", test_histogram_consistent),
        ("the database size is given and grows with inserts", test_database_size),
        ("the page is never served from a cache", test_not_cached),
    ], ["--threads", "1"], setup=know_version)
    serve(tap, BIN, [("with --metrics=false GET /metrics is 404", test_metrics_off)],
          ["--metrics=false"])
    serve(tap, BIN, [("with cache-size 0 the cache families are left out", test_cache_off)],
          ["--cache-size", "0"])
    tap.done()


if __name__ == "__main__":
    main()
