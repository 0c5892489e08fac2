#!/usr/bin/env python3
"""test_lists.py: lists that frontends can shape, through a running newsd.

fields: ?fields= on one article, the article list, one comment, the flat and
threaded comment lists and both kinds of search result answers exactly the
members named (replies stay in a tree, at every depth), the next-page link
repeats it, an unknown or empty name is a 400 that names it; every variant
has its own cached body, ETag, 304 and gzip encoding.

tags and authors: GET /v1/tags and GET /v1/authors list every tag and
non-empty author in use with exact counts, like /v1/categories: drafts only
with a key, ASCII case ignored then bytes, each write seen at the next read
although answers are cached, ETag, 304, HEAD and gzip.

sort: each order of the article list (newest, oldest, updated, commented),
with and without a filter, and search (relevance, newest) paged to the end
by next_cursor and by the Link header visits every article that existed
before exactly once, in its order, while new articles are inserted between
pages; a cursor of another order is a 400, and so is an unknown sort.
"""

import base64
import datetime
import gzip
import math
import os
import struct
import sys
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    CLUSTER, CLUSTER_INSTANCES, Server, Tap, binary_from_argv, expect, settled, soon, target_path,
)

BIN = binary_from_argv()
tap = Tap()

ARTICLE = ["id", "slug", "title", "summary", "body", "author", "category", "tags",
           "source_url", "status", "published_at", "created_at", "updated_at", "comment_count"]
ITEM = [f for f in ARTICLE if f != "body"]
COMMENT = ["id", "article_id", "parent_id", "author", "body", "status", "created_at"]
ARTICLE_HIT = ["id", "slug", "title", "published_at", "snippet", "score"]
COMMENT_HIT = ["id", "article_id", "created_at", "snippet", "score"]


def get(srv, path, **kw):
    resp = srv.request("GET", path, **kw)
    tap.require(resp.status == 200, f"GET {path}: {resp}")
    return resp


# ---- fields -------------------------------------------------------------------


def seed_fields(srv):
    ids = {}
    for i in range(3):
        art = srv.create_article(title=f"Glacier report {i}", body=f"The glacier moved {i} m.",
                                 author="Ines", category="Alps", tags=["ice", f"t{i}"],
                                 published_at=f"2025-06-0{i + 1}T10:00:00Z")
        ids.setdefault("articles", []).append(art["id"])
    top = srv.create_comment(ids["articles"][2], author="Ola", body="Glacier comment one.")
    reply = srv.create_comment(ids["articles"][2], author="Per", body="A reply.",
                               parent_id=top["id"])
    deeper = srv.create_comment(ids["articles"][2], author="Rut", body="A deeper reply.",
                                parent_id=reply["id"])
    ids["comments"] = [top["id"], reply["id"], deeper["id"]]
    return ids


def test_fields_every_endpoint(srv, ids):
    art, com = ids["articles"][2], ids["comments"]
    one = get(srv, f"/v1/articles/{art}?fields=title,body,id").json
    tap.eq(one, {"id": art, "title": "Glacier report 2", "body": "The glacier moved 2 m."},
           "one article: the fields named, nothing else")
    by_slug = get(srv, "/v1/articles/glacier-report-2?fields=slug,tags").json
    tap.eq(by_slug, {"slug": "glacier-report-2", "tags": ["ice", "t2"]}, "one article by slug")
    every = get(srv, f"/v1/articles/{art}?fields=" + ",".join(ARTICLE)).json
    tap.eq(sorted(every), sorted(ARTICLE), "every field named: every field")
    tap.eq(every, get(srv, f"/v1/articles/{art}").json, "... equal to the answer without fields")

    page = get(srv, "/v1/articles?fields=id,comment_count&limit=2")
    tap.eq(page.json["data"], [{"id": art, "comment_count": 3},
                               {"id": ids["articles"][1], "comment_count": 0}], "article list")
    nxt = target_path(page.links()["next"])
    tap.check("fields=id%2Ccomment_count" in nxt or "fields=id,comment_count" in nxt,
              f"the next link repeats fields: {nxt}")
    tap.eq(get(srv, nxt).json["data"], [{"id": ids["articles"][0], "comment_count": 0}],
           "the next page keeps the fields")

    tap.eq(get(srv, f"/v1/comments/{com[1]}?fields=parent_id,author").json,
           {"parent_id": com[0], "author": "Per"}, "one comment")
    flat = get(srv, f"/v1/articles/{art}/comments?fields=id,body").json["data"]
    tap.eq(flat, [{"id": com[0], "body": "Glacier comment one."},
                  {"id": com[1], "body": "A reply."}, {"id": com[2], "body": "A deeper reply."}],
           "flat comment list")
    tree = get(srv, f"/v1/articles/{art}/comments?view=tree&fields=author").json["data"]
    tap.eq(tree, [{"author": "Ola", "replies": [
        {"author": "Per", "replies": [{"author": "Rut", "replies": []}]}]}],
        "comment tree: fields at every depth, replies kept")

    hits = get(srv, "/v1/search?q=glacier&fields=id,title&limit=1")
    tap.eq(hits.json["data"], [{"id": hits.json["data"][0]["id"],
                                "title": hits.json["data"][0]["title"]}], "article search")
    tap.check(len(hits.json["data"][0]) == 2, f"article hit: {hits.json}")
    tap.check("fields=" in hits.headers.get("Link", ""), "the search's next link keeps fields")
    chits = get(srv, "/v1/search?q=glacier&type=comments&fields=article_id,snippet").json["data"]
    tap.eq(chits, [{"article_id": art, "snippet": "<mark>Glacier</mark> comment one."}],
           "comment search")


def test_fields_refused(srv, ids):
    art, com = ids["articles"][0], ids["comments"][0]
    cases = [
        (f"/v1/articles/{art}?fields=id,headline",
         "fields: 'headline' is not a field of an article; its fields are: " + ", ".join(ARTICLE)),
        ("/v1/articles?fields=title,body",
         "fields: 'body' is not a field of an item of the article list (no body); its fields "
         "are: " + ", ".join(ITEM)),
        ("/v1/articles?fields=",
         "fields is a comma-separated list of names without empty entries; the fields of an "
         "item of the article list (no body) are: " + ", ".join(ITEM)),
        (f"/v1/comments/{com}?fields=id,,body",
         "fields is a comma-separated list of names without empty entries; the fields of a "
         "comment are: " + ", ".join(COMMENT)),
        (f"/v1/articles/{art}/comments?view=tree&fields=replies",
         "fields: 'replies' is not a field of a comment; its fields are: " + ", ".join(COMMENT)),
        ("/v1/search?q=glacier&fields=body",
         "fields: 'body' is not a field of an article search result; its fields are: "
         + ", ".join(ARTICLE_HIT)),
        ("/v1/search?q=glacier&type=comments&fields=title",
         "fields: 'title' is not a field of a comment search result; its fields are: "
         + ", ".join(COMMENT_HIT)),
        ("/v1/articles?fields=" + urllib.parse.quote("tïtle"),
         "fields names a field an item of the article list (no body) does not have; its "
         "fields are: " + ", ".join(ITEM)),
    ]
    for path, detail in cases:
        resp = srv.request("GET", path)
        expect(tap, resp, 400, {"status": 400, "detail": detail}, what=path)


def test_fields_cache_variants(srv, ids):
    """Two variants of one path: their own bodies, ETags, 304s and gzip bytes, cached apart."""
    art = ids["articles"][2]
    a_path, b_path = f"/v1/articles/{art}?fields=id", f"/v1/articles/{art}?fields=title"
    a1, b1 = get(srv, a_path), get(srv, b_path)
    hits = srv.cache_hits()
    a2, b2 = get(srv, a_path), get(srv, b_path)
    tap.check(srv.cache_hits() >= hits + 2, "the second reads did not come from the cache")
    tap.eq((a2.json, b2.json), ({"id": art}, {"title": "Glacier report 2"}),
           "cached variants keep their own bodies")
    tap.eq((a2.body, b2.body), (a1.body, b1.body), "the same bytes from the cache")
    ea, eb = a1.headers.get("ETag"), b1.headers.get("ETag")
    tap.check(ea and eb and ea != eb, f"two variants, two ETags: {ea} {eb}")
    tap.eq((a2.headers.get("ETag"), b2.headers.get("ETag")), (ea, eb), "ETags kept when cached")
    tap.eq(srv.request("GET", a_path, headers={"If-None-Match": ea}).status, 304,
           "304 for the variant's own ETag")
    tap.eq(srv.request("GET", b_path, headers={"If-None-Match": ea}).status, 200,
           "200 for another variant's ETag")
    tap.eq(srv.request("GET", b_path, headers={"If-None-Match": eb}).status, 304,
           "304 for the other variant's own ETag")
    full = get(srv, f"/v1/articles/{art}")
    tap.check(full.headers.get("ETag") not in (ea, eb), "the full answer has its own ETag")

    # gzip: a list long enough to be encoded, in two variants
    for i in range(30):
        srv.create_article(title=f"Filler article number {i} about nothing much",
                           body="Text.", category="Filler", published_at="2024-01-01T00:00:00Z")
    variants = ["/v1/articles?limit=30&fields=id,title,summary,slug",
                "/v1/articles?limit=30&fields=id,slug,title,created_at,updated_at"]
    seen = []
    for path in variants:
        plain = get(srv, path)
        tap.require(len(plain.body) > 1024, f"{path} is only {len(plain.body)} bytes")
        for _ in range(2):  # a miss, then a hit
            packed = get(srv, path, headers={"Accept-Encoding": "gzip"})
            tap.eq(packed.headers.get("Content-Encoding"), "gzip", f"{path}: gzip")
            tap.eq(gzip.decompress(packed.body), plain.body, f"{path}: decodes to the plain body")
            tap.eq(srv.request("GET", path, headers={"Accept-Encoding": "gzip",
                                                     "If-None-Match": packed.headers["ETag"]})
                   .status, 304, f"{path}: 304 for the gzip ETag")
        seen.append((plain.headers.get("ETag"), packed.headers.get("ETag"), plain.body))
    tap.check(len({s[0] for s in seen} | {s[1] for s in seen}) == 4,
              f"four ETags for two variants in two encodings: {seen}")
    tap.check(seen[0][2] != seen[1][2], "two variants, two bodies")


# ---- tags and authors ------------------------------------------------------------


def names(srv, path, auth=False):
    resp = srv.request("GET", path, auth=auth)
    tap.require(resp.status == 200, f"GET {path}: {resp}")
    tap.require(set(resp.json) == {"data"}, f"{path}: {resp.body!r}")
    for item in resp.json["data"]:
        tap.require(set(item) == {"name", "count"}, f"{path} item {item!r}")
    return [[i["name"], i["count"]] for i in resp.json["data"]]


def test_tags_authors(srv):
    tap.eq(names(srv, "/v1/tags"), [], "no article, no tag")
    tap.eq(names(srv, "/v1/authors"), [], "no article, no author")
    made = [
        srv.create_article(title="T1", body="x", author="Ines", tags=["ice", "Alps"]),
        srv.create_article(title="T2", body="x", author="ines", tags=["ice", "snow", "ice"]),
        srv.create_article(title="T3", body="x", author="Zoë", tags=["rain", "été"],
                           status="draft"),
        srv.create_article(title="T4", body="x", tags=["rain"]),
        srv.create_article(title="T5", body="x", author="Ines"),
    ]
    public_tags = [["Alps", 1], ["ice", 2], ["rain", 1], ["snow", 1]]
    tap.eq(names(srv, "/v1/tags"), public_tags, "tags: published only, case ignored then bytes")
    tap.eq(names(srv, "/v1/tags", auth=True),
           [["Alps", 1], ["ice", 2], ["rain", 2], ["snow", 1], ["été", 1]],
           "tags with a key: drafts counted")
    tap.eq(names(srv, "/v1/tags"), public_tags, "the keyed answer is not cached for readers")
    tap.eq(names(srv, "/v1/authors"), [["Ines", 2], ["ines", 1]],
           "authors: published only, no empty author")
    tap.eq(names(srv, "/v1/authors", auth=True), [["Ines", 2], ["ines", 1], ["Zoë", 1]],
           "authors with a key")
    # every name listed filters the article list to exactly its count
    for path, param in (("/v1/tags", "tag"), ("/v1/authors", "author")):
        for name, count in names(srv, path):
            query = urllib.parse.urlencode({"limit": 100, param: name})
            tap.eq(len(get(srv, "/v1/articles?" + query).json["data"]), count,
                   f"{param}={name!r} lists its count")

    # writes show at once through the cache
    names(srv, "/v1/tags")

    def read_again_cached():
        hits = srv.cache_hits()
        # in the cluster each instance has a cache: with more reads than
        # instances one of them reads twice, whichever haproxy picks
        for _ in range(CLUSTER_INSTANCES if CLUSTER else 1):
            names(srv, "/v1/tags")
        return srv.cache_hits() > hits
    # in the cluster an instance may hear of the writes above only now, and
    # empty its cache: settled reads again within the allowance for that
    tap.check(settled(read_again_cached, bool), "the second read did not come from the cache")

    def fresh(path, want, tail=None):
        """names(path) (its last tail) once it is want: the read follows the
        test's own write, which in the cluster may reach another instance."""
        return settled(lambda: names(srv, path)[-tail if tail else 0:], lambda got: got == want)
    resp = srv.request("PATCH", f"/v1/articles/{made[0]['id']}",
                       {"tags": ["Alps", "glacier"], "author": "Ola"}, auth=True)
    tap.require(resp.status == 200, f"PATCH: {resp}")
    want = [["Alps", 1], ["glacier", 1], ["ice", 1], ["rain", 1], ["snow", 1]]
    tap.eq(fresh("/v1/tags", want), want, "a patched article's tags")
    want = [["Ines", 1], ["ines", 1], ["Ola", 1]]
    tap.eq(fresh("/v1/authors", want), want, "a patched article's author")
    resp = srv.request("PATCH", f"/v1/articles/{made[2]['id']}", {"status": "published"},
                       auth=True)
    tap.require(resp.status == 200, f"PATCH publish: {resp}")
    want = [["snow", 1], ["été", 1]]
    tap.eq(fresh("/v1/tags", want, 2), want, "a published draft's tags")
    tap.eq(srv.request("DELETE", f"/v1/articles/{made[1]['id']}", auth=True).status, 204,
           "DELETE")
    want = [["Alps", 1], ["glacier", 1], ["rain", 2], ["été", 1]]
    tap.eq(fresh("/v1/tags", want), want, "a deleted article's tags are gone")
    want = [["Ines", 1], ["Ola", 1], ["Zoë", 1]]
    tap.eq(fresh("/v1/authors", want), want, "a deleted article's author is gone")


def test_tags_authors_http(srv):
    for i in range(70):
        srv.create_article(title=f"Long {i}", body="x", author=f"Author number {i:02d}",
                           tags=[f"tag-number-{i:02d}"])
    for path in ("/v1/tags", "/v1/authors"):
        first = get(srv, path)
        etag = first.headers.get("ETag")
        tap.check(etag is not None and etag.startswith('"'), f"{path}: ETag {etag}")
        tap.eq(srv.request("GET", path, headers={"If-None-Match": etag}).status, 304,
               f"{path}: 304")
        head = srv.request("HEAD", path)
        tap.eq((head.status, head.body, head.headers.get("ETag"),
                head.headers.get("Content-Length")),
               (200, b"", etag, str(len(first.body))), f"{path}: HEAD")
        packed = get(srv, path, headers={"Accept-Encoding": "gzip"})
        tap.eq(packed.headers.get("Content-Encoding"), "gzip", f"{path}: gzip")
        tap.eq(gzip.decompress(packed.body), first.body, f"{path}: gzip decodes to the plain")
        tap.eq(srv.request("GET", path + "?limit=1&sort=oldest").body, first.body,
               f"{path}: unknown parameters ignored")
        expect(tap, srv.request("POST", path, {}, auth=True), 405, None,
               {"Allow": "GET, HEAD, OPTIONS"}, what=f"POST {path}")
    tap.eq(len(names(srv, "/v1/tags")), 70 + 4, "every tag, none cut off")
    tap.eq(len(names(srv, "/v1/authors")), 70 + 3, "every author, none cut off")


# ---- sort -------------------------------------------------------------------------

ORDER_KEYS = {
    "newest": lambda a: (-ts(a["published_at"]), -a["id"]),
    "oldest": lambda a: (ts(a["published_at"]), a["id"]),
    "updated": lambda a: (-ts(a["updated_at"]), -a["id"]),
    "commented": lambda a: (-a["comment_count"], -a["id"]),
}


def ts(text):
    """Seconds since the epoch of an RFC 3339 UTC time."""
    return int(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
               .replace(tzinfo=datetime.timezone.utc).timestamp())


def seed_sort(srv):
    """40 articles: published_at with ties, comment counts with ties, some updated later."""
    made = []
    for i in range(40):
        day = 1 + (i * 7) % 9  # nine dates, several articles on each
        art = srv.create_article(title=f"Sorted {i}", body=f"Orderword text {i}.",
                                 category="Even" if i % 2 == 0 else "Odd",
                                 tags=["sorted"] + (["third"] if i % 3 == 0 else []),
                                 published_at=f"2025-03-{day:02d}T08:00:00Z")
        made.append(art)
    for i, art in enumerate(made):
        for _ in range((i * 5) % 4):  # 0..3 comments: ties in comment_count
            srv.create_comment(art["id"])
    return made


def current(srv, ids):
    """The articles with these ids as the list shows them now."""
    return {i: get(srv, f"/v1/articles/{i}").json for i in ids}


INSERTED = set()  # every article the walks inserted


def walk_with_inserts(srv, path, via, body="New text."):
    """Walks path to its end, creating a new article (with body) after each
    page (the last one's comes after the walk). The list walks insert text
    without the search's word: a search ranks only its ND_SEARCH_WINDOW (200)
    newest matches, and the search walk must find all 40 seeded articles
    among them."""
    made = []

    def insert(_page):
        made.append(srv.create_article(title=f"Inserted {len(made)}", body=body,
                                       category="Even", tags=["sorted", "third"])["id"])
    items, pages = srv.walk(path, via=via, between=insert)
    INSERTED.update(made)
    return items, pages, made


def check_walk(what, items, before, order, new_ids):
    ids = [a["id"] for a in items]
    old = [i for i in ids if i in before]
    tap.eq(len(old), len(set(old)), f"{what}: no article seen twice")
    tap.eq(sorted(old), sorted(before), f"{what}: every article seen")
    want = sorted(before.values(), key=ORDER_KEYS[order])
    tap.eq(old, [a["id"] for a in want], f"{what}: in {order} order")
    strange = [i for i in ids if i not in before and i not in new_ids and i not in INSERTED]
    tap.eq(strange, [], f"{what}: only known articles")
    tap.eq(len(ids), len(set(ids)), f"{what}: no inserted article seen twice either")


def test_sort_walks(srv, made):
    ids = [a["id"] for a in made]
    before = current(srv, ids)
    for order in ORDER_KEYS:
        for via in ("cursor", "link"):
            path = f"/v1/articles?sort={order}&limit=7&tag=sorted"
            items, pages, new = walk_with_inserts(srv, path, via)
            tap.check(len(pages) >= 6, f"{path}: only {len(pages)} pages")
            check_walk(f"{order} by {via}", items, before, order, new)
            if order in ("oldest",):
                tap.eq([a["id"] for a in items if a["id"] in new], new[:-1],
                       "oldest: the articles inserted during the walk come last, in order")
            before = {i: a for i, a in current(srv, ids).items()}
    # a filter with each order: only the category's articles, in order
    for order in ORDER_KEYS:
        odd = {i: a for i, a in current(srv, ids).items() if a["category"] == "Odd"}
        items, _, new = walk_with_inserts(srv, f"/v1/articles?sort={order}&limit=4&category=Odd",
                                          "link")
        check_walk(f"{order}, category Odd", items, odd, order, new)
    # the default is newest
    default = get(srv, "/v1/articles?limit=100&tag=third").json["data"]
    explicit = get(srv, "/v1/articles?limit=100&tag=third&sort=newest").json["data"]
    tap.eq(default, explicit, "no sort is sort=newest")


def test_tag_and_category(srv, made):
    """A tag and a category together (the tag rows carry their article's category):
    every order, and an article whose category changes moves between the lists."""
    ids = [a["id"] for a in made]
    for order in ORDER_KEYS:
        odd = {i: a for i, a in current(srv, ids).items()
               if a["category"] == "Odd" and "third" in a["tags"]}
        items, _, new = walk_with_inserts(
            srv, f"/v1/articles?sort={order}&limit=2&tag=third&category=Odd", "link")
        check_walk(f"{order}, tag third, category Odd", items, odd, order, new)
        tap.eq([a["id"] for a in items if a["id"] in INSERTED], [],
               f"{order}: the inserted articles (category Even) are not in it")

    def listed(category):
        return {a["id"] for a in srv.walk(f"/v1/articles?tag=third&category={category}&limit=100")[0]}

    moved = next(a["id"] for a in made if a["category"] == "Odd" and "third" in a["tags"])
    tap.check(moved in listed("Odd") and moved not in listed("Even"), "listed under Odd")
    resp = srv.request("PATCH", f"/v1/articles/{moved}", {"category": "Even"}, auth=True)
    tap.eq(resp.status, 200, "category changed")
    tap.check(moved in listed("Even") and moved not in listed("Odd"),
              "after the change: listed under Even only")
    resp = srv.request("PATCH", f"/v1/articles/{moved}", {"category": "Odd"}, auth=True)
    tap.eq(resp.status, 200, "category changed back")
    tap.check(moved in listed("Odd") and moved not in listed("Even"), "back under Odd")
    # a change the store did not make (its tag rows untouched) is followed by the database
    srv.sql(f"UPDATE articles SET category = 'Even' WHERE id = {int(moved)}")
    tap.check(soon(lambda: moved in listed("Even") and moved not in listed("Odd")),
              "after an UPDATE by plain SQL: listed under Even only")
    srv.sql(f"UPDATE articles SET category = 'Odd' WHERE id = {int(moved)}")
    tap.check(soon(lambda: moved in listed("Odd")), "and back")


def test_commented_moves(srv, made):
    """A comment arriving mid-walk moves its article: documented, here shown."""
    ids = [a["id"] for a in made]
    first = get(srv, "/v1/articles?sort=commented&limit=5&category=Even&fields=id,comment_count")
    top = first.json["data"]
    tap.check(all(a["comment_count"] >= b["comment_count"] for a, b in zip(top, top[1:])),
              f"counts descend: {top}")
    last = current(srv, ids)
    quiet = sorted((a for a in last.values() if a["category"] == "Even"),
                   key=ORDER_KEYS["commented"])
    tap.eq([a["id"] for a in top], [a["id"] for a in quiet[:5]], "the first page")


def test_sort_refusals(srv, made):
    for path, detail in [
        ("/v1/articles?sort=popular", "sort must be newest, oldest, updated or commented"),
        ("/v1/articles?sort=", "sort must be newest, oldest, updated or commented"),
        ("/v1/articles?sort=NEWEST", "sort must be newest, oldest, updated or commented"),
        ("/v1/search?q=orderword&sort=oldest", "sort must be relevance or newest"),
    ]:
        expect(tap, srv.request("GET", path), 400, {"detail": detail}, what=path)
    cursors = {}
    for order in ORDER_KEYS:
        cursors[order] = get(srv, f"/v1/articles?sort={order}&limit=2").json["next_cursor"]
    for order, cursor in cursors.items():
        for other in ORDER_KEYS:
            path = f"/v1/articles?sort={other}&limit=2&cursor={cursor}"
            resp = srv.request("GET", path)
            if other == order:
                tap.eq(resp.status, 200, f"{order} cursor on {order}")
            else:
                expect(tap, resp, 400, {"detail": f"cursor is not a cursor of this list in sort "
                                                  f"order {other}: start again without it"},
                       what=f"a {order} cursor on sort={other}")
    rel = get(srv, "/v1/search?q=orderword&limit=2").json["next_cursor"]
    new = get(srv, "/v1/search?q=orderword&limit=2&sort=newest").json["next_cursor"]
    detail = "cursor is not a cursor of this search, type and sort order: start again without it"
    expect(tap, srv.request("GET", f"/v1/search?q=orderword&sort=newest&cursor={rel}"), 400,
           {"detail": detail}, what="a relevance cursor on newest")
    expect(tap, srv.request("GET", f"/v1/search?q=orderword&cursor={new}"), 400,
           {"detail": detail}, what="a newest cursor on relevance")
    # a relevance cursor whose score is NaN names no position
    nan = base64.urlsafe_b64encode(b"s" + struct.pack(">dqq", math.nan, 0, 0)).rstrip(b"=")
    expect(tap, srv.request("GET", f"/v1/search?q=orderword&cursor={nan.decode()}"), 400,
           {"detail": detail}, what="a relevance cursor with a NaN score")
    expect(tap, srv.request("GET", f"/v1/articles?cursor={new}"), 400,
           {"detail": "cursor is not a cursor of this list in sort order newest: start again "
                      "without it"}, what="a search cursor on the list")


def test_search_sort(srv, made):
    ids = {a["id"] for a in made}
    # BM25 scores follow the whole index's statistics, which every write
    # changes: relevance is walked without writes, newest while inserting.
    for sort in ("newest", "relevance"):
        for via in ("cursor", "link"):
            path = f"/v1/search?q=orderword&limit=6&sort={sort}"
            if sort == "newest":
                items, pages, new = walk_with_inserts(srv, path, via, body="Orderword new.")
            else:
                items, pages = srv.walk(path, via=via)
            got = [h["id"] for h in items if h["id"] in ids]
            tap.eq(len(got), len(set(got)), f"search {sort} by {via}: none twice")
            tap.check(ids <= set(got), f"search {sort} by {via}: every article found "
                                       f"({len(set(got) & ids)} of {len(ids)})")
            if sort == "newest":
                keys = [(h["published_at"], h["id"]) for h in items if h["id"] in ids]
                tap.eq(keys, sorted(keys, reverse=True), f"search newest by {via}: in order")
    tap.check("sort=newest" in get(srv, "/v1/search?q=orderword&limit=2&sort=newest")
              .headers.get("Link", ""), "the search's next link keeps sort")
    chits = get(srv, "/v1/search?q=comment&type=comments&sort=newest&limit=100").json["data"]
    keys = [(h["created_at"], h["id"]) for h in chits]
    tap.check(len(chits) > 10, f"comment hits: {len(chits)}")
    tap.eq(keys, sorted(keys, reverse=True), "comment search newest: newest first, ties by id")


def main():
    with Server(BIN) as srv:
        ids = tap.run("seed articles and a thread of comments", seed_fields, srv)
        if ids:
            tap.run("fields on every endpoint answer exactly the fields named",
                    test_fields_every_endpoint, srv, ids)
            tap.run("unknown or empty field names are a 400 naming them", test_fields_refused,
                    srv, ids)
            tap.run("each fields variant: its own cached body, ETag, 304 and gzip",
                    test_fields_cache_variants, srv, ids)
        tap.stop_server(srv)
    with Server(BIN) as srv:
        tap.run("tags and authors in use with exact counts, drafts only with a key, writes "
                "seen at once", test_tags_authors, srv)
        tap.run("tags and authors: ETag, 304, HEAD, gzip, 405", test_tags_authors_http, srv)
        tap.stop_server(srv, name="the second server exits 0 on SIGTERM")
    with Server(BIN) as srv:
        made = tap.run("seed articles with ties in date and comment count", seed_sort, srv)
        if made:
            tap.run("every order paged to the end sees each article once, in order, while "
                    "articles are inserted", test_sort_walks, srv, made)
            tap.run("a tag and a category: every order, and a category change moves the "
                    "article", test_tag_and_category, srv, made)
            tap.run("most commented: the first page", test_commented_moves, srv, made)
            tap.run("an unknown sort and a cursor of another order are 400s", test_sort_refusals,
                    srv, made)
            tap.run("search sorted by newest (paged while inserting) and by relevance",
                    test_search_sort, srv, made)
        tap.stop_server(srv, name="the third server exits 0 on SIGTERM")
    tap.done()


main()
