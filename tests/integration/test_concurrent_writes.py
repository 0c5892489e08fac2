#!/usr/bin/env python3
"""test_concurrent_writes.py: many writers at once, through the real binary.

SQLite has one writer; over PostgreSQL writes run side by side (migration
0005 of migrations/postgres), so what a single writer gave for free must
hold by design there:
  - writers of the same title each get a slug of their own, suffixed as a
    single writer would have it (never a 409);
  - the change log, read while the writes go on, only ever grows: a reader
    that has seen change N never later finds a smaller id, no change is
    missed or given twice, and every acknowledged write has its change
    there as soon as it is answered.
"""

import os
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Tap, binary_from_argv  # noqa: E402

BIN = binary_from_argv()
tap = Tap()

WRITERS = 8
EACH = 6


def run_threads(target, n):
    errors = []

    def wrapped(i):
        try:
            target(i)
        except Exception as e:  # noqa: BLE001 - reported as a failure below
            errors.append(f"writer {i}: {e!r}")

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    tap.check(not any(t.is_alive() for t in threads), "a writer never finished")
    return errors


with Server(BIN, ["--comment-rate", "0", "--threads", str(WRITERS)]) as srv:

    @tap.point(f"{WRITERS} writers of one title at once each get a slug of their own")
    def same_title():
        statuses, slugs, lock = [], [], threading.Lock()

        def writer(_):
            for _ in range(EACH):
                resp = srv.request("POST", "/v1/articles",
                                   {"title": "Same title", "body": "Text."}, auth=True)
                with lock:
                    statuses.append(resp.status)
                    if resp.status == 201:
                        slugs.append(resp.json["slug"])

        tap.eq(run_threads(writer, WRITERS), [], "writer errors")
        n = WRITERS * EACH
        tap.eq(statuses, [201] * n, "statuses")
        want = ["same-title"] + [f"same-title-{k}" for k in range(2, n + 1)]
        tap.eq(sorted(slugs, key=lambda s: (len(s), s)), want, "slugs")

    @tap.point("the change log read during concurrent writes only grows, missing nothing")
    def log_grows():
        start = srv.request("GET", "/v1/changes?limit=1", auth=True).json["next_since"]
        article = srv.create_article(title="Commented")
        done = threading.Event()
        seen, problems = [], []
        acknowledged, lock = [], threading.Lock()

        def reader():
            since = start
            while True:
                finished = done.is_set()  # read once more after the last write
                resp = srv.request("GET", f"/v1/changes?since={since}&limit=100", auth=True)
                if resp.status != 200:
                    problems.append(f"GET /v1/changes?since={since}: {resp}")
                    return
                page = resp.json
                for change in page["data"]:
                    if change["id"] <= since:
                        problems.append(f"change {change['id']} after {since}")
                    since = change["id"]
                    seen.append(change)
                if page["next_cursor"] is None:
                    since = page["next_since"]
                    if finished:
                        return

        def writer(i):
            for k in range(EACH):
                if k % 2:
                    resp = srv.request("POST", f"/v1/articles/{article['id']}/comments",
                                       {"author": f"w{i}", "body": f"comment {i}.{k}"})
                    key = ("comment.added", resp.json["id"] if resp.status == 201 else None)
                else:
                    resp = srv.request("POST", "/v1/articles",
                                       {"title": f"Writer {i} article {k}", "body": "Text."},
                                       auth=True)
                    key = ("article.published", resp.json["id"] if resp.status == 201 else None)
                with lock:
                    acknowledged.append((resp.status, key))
                if resp.status == 201:
                    # answered, so its change is in the log already
                    check = srv.request("GET", f"/v1/changes?since={start}&limit=1", auth=True)
                    if check.status != 200 or check.json["next_since"] < start + 1:
                        problems.append(f"no change in the log after a 201: {check}")

        read = threading.Thread(target=reader)
        read.start()
        errors = run_threads(writer, WRITERS)
        done.set()
        read.join(60)
        tap.eq(errors, [], "writer errors")
        tap.eq(problems, [], "problems seen by the reader")
        tap.eq([s for s, _ in acknowledged], [201] * (WRITERS * EACH), "statuses")
        ids = [c["id"] for c in seen]
        tap.eq(len(ids), len(set(ids)), "no change given twice")
        told = set()
        for c in seen:
            if c["kind"] == "comment.added":
                told.add(("comment.added", c["comment_id"]))
            elif c["kind"] == "article.published":
                told.add(("article.published", c["article_id"]))
        missing = [key for _, key in acknowledged if key not in told]
        tap.eq(missing, [], "acknowledged writes whose change the reader never saw")


tap.done()
