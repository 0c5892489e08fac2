#!/usr/bin/env python3
"""test_categories.py: GET /v1/categories of a running newsd.

The categories in use with exact article counts: articles without a category
and drafts left out for readers, drafts counted for a key holder (an invalid
key reads like no key), the order (ASCII case ignored, then bytes), every
kind of write (create, patch of category or status, delete, and a write by
another process) seen by the very next read although answers are cached,
HEAD, ETag and 304, gzip for a long list, unknown query parameters ignored,
and the methods the path does not have.
"""

import gzip
import os
import sys
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    CLUSTER, CLUSTER_INSTANCES, Re, Server, Tap, binary_from_argv, expect, settled, soon,
)

BIN = binary_from_argv()
tap = Tap()

PATH = "/v1/categories"
JSON_TYPE = Re(r"^application/json;\s*charset=utf-8$")
BAD_KEY = "Bearer nd_AAAAAAAAAAAA_not-a-real-secret"

# (category, drafts among them, published among them), created in this order.
SEED = [
    ("World", 1, 3),
    ("world", 0, 1),
    ("Science", 0, 2),
    ("art", 0, 1),
    ("Économie", 0, 1),
    ("Zoo news", 0, 1),
    ("Only drafts", 2, 0),
    ("", 1, 2),
]
# ASCII case ignored, then bytes: "World" before "world", "É" after every ASCII letter.
PUBLIC = [["art", 1], ["Science", 2], ["World", 3], ["world", 1], ["Zoo news", 1],
          ["Économie", 1]]
KEYED = [["art", 1], ["Only drafts", 2], ["Science", 2], ["World", 4], ["world", 1],
         ["Zoo news", 1], ["Économie", 1]]


def pairs(resp):
    """The answer's data as [name, count] pairs; fails the point on a malformed answer."""
    tap.require(resp.status == 200, f"GET {PATH}: {resp}")
    doc = resp.json
    tap.require(isinstance(doc, dict) and set(doc) == {"data"}, f"answer shape: {resp.body!r}")
    for item in doc["data"]:
        tap.require(isinstance(item, dict) and set(item) == {"name", "count"},
                    f"item shape: {item!r}")
    return [[item["name"], item["count"]] for item in doc["data"]]


def categories(srv, auth=False):
    return pairs(srv.request("GET", PATH, auth=auth))


def test_empty(srv):
    resp = srv.request("GET", PATH)
    expect(tap, resp, 200, {"data": []}, {"Content-Type": JSON_TYPE})
    tap.eq(resp.json, {"data": []}, "no article, no category")


def seed(srv):
    n = 0
    ids = {}
    for name, drafts, published in SEED:
        for status, count in (("draft", drafts), ("published", published)):
            for _ in range(count):
                n += 1
                art = srv.create_article(title=f"Seeded {n}", body="Text.", category=name,
                                         status=status)
                ids.setdefault((name, status), []).append(art["id"])
    return ids


def test_public_and_keyed(srv):
    # the first read after the seed: in the cluster every instance must have heard of it
    tap.eq(fresh(srv, PUBLIC), PUBLIC,
           "without a key: published articles, empty category left out")
    tap.eq(categories(srv, auth=True), KEYED, "with a key: drafts counted too")
    # The keyed answer must never be served from the cache to a reader.
    tap.eq(categories(srv), PUBLIC, "without a key again: no drafts")
    tap.eq(categories(srv, auth=BAD_KEY), PUBLIC, "an invalid key reads like no key")
    # Every category listed filters the article list to exactly its count.
    for name, count in PUBLIC:
        query = urllib.parse.urlencode({"limit": 100, "category": name})
        resp = srv.request("GET", "/v1/articles?" + query)
        tap.require(resp.status == 200, f"list of {name!r}: {resp}")
        tap.eq(len(resp.json["data"]), count, f"articles listed under {name!r}")


def test_unknown_parameters(srv):
    tap.eq(pairs(srv.request("GET", PATH + "?limit=abc&status=draft&x=1")), PUBLIC,
           "unknown query parameters are ignored (status=draft shows no draft)")


def test_cached_then_written(srv, ids):
    """Each kind of write shows at the next read, although reads are cached."""
    tap.eq(categories(srv), PUBLIC, "before")
    hits = srv.cache_hits()
    # in the cluster each instance has a cache: more reads than instances
    # read twice from one of them, whichever haproxy picks
    for _ in range(CLUSTER_INSTANCES if CLUSTER else 1):
        tap.eq(categories(srv), PUBLIC, "read twice")
    tap.check(srv.cache_hits() > hits, "the second read did not come from the response cache")

    created = srv.create_article(title="A new field", body="Text.", category="Bees")
    tap.eq(fresh(srv, [["art", 1], ["Bees", 1]], 0, 2), [["art", 1], ["Bees", 1]],
           "a created article's category")

    resp = srv.request("PATCH", f"/v1/articles/{created['id']}", {"category": "art"}, auth=True)
    tap.require(resp.status == 200, f"PATCH category: {resp}")
    tap.eq(fresh(srv, [["art", 2], ["Science", 2]], 0, 2), [["art", 2], ["Science", 2]],
           "a patched category moves")

    resp = srv.request("PATCH", f"/v1/articles/{created['id']}", {"status": "draft"}, auth=True)
    tap.require(resp.status == 200, f"PATCH status: {resp}")
    tap.eq(fresh(srv, PUBLIC), PUBLIC, "an article made a draft is not counted")
    tap.eq(fresh(srv, [["art", 2]], 0, 1, auth=True), [["art", 2]], "but counted with a key")

    first_zoo = ids[("Zoo news", "published")][0]
    tap.eq(srv.request("DELETE", f"/v1/articles/{first_zoo}", auth=True).status, 204, "DELETE")
    names = ["art", "Science", "World", "world", "Économie"]
    tap.eq(settled(lambda: [n for n, _ in categories(srv)], lambda got: got == names), names,
           "a category whose last article is deleted is gone")

    resp = srv.request("PATCH", f"/v1/articles/{created['id']}", {"status": "published"},
                       auth=True)
    tap.require(resp.status == 200, f"PATCH publish: {resp}")
    tap.eq(fresh(srv, [["art", 2]], 0, 1), [["art", 2]], "a published draft counts again")


def fresh(srv, want, start=0, end=None, auth=False):
    """categories(srv)[start:end] once it is want (after the test's own write,
    which in the cluster may reach another instance a moment later)."""
    return settled(lambda: categories(srv, auth)[start:end], lambda got: got == want)


def test_foreign_write(srv):
    """A write by another process: only data_version can tell the cache."""
    before = categories(srv)
    categories(srv)
    srv.sql("UPDATE articles SET category = 'Renamed' WHERE category = 'world'")
    # in the cluster: until every instance has seen it (the next points read on)
    renamed = soon(lambda: (lambda now: ["world", 1] not in now and ["Renamed", 1] in now)(
        categories(srv)))
    after = categories(srv)
    tap.check(["world", 1] in before, f"before: {before}")
    tap.check(renamed, f"a rename by another process is not seen: {after}")


def test_etag_head(srv):
    first = srv.request("GET", PATH)
    etag = first.headers.get("ETag")
    expect(tap, first, 200, None, {"ETag": Re(r'^"[^"]+"$'), "Content-Type": JSON_TYPE})
    cond = srv.request("GET", PATH, headers={"If-None-Match": etag})
    expect(tap, cond, 304, None, {"ETag": etag}, empty_body=True, what="If-None-Match")
    weak = srv.request("GET", PATH, headers={"If-None-Match": "W/" + etag})
    tap.eq(weak.status, 304, "a weak If-None-Match matches")
    head = srv.request("HEAD", PATH)
    expect(tap, head, 200, None, {"ETag": etag,
                                  "Content-Length": str(len(first.body)),
                                  "Content-Type": JSON_TYPE}, empty_body=True, what="HEAD")
    srv.create_article(title="Yet another", body="Text.", category="Science")
    after = settled(lambda: srv.request("GET", PATH, headers={"If-None-Match": etag}),
                    lambda r: r.status == 200)
    tap.eq(after.status, 200, "after a write the old ETag no longer matches")
    tap.check(after.headers.get("ETag") not in (None, etag), "a new ETag after a write")
    tap.check(["Science", 3] in pairs(after), f"the new count: {after.body!r}")


def test_long_list_gzip(srv):
    for i in range(60):
        srv.create_article(title=f"Filler {i}", body="Text.", category=f"Topic number {i:02d}")
    plain = settled(lambda: srv.request("GET", PATH),
                    lambda r: b"Topic number 59" in r.body)
    tap.require(len(plain.body) > 1024, f"the list is only {len(plain.body)} bytes")
    packed = srv.request("GET", PATH, headers={"Accept-Encoding": "gzip"})
    expect(tap, packed, 200, None, {"Content-Encoding": "gzip", "Vary": Re("Accept-Encoding")},
           what="gzip")
    tap.eq(gzip.decompress(packed.body), plain.body, "the encoded list decodes to the plain one")
    names = [n for n, _ in pairs(plain)]
    topics = [n for n in names if n.startswith("Topic number")]
    tap.eq(topics, [f"Topic number {i:02d}" for i in range(60)], "every topic, in order")


def test_methods(srv):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        resp = srv.request(method, PATH, {} if method != "DELETE" else None, auth=True)
        expect(tap, resp, 405, None, {"Allow": "GET, HEAD, OPTIONS"}, what=method)
    expect(tap, srv.request("GET", PATH + "/"), 404, what="a trailing slash")


def main():
    with Server(BIN) as srv:
        tap.run("an empty database has no categories", test_empty, srv)
        ids = tap.run("seed articles in categories, drafts and none", seed, srv)
        if ids:
            tap.run("names and counts: drafts only with a key, no empty category, in order",
                    test_public_and_keyed, srv)
            tap.run("unknown query parameters are ignored", test_unknown_parameters, srv)
            tap.run("creates, patches and deletes show at once through the cache",
                    test_cached_then_written, srv, ids)
            tap.run("a write by another process shows at once", test_foreign_write, srv)
        tap.run("ETag, If-None-Match 304, HEAD, a new ETag after a write", test_etag_head, srv)
        tap.run("a long list is gzip-encoded for clients that take it", test_long_list_gzip, srv)
        tap.run("other methods are 405 with Allow; a trailing slash is 404", test_methods, srv)
        tap.stop_server(srv)
    tap.done()


main()
