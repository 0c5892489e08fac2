#!/usr/bin/env python3
"""test_pipelining.py: many requests on one connection, and request smuggling.

A hundred requests written at once (or dribbled in odd pieces) on one
connection get a hundred answers, each the right one, in order; a request
that ends the connection (Connection: close, a body over the limit) ends it
after its own answer, and what followed it never runs. A request whose body
length is ambiguous (Content-Length together with Transfer-Encoding, two
different Content-Length values, a transfer coding other than a final
chunked) is refused with a 4xx and the connection closed, and the request
hidden in its body (a GET of a marked path, a DELETE with a valid key) never
runs: the access log never names it and the article it would delete is
still there.
"""

import os
import random
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOWDOWN, Server, Tap, binary_from_argv, expect  # noqa: E402
from rawhttp import (  # noqa: E402
    Closed, Reader, Timeout, connect, request_bytes, send_all, wait_closed,
)

BIN = binary_from_argv(
    single="pipelined requests on one connection, which haproxy does not pass on as such")
tap = Tap()

SMUGGLE_MARK = "/smuggled-"
SEED = int(os.environ.get("ND_TEST_SEED", "20250712"))
WAIT = 1.0 * SLOWDOWN  # seconds; longer when newsd runs under valgrind


def json_post(path, body, extra=()):
    data = body.encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    return request_bytes("POST", path, list(extra) + headers, data)


def step(data, method, status, label, ok=None):
    """One pipelined request: its bytes, the status it must get and, when
    given, ok(resp) -> bool for its body (label says what ok wants)."""
    return dict(data=data, method=method, status=status, label=label, ok=ok)


def plan_pipeline(arts, n=100):
    """n requests of seven kinds, each answer distinguishable from the others
    (its article's title, its own 404 path, its own comment author)."""
    plan = []
    for i in range(n):
        art = arts[i % len(arts)]
        path = f"/v1/articles/{art['id']}"
        kind = i % 7
        if kind == 0:
            plan.append(step(request_bytes("GET", path), "GET", 200, f"title {art['title']!r}",
                             lambda r, t=art["title"]: r.json.get("title") == t))
        elif kind == 1:
            length = str(len(art["_body_json"]))
            plan.append(step(request_bytes("HEAD", path), "HEAD", 200,
                             f"Content-Length {length} and no body",
                             lambda r, n=length: r.body == b"" and
                             r.headers.get("Content-Length") == n))
        elif kind == 2:
            plan.append(step(request_bytes("GET", f"/nope-{i}"), "GET", 404, "404"))
        elif kind == 3:
            body = '{"author":"p%d","body":"pipelined %d"}' % (i, i)
            plan.append(step(json_post(f"{path}/comments", body), "POST", 201, f"author p{i}",
                             lambda r, a=f"p{i}": r.json.get("author") == a))
        elif kind == 4:
            plan.append(step(request_bytes("GET", "/health"), "GET", 200, "status ok",
                             lambda r: r.json == {"status": "ok"}))
        elif kind == 5:
            plan.append(step(json_post(f"{path}/comments", "{"), "POST", 400, "malformed JSON"))
        else:
            plan.append(step(request_bytes("GET", f"{path}/comments?limit=1"), "GET", 200,
                             "a list", lambda r: isinstance(r.json.get("data"), list)))
    return plan


def read_answers(sock, plan, what):
    """Reads one answer per planned request, checking each; returns
    (reader, answers read)."""
    reader = Reader(sock)
    answers = []
    for i, st in enumerate(plan):
        try:
            resp = reader.response(st["method"], timeout=15 * WAIT)
        except (Closed, Timeout) as e:
            tap.check(False, f"{what}: answer {i + 1} of {len(plan)} missing: {e}")
            break
        answers.append(resp)
        good = resp.status == st["status"] and (
            st["ok"] is None or (isinstance(resp.json, dict) or st["method"] == "HEAD")
            and st["ok"](resp))
        tap.check(good, f"{what}: answer {i + 1} ({st['method']}) should be {st['status']} "
                  f"with {st['label']}: {resp}")
        for issue in resp.problem_issues():
            tap.check(False, f"{what}: answer {i + 1}: {issue}")
    return reader, answers


def comment_order(answers):
    """The ids of the pipelined comments, in the order of the requests."""
    return [r.json["id"] for r in answers if r.method == "POST" and r.status == 201 and r.json]


def test_hundred_at_once(srv, arts):
    plan = plan_pipeline(arts)
    sock = connect(srv.port)
    try:
        sent = send_all(sock, b"".join(st["data"] for st in plan))
        tap.require(sent, "could not send the pipeline")
        reader, answers = read_answers(sock, plan, "100 pipelined requests")
        tap.eq(len(answers), 100, "answers read")
        ids = comment_order(answers)
        tap.check(ids == sorted(ids) and len(set(ids)) == len(ids),
                  f"pipelined comments were not stored in request order: {ids}")
        # The connection is still usable after the burst.
        send_all(sock, request_bytes("GET", "/health"))
        resp = reader.response("GET", timeout=10 * WAIT)
        expect(tap, resp, 200, {"status": "ok"}, what="request 101 on the same connection")
    finally:
        sock.close()


def test_dribbled(srv, arts):
    """The same pipeline cut into random pieces of 1..40 bytes: requests
    split anywhere (inside a header, between CR and LF) still parse."""
    rng = random.Random(SEED)
    plan = plan_pipeline(arts)
    data = b"".join(st["data"] for st in plan)
    sock = connect(srv.port)
    try:
        pos, pieces = 0, 0
        while pos < len(data):
            size = rng.randint(1, 40)
            tap.require(send_all(sock, data[pos:pos + size]), f"send failed at byte {pos}")
            pos += size
            pieces += 1
            if pieces % 25 == 0:
                time.sleep(0.002)  # let some pieces arrive alone
        _, answers = read_answers(sock, plan, "100 dribbled requests")
        tap.eq(len(answers), 100, "answers read")
    finally:
        sock.close()


def check_closed(reader, method, after):
    """The server answers nothing more on reader's connection and closes it
    (after names what came last)."""
    try:
        extra = reader.response(method, timeout=3 * WAIT)
        tap.check(False, f"an answer after {after}: {extra}")
    except Closed:
        pass
    except Timeout:
        tap.check(False, f"the connection stayed open after {after}")


def test_connection_close_last(srv, arts):
    plan = plan_pipeline(arts, 20)
    last = request_bytes("GET", "/health", [("Connection", "close")])
    after = request_bytes("GET", SMUGGLE_MARK + "after-close")
    sock = connect(srv.port)
    try:
        send_all(sock, b"".join(st["data"] for st in plan) + last + after)
        reader, answers = read_answers(sock, plan, "pipeline ending in Connection: close")
        resp = reader.response("GET", timeout=10 * WAIT)
        expect(tap, resp, 200, what="the Connection: close request")
        check_closed(reader, "GET", "Connection: close")
    finally:
        sock.close()


def test_oversized_in_pipeline(srv, arts):
    """A body announced over max-body is refused at once and the connection
    closed: requests after it (inside the announced body) never run."""
    art = arts[0]
    before = srv.request("GET", f"/v1/articles/{art['id']}").json["comment_count"]
    first = request_bytes("GET", "/health")
    big = request_bytes("POST", f"/v1/articles/{art['id']}/comments",
                        [("Content-Type", "application/json"), ("Content-Length", "5000000")])
    follow = json_post(f"/v1/articles/{art['id']}/comments", '{"author":"x","body":"after 413"}')
    sock = connect(srv.port)
    try:
        send_all(sock, first + big + follow + request_bytes("GET", SMUGGLE_MARK + "after-413"))
        reader = Reader(sock)
        expect(tap, reader.response("GET", timeout=10 * WAIT), 200, what="the request before")
        expect(tap, reader.response("POST", timeout=10 * WAIT), 413, what="the oversized request")
        check_closed(reader, "POST", "the 413")
    finally:
        sock.close()
    after = srv.request("GET", f"/v1/articles/{art['id']}").json["comment_count"]
    tap.eq(after, before, "comment_count after a request hidden behind a 413")


# ---- smuggling --------------------------------------------------------------


def smuggled(srv, victim, tag):
    """A DELETE of the victim with a valid key, then a GET of a marked path."""
    return (f"DELETE /v1/articles/{victim['id']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {srv.key}\r\n\r\n"
            f"GET {SMUGGLE_MARK}{tag} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").encode()


def smuggling_rows(srv, victim):
    """(name, request bytes, first line's HTTP version) rows. Each is a POST
    of a comment whose framing is ambiguous; the hidden requests follow the
    point where one reading of the framing ends."""
    path = f"/v1/articles/{victim['id']}/comments"
    rows = []

    def add(name, headers, body, version="HTTP/1.1"):
        head = [("Content-Type", "application/json")] + headers
        rows.append((name, request_bytes("POST", path, head, body, version)))

    tag = lambda name: name.replace(" ", "-").replace(":", "").replace(",", "")  # noqa: E731
    for name, te_first in (("CL then TE chunked", False), ("TE chunked then CL", True)):
        body = b"0\r\n\r\n" + smuggled(srv, victim, tag(name))
        cl = ("Content-Length", str(len(body)))
        te = ("Transfer-Encoding", "chunked")
        add(name, [te, cl] if te_first else [cl, te], body)
    hidden = smuggled(srv, victim, "two-CL-0-first")
    add("two Content-Length, 0 first",
        [("Content-Length", "0"), ("Content-Length", str(len(hidden)))], hidden)
    hidden = smuggled(srv, victim, "two-CL-0-last")
    # Read by the larger value the hidden requests are body; by the smaller
    # they are requests. The larger must not make the server wait either.
    add("two Content-Length, 0 last",
        [("Content-Length", str(len(hidden))), ("Content-Length", "0")], hidden)
    hidden = smuggled(srv, victim, "CL-list")
    add("Content-Length: 0, N", [("Content-Length", f"0, {len(hidden)}")], hidden)
    hidden = smuggled(srv, victim, "two-TE")
    add("Transfer-Encoding chunked twice",
        [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")], b"0\r\n\r\n" + hidden)
    for coding in ("identity", "xchunked", "chunked, identity", "gzip"):
        body = b"0\r\n\r\n" + smuggled(srv, victim, tag("TE " + coding))
        add(f"Transfer-Encoding: {coding} with Content-Length",
            [("Transfer-Encoding", coding), ("Content-Length", str(len(body)))], body)
    body = b"0\r\n\r\n" + smuggled(srv, victim, "TE-http10")
    add("HTTP/1.0 with Transfer-Encoding: chunked and Content-Length",
        [("Transfer-Encoding", "chunked"), ("Content-Length", str(len(body)))], body, "HTTP/1.0")
    return rows


def test_smuggling_row(srv, name, data):
    sock = connect(srv.port)
    try:
        send_all(sock, data)
        reader = Reader(sock)
        try:
            resp = reader.response("POST", timeout=5 * WAIT)
        except Closed:
            resp = None  # closing without an answer is a clean refusal too
        except Timeout:
            tap.check(False, "no answer in time and the connection still open: the server "
                      "waits for a body whose length it cannot know")
            return
        if resp is not None:
            tap.check(resp.status == 400, f"answered {resp.status}, want 400: {resp}")
            try:
                extra = reader.response("GET", timeout=3 * WAIT)
                tap.check(False, f"a second answer on the connection: {extra.status} {extra}")
                return
            except Closed:
                pass
            except Timeout:
                pass
        took = wait_closed(sock, 3 * WAIT)
        tap.check(took is not None, "the connection stayed open after the refusal")
    finally:
        sock.close()


def test_smuggling(srv, victim):
    # The access-log check below can see a pipelined request: prove it first.
    sock = connect(srv.port)
    try:
        send_all(sock, request_bytes("GET", "/health") +
                 request_bytes("GET", SMUGGLE_MARK + "control", [("Connection", "close")]))
        reader = Reader(sock)
        reader.response("GET", timeout=10 * WAIT)
        reader.response("GET", timeout=10 * WAIT)
    finally:
        sock.close()
    seen = srv.err.wait_for(r" access GET /smuggled-control 404 ", 5 * WAIT)
    tap.require(seen is not None, "the control request never reached the access log")
    for name, data in smuggling_rows(srv, victim):
        tap.run(f"smuggling: {name}", test_smuggling_row, srv, name, data)


def check_nothing_smuggled(srv, victim):
    time.sleep(0.5 * WAIT)  # the access line is written when a request completes
    lines = [line for line in srv.stderr_lines()
             if " access " in line and SMUGGLE_MARK in line and "smuggled-control" not in line]
    tap.check(not lines, "hidden requests ran:\n" + "\n".join(lines))
    deletes = [line for line in srv.stderr_lines()
               if f" access DELETE /v1/articles/{victim['id']} " in line]
    tap.check(not deletes, "the hidden DELETE ran:\n" + "\n".join(deletes))
    expect(tap, srv.request("GET", f"/v1/articles/{victim['id']}"), 200,
           {"title": victim["title"], "comment_count": 0}, what="the victim article")


def session():
    with Server(BIN) as srv:
        arts = []
        for i in range(10):
            art = srv.create_article(title=f"Pipelined {i}", body=f"Body {i} " * (i + 1))
            art["_body_json"] = srv.request("GET", f"/v1/articles/{art['id']}").body
            arts.append(art)
        victim = srv.create_article(title="Smuggling victim", body="Still here.")
        tap.run("100 pipelined requests written at once: 100 answers in order",
                test_hundred_at_once, srv, arts)
        tap.run("100 pipelined requests in pieces of 1..40 bytes", test_dribbled, srv, arts)
        tap.run("Connection: close on the last pipelined request ends the connection",
                test_connection_close_last, srv, arts)
        tap.run("a 413 in a pipeline ends the connection; what follows never runs",
                test_oversized_in_pipeline, srv, arts)
        tap.run("smuggling: control request is visible in the access log", test_smuggling,
                srv, victim)
        tap.run("no hidden request ran; the victim is intact", check_nothing_smuggled, srv,
                victim)
        expect_alive = srv.request("GET", "/health")
        tap.run("healthy afterwards", lambda: expect(tap, expect_alive, 200, {"status": "ok"}))
        tap.stop_server(srv)


tap.run("pipelining session", session)
tap.done()
