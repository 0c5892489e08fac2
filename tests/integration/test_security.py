#!/usr/bin/env python3
"""test_security.py: the protections around every request of a running newsd.

Security headers on every kind of answer and no Server header; X-Request-Id
echoed, generated, logged and put in problem documents; rate limits (comments
per client address, writes per API key) with 429, Retry-After and the
RateLimit headers; X-Forwarded-For ignored by default and believed only from
a trusted proxy (other client source addresses are 127.0.0.2 and up); CORS
for the default "*", for a configured list with and without credentials, and
switched off. Each check fails when its protection is taken away.
"""

import http.client
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    ABSENT, HTTP_TIMEOUT, LIMITS_PER_PROCESS, Pred, Re, Server, Tap, binary_from_argv, case,
    create_key, expect, raw_exchange, run_cli,
)

BIN = binary_from_argv()
tap = Tap()

GENERATED_ID = Re(r"^[0-9a-f]{16}$")
CSP = "default-src 'none'; frame-ancestors 'none'"
SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CSP,
    "X-Request-Id": GENERATED_ID,
    "Server": ABSENT,
}
EXPOSED = ("ETag", "Link", "Location", "Newsd-Position", "Retry-After", "RateLimit-Limit",
           "RateLimit-Remaining", "RateLimit-Reset", "X-Request-Id")
PREFLIGHT_HEADERS = ("Authorization", "Content-Type", "If-None-Match", "Newsd-Position",
                     "X-Request-Id")


def number(low, high=None):
    """A header holding a decimal integer in [low, high]."""
    def ok(value):
        return re.fullmatch(r"\d+", value or "") is not None and \
            int(value) >= low and (high is None or int(value) <= high)
    return Pred(ok, f"an integer in [{low}, {high}]")


def names(*wanted, absent=()):
    """A comma-separated header value naming every one of wanted (any case)
    and none of absent."""
    def ok(value):
        got = {v.strip().lower() for v in (value or "").split(",")}
        return {w.lower() for w in wanted} <= got and not ({a.lower() for a in absent} & got)
    return Pred(ok, f"a list with {wanted} without {absent}")


def request_from(srv, source, method, path, body=None, headers=None, auth=False):
    """A request over a new connection from the local address source (127.0.0.x)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=HTTP_TIMEOUT,
                                      source_address=(source, 0))
    try:
        return srv.request(method, path, body, headers, auth=auth, conn=conn)
    finally:
        conn.close()


def access_line(srv, request_id):
    """The access-log line of the request with this id, or None."""
    m = srv.err.wait_for(r" info access .* id=" + re.escape(request_id) + r"$", 5)
    return m.string if m else None


def logged_client(srv, request_id):
    line = access_line(srv, request_id)
    m = re.search(r" client=(\S+) id=", line or "")
    return m.group(1) if m else None


# ---- security headers on every kind of answer ------------------------------


def header_cases():
    with_sec = dict(SECURITY)
    return [
        case("200 GET /health", "GET", "/health", expect_headers=with_sec),
        case("200 HEAD /v1/articles", "HEAD", "/v1/articles", expect_headers=with_sec,
             empty_body=True),
        case("201 POST /v1/articles", "POST", "/v1/articles",
             {"title": "Headers", "body": "x"}, status=201, auth=True, expect_headers=with_sec),
        case("204 OPTIONS /v1/articles", "OPTIONS", "/v1/articles", status=204,
             expect_headers=with_sec, empty_body=True),
        case("400 bad limit", "GET", "/v1/articles?limit=0", status=400, expect_headers=with_sec),
        case("401 no key", "POST", "/v1/articles", {"title": "t", "body": "b"}, status=401,
             expect_headers=with_sec),
        case("404 unknown path", "GET", "/nope", status=404, expect_headers=with_sec),
        case("405 PUT", "PUT", "/v1/articles", status=405, expect_headers=with_sec),
        case("415 text body", "POST", "/v1/articles", "x", status=415, auth=True,
             headers={"Content-Type": "text/plain"}, expect_headers=with_sec),
        case("422 empty article", "POST", "/v1/articles", {}, status=422, auth=True,
             expect_headers=with_sec),
    ]


def test_more_statuses(srv):
    art = srv.create_article(title="To delete", body="x")
    resp = srv.request("DELETE", f"/v1/articles/{art['id']}", auth=True)
    expect(tap, resp, 204, headers=SECURITY, empty_body=True, what="204 DELETE")
    first = srv.request("GET", "/health")
    resp = srv.request("GET", "/health", headers={"If-None-Match": first.headers.get("ETag")})
    expect(tap, resp, 304, headers=SECURITY, empty_body=True, what="304")
    # 413 is answered before the body is read, on libmicrohttpd's first call.
    head = (b"POST /v1/articles HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n")
    resp = raw_exchange(srv.port, head)
    tap.require(resp is not None, "no answer to an oversized Content-Length")
    expect(tap, resp, 413, headers=SECURITY, what="413")


# ---- request ids -----------------------------------------------------------


def test_request_ids(srv):
    for given in ("abc", "A.b_c-9", "x" * 64, "0"):
        resp = srv.request("GET", "/nope", headers={"X-Request-Id": given})
        expect(tap, resp, 404, {"request_id": given}, {"X-Request-Id": given},
               what=f"sane id {given!r}")
    for bad in ("x" * 65, "a b", "a/b", "id;drop", "ä", ""):
        resp = srv.request("GET", "/nope", headers={"X-Request-Id": bad})
        expect(tap, resp, 404, {"request_id": GENERATED_ID}, {"X-Request-Id": GENERATED_ID},
               what=f"insane id {bad!r} replaced")
        tap.eq(resp.json.get("request_id") if resp.json else None,
               resp.headers.get("X-Request-Id"), f"problem request_id for {bad!r}")
    seen = {srv.request("GET", "/health").headers.get("X-Request-Id") for _ in range(20)}
    tap.eq(len(seen), 20, "20 generated request ids are distinct")
    # Problem documents of every kind carry it; 304 answers carry the header.
    resp = srv.request("POST", "/v1/articles", {}, auth=True, headers={"X-Request-Id": "r-422"})
    expect(tap, resp, 422, {"request_id": "r-422"}, what="422 problem request_id")
    resp = srv.request("GET", "/health")
    resp = srv.request("GET", "/health", headers={"If-None-Match": resp.headers.get("ETag"),
                                                  "X-Request-Id": "r-304"})
    expect(tap, resp, 304, headers={"X-Request-Id": "r-304"}, what="304 X-Request-Id")
    # The access log ends with it, after the fields that were there before.
    srv.request("GET", "/health", headers={"X-Request-Id": "log-check-7"})
    line = access_line(srv, "log-check-7")
    tap.check(line is not None and re.search(
        r" info access GET /health 200 \d+ \d+ client=127\.0\.0\.1 id=log-check-7$", line),
        f"access line of log-check-7: {line!r}\n{srv.stderr_tail(5)}")
    gen = srv.request("GET", "/nope").headers.get("X-Request-Id") or "missing"
    tap.check(access_line(srv, gen) is not None, f"generated id {gen} is not in the access log")


# ---- rate limits -----------------------------------------------------------


def rate_headers(limit, remaining):
    return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": number(1, 3600)}


def test_comment_limit(srv, aid):
    path = f"/v1/articles/{aid}/comments"
    for i in range(3):
        resp = srv.request("POST", path, {"author": "r", "body": f"c{i}"})
        expect(tap, resp, 201, headers=rate_headers(3, 2 - i), what=f"comment {i + 1} of 3")
    resp = srv.request("POST", path, {"author": "r", "body": "one too many"})
    want = dict(SECURITY, **rate_headers(3, 0), **{"Retry-After": number(1, 60)})
    expect(tap, resp, 429, {"request_id": GENERATED_ID}, want, what="fourth comment")
    tap.check("comments" in ((resp.json or {}).get("detail") or ""), f"429 detail: {resp.body!r}")
    reset, retry = resp.headers.get("RateLimit-Reset"), resp.headers.get("Retry-After")
    tap.check(reset and retry and int(reset) >= int(retry),
              f"RateLimit-Reset {reset} < Retry-After {retry}")
    listed = srv.request("GET", path).json["data"]
    tap.eq(len(listed), 3, "the refused comment was not stored")
    # Another address has its own bucket.
    resp = request_from(srv, "127.0.0.2", "POST", path, {"author": "r", "body": "other"})
    expect(tap, resp, 201, headers=rate_headers(3, 2), what="comment from 127.0.0.2")
    # Reads are not limited and carry no RateLimit headers.
    resp = srv.request("GET", path)
    expect(tap, resp, 200, headers={"RateLimit-Limit": ABSENT}, what="GET comments")
    # A key holder's comment counts against the key (burst 5), not the address.
    resp = srv.request("POST", path, {"author": "editor", "body": "with a key"}, auth=True)
    expect(tap, resp, 201, headers={"RateLimit-Limit": "5"}, what="comment with a key")


def test_write_limit(srv):
    key2 = create_key(BIN, srv.db, "writer-two")
    key3 = create_key(BIN, srv.db, "writer-three")
    auth2, auth3 = "Bearer " + key2, "Bearer " + key3
    made = srv.request("POST", "/v1/articles", {"title": "W1", "body": "x", "category": "lim"},
                       auth=auth2)
    expect(tap, made, 201, headers=rate_headers(5, 4), what="write 1")
    aid = made.json["id"] if made.json else 0
    plan = [("PATCH", f"/v1/articles/{aid}", {"summary": "s"}, 200),
            ("POST", "/v1/articles", {"title": "W3", "body": "x", "category": "lim"}, 201),
            ("DELETE", f"/v1/articles/{aid}", None, 204),
            ("POST", "/v1/articles", {"title": "W5", "body": "x", "category": "lim"}, 201)]
    for i, (method, path, body, status) in enumerate(plan):
        resp = srv.request(method, path, body, auth=auth2)
        expect(tap, resp, status, headers=rate_headers(5, 3 - i), what=f"write {i + 2}: {method}")
    resp = srv.request("POST", "/v1/articles", {"title": "W6", "body": "x", "category": "lim"},
                       auth=auth2)
    want = dict(SECURITY, **rate_headers(5, 0), **{"Retry-After": number(1, 60)})
    expect(tap, resp, 429, headers=want, what="write 6")
    tap.check("API key" in ((resp.json or {}).get("detail") or ""), f"429 detail: {resp.body!r}")
    titles = [a["title"] for a in srv.request("GET", "/v1/articles?category=lim").json["data"]]
    tap.eq(sorted(titles), ["W3", "W5"], "the refused write changed nothing")
    resp = srv.request("GET", "/v1/articles?category=lim", auth=auth2)
    expect(tap, resp, 200, headers={"RateLimit-Limit": ABSENT}, what="reads with the key")
    resp = srv.request("POST", "/v1/articles", {"title": "K3", "body": "x"}, auth=auth3)
    expect(tap, resp, 201, headers=rate_headers(5, 4), what="another key has its own bucket")
    # A key that is not valid is refused as such, not counted.
    resp = srv.request("POST", "/v1/articles", {"title": "t", "body": "b"},
                       auth=auth2[:-1] + ("A" if auth2[-1] != "A" else "B"))
    expect(tap, resp, 401, headers={"RateLimit-Limit": ABSENT}, what="bad key")
    resp = srv.request("POST", f"/v1/articles/{made.json['id'] if made.json else 1}/comments",
                       {"author": "e", "body": "x"}, auth=auth2)
    expect(tap, resp, 429, what="a comment with the exhausted key")


def limits_session():
    env = {"NEWSD_COMMENT_RATE": "1", "NEWSD_COMMENT_BURST": "3", "NEWSD_WRITE_RATE": "1",
           "NEWSD_WRITE_BURST": "5"}
    with Server(BIN, env=env) as srv:
        art = srv.create_article(title="Limited", body="x")  # one write of srv.key
        tap.run("comments: 3 per address, then 429 with Retry-After and RateLimit headers",
                test_comment_limit, srv, art["id"])
        tap.run("writes: 5 per API key, then 429; other keys and reads unaffected",
                test_write_limit, srv)
        tap.stop_server(srv)


# ---- X-Forwarded-For -------------------------------------------------------


def post_comment(srv, aid, source="127.0.0.1", forwarded=None, rid=None):
    headers = {}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    if rid is not None:
        headers["X-Request-Id"] = rid
    return request_from(srv, source, "POST", f"/v1/articles/{aid}/comments",
                        {"author": "r", "body": "x"}, headers)


def test_forwarded_ignored(srv, aid):
    resp = post_comment(srv, aid, forwarded="203.0.113.1", rid="xff-default-1")
    expect(tap, resp, 201, what="first comment")
    tap.eq(logged_client(srv, "xff-default-1"), "127.0.0.1", "logged client without trust")
    resp = post_comment(srv, aid, forwarded="203.0.113.2")
    expect(tap, resp, 429, what="X-Forwarded-For does not make another client")


def test_forwarded_trusted(srv, aid):
    steps = [  # (source, X-Forwarded-For, status, client the server must log)
        ("127.0.0.1", "203.0.113.1", 201, "203.0.113.1"),
        ("127.0.0.1", "203.0.113.2", 201, "203.0.113.2"),
        # The left end is the client's word; the right-most untrusted hop counts.
        ("127.0.0.1", "198.51.100.7, 203.0.113.1", 429, "203.0.113.1"),
        # Trusted hops are skipped from the right.
        ("127.0.0.1", "203.0.113.3, 10.1.2.3", 201, "203.0.113.3"),
        ("127.0.0.1", "203.0.113.4:5555, 10.1.2.3", 201, "203.0.113.4"),
        ("127.0.0.1", None, 201, "127.0.0.1"),
        ("127.0.0.1", None, 429, "127.0.0.1"),
        # A peer that is not a trusted proxy is the client, whatever it says.
        ("127.0.0.2", "203.0.113.9", 201, "127.0.0.2"),
        ("127.0.0.2", "203.0.113.10", 429, "127.0.0.2"),
    ]
    for i, (source, forwarded, status, client) in enumerate(steps):
        rid = f"xff-trusted-{i}"
        resp = post_comment(srv, aid, source, forwarded, rid)
        expect(tap, resp, status, what=f"step {i}: from {source} for {forwarded!r}")
        tap.eq(logged_client(srv, rid), client, f"step {i}: logged client")
    # Several X-Forwarded-For lines are one list, in order.
    body = b'{"author":"r","body":"x"}'
    head = (f"POST /v1/articles/{aid}/comments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nX-Request-Id: xff-lines\r\n"
            "X-Forwarded-For: 203.0.113.20\r\nX-Forwarded-For: 203.0.113.21\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    resp = raw_exchange(srv.port, head, [body])
    tap.require(resp is not None, "no answer with two X-Forwarded-For lines")
    expect(tap, resp, 201, what="two X-Forwarded-For lines")
    tap.eq(logged_client(srv, "xff-lines"), "203.0.113.21", "client of two header lines")


def forwarded_session():
    env = {"NEWSD_COMMENT_RATE": "1", "NEWSD_COMMENT_BURST": "1"}
    with Server(BIN, env=env) as srv:
        art = srv.create_article(title="No proxies", body="x")
        tap.run("X-Forwarded-For is ignored by default", test_forwarded_ignored, srv, art["id"])
        tap.stop_server(srv)
    env["NEWSD_TRUSTED_PROXIES"] = "127.0.0.1, 10.0.0.0/8"
    with Server(BIN, env=env) as srv:
        art = srv.create_article(title="Behind a proxy", body="x")
        tap.run("X-Forwarded-For is believed from a trusted proxy only",
                test_forwarded_trusted, srv, art["id"])
        tap.stop_server(srv)


# ---- CORS ------------------------------------------------------------------


def preflight(srv, path, origin, method="POST"):
    return srv.request("OPTIONS", path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type"})


def test_cors_any(srv):
    actual = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": names(*EXPOSED),
              "Access-Control-Allow-Credentials": ABSENT, "Access-Control-Allow-Methods": ABSENT}
    origin = {"Origin": "https://reader.example"}
    expect(tap, srv.request("GET", "/v1/articles", headers=origin), 200, headers=actual,
           what="GET with an Origin")
    expect(tap, srv.request("GET", "/v1/articles"), 200, headers=actual, what="GET without one")
    expect(tap, srv.request("GET", "/nope", headers=origin), 404, headers=actual,
           what="a problem is readable too")
    expect(tap, srv.request("POST", "/v1/articles", {"title": "CORS", "body": "x"}, auth=True,
                            headers=origin), 201, headers=actual, what="a keyed write")
    resp = preflight(srv, "/v1/articles/1", "https://reader.example", "PATCH")
    expect(tap, resp, 204, empty_body=True, what="preflight", headers={
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": names("GET", "HEAD", "PATCH", "DELETE", absent=("POST",)),
        "Access-Control-Allow-Headers": names(*PREFLIGHT_HEADERS),
        "Access-Control-Max-Age": number(60),
        "Access-Control-Allow-Credentials": ABSENT,
        "Allow": names("GET", "PATCH"),
        "X-Frame-Options": "DENY"})
    resp = preflight(srv, "/v1/comments/1", "https://reader.example", "PATCH")
    expect(tap, resp, 204, headers={"Access-Control-Allow-Methods": names(
        "GET", "HEAD", "PATCH", "DELETE")}, what="preflight of the moderation route")
    expect(tap, preflight(srv, "/nope", "https://reader.example"), 404, what="preflight of /nope")
    resp = srv.request("OPTIONS", "/v1/articles", headers=origin)
    expect(tap, resp, 204, headers={"Access-Control-Allow-Methods": ABSENT,
                                    "Access-Control-Allow-Origin": "*", "Allow": names("POST")},
           what="OPTIONS without Access-Control-Request-Method")


def test_cors_list(srv, credentials):
    allowed = {"Access-Control-Allow-Origin": "https://news.example", "Vary": names("Origin"),
               "Access-Control-Expose-Headers": names(*EXPOSED),
               "Access-Control-Allow-Credentials": "true" if credentials else ABSENT}
    none = {"Access-Control-Allow-Origin": ABSENT, "Access-Control-Allow-Credentials": ABSENT,
            "Access-Control-Expose-Headers": ABSENT, "Vary": names("Origin")}
    resp = srv.request("GET", "/v1/articles", headers={"Origin": "https://news.example"})
    expect(tap, resp, 200, headers=allowed, what="a listed origin")
    resp = srv.request("GET", "/v1/articles", headers={"Origin": "http://localhost:3000"})
    expect(tap, resp, 200, headers={"Access-Control-Allow-Origin": "http://localhost:3000"},
           what="the other listed origin, echoed")
    for other in ("https://evil.example", "http://news.example", "https://news.example:8443",
                  "null"):
        resp = srv.request("GET", "/v1/articles", headers={"Origin": other})
        expect(tap, resp, 200, headers=none, what=f"origin {other} not listed")
    expect(tap, srv.request("GET", "/v1/articles"), 200, headers=none, what="no Origin")
    resp = preflight(srv, "/v1/articles", "https://news.example")
    expect(tap, resp, 204, what="preflight of a listed origin", headers={
        "Access-Control-Allow-Origin": "https://news.example", "Vary": names("Origin"),
        "Access-Control-Allow-Methods": names("GET", "HEAD", "POST"),
        "Access-Control-Allow-Headers": names(*PREFLIGHT_HEADERS),
        "Access-Control-Allow-Credentials": "true" if credentials else ABSENT})
    resp = preflight(srv, "/v1/articles", "https://evil.example")
    expect(tap, resp, 403, what="preflight of another origin", headers={
        "Access-Control-Allow-Origin": ABSENT, "Access-Control-Allow-Methods": ABSENT,
        "Access-Control-Allow-Credentials": ABSENT, "X-Content-Type-Options": "nosniff"})


def test_cors_off(srv):
    headers = {"Origin": "https://news.example"}
    expect(tap, srv.request("GET", "/v1/articles", headers=headers), 200, what="GET",
           headers={"Access-Control-Allow-Origin": ABSENT, "Vary": ABSENT})
    expect(tap, preflight(srv, "/v1/articles", "https://news.example"), 204, what="preflight",
           headers={"Access-Control-Allow-Origin": ABSENT,
                    "Access-Control-Allow-Methods": ABSENT, "Allow": names("GET", "POST")})


def cors_session():
    with Server(BIN) as srv:
        tap.cases(srv, header_cases())
        tap.run("204 DELETE, 304 and the early 413 carry the security headers",
                test_more_statuses, srv)
        tap.run("X-Request-Id: echoed, generated, in problems and the access log",
                test_request_ids, srv)
        tap.run("CORS *: every origin may read, never with credentials", test_cors_any, srv)
        tap.stop_server(srv)
    origins = "https://news.example, http://localhost:3000"
    env = {"NEWSD_CORS_ORIGINS": origins, "NEWSD_CORS_CREDENTIALS": "true"}
    with Server(BIN, env=env) as srv:
        tap.run("CORS list with credentials", test_cors_list, srv, True)
        tap.stop_server(srv)
    with Server(BIN, env={"NEWSD_CORS_ORIGINS": origins}) as srv:
        tap.run("CORS list without credentials", test_cors_list, srv, False)
        tap.stop_server(srv)
    with Server(BIN, args=["--cors-origins", ""]) as srv:
        tap.run("CORS off: no CORS header at all", test_cors_off, srv)
        tap.stop_server(srv)
    with Server(BIN, env={"NEWSD_CORS_CREDENTIALS": "yes"}) as srv:
        def star_never_credentials():
            resp = srv.request("GET", "/health", headers={"Origin": "https://a.example"})
            expect(tap, resp, 200, headers={"Access-Control-Allow-Origin": "*",
                                            "Access-Control-Allow-Credentials": ABSENT})
            tap.check(srv.err.wait_for(r" warn cors-credentials is ignored", 2),
                      "no warning about cors-credentials with *")
        tap.run("cors-credentials with * is ignored, with a warning", star_never_credentials)
        tap.stop_server(srv)


def test_bad_settings():
    for name, value, words in (("cors-origins", "https://a.example/", "is not an origin"),
                               ("cors-origins", "*, https://a.example", "is not an origin"),
                               ("trusted-proxies", "10.0.0.0/33", "is not an IP address"),
                               ("cors-credentials", "maybe", "true or false"),
                               ("write-burst", "0", "write-burst must be")):
        proc = run_cli(BIN, [f"--{name}", value, "--db", "/nonexistent/x.db", "migrate"])
        tap.eq(proc.returncode, 2, f"--{name} {value!r}: exit status")
        tap.check(name in proc.stderr and words in proc.stderr,
                  f"--{name} {value!r}: stderr {proc.stderr!r}")


tap.run("security headers, request ids, CORS", cors_session)
tap.run_single("rate limits", LIMITS_PER_PROCESS, limits_session)
tap.run_single("client addresses behind proxies",
               "X-Forwarded-For from clients that reach newsd itself (in the cluster haproxy is "
               "the trusted proxy, and it adds the client's address)", forwarded_session)
tap.run("bad security settings exit 2 naming the setting", test_bad_settings)
tap.done()
