#!/usr/bin/env python3
"""test_group_commit.py: writes committed together each get their own answer.

newsd commits the writes that queue up together in one transaction, each in
a savepoint of its own (server/http_offload.c). To make such a group for
certain, another process holds the database's write lock (hold_write_lock:
SQLite's BEGIN IMMEDIATE, or on PostgreSQL the articles and comments tables
locked against writes) while many clients send their writes at once: the
first waits for the lock, the others queue behind it, and once the lock is
given back they are committed as one group. Among them are writes that must
fail on their own (a reply to a comment that does not exist, a comment on an
article that does not exist, a slug already taken, a body that is not JSON);
each must get its own answer, and every other write must be stored exactly
as sent and answered as if it had been alone, its change already in the
change log. The server's log at exit says how many transactions the writes
took, which proves they were grouped. Over PostgreSQL every write that
stands is answered its group's position (Newsd-Position), one per group, and
a failed one none.

Rows made in a group are found by search once it is committed, as they
stand at its end (SQLite indexes a group's new rows at its end, migration
0014): an article made and retitled, one made and deleted, a comment made and
deleted, one made and kept, all in one group; and a comment another process
writes is found too.

A SIGTERM that comes while writes wait in the committer's queue stops the
server only once they are committed and answered.

A further server gets more writes at once than a group may hold (128 on
SQLite, 60 on PostgreSQL: nd_store_batch_rows): each is answered and stored,
and no group holds more (the committer's debug line gives each group's size;
over PostgreSQL no more writes share one position).

The log line and the in-flight count are one process's: in the cluster
topology the test skips itself.
"""

import json
import os
import re
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    BACKEND, SLOWDOWN, Server, Tap, binary_from_argv, check_stop, expect, hold_write_lock, http_request,
    is_postgres, soon,
)

BIN = binary_from_argv(single="the group commit log line and the in-flight count are one "
                              "process's")
tap = Tap()
MISSING = 987654321
GROUP_LOG = re.compile(r"group commit: (\d+) writes in (\d+) transactions")
GROUP_SIZE_LOG = re.compile(r"debug group commit: (\d+) writes in one transaction")
POSITION = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")
GROUP_MOST = {"sqlite": 128, "postgres": 60}  # nd_store_batch_rows


def in_flight(srv):
    text = srv.request("GET", "/metrics").body.decode()
    m = re.search(r"^newsd_http_requests_in_flight (\d+)$", text, re.M)
    return int(m.group(1)) if m else -1


class Write:
    """One request sent from its own thread, with the answer it must get."""

    def __init__(self, method, path, body, auth, want, raw=None):
        self.method, self.path, self.body, self.auth = method, path, body, auth
        self.want, self.raw = want, raw
        self.resp = None
        self.error = None

    def send(self, srv):
        headers = {"Content-Type": "application/json"}
        if self.auth:
            headers["Authorization"] = "Bearer " + srv.key
        payload = self.raw if self.raw is not None else self.body
        try:
            self.resp = http_request(srv.port, self.method, self.path, payload, headers)
        except OSError as e:
            self.error = e


def plan(art, other, parent):
    """The writes of the group: most succeed, some fail each in its own way."""
    writes = []
    for i in range(20):
        body = {"author": f"reader {i}", "body": f"Comment number {i} of the group"}
        if i % 4 == 0:
            body["parent_id"] = parent["id"]
        writes.append(Write("POST", f"/v1/articles/{art['id']}/comments", body, False, 201))
    for i in range(3):
        writes.append(Write("POST", f"/v1/articles/{art['id']}/comments",
                            {"author": "lost", "body": f"Reply to nothing {i}",
                             "parent_id": MISSING}, False, 422))
    for i in range(2):
        writes.append(Write("POST", f"/v1/articles/{MISSING}/comments",
                            {"author": "lost", "body": f"Nowhere {i}"}, False, 404))
    for i in range(4):
        writes.append(Write("POST", "/v1/articles",
                            {"title": f"Grouped article {i}", "body": f"Text {i}.",
                             "tags": ["group"]}, True, 201))
    for i in range(2):
        writes.append(Write("POST", "/v1/articles",
                            {"title": f"Clash {i}", "slug": other["slug"], "body": "x"}, True,
                            409))
    writes.append(Write("PATCH", f"/v1/articles/{other['id']}", {"title": "Retitled in a group"},
                        True, 200))
    writes.append(Write("POST", f"/v1/articles/{art['id']}/comments", None, False, 400,
                        raw=b'{"author": "broken", "body": '))
    return writes


def send_grouped(srv, writes, while_held=None, in_order=False):
    """Sends every write while another process holds the write lock, and
    lets go once all of them are waiting in the server (and while_held, if
    given, has been called). in_order sends each write only once the one
    before is waiting in the server, so they are queued (and run in their
    group) in this order; the first then waits for the lock alone."""
    threads = [threading.Thread(target=w.send, args=(srv,)) for w in writes]
    with hold_write_lock(srv.db):
        sent = 0
        for batch in ([[t] for t in threads] if in_order else [threads]):
            for t in batch:
                t.start()
            sent += len(batch)
            deadline = time.monotonic() + 30
            # the /metrics request counts itself
            while in_flight(srv) < sent + 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            tap.check(in_flight(srv) >= sent + 1,
                      f"only {in_flight(srv) - 1} of {sent} writes reached the server")
            # in flight from their headers on: give the last ones time to be
            # routed (a key check, a rate limit) and queued for the committer
            time.sleep(0.3 * SLOWDOWN)
        if while_held is not None:
            while_held()
    for t in threads:
        t.join(60)
    lost = [f"{w.method} {w.path}: {w.error}" for w in writes if w.resp is None]
    tap.require(not lost, f"writes without an answer: {lost[:5]}")


def group_log(srv):
    """(writes, transactions) of the committer's line at exit."""
    m = None
    for line in srv.stderr_lines():
        m = GROUP_LOG.search(line) or m
    tap.require(m is not None, "no group commit line in the log")
    return int(m.group(1)), int(m.group(2))


def positions(writes):
    """The Newsd-Position of each write that stood (status below 400);
    checks that it is one, and that a failed write has none."""
    found = []
    for w in writes:
        pos = w.resp.headers.get("Newsd-Position")
        if w.resp.status >= 400:
            tap.check(pos is None, f"a failed write has a position: {w.resp}")
            continue
        tap.check(pos is not None and POSITION.match(pos),
                  f"{w.method} {w.path} answered {w.resp.status} without a position")
        found.append(pos)
    return found


def check_answers(srv, writes, art, other):
    for w in writes:
        what = f"{w.method} {w.path} {json.dumps(w.body)[:60]}"
        if w.want == 201 and "comments" in w.path:
            expect(tap, w.resp, 201, {"article_id": art["id"], **w.body}, what=what)
        elif w.want == 201:
            expect(tap, w.resp, 201, {"title": w.body["title"], "body": w.body["body"],
                                      "tags": ["group"]}, what=what)
        elif w.want == 422:
            expect(tap, w.resp, 422, errors=["parent_id"], what=what)
        elif w.want == 200:
            expect(tap, w.resp, 200, {"title": "Retitled in a group", "id": other["id"]},
                   what=what)
        else:
            expect(tap, w.resp, w.want, what=what)


def check_stored(srv, writes, art, other):
    created = [w.resp.json for w in writes if w.want == 201 and w.resp.status == 201]
    tap.eq(len(created), 24, "writes that succeeded")
    tap.eq(len({c["id"] for c in created if "title" not in c}), 20, "distinct comment ids")
    for c in created:
        if "title" in c:
            path, same = f"/v1/articles/{c['id']}", ("id", "slug", "title", "body", "tags")
        else:
            path, same = f"/v1/comments/{c['id']}", tuple(c)
        resp = srv.request("GET", path, auth=True)
        got = {k: resp.json.get(k) for k in same} if resp.json else None
        tap.check(resp.status == 200 and got == {k: c[k] for k in same},
                  f"{path} reads back as acknowledged: {resp.status} {resp.body[:200]!r}")
    listed = srv.request("GET", f"/v1/articles/{art['id']}/comments?limit=100").json["data"]
    bodies = sorted(c["body"] for c in listed)
    want = sorted([f"Comment number {i} of the group" for i in range(20)] + ["The parent"])
    tap.eq(bodies, want, "the article's comments are the group's successes and nothing else")
    titles = {a["title"] for a in srv.request("GET", "/v1/articles?limit=100").json["data"]}
    tap.check(not any(t.startswith("Clash") for t in titles), "a clashing article was stored")
    tap.check("Retitled in a group" in titles, "the PATCH of the group is stored")
    expect(tap, srv.request("GET", f"/v1/articles/{art['id']}"), 200, {"comment_count": 21},
           what="comment_count counts the group's comments")


def check_changes(srv, writes):
    """Each stored comment's change is in the log: the group's publication
    (PostgreSQL) ran before its writes were answered."""
    resp = srv.request("GET", "/v1/changes?limit=100", auth=True)
    tap.require(resp.status == 200, f"GET /v1/changes: {resp}")
    told = {c.get("comment_id") for c in resp.json["data"] if c["kind"] == "comment.added"}
    created = [w.resp.json["id"] for w in writes
               if w.want == 201 and "comments" in w.path and w.resp.status == 201]
    tap.eq([c for c in created if c not in told], [], "stored comments missing from /v1/changes")


def test_group():
    with Server(BIN, args=["--busy-timeout", "20000", "--comment-rate", "0"]) as srv:
        art = srv.create_article(title="Where the group writes", body="x")
        other = srv.create_article(title="Taken", slug="taken-slug", body="y")
        parent = srv.create_comment(art["id"], body="The parent")
        srv.request("GET", f"/v1/articles/{art['id']}")  # cached: must not stay so
        writes = plan(art, other, parent)
        send_grouped(srv, writes)
        check_answers(srv, writes, art, other)
        check_stored(srv, writes, art, other)
        check_changes(srv, writes)
        stood = positions(writes) if is_postgres(srv.db) else []
        check_stop(tap, srv)
        writes_n, groups = group_log(srv)
        tap.diag(f"{writes_n} writes in {groups} transactions")
        # 3 writes before the group, then the writes of the group: the first
        # waited for the lock alone, the rest were committed together (a
        # straggler queued after the lock went may take a group of its own)
        tap.check(groups <= 3 + 8, f"{writes_n} writes took {groups} transactions: not grouped")
        if stood:
            # one position per group: as many as the group's writes took transactions, at most
            tap.check(len(set(stood)) <= groups - 3,
                      f"{len(set(stood))} positions for {groups - 3} transactions")


def found(srv, word, kind="articles"):
    resp = srv.request("GET", f"/v1/search?q={word}&type={kind}&limit=50", auth=True)
    tap.require(resp.status == 200, f"search {word!r}: {resp}")
    return sorted(r["id"] for r in resp.json["data"])


def test_group_search():
    """Rows made in a group are found by search after it, as they stand at
    its end: made and edited, made and deleted, made and kept."""
    with Server(BIN, args=["--busy-timeout", "20000", "--comment-rate", "0",
                           "--log-level", "debug"]) as srv:
        art = srv.create_article(title="Where the search group writes", body="x")
        last = srv.create_comment(art["id"], body="Before the group")
        first_article, first_comment = art["id"] + 1, last["id"] + 1  # ids go up by one
        comments = f"/v1/articles/{art['id']}/comments"
        writes = [
            Write("POST", comments, {"author": "a", "body": "The lone first write"}, False, 201),
            Write("POST", "/v1/articles", {"title": "Zebrafinch seen", "body": "Plain."}, True,
                  201),
            Write("PATCH", f"/v1/articles/{first_article}", {"title": "Quetzal seen"}, True, 200),
            Write("POST", "/v1/articles", {"title": "Okapi spotted", "body": "Plain."}, True, 201),
            Write("DELETE", f"/v1/articles/{first_article + 1}", None, True, 204),
            Write("POST", comments, {"author": "b", "body": "A pangolin went by"}, False, 201),
            Write("DELETE", f"/v1/comments/{first_comment + 1}", None, True, 204),
            Write("POST", comments, {"author": "c", "body": "A marmoset stayed"}, False, 201),
        ]
        send_grouped(srv, writes, in_order=True)
        tap.eq([w.resp.status for w in writes], [w.want for w in writes], "statuses")
        tap.eq([w.resp.json.get("id") for w in writes if w.want == 201],
               [first_comment, first_article, first_article + 1, first_comment + 1,
                first_comment + 2], "the ids the test counted on")
        tap.eq(found(srv, "zebrafinch"), [], "an article retitled in its group: old title")
        tap.eq(found(srv, "quetzal"), [first_article], "an article retitled in its group: new")
        tap.eq(found(srv, "okapi"), [], "an article deleted in its group")
        tap.eq(found(srv, "pangolin", "comments"), [], "a comment deleted in its group")
        tap.eq(found(srv, "marmoset", "comments"), [first_comment + 2], "a comment kept")
        # a row written by another process (no group) is found at once
        srv.sql("INSERT INTO comments (article_id, author, body, status, created_at) "
                "VALUES (?, 'sql', 'A capybara from elsewhere', 'visible', 0)", [art["id"]])
        tap.eq(len(soon(lambda: found(srv, "capybara", "comments"))), 1,
               "a comment another process wrote")
        if not is_postgres(srv.db):
            for table in ("articles_fts", "comments_fts"):
                srv.sql(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
            tap.eq(srv.sql("SELECT count(*) FROM search_deferred"), [(0,)],
                   "no group's marks stay after it")
        check_stop(tap, srv)
        writes_n, groups = group_log(srv)
        sizes = [int(m.group(1)) for m in map(GROUP_SIZE_LOG.search, srv.stderr_lines()) if m]
        tap.diag(f"{writes_n} writes in {groups} transactions: {sizes}")
        tap.check(len(writes) - 1 in sizes, f"the ordered writes were not one group: {sizes}")


def test_stop():
    n = 10
    with Server(BIN, args=["--busy-timeout", "20000", "--comment-rate", "0",
                           "--shutdown-grace", "30"]) as srv:
        art = srv.create_article(title="Stopped", body="x")
        writes = [Write("POST", f"/v1/articles/{art['id']}/comments",
                        {"author": f"late {i}", "body": f"Comment {i} at the stop"}, False, 201)
                  for i in range(n)]

        def stop_now():
            srv.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3 * SLOWDOWN)
            tap.check(srv.running(), "the server exited with writes in its queue")

        send_grouped(srv, writes, while_held=stop_now)
        tap.eq([w.resp.status for w in writes], [201] * n, "statuses of the queued writes")
        rc = check_stop(tap, srv, None)
        tap.eq(rc, 0, "exit status")
        srv.start()
        expect(tap, srv.request("GET", f"/v1/articles/{art['id']}"), 200, {"comment_count": n},
               what="the queued writes are stored")


def test_group_size():
    backend = "postgres" if BACKEND == "postgres" else "sqlite"
    most = GROUP_MOST[backend]
    n = most + 10
    with Server(BIN, args=["--busy-timeout", "20000", "--comment-rate", "0",
                           "--per-ip-connection-limit", "0", "--log-level", "debug"]) as srv:
        art = srv.create_article(title="Crowded", body="x")
        writes = [Write("POST", f"/v1/articles/{art['id']}/comments",
                        {"author": f"crowd {i}", "body": f"Comment {i} of many"}, False, 201)
                  for i in range(n)]
        send_grouped(srv, writes)
        tap.eq(sorted({w.resp.status for w in writes}), [201], "statuses")
        expect(tap, srv.request("GET", f"/v1/articles/{art['id']}"), 200, {"comment_count": n},
               what="every write of the crowd is stored")
        stood = positions(writes) if is_postgres(srv.db) else []
        check_stop(tap, srv)
        writes_n, groups = group_log(srv)
        # each group's size, from the committer's debug line
        sizes = [int(m.group(1)) for m in map(GROUP_SIZE_LOG.search, srv.stderr_lines()) if m]
        tap.diag(f"{writes_n} writes in {groups} transactions: {sizes}")
        tap.eq((len(sizes), sum(sizes)), (groups, n + 1), "groups logged, and their writes")
        tap.check(sizes and max(sizes) <= most, f"a group held more than {most}: {sizes}")
        if stood:
            sizes = sorted(stood.count(p) for p in set(stood))
            tap.check(sizes[-1] <= most, f"{sizes[-1]} writes answered one position")


tap.run("concurrent writes in one group: each its own answer, one failure fails no other",
        test_group)
tap.run("more writes at once than a group may hold take several groups", test_group_size)
tap.run("a group's rows are found by search as they stand at its end", test_group_search)
tap.run("writes queued at a SIGTERM are committed and answered before the exit", test_stop)
tap.done()
