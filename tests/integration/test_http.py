#!/usr/bin/env python3
"""test_http.py: HTTP behaviour common to every endpoint of a running newsd.

/health, 404 for unknown paths, 405 with Allow, HEAD on every GET route,
OPTIONS, keep-alive, the access log (and that no body or key ever reaches
stderr), and 100 concurrent requests.
"""

import os
import re
import socket
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    Pred, Re, Server, Tap, binary_from_argv, case, expect, http_request,
)

BIN = binary_from_argv()
tap = Tap()

JSON_TYPE = Re(r"^application/json;\s*charset=utf-8$")
BODY_MARKER = "body-marker-4f1c9a"
QUERY_MARKER = "query-marker-77be21"


def allow(*methods, absent=()):
    """An Allow header naming every method of methods and none of absent."""
    def ok(value):
        got = {m.strip() for m in value.split(",")}
        return set(methods) <= got and not (set(absent) & got)
    return Pred(ok, f"Allow with {methods} without {absent}")


def routing_cases():
    nf = [("GET", p) for p in ("//", "/assets", "/assets/nope.js", "/nope", "/v1", "/v1/nope", "/v1/comments",
                              "/v1/articles/1/comments/2", "/v1/articles/1/nope",
                              "/health/x", "/V1/articles")]
    cases = [case(f"{m} {p}: 404", m, p, status=404) for m, p in nf]
    cases += [
        case("POST /nope: 404", "POST", "/nope", {"a": 1}, status=404),
        case("health", "GET", "/health", status=200, json={"status": "ok"},
             expect_headers={"Content-Type": JSON_TYPE}),
    ]
    not_allowed = [
        ("PUT", "/v1/articles", ("GET", "HEAD", "POST"), ("PUT", "PATCH", "DELETE")),
        ("DELETE", "/v1/articles", ("GET", "HEAD", "POST"), ("DELETE",)),
        ("PATCH", "/v1/articles", ("GET", "HEAD", "POST"), ("PATCH",)),
        ("POST", "/health", ("GET", "HEAD"), ("POST", "DELETE")),
        ("DELETE", "/health", ("GET", "HEAD"), ("POST", "DELETE")),
        ("PUT", "/v1/articles/1", ("GET", "HEAD", "PATCH", "DELETE"), ("POST", "PUT")),
        ("POST", "/v1/articles/1", ("GET", "HEAD", "PATCH", "DELETE"), ("POST", "PUT")),
        ("PATCH", "/v1/articles/1/comments", ("GET", "HEAD", "POST"), ("PATCH", "DELETE")),
        ("DELETE", "/v1/articles/1/comments", ("GET", "HEAD", "POST"), ("PATCH", "DELETE")),
        ("POST", "/v1/comments/1", ("GET", "HEAD", "PATCH", "DELETE"), ("POST", "PUT")),
        ("PUT", "/v1/comments/1", ("GET", "HEAD", "PATCH", "DELETE"), ("POST", "PUT")),
        ("TRACE", "/v1/articles", ("GET", "HEAD", "POST"), ("TRACE",)),
    ]
    cases += [case(f"{m} {p}: 405", m, p, status=405,
                   expect_headers={"Allow": allow(*want, absent=absent)})
              for m, p, want, absent in not_allowed]
    options = [
        ("/v1/articles", ("GET", "HEAD", "POST")),
        ("/health", ("GET", "HEAD")),
        ("/v1/articles/1", ("GET", "HEAD", "PATCH", "DELETE")),
        ("/v1/articles/1/comments", ("GET", "HEAD", "POST")),
        ("/v1/comments/1", ("GET", "HEAD", "PATCH", "DELETE")),
    ]
    cases += [case(f"OPTIONS {p}: 204", "OPTIONS", p, status=204, empty_body=True,
                   expect_headers={"Allow": allow(*want)}) for p, want in options]
    cases += [case("OPTIONS /nope: 404", "OPTIONS", "/nope", status=404)]
    return cases


def test_head(srv):
    art = srv.create_article(title="Head test", body="x")
    c = srv.create_comment(art["id"])
    routes = ["/health", "/v1/articles", "/v1/articles?limit=1", f"/v1/articles/{art['id']}",
              f"/v1/articles/{art['slug']}", f"/v1/articles/{art['id']}/comments",
              f"/v1/articles/{art['id']}/comments?view=tree", f"/v1/comments/{c['id']}"]
    for path in routes:
        got = srv.request("GET", path)
        head = srv.request("HEAD", path)
        expect(tap, head, 200, empty_body=True, what=f"HEAD {path}")
        tap.check(got.headers.get("ETag"), f"GET {path} has no ETag")
        for name in ("Content-Type", "ETag", "Link"):
            tap.eq(head.headers.get(name), got.headers.get(name), f"HEAD {path} {name}")
        length = head.headers.get("Content-Length")
        tap.check(length is None or int(length) == len(got.body),
                  f"HEAD {path}: Content-Length {length}, GET body {len(got.body)} bytes")
    for path in ("/nope", "/v1/articles/999999", "/v1/comments/999999"):
        expect(tap, srv.request("HEAD", path), 404, empty_body=True, what=f"HEAD {path}")


def test_keep_alive(srv):
    conn = srv.connection()
    try:
        plan = [("GET", "/health", None, False, 200), ("GET", "/v1/articles", None, False, 200),
                ("POST", "/v1/articles", {"title": "Kept alive", "body": "x"}, True, 201),
                ("GET", "/nope", None, False, 404), ("HEAD", "/health", None, False, 200),
                ("POST", "/v1/articles", {"title": ""}, True, 422),
                ("POST", "/v1/articles", {"title": "t", "body": "b"}, False, 401),
                ("PUT", "/v1/articles", None, False, 405),
                ("OPTIONS", "/v1/articles", None, False, 204)] * 3
        sock = None
        for i, (method, path, body, auth, status) in enumerate(plan):
            resp = srv.request(method, path, body, auth=auth, conn=conn)
            expect(tap, resp, status, what=f"request {i + 1} on one connection: {method} {path}")
            tap.check((resp.headers.get("Connection") or "").lower() != "close",
                      f"request {i + 1} ({method} {path}) answered Connection: close")
            if sock is None:
                sock = conn.sock
            tap.require(conn.sock is sock and sock is not None,
                        f"the connection was closed after request {i + 1} ({method} {path})")
    finally:
        conn.close()


def test_access_log(srv):
    secret_title = BODY_MARKER + "-title"
    resp = srv.request("POST", "/v1/articles", {"title": secret_title, "body": BODY_MARKER},
                       auth=True)
    expect(tap, resp, 201, what="POST with markers")
    srv.request("POST", "/v1/articles", {"title": BODY_MARKER, "bogus": BODY_MARKER}, auth=True)
    srv.request("POST", "/v1/articles", raw=b"{" + BODY_MARKER.encode(), auth=True)
    srv.request("POST", "/v1/articles", {"title": "x", "body": BODY_MARKER},
                auth="Bearer " + srv.key + "tampered")
    health = srv.request("GET", "/health")
    srv.request("GET", "/v1/articles?limit=2&category=" + QUERY_MARKER)
    srv.request("GET", "/nope")
    # The fields after the timing: the client address and the request id.
    tail = r" client=127\.0\.0\.1 id=[0-9a-f]{16}$"
    want = [
        (r" info access GET /health 200 (\d+) \d+" + tail, "GET /health"),
        (r" info access POST /v1/articles 201 \d+ \d+" + tail, "POST 201"),
        (r" info access POST /v1/articles 422 \d+ \d+" + tail, "POST 422"),
        (r" info access POST /v1/articles 400 \d+ \d+" + tail, "POST 400"),
        (r" info access POST /v1/articles 401 \d+ \d+" + tail, "POST 401"),
        (r" info access GET /v1/articles 200 \d+ \d+" + tail, "GET list without query"),
        (r" info access GET /nope 404 \d+ \d+" + tail, "GET /nope 404"),
    ]
    for pattern, label in want:
        m = srv.err.wait_for(pattern, 5)
        tap.check(m is not None, f"no access line for {label} ({pattern})\n{srv.stderr_tail(15)}")
        if m and label == "GET /health":
            tap.eq(int(m.group(1)), len(health.body), "access log bytes of /health")
    text = "\n".join(srv.stderr_lines())
    for secret, what in ((BODY_MARKER, "a request body"), (srv.key, "the API key"),
                         (srv.key[15:], "the key's secret part"), (QUERY_MARKER, "a query")):
        tap.check(secret not in text, f"{what} appears in stderr")
    stamp = Re(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (error|warn|info|debug) ")
    odd = [line for line in srv.stderr_lines() if not stamp(line)]
    tap.check(not odd, "stderr lines not in the log format:\n" + "\n".join(odd[:10]))


def test_quiet_start(srv):
    lines = srv.stderr_lines()
    start = [l for l in lines[:next((i for i, l in enumerate(lines) if "listening on" in l),
                                    len(lines))]]
    noisy = [l for l in start if re.search(r"^\S+ (warn|error) ", l)]
    tap.check(not noisy, "warnings or errors while starting:\n" + "\n".join(noisy))


def test_concurrency(srv):
    art = srv.create_article(title="Busy", body="x")
    results = [None] * 100
    barrier = threading.Barrier(100)

    def worker(i):
        try:
            barrier.wait(10)
            if i % 4 == 0:
                resp = http_request(srv.port, "POST", f"/v1/articles/{art['id']}/comments",
                                    {"author": f"t{i}", "body": "concurrent"})
                results[i] = (resp.status, 201)
            elif i % 4 == 1:
                resp = http_request(srv.port, "POST", "/v1/articles",
                                    {"title": f"Concurrent {i}", "body": "x"},
                                    {"Authorization": "Bearer " + srv.key})
                results[i] = (resp.status, 201)
            else:
                path = "/health" if i % 4 == 2 else f"/v1/articles/{art['id']}"
                resp = http_request(srv.port, "GET", path)
                results[i] = (resp.status, 200)
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = (repr(e), "an answer")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bad = [(i, r) for i, r in enumerate(results) if r is None or r[0] != r[1]]
    tap.check(not bad, f"{len(bad)} of 100 concurrent requests failed: {bad[:10]}")
    expect(tap, srv.request("GET", f"/v1/articles/{art['id']}"), 200, {"comment_count": 25},
           what="every concurrent comment counted")


def test_bad_requests(srv):
    # Garbage that is not HTTP at all: libmicrohttpd answers 400 with its own
    # page and closes the connection, and the server lives on.
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        data = b""
        try:
            while chunk := sock.recv(4096):
                data += chunk
        except OSError:
            pass
    tap.check(re.match(rb"HTTP/1\.1 400 ", data), f"answer to garbage: {data[:100]!r}")
    tap.check(re.search(rb"\r\nConnection: close\r\n", data),
              f"the connection is not closed after garbage: {data[:300]!r}")
    expect(tap, srv.request("GET", "/health"), 200, what="alive after garbage")
    long_path = "/v1/articles/" + "a" * 5000
    resp = srv.request("GET", long_path)
    # 5,000 bytes fit libmicrohttpd's header memory: routed, an unknown slug.
    expect(tap, resp, 404, what="very long path")


def session():
    with Server(BIN, env={"NEWSD_PER_IP_CONNECTION_LIMIT": "512"}) as srv:
        tap.run("no warnings or errors while starting", test_quiet_start, srv)
        tap.cases(srv, routing_cases())
        tap.run("HEAD on every GET route", test_head, srv)
        tap.run("keep-alive: one connection, many requests", test_keep_alive, srv)
        tap.run("access log; no body or key in stderr", test_access_log, srv)
        tap.run("100 concurrent requests", test_concurrency, srv)
        tap.run("garbage and long paths", test_bad_requests, srv)
        tap.stop_server(srv)


tap.run("http session", session)
tap.done()
