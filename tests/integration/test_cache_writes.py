#!/usr/bin/env python3
"""test_cache_writes.py: each kind of write invalidates what it changed, and only that.

A write no longer empties the whole response cache: it makes stale the
answers of the article it wrote (its page by id and by slug, its comments,
one of its comments) and every collection (lists, search, taxonomy, feeds,
the change log). Every case here reads every cacheable public URL twice (so
each is cached), makes one kind of write, and reads them all again from the
cached server; each answer must be the very bytes a second newsd without a
cache, on the same database, gives at that moment. The cases check too that
the write changed something the URLs show (else the comparison proves
nothing) and that another article's page is still answered from the cache.
"""

import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    CLUSTER, FOREIGN_NOTICE_S, OWN_NOTICE_S, Server, Tap, binary_from_argv, run_cli, settled,
)

BIN = binary_from_argv()
tap = Tap()
HOST = {"Host": "news.example"}


def get(srv, path):
    return srv.request("GET", path, headers=HOST)


def cache_hits(srv):
    text = get(srv, "/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith("newsd_response_cache_hits_total "):
            return float(line.split()[1])
    raise RuntimeError("no newsd_response_cache_hits_total in /metrics")


class World:
    """Two articles (A is written to, B is not) and every URL that shows them."""

    def __init__(self, srv):
        self.a = srv.create_article(title="Ocelot alpha", category="cats", tags=["wild"],
                                    author="Ann")
        self.b = srv.create_article(title="Ocelot beta", category="dogs", tags=["tame"],
                                    author="Bob")
        self.ca = srv.create_comment(self.a["id"], body="Jaguarundi first")
        self.cb = srv.create_comment(self.b["id"], body="Jaguarundi second")
        first = get(srv, "/v1/articles?limit=1").json
        a, b = self.a, self.b
        self.urls = [
            f"/v1/articles/{a['id']}", f"/v1/articles/{a['slug']}",
            f"/v1/articles/{b['id']}", f"/v1/articles/{b['slug']}",
            f"/v1/articles/{a['id']}?fields=title,comment_count",
            "/v1/articles", "/v1/articles?limit=1",
            f"/v1/articles?limit=1&cursor={first['next_cursor']}",
            "/v1/articles?sort=commented", "/v1/articles?sort=updated",
            "/v1/articles?sort=oldest", "/v1/articles?category=cats",
            "/v1/articles?tag=wild", "/v1/articles?author=Ann",
            f"/v1/articles/{a['id']}/comments", f"/v1/articles/{a['id']}/comments?view=tree",
            f"/v1/articles/{b['id']}/comments", f"/v1/articles/{b['id']}/comments?view=tree",
            f"/v1/comments/{self.ca['id']}", f"/v1/comments/{self.cb['id']}",
            "/v1/search?q=ocelot", "/v1/search?q=jaguarundi&type=comments",
            "/v1/categories", "/v1/tags", "/v1/authors",
            "/v1/feed.atom", "/v1/feed.rss", "/v1/feed.json",
            "/v1/changes", "/v1/changes?since=1&limit=100",
        ]


def snapshot(srv, urls):
    """Each URL's status and body; of an error, its detail (request_id differs)."""
    out = {}
    for url in urls:
        resp = get(srv, url)
        out[url] = (resp.status, resp.body if resp.status == 200 else resp.json["detail"])
    return out


def differ(one, other):
    return [u for u in one if one[u] != other[u]]


def check_write(srv, oracle, world, what, write, changes, foreign=False):
    """Warms every URL, runs write(), and compares every answer with the oracle's.
    changes: a URL whose answer the write must change (the comparison is then
    not empty). foreign: the write is another process's (see FOREIGN_NOTICE_S);
    in the cluster topology the test's own write may be another instance's
    (OWN_NOTICE_S)."""
    snapshot(srv, world.urls)
    before = snapshot(srv, world.urls)
    tap.eq(differ(snapshot(oracle, world.urls), before), [], f"{what}: both servers agree before")
    write()
    truth = snapshot(oracle, world.urls)
    after = snapshot(srv, world.urls)
    deadline = time.monotonic() + (FOREIGN_NOTICE_S if foreign else OWN_NOTICE_S)
    while differ(after, truth) and time.monotonic() < deadline:
        time.sleep(0.02)
        after = snapshot(srv, world.urls)
    tap.eq(differ(after, truth), [], f"{what}: no URL answers as before the write")
    tap.check(before[changes] != truth[changes], f"{what}: the write changed {changes}")
    return before, truth


def b_page_still_cached(srv, world, what):
    if CLUSTER:
        # by design: a write through one instance is foreign to the others,
        # and a foreign commit makes an instance forget its whole cache
        return
    url = f"/v1/articles/{world.b['id']}"
    get(srv, url)
    hits = cache_hits(srv)
    get(srv, url)
    tap.eq(cache_hits(srv) - hits, 1, f"{what}: article B's page is still a cache hit")


def comment_status(srv, cid, status):
    resp = srv.request("PATCH", f"/v1/comments/{cid}", {"status": status}, auth=True)
    if resp.status != 200:
        raise RuntimeError(f"PATCH comment answered {resp}")


def test_comment_writes(srv, oracle, world):
    aid = world.a["id"]
    created = {}

    def post():
        created["c"] = srv.create_comment(aid, body="Jaguarundi again",
                                          parent_id=world.ca["id"])
    check_write(srv, oracle, world, "comment create", post, f"/v1/articles/{aid}")
    # the article page (comment_count) was stale once; B's page must not have been touched
    b_page_still_cached(srv, world, "after a comment on A")
    check_write(srv, oracle, world, "comment moderated to pending",
                lambda: comment_status(srv, created["c"]["id"], "pending"),
                f"/v1/articles/{aid}/comments?view=tree")
    check_write(srv, oracle, world, "comment made visible again",
                lambda: comment_status(srv, created["c"]["id"], "visible"),
                f"/v1/articles/{aid}/comments")

    def delete():
        resp = srv.request("DELETE", f"/v1/comments/{created['c']['id']}", auth=True)
        if resp.status != 204:
            raise RuntimeError(f"DELETE comment answered {resp}")
    check_write(srv, oracle, world, "comment delete", delete, f"/v1/articles/{aid}/comments")


def test_article_writes(srv, oracle, world):
    aid = world.a["id"]

    def patch(fields):
        def run():
            resp = srv.request("PATCH", f"/v1/articles/{aid}", fields, auth=True)
            if resp.status != 200:
                raise RuntimeError(f"PATCH answered {resp}")
        return run
    check_write(srv, oracle, world, "article create",
                lambda: srv.create_article(title="Ocelot gamma", category="cats"),
                "/v1/search?q=ocelot", foreign=True)
    check_write(srv, oracle, world, "article title patch",
                patch({"title": "Ocelot alpha, edited"}), f"/v1/articles/{aid}")
    b_page_still_cached(srv, world, "after a PATCH of A")
    check_write(srv, oracle, world, "article taxonomy patch",
                patch({"category": "birds", "tags": ["tame"], "author": "Bob"}), "/v1/categories")
    check_write(srv, oracle, world, "article unpublished",
                patch({"status": "draft"}), f"/v1/comments/{world.ca['id']}")
    check_write(srv, oracle, world, "article published again",
                patch({"status": "published"}), f"/v1/articles/{aid}/comments")


def test_bulk(srv, oracle, world):
    lines = [json.dumps({"title": f"Ocelot bulk {i}", "body": "Bulk text."}) for i in range(3)]

    def bulk():
        resp = srv.request("POST", "/v1/articles/bulk", raw=("\n".join(lines) + "\n").encode(),
                           headers={"Content-Type": "application/x-ndjson"}, auth=True)
        if resp.status != 200:
            raise RuntimeError(f"bulk answered {resp}")
    check_write(srv, oracle, world, "bulk create", bulk, "/v1/search?q=ocelot")


def test_foreign(srv, oracle, world):
    path = os.path.join(srv.tmp.name, "foreign.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("Ocelot from elsewhere\n\nIt came in through the importer.\n")

    def run_import():
        proc = run_cli(BIN, ["--db", srv.db, "import", path], {"NEWSD_COMMENT_RATE": "0"})
        if proc.returncode != 0:
            raise RuntimeError(f"import: {proc.stderr}")
    check_write(srv, oracle, world, "import by another process", run_import,
                "/v1/search?q=ocelot", foreign=True)

    def sql(statement, *args, then=None):
        def run():
            srv.sql([statement] + ([then] if then else []), args)
        return run
    check_write(srv, oracle, world, "UPDATE of article B by plain SQL",
                sql("UPDATE articles SET title = 'Ocelot beta by SQL' WHERE id = ?",
                    world.b["id"]), f"/v1/articles/{world.b['slug']}", foreign=True)

    def sql_then_own_write():
        # the server's own write comes before any read could notice the foreign one
        sql("UPDATE articles SET title = 'Ocelot beta by SQL again' WHERE id = ?",
            world.b["id"])()
        srv.create_comment(world.a["id"], body="Jaguarundi after SQL")
    check_write(srv, oracle, world, "plain SQL, then a write of this server",
                sql_then_own_write, f"/v1/articles/{world.b['id']}", foreign=True)
    def sql_then_keyed_read():
        # a key holder's read (never cached, so it checks nothing) comes first
        sql("UPDATE articles SET title = 'Ocelot beta read by a key' WHERE id = ?",
            world.b["id"])()
        for path in ("/v1/changes?limit=100", f"/v1/articles/{world.a['id']}/comments?view=tree"):
            if srv.request("GET", path, auth=True).status != 200:
                raise RuntimeError(f"GET {path} with a key failed")
    check_write(srv, oracle, world, "plain SQL, then reads with a key",
                sql_then_keyed_read, f"/v1/articles/{world.b['id']}", foreign=True)
    # comment_count alone writes no change row: the migration's row is what tells
    check_write(srv, oracle, world, "a migration by another process",
                sql("UPDATE articles SET comment_count = 99 WHERE id = ?", world.b["id"],
                    then="INSERT INTO schema_migrations VALUES (9999, 'test', 'now')"),
                f"/v1/articles/{world.b['id']}", foreign=True)
    check_write(srv, oracle, world, "DELETE of a comment of B by plain SQL",
                sql("DELETE FROM comments WHERE id = ?", world.cb["id"]),
                f"/v1/articles/{world.b['id']}/comments", foreign=True)


def test_concurrent_readers(srv, world):
    """Readers fill the cache while comments are posted: once a POST is answered,
    every read shows it."""
    aid = world.a["id"]
    urls = [f"/v1/articles/{aid}", f"/v1/articles/{aid}/comments?limit=100",
            "/v1/articles?sort=commented", "/v1/search?q=jaguarundi&type=comments&limit=100"]
    stop = threading.Event()
    errors = []

    def reader():
        conn = srv.connection()
        try:
            while not stop.is_set():
                for url in urls:
                    if srv.request("GET", url, headers=HOST, conn=conn).status != 200:
                        errors.append(url)
        finally:
            conn.close()
    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    stale = []
    base = get(srv, urls[0]).json["comment_count"]
    try:
        for i in range(40):
            body = f"Jaguarundi race {i}"
            made = srv.create_comment(aid, body=body)

            def seen():
                count = get(srv, urls[0]).json["comment_count"]
                listed = [c["body"] for c in get(srv, urls[1]).json["data"]]
                ranked = [a["id"] for a in get(srv, urls[2]).json["data"]
                          if a["id"] == aid and a["comment_count"] == count]
                found = [c["id"] for c in get(srv, urls[3]).json["data"]]
                return count == base + i + 1 and body in listed and ranked and \
                    made["id"] in found
            if not settled(seen, bool):
                stale.append(i)
    finally:
        stop.set()
        for t in threads:
            t.join()
    tap.eq(stale, [], "every read after each POST shows that comment and its comment_count")
    tap.eq(errors, [], "the readers were all answered 200")


def test_article_delete(srv, oracle, world):
    def delete():
        resp = srv.request("DELETE", f"/v1/articles/{world.a['id']}", auth=True)
        if resp.status != 204:
            raise RuntimeError(f"DELETE answered {resp}")
    check_write(srv, oracle, world, "article delete", delete, f"/v1/articles/{world.a['id']}")


def main():
    with Server(BIN) as srv:
        world = World(srv)
        with Server(BIN, ["--cache-size", "0"], db=srv.db, key=False) as oracle:
            tap.run("comment create, moderation and delete", test_comment_writes, srv, oracle,
                    world)
            tap.run("article create and patches", test_article_writes, srv, oracle, world)
            tap.run("bulk create", test_bulk, srv, oracle, world)
            tap.run("writes by other processes", test_foreign, srv, oracle, world)
            tap.run("readers racing comment writes", test_concurrent_readers, srv, world)
            tap.run("article delete", test_article_delete, srv, oracle, world)
            tap.stop_server(oracle)
        tap.stop_server(srv)
    tap.done()


if __name__ == "__main__":
    main()
