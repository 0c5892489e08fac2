#!/usr/bin/env python3
"""test_cache.py: the response cache never serves an answer older than a write.

Public reads are answered from a cache of rendered responses. Every case here
reads something (so that it is cached), changes it in one of the ways newsd
can be changed, and reads again: the second read must show the change. The
foreign-write cases change the database from another process (`newsd
import`, plain SQL), which only the server's check of the change log can
notice. test_cache_writes.py checks each kind of write against every cached URL.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Tap, binary_from_argv, run_cli, serve, settled, soon  # noqa: E402

BIN = binary_from_argv()
tap = Tap()


def get(srv, path, **kw):
    resp = srv.request("GET", path, **kw)
    if resp.status != 200:
        raise RuntimeError(f"GET {path} answered {resp}")
    return resp


def titles(srv, path="/v1/articles?limit=100"):
    return [a["title"] for a in get(srv, path).json["data"]]


def test_same_answer_twice(srv):
    art = srv.create_article(title="Twice read")
    first = get(srv, f"/v1/articles/{art['id']}")
    second = get(srv, f"/v1/articles/{art['id']}")
    tap.eq(second.body, first.body, "a repeated read answers the same bytes")
    tap.eq(second.headers.get("ETag"), first.headers.get("ETag"), "and the same ETag")
    cond = srv.request("GET", f"/v1/articles/{art['id']}",
                       headers={"If-None-Match": first.headers.get("ETag")})
    tap.eq(cond.status, 304, "a cached answer still honours If-None-Match")
    head = srv.request("HEAD", f"/v1/articles/{art['id']}")
    tap.eq((head.status, head.body), (200, b""), "HEAD of a cached answer has no body")


def test_patch_and_delete(srv):
    art = srv.create_article(title="Before the edit")
    path = f"/v1/articles/{art['id']}"
    get(srv, path)
    tap.check(settled(lambda: "Before the edit" in titles(srv), bool),
              "the list shows the new article")
    resp = srv.request("PATCH", path, {"title": "After the edit"}, auth=True)
    tap.eq(resp.status, 200, "PATCH")
    tap.eq(settled(lambda: get(srv, path).json["title"], lambda t: t == "After the edit"),
           "After the edit", "a read after PATCH sees it")
    tap.check(settled(lambda: "After the edit" in titles(srv), bool), "and so does the list")
    tap.eq(srv.request("DELETE", path, auth=True).status, 204, "DELETE")
    tap.eq(settled(lambda: srv.request("GET", path).status, lambda st: st == 404), 404,
           "a read after DELETE is 404")
    tap.check(settled(lambda: "After the edit" not in titles(srv), bool),
              "and the list has lost it")


def test_comments(srv):
    art = srv.create_article(title="With comments")
    path = f"/v1/articles/{art['id']}/comments"
    tap.eq(get(srv, path).json["data"], [], "no comments yet")
    before = get(srv, f"/v1/articles/{art['id']}").json["comment_count"]
    srv.create_comment(art["id"], body="First!")
    tap.eq(settled(lambda: [c["body"] for c in get(srv, path).json["data"]],
                   lambda got: got == ["First!"]), ["First!"], "a posted comment shows at once")
    tap.eq(settled(lambda: get(srv, f"/v1/articles/{art['id']}").json["comment_count"],
                   lambda n: n == before + 1), before + 1,
           "and the article's comment_count moves")


def test_search(srv):
    tap.eq(get(srv, "/v1/search?q=ocelot").json["data"], [], "nothing about ocelots yet")
    srv.create_article(title="An ocelot in the park")
    tap.eq(settled(lambda: len(get(srv, "/v1/search?q=ocelot").json["data"]), lambda n: n == 1),
           1, "search finds what was just written")


def test_key_answers_not_cached(srv):
    srv.create_article(title="Hidden draft", status="draft")
    with_key = srv.request("GET", "/v1/articles?limit=100&status=any", auth=True)
    if "Hidden draft" not in [a["title"] for a in with_key.json["data"]]:
        with_key = settled(lambda: srv.request("GET", "/v1/articles?limit=100&status=any",
                                               auth=True),
                           lambda r: "Hidden draft" in [a["title"] for a in r.json["data"]])
    tap.check("Hidden draft" in [a["title"] for a in with_key.json["data"]],
              "a key holder sees the draft")
    anon = srv.request("GET", "/v1/articles?limit=100&status=any")
    tap.eq(anon.status, 401, "the same URL without a key is still refused")
    tap.check("Hidden draft" not in titles(srv), "and the public list never shows it")


def test_foreign_import(srv):
    """Another process imports an article: the server must notice its commit."""
    tap.check("A parcel of news from elsewhere" not in titles(srv), "not there yet")
    path = os.path.join(srv.tmp.name, "foreign.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("A parcel of news from elsewhere\n\nIt came in through the importer.\n")
    proc = run_cli(BIN, ["--db", srv.db, "import", path], {"NEWSD_COMMENT_RATE": "0"})
    tap.eq(proc.returncode, 0, f"import: {proc.stderr}")
    tap.check(soon(lambda: "A parcel of news from elsewhere" in titles(srv)),
              "the list shows an article another process committed")


def test_foreign_sql(srv):
    """A plain SQL client (sqlite3, psql) edits a title: the next read shows it."""
    art = srv.create_article(title="Edited from outside")
    path = f"/v1/articles/{art['id']}"
    get(srv, path)
    srv.sql("UPDATE articles SET title = 'Edited by SQL' WHERE id = ?", (art["id"],))
    tap.check(soon(lambda: get(srv, path).json["title"] == "Edited by SQL"),
              "a foreign UPDATE is seen at once (on PostgreSQL within a second)")


def test_host_in_key_only_for_feeds():
    """Random Host values cannot split the entries of routes whose answers ignore Host.
    One worker thread: a thread's first look makes the cache forget everything."""
    with Server(BIN, ["--threads", "1"]) as srv:
        host_keys(srv)
        tap.stop_server(srv)


def host_keys(srv):
    srv.create_article(title="Keyed by path")
    get(srv, "/v1/articles?limit=7", headers={"Host": "one.example"})
    before = srv.cache_hits()
    get(srv, "/v1/articles?limit=7", headers={"Host": "two.example"})
    tap.eq(srv.cache_hits() - before, 1, "another Host hits the entry of /v1/articles")
    get(srv, "/v1/feed.atom", headers={"Host": "one.example"})
    before = srv.cache_hits()
    feed = get(srv, "/v1/feed.atom", headers={"Host": "two.example"})
    tap.eq(srv.cache_hits() - before, 0, "a feed for another Host is made anew")
    tap.check(b"two.example" in feed.body and b"one.example" not in feed.body,
              "with that Host's links")
    get(srv, "/v1/feed.atom", headers={"Host": "TWO.example"})
    tap.eq(srv.cache_hits() - before, 1, "Host is keyed without regard to case")


def main():
    serve(tap, BIN, [
        ("the same answer twice, 304 and HEAD from the cache", test_same_answer_twice),
        ("PATCH and DELETE are seen at once", test_patch_and_delete),
        ("comments are seen at once", test_comments),
        ("search sees new articles at once", test_search),
        ("answers to key holders are not shared", test_key_answers_not_cached),
        ("a commit by another process is seen", test_foreign_import),
        ("an UPDATE by plain SQL is seen", test_foreign_sql),
    ])
    tap.run_single("Host is part of the key for feeds only",
                   "counts the cache hits of one instance", test_host_in_key_only_for_feeds)
    serve(tap, BIN, [("with cache-size 0 edits are seen too", test_patch_and_delete)],
          ["--cache-size", "0"])
    tap.done()


if __name__ == "__main__":
    main()
