#!/usr/bin/env python3
"""test_articles.py: the /v1/articles endpoints of a running newsd.

Creation with every field and with defaults (derived slug and summary),
reading by id and slug, draft visibility, list order, filters and keyset
pagination (also while articles are inserted at the head), merge-patch
updates, deletion (a deleted article's or comment's id is never given
again), authentication failures, validation (every bad field at once),
malformed bodies (415, 400, 413) and ETag/If-None-Match.
"""

import calendar
import os
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    INT, TIMESTAMP, Pred, Re, Server, Tap, binary_from_argv, case, chunked, contains, create_key,
    expect, raw_exchange, run_cli, settled,
)

BIN = binary_from_argv()
tap = Tap()

LAVROV = "Russia’s Lavrov praises Pyongyang’s ‘unequivocal support’ on Ukraine"
LAVROV_SLUG = "russias-lavrov-praises-pyongyangs-unequivocal-support-on-ukraine"
LAVROV_P1 = ("Russian Foreign Minister Sergei Lavrov praised his country’s military alliance "
             "with North Korea on Saturday, during a visit aimed at reaffirming the two "
             "countries’ strategic partnership.")
JSON_TYPE = Re(r"^application/json;\s*charset=utf-8$")
STRONG_ETAG = Re(r'^"[^"]+"$')
UNAUTHORIZED = Re(r"^Bearer\b")
SLUG_SHAPE = Re(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def ids(items):
    return [item["id"] for item in items]


def q(value):
    return urllib.parse.quote(value, safe="")


def listing(srv, query, auth=False):
    resp = srv.request("GET", "/v1/articles?" + query, auth=auth)
    tap.require(resp.status == 200, f"GET /v1/articles?{query}: {resp}")
    return resp.json["data"]


# ---- creation -------------------------------------------------------------


def test_create_full(srv):
    full = {
        "title": LAVROV, "slug": "lavrov-visit", "summary": "A hand-written summary.",
        "body": LAVROV_P1 + "\n\nSecond paragraph.", "author": "Jane Doe",
        "category": "World", "tags": ["russia", "north-korea"],
        "source_url": "https://example.com/lavrov", "status": "published",
        "published_at": "2025-07-12T09:30:00Z",
    }
    resp = srv.request("POST", "/v1/articles", full, auth=True)
    want = dict(full, id=INT, created_at=TIMESTAMP, updated_at=TIMESTAMP, comment_count=0)
    expect(tap, resp, 201, want, {"Content-Type": JSON_TYPE})
    tap.require(resp.status == 201, "create failed")
    art = resp.json
    tap.eq(resp.headers.get("Location"), f"/v1/articles/{art['id']}", "Location")
    tap.eq(set(art), set(want), "article members")
    by_id = srv.request("GET", f"/v1/articles/{art['id']}")
    expect(tap, by_id, 200, None, {"Content-Type": JSON_TYPE}, what="GET by id")
    tap.eq(by_id.json, art, "GET by id equals the created article")
    by_slug = srv.request("GET", "/v1/articles/lavrov-visit")
    expect(tap, by_slug, 200, what="GET by slug")
    tap.eq(by_slug.json, art, "GET by slug equals the created article")
    return art


def test_create_defaults(srv):
    before = time.time()
    resp = srv.request("POST", "/v1/articles",
                       {"title": LAVROV, "body": LAVROV_P1 + "\n\nMore text."}, auth=True)
    expect(tap, resp, 201, {
        "slug": LAVROV_SLUG, "title": LAVROV, "summary": LAVROV_P1, "author": "",
        "category": "", "tags": [], "source_url": None, "status": "published",
        "published_at": TIMESTAMP, "comment_count": 0,
    })
    tap.require(resp.status == 201, "create failed")
    stamp = time.strptime(resp.json["published_at"], "%Y-%m-%dT%H:%M:%SZ")
    published = calendar.timegm(stamp)
    tap.check(before - 120 <= published <= time.time() + 120,
              f"published_at {resp.json['published_at']} is not about now")
    return resp.json


def test_slug_clash(srv):
    for suffix in ("-2", "-3"):
        art = srv.create_article(title=LAVROV, body="Again.")
        tap.eq(art["slug"], LAVROV_SLUG + suffix, "derived slug on a clash")
    # A derived slug clashing with a given one is made unique too.
    art = srv.create_article(title="Lavrov visit", body="Text.")
    tap.eq(art["slug"], "lavrov-visit-2", "derived slug clashing with a given slug")


SLUG_TABLE = [
    ("Café Straße", "cafe-strasse"),
    ("It's O'Brien's day", "its-obriens-day"),
    ("Hello,   World -- again!", "hello-world-again"),
    ("2024", "article-2024"),
    ("¿¡!?", "article"),
]


def test_slug_derivation(srv):
    for title, slug in SLUG_TABLE:
        art = srv.create_article(title=title, body="Text.")
        tap.eq(art["slug"], slug, f"slug of {title!r}")
    long_title = " ".join(["Wordy"] * 45)  # 269 characters, a slug of 269 bytes
    art = srv.create_article(title=long_title, body="Text.")
    tap.check(len(art["slug"]) <= 120, f"slug longer than 120 bytes: {art['slug']}")
    tap.check(SLUG_SHAPE(art["slug"]), f"slug shape: {art['slug']}")


def test_summary(srv):
    words = " ".join(f"word{i}" for i in range(80))
    art = srv.create_article(title="Summary cut", body=words + "\n\nSecond.")
    summary = art["summary"]
    tap.check(len(summary) <= 200, f"summary of {len(summary)} characters")
    tap.check(summary.endswith("…"), f"cut summary without an ellipsis: {summary!r}")
    stem = summary[:-1].rstrip()
    tap.check(words.startswith(stem) and words[len(stem)] == " ",
              f"summary not cut at a word boundary: {summary!r}")
    art = srv.create_article(title="Summary fold", body="Hello\nworld  again\n\nSecond para")
    tap.eq(art["summary"], "Hello world again", "summary folds white space")
    art = srv.create_article(title="Summary given", body="Body.", summary="  Mine.  ")
    tap.eq(art["summary"], "Mine.", "a given summary is kept (trimmed)")


def creation_cases():
    ok = {"title": "Valid", "body": "Text."}

    def made(name, fields, json=None, status=201, **kw):
        """POST /v1/articles with the key: ok with fields over it, answered status and json."""
        return case(name, "POST", "/v1/articles", dict(ok, **fields), status, json, auth=True,
                    **kw)

    utc = {"published_at": "2025-07-12T09:30:00Z"}
    return [
        made("published_at offset converted to UTC",
             {"published_at": "2025-07-12T11:30:00+02:00"}, utc),
        made("published_at fraction dropped", {"published_at": "2025-07-12T09:30:00.987Z"}, utc),
        made("tags trimmed and de-duplicated", {"tags": [" a ", "a", "b"]}, {"tags": ["a", "b"]}),
        made("20 tags of 50 characters accepted",
             {"tags": [f"{i:02d}" + "t" * 48 for i in range(20)]}),
        made("title trimmed", {"title": "  Padded  "}, {"title": "Padded", "slug": "padded"}),
        # values kept as given
        *(made(name, {field: value}, {field: value}) for name, field, value in (
            ("title of 300 characters (600 bytes) accepted", "title", "é" * 300),
            ("draft created", "status", "draft"),
            ("http source_url accepted", "source_url", "http://example.com/a?b=c"),
            ("source_url with a host name in its own script accepted", "source_url",
             "https://bücher.example/neu?x=1"),
            ("null source_url accepted", "source_url", None),
        )),
        made("charset parameter accepted", {},
             headers={"Content-Type": "application/json; charset=utf-8"}),
        made("given slug taken: 409", {"slug": LAVROV_SLUG}, status=409),
        made("given slug of another article taken: 409", {"slug": "lavrov-visit"}, status=409),
    ]


def validation_cases():
    ok = {"title": "Valid", "body": "Text."}

    def bad(name, fields, errors, body=None):
        return case(name, "POST", "/v1/articles", body if body is not None else dict(ok, **fields),
                    422, errors=errors, auth=True)

    return [
        bad("every bad field at once", None,
            ["title", "tags", "status", "source_url", "bogus", "id"],
            {"title": "x" * 301, "body": "ok", "tags": "notalist", "status": "bogus",
             "source_url": "ftp://example.com/f", "bogus": 1, "id": 5}),
        bad("title and body required", None, ["title", "body"], {}),
        bad("read-only fields", {"created_at": "2025-01-01T00:00:00Z",
                                 "updated_at": "2025-01-01T00:00:00Z", "comment_count": 3},
            ["created_at", "updated_at", "comment_count"]),
        bad("title of 301 characters", {"title": "é" * 301}, ["title"]),
        bad("blank title", {"title": "   "}, ["title"]),
        bad("control character in title", {"title": "bad\u0007title"}, ["title"]),
        bad("title of the wrong type", {"title": 5}, ["title"]),
        bad("empty body", {"body": ""}, ["body"]),
        bad("body of the wrong type", {"body": ["x"]}, ["body"]),
        bad("author of the wrong type and control character in category",
            {"author": 123, "category": "a\nb"}, ["author", "category"]),
        bad("21 tags", {"tags": [f"t{i}" for i in range(21)]}, ["tags"]),
        bad("tag of 51 characters", {"tags": ["t" * 51]}, ["tags"]),
        bad("empty tag", {"tags": [""]}, ["tags"]),
        bad("tag of the wrong type", {"tags": [1]}, ["tags"]),
        bad("status other than published/draft", {"status": "scheduled"}, ["status"]),
        bad("source_url not http(s)", {"source_url": "javascript:alert(1)"}, ["source_url"]),
        bad("source_url not a URL", {"source_url": "not a url"}, ["source_url"]),
        bad("published_at not RFC 3339", {"published_at": "yesterday"}, ["published_at"]),
        bad("published_at date only", {"published_at": "2025-07-12"}, ["published_at"]),
        bad("published_at a number", {"published_at": 12345}, ["published_at"]),
        bad("slug with a space", {"slug": "Bad Slug"}, ["slug"]),
        bad("slug of digits only", {"slug": "12345"}, ["slug"]),
        bad("slug longer than 120 bytes", {"slug": "x" * 121}, ["slug"]),
        bad("slug and title both bad", {"slug": "-a", "title": ""}, ["slug", "title"]),
        case("a JSON array body: 422", "POST", "/v1/articles", [], 422, errors=[""], auth=True),
    ]


def malformed_cases():
    def raw(name, data, status, headers=None):
        return case(name, "POST", "/v1/articles", raw=data, status=status, auth=True,
                    headers=headers)

    good = b'{"title":"t","body":"b"}'
    return [
        raw("text/plain: 415", good, 415, {"Content-Type": "text/plain"}),
        raw("form content type: 415", good, 415,
            {"Content-Type": "application/x-www-form-urlencoded"}),
        raw("no Content-Type: 415", good, 415, {"Content-Type": None}),
        raw("malformed JSON: 400", b'{"title":', 400),
        raw("empty body: 400", b"", 400),
        raw("trailing garbage: 400", good + b" x", 400),
        raw("duplicate keys: 400", b'{"title":"a","title":"b","body":"c"}', 400),
        raw("invalid UTF-8: 400", b'{"title":"\xff\xfe","body":"c"}', 400),
        raw("overlong UTF-8 encoding: 400", b'{"title":"\xc0\xaf","body":"c"}', 400),
    ]


# ---- reading and drafts ---------------------------------------------------


def test_paths(srv, art):
    expect(tap, srv.request("GET", "/v1/articles/999999"), 404, what="unknown id")
    expect(tap, srv.request("GET", "/v1/articles/no-such-slug"), 404, what="unknown slug")
    # Not ids (leading zero, sign, zero): looked up as slugs, so 404 even if
    # an article with that number exists.
    for seg in ("0", "007", "%2B1", f"0{art['id']}"):
        expect(tap, srv.request("GET", f"/v1/articles/{seg}"), 404, what=f"GET {seg}")
    for seg in ("abc", "0", "007", "-1", "99999999999999999999"):
        expect(tap, srv.request("PATCH", f"/v1/articles/{seg}", {"title": "x"}, auth=True), 400,
               what=f"PATCH {seg}")
        expect(tap, srv.request("DELETE", f"/v1/articles/{seg}", auth=True), 400,
               what=f"DELETE {seg}")
    expect(tap, srv.request("PATCH", "/v1/articles/999999", {"title": "x"}, auth=True), 404,
           what="PATCH unknown id")
    expect(tap, srv.request("DELETE", "/v1/articles/999999", auth=True), 404,
           what="DELETE unknown id")


def test_drafts(srv):
    draft = srv.create_article(title="Secret draft", body="Hidden.", status="draft",
                               category="Drafts")
    pub = srv.create_article(title="Public one", body="Seen.", category="Drafts")
    path = f"/v1/articles/{draft['id']}"
    expect(tap, srv.request("GET", path), 404, what="draft by id without key")
    expect(tap, srv.request("GET", "/v1/articles/" + draft["slug"]), 404,
           what="draft by slug without key")
    expect(tap, srv.request("HEAD", path), 404, what="HEAD draft without key")
    expect(tap, srv.request("GET", path, auth=True), 200, {"id": draft["id"], "status": "draft"},
           what="draft with key")
    tap.eq(ids(listing(srv, "category=Drafts")), [pub["id"]], "public list hides drafts")
    tap.eq(ids(listing(srv, "category=Drafts", auth=True)), [pub["id"]],
           "default list is published only, even with a key")
    tap.eq(ids(listing(srv, "category=Drafts&status=draft", auth=True)), [draft["id"]],
           "status=draft with key")
    tap.eq(ids(listing(srv, "category=Drafts&status=any", auth=True)),
           [pub["id"], draft["id"]], "status=any with key")
    tap.eq(ids(listing(srv, "category=Drafts&status=published")), [pub["id"]],
           "status=published without key")
    for status in ("draft", "any"):
        expect(tap, srv.request("GET", f"/v1/articles?status={status}"), 401,
               headers={"WWW-Authenticate": UNAUTHORIZED}, what=f"status={status} without key")
    expect(tap, srv.request("GET", "/v1/articles?status=bogus", auth=True), 400,
           what="status=bogus")
    # Publishing the draft makes it public.
    resp = srv.request("PATCH", path, {"status": "published"}, auth=True)
    expect(tap, resp, 200, {"status": "published"}, what="publish draft")
    expect(tap, srv.request("GET", path), 200, what="published draft without key")


# ---- lists ----------------------------------------------------------------


def test_order(srv):
    stamps = ["2025-01-01T00:00:00Z", "2025-03-01T00:00:00Z", "2025-02-01T00:00:00Z",
              "2025-03-01T00:00:00Z", "2025-01-01T00:00:00Z"]
    made = [srv.create_article(title=f"Order {i}", body="x", category="Ordering",
                               published_at=s) for i, s in enumerate(stamps)]
    want = [a["id"] for a in sorted(made, key=lambda a: (a["published_at"], a["id"]),
                                    reverse=True)]
    items = listing(srv, "category=Ordering")
    tap.eq(ids(items), want, "order: published_at desc, ties by id desc")
    for item in items:
        tap.check("body" not in item, f"list item has a body: {item}")
        for key in ("slug", "title", "summary", "published_at", "comment_count", "tags"):
            tap.check(key in item, f"list item lacks {key}: {item}")
    # The whole list, across pages, is ordered the same way.
    everything, _ = srv.walk("/v1/articles?limit=100")
    keys = [(a["published_at"], a["id"]) for a in everything]
    tap.check(keys == sorted(keys, reverse=True), "the full list is not in order")
    tap.check(len(set(ids(everything))) == len(everything), "the full list repeats an item")


def test_filters(srv):
    a1 = srv.create_article(title="Flt 1", body="x", category="Filt-A", author="Flt Ann",
                            tags=["flt-alpha", "flt-north-korea"],
                            published_at="2024-05-01T00:00:00Z")
    a2 = srv.create_article(title="Flt 2", body="x", category="Filt-A", author="Flt Bob",
                            tags=["flt-beta"], published_at="2024-05-02T00:00:00Z")
    a3 = srv.create_article(title="Flt 3", body="x", category="Filt-B", author="Flt Ann",
                            tags=["flt-alpha"], published_at="2024-05-03T00:00:00Z")
    a4 = srv.create_article(title="Flt 4", body="x", category="Filt-A", author="Flt Ann",
                            tags=["flt-alpha"], published_at="2024-05-04T00:00:00Z",
                            status="draft")
    i1, i2, i3, i4 = a1["id"], a2["id"], a3["id"], a4["id"]
    may = "since=2024-05-01T00:00:00Z&until=2024-06-01T00:00:00Z"
    table = [
        ("category=Filt-A", [i2, i1], False),
        ("category=Filt-B", [i3], False),
        ("category=Filt", [], False),
        ("category=filt-a", [], False),
        ("tag=flt-alpha", [i3, i1], False),
        ("tag=flt-north-korea", [i1], False),
        ("tag=flt", [], False),
        ("tag=north-korea&category=Filt-A", [], False),
        ("author=" + q("Flt Ann"), [i3, i1], False),
        ("author=" + q("Flt"), [], False),
        ("category=Filt-A&tag=flt-alpha", [i1], False),
        ("category=Filt-A&status=any", [i4, i2, i1], True),
        ("category=Filt-A&status=draft", [i4], True),
        (may, [i3, i2, i1], False),
        ("since=2024-05-02T00:00:00Z&until=2024-05-03T00:00:00Z", [i2], False),
        ("since=2024-05-02T00:00:00Z&until=2024-05-04T00:00:00Z", [i3, i2], False),
        ("until=2024-05-02T00:00:00Z&category=Filt-A", [i1], False),
        ("since=" + q("2024-05-02T02:00:00+02:00") + "&until=2024-05-03T00:00:00Z", [i2], False),
        ("since=2024-05-01T00:00:01Z&until=2024-05-03T00:00:00Z", [i2], False),
    ]
    for query, want, auth in table:
        tap.eq(ids(listing(srv, query, auth)), want, f"?{query}")


def bad_query_cases():
    def bad(query):
        return case(f"?{query}: 400", "GET", "/v1/articles?" + query, status=400)

    return [bad(query) for query in (
        "since=yesterday", "until=2024-13-01T00:00:00Z", "since=2024-05-01",
        "until=1714521600", "limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1.5",
        "limit=", "limit=20x", "cursor=!!!", "cursor=AAAA", "cursor=" + "A" * 200,
        "cursor=bm90LWEtY3Vyc29y",
    )] + [
        case("?limit=1", "GET", "/v1/articles?limit=1", status=200,
             json={"data": [Pred(lambda v: isinstance(v, dict), "item")],
                   "next_cursor": Pred(lambda v: isinstance(v, str) and v, "cursor")}),
        case("?limit=100", "GET", "/v1/articles?limit=100", status=200,
             json={"next_cursor": Pred(lambda v: v is None or isinstance(v, str), "cursor")}),
        case("default limit is 20", "GET", "/v1/articles", status=200,
             json={"data": Pred(lambda v: len(v) == 20, "20 items")}),
    ]


def test_pagination(srv):
    days = [1, 1, 1, 2, 2, 3, 3, 3, 3, 4]
    made = [srv.create_article(title=f"Page {i}", body="x", category="Paging",
                               published_at=f"2023-01-0{d}T00:00:00Z")
            for i, d in enumerate(days)]
    want = [a["id"] for a in sorted(made, key=lambda a: (a["published_at"], a["id"]),
                                    reverse=True)]
    items, pages = srv.walk("/v1/articles?category=Paging&limit=3")
    tap.eq(ids(items), want, "walk via next_cursor visits every item once, in order")
    tap.eq([len(p.json["data"]) for p in pages], [3, 3, 3, 1], "page sizes")
    tap.eq(pages[-1].json.get("next_cursor", "missing"), None, "last page next_cursor")
    tap.check("next" not in pages[-1].links(), f"last page has a Link next: {pages[-1].headers}")
    items, pages = srv.walk("/v1/articles?category=Paging&limit=3", via="link")
    tap.eq(ids(items), want, "walk via Link visits every item once, in order")
    first = pages[0].links().get("next", "")
    tap.check("limit=3" in first and "category=Paging" in first and "cursor=" in first,
              f"Link next does not repeat filters and limit: {first!r}")
    tap.check(pages[0].json["next_cursor"] is not None, "first page has no next_cursor")
    # The Link URL must re-encode filter values that need escaping.
    odd = "R&D / Ünï +#?%"
    made = [srv.create_article(title=f"Odd {i}", body="x", category=odd)["id"] for i in range(4)]
    items, _ = srv.walk("/v1/articles?limit=1&category=" + q(odd), via="link")
    tap.eq(ids(items), made[::-1], f"Link walk with category {odd!r}")
    return want


def test_pagination_inserts(srv, want):
    added = []

    def insert(page_no):
        art = srv.create_article(title=f"Head {page_no}", body="x", category="Paging",
                                 published_at="2030-01-01T00:00:00Z")
        added.append(art["id"])

    for via in ("cursor", "link"):
        added.clear()
        items, _ = srv.walk("/v1/articles?category=Paging&limit=3", via=via, between=insert)
        seen = ids(items)
        tap.eq([i for i in seen if i in want], want,
               f"{via} walk with inserts: each original item exactly once, in order")
        tap.check(len(seen) == len(set(seen)), f"{via} walk with inserts repeats items: {seen}")
        tap.check(set(seen) <= set(want) | set(added),
                  f"{via} walk with inserts: unexpected items {set(seen) - set(want)}")
        tap.check(len(added) >= 4, "inserted fewer articles than pages")
        want = [i for i in reversed(added)] + want


# ---- updates and deletion -------------------------------------------------


def test_patch(srv):
    art = srv.create_article(title="Patch me", body="First para.\n\nSecond.", author="Ann",
                             category="Patching", tags=["p"], source_url="https://example.com/p")
    path = f"/v1/articles/{art['id']}"
    time.sleep(1.1)  # time stamps have one-second resolution
    resp = srv.request("PATCH", path, {"title": "Patched title"}, auth=True)
    expect(tap, resp, 200, {"title": "Patched title"}, what="PATCH title")
    tap.require(resp.status == 200, "PATCH failed")
    for key, value in art.items():
        if key not in ("title", "updated_at"):
            tap.eq(resp.json.get(key), value, f"PATCH title keeps {key}")
    tap.check(resp.json["updated_at"] > art["updated_at"],
              f"updated_at did not change: {art['updated_at']} -> {resp.json['updated_at']}")
    tap.eq(srv.request("GET", path).json, resp.json, "GET after PATCH equals the PATCH answer")

    resp = srv.request("PATCH", path, {"body": "New first.\n\nNew second."}, auth=True)
    expect(tap, resp, 200, {"body": "New first.\n\nNew second.", "summary": "New first."},
           what="body change re-derives a derived summary")
    resp = srv.request("PATCH", path, {"summary": "Hand-written."}, auth=True)
    expect(tap, resp, 200, {"summary": "Hand-written."}, what="set summary")
    resp = srv.request("PATCH", path, {"body": "Third body."}, auth=True)
    expect(tap, resp, 200, {"body": "Third body.", "summary": "Hand-written."},
           what="body change keeps a hand-written summary")
    resp = srv.request("PATCH", path, {"author": None, "category": None, "tags": None,
                                       "source_url": None, "summary": None}, auth=True)
    expect(tap, resp, 200, {"author": "", "category": "", "tags": [], "source_url": None,
                            "summary": "Third body.", "title": "Patched title"},
           what="null resets optional fields")
    resp = srv.request("PATCH", path, {"slug": resp.json["slug"]}, auth=True)
    expect(tap, resp, 200, what="PATCH to its own slug")
    resp = srv.request("PATCH", path, {"slug": "lavrov-visit"}, auth=True)
    expect(tap, resp, 409, what="PATCH to a taken slug")
    resp = srv.request("PATCH", path, {"slug": "fresh-patched-slug"}, auth=True)
    expect(tap, resp, 200, {"slug": "fresh-patched-slug"}, what="PATCH to a new slug")
    expect(tap, srv.request("GET", "/v1/articles/fresh-patched-slug"), 200, {"id": art["id"]},
           what="GET by the new slug")
    expect(tap, srv.request("GET", "/v1/articles/" + art["slug"]), 404, what="GET old slug")
    resp = srv.request("PATCH", path, {"tags": ["a", "b"], "status": "draft",
                                       "published_at": "2024-01-01T00:00:00+01:00"}, auth=True)
    expect(tap, resp, 200, {"tags": ["a", "b"], "status": "draft",
                            "published_at": "2023-12-31T23:00:00Z"}, what="PATCH several")
    expect(tap, srv.request("PATCH", path, {}, auth=True), 200, {"id": art["id"]},
           what="empty patch")
    resp = srv.request("PATCH", path, {"source_url": "http://пример.рф/новости"}, auth=True)
    expect(tap, resp, 200, {"source_url": "http://пример.рф/новости"},
           what="PATCH to a source_url with a host name in Cyrillic")
    expect(tap, srv.request("PATCH", path, {"title": "Retitled"}, auth=True), 200,
           {"title": "Retitled", "source_url": "http://пример.рф/новости"},
           what="PATCH title keeps a source_url with a host name in Cyrillic")

    bad = [
        ({"title": None}, ["title"]), ({"body": None}, ["body"]), ({"title": ""}, ["title"]),
        ({"tags": "x"}, ["tags"]), ({"bogus": 1}, ["bogus"]), ({"id": 99}, ["id"]),
        ({"comment_count": 5, "created_at": "2020-01-01T00:00:00Z"},
         ["comment_count", "created_at"]),
        ({"title": "x" * 301, "status": "gone", "source_url": "ftp://x/y", "zzz": True},
         ["title", "status", "source_url", "zzz"]),
    ]
    before = srv.request("GET", path, auth=True).json
    for patch, fields in bad:
        expect(tap, srv.request("PATCH", path, patch, auth=True), 422, errors=fields,
               what=f"PATCH {patch!r}"[:120])
    expect(tap, srv.request("PATCH", path, [1], auth=True), 422, errors=[""],
           what="PATCH with an array")
    expect(tap, srv.request("PATCH", path, raw=b"{", auth=True), 400, what="PATCH bad JSON")
    expect(tap, srv.request("PATCH", path, raw=b'{"title":"x"}', auth=True,
                            headers={"Content-Type": "text/plain"}), 415, what="PATCH text/plain")
    tap.eq(srv.request("GET", path, auth=True).json, before, "rejected PATCHes change nothing")


def test_delete(srv):
    art = srv.create_article(title="Delete me", body="x")
    path = f"/v1/articles/{art['id']}"
    expect(tap, srv.request("DELETE", path, auth=True), 204, empty_body=True, what="DELETE")
    expect(tap, srv.request("GET", path), 404, what="GET after DELETE")
    expect(tap, srv.request("GET", "/v1/articles/" + art["slug"]), 404, what="slug after DELETE")
    expect(tap, srv.request("DELETE", path, auth=True), 404, what="DELETE again")
    expect(tap, srv.request("PATCH", path, {"title": "x"}, auth=True), 404, what="PATCH deleted")


def test_ids_not_reused(srv):
    """Deleting the newest article (or comment) does not hand its id to the next one."""
    keep = srv.create_article(title="Id keeper", body="x")
    newest = srv.create_article(title="Newest, then deleted", body="x")
    expect(tap, srv.request("DELETE", f"/v1/articles/{newest['id']}", auth=True), 204,
           empty_body=True, what="DELETE the newest article")
    again = srv.create_article(title="Created after the delete", body="x")
    tap.eq(again["id"], newest["id"] + 1, "the next article's id")
    expect(tap, srv.request("GET", f"/v1/articles/{newest['id']}"), 404,
           what="the deleted article's link")

    srv.create_comment(keep["id"])
    last = srv.create_comment(keep["id"], body="Newest comment, then deleted.")
    expect(tap, srv.request("DELETE", f"/v1/comments/{last['id']}", auth=True), 204,
           empty_body=True, what="DELETE the newest comment")
    reply = srv.create_comment(keep["id"], body="Written after the delete.")
    tap.eq(reply["id"], last["id"] + 1, "the next comment's id")
    expect(tap, srv.request("GET", f"/v1/comments/{last['id']}"), 404,
           what="the deleted comment's link")


def test_comment_count(srv):
    art = srv.create_article(title="Counted", body="x", category="Counting")
    for _ in range(2):
        srv.create_comment(art["id"])
    expect(tap, srv.request("GET", f"/v1/articles/{art['id']}"), 200, {"comment_count": 2})
    tap.eq([a["comment_count"] for a in listing(srv, "category=Counting")], [2],
           "comment_count in the list")


# ---- authentication -------------------------------------------------------


def test_auth(srv):
    victim = srv.create_article(title="Auth target", body="x")
    path = f"/v1/articles/{victim['id']}"
    key_id = srv.key[3:15]  # "nd_" + 12 characters of public id
    credentials = {
        "no Authorization": None,
        "Basic scheme": "Basic dXNlcjpwYXNz",
        "Bearer without key": "Bearer ",
        "garbage key": "Bearer garbage",
        "unknown key": "Bearer nd_AAAAAAAAAAAA_" + "B" * 43,
        "known id, wrong secret": f"Bearer nd_{key_id}_" + "C" * 43,
        "tampered key": "Bearer " + srv.key[:-1] + ("A" if srv.key[-1] != "A" else "B"),
        "key without scheme": srv.key,
    }
    requests = [("POST", "/v1/articles", {"title": "t", "body": "b"}),
                ("PATCH", path, {"title": "hacked"}), ("DELETE", path, None)]
    for label, value in credentials.items():
        for method, target, body in requests:
            headers = {} if value is None else {"Authorization": value}
            resp = srv.request(method, target, body, headers)
            expect(tap, resp, 401, headers={"WWW-Authenticate": UNAUTHORIZED},
                   what=f"{method} {target} with {label}")
    expect(tap, srv.request("GET", path), 200, {"title": "Auth target"},
           what="article untouched by unauthorized writes")
    # A revoked key stops working; the other key still works.
    other = create_key(BIN, srv.db, "to-revoke")
    resp = srv.request("POST", "/v1/articles", {"title": "by other", "body": "b"},
                       auth="Bearer " + other)
    expect(tap, resp, 201, what="second key works")
    proc = run_cli(BIN, ["--db", srv.db, "key", "revoke", "to-revoke"])
    tap.eq(proc.returncode, 0, f"key revoke exit status (stderr {proc.stderr!r})")
    for method, target, body in requests:
        resp = srv.request(method, target, body, auth="Bearer " + other)
        expect(tap, resp, 401, headers={"WWW-Authenticate": UNAUTHORIZED},
               what=f"{method} with a revoked key")
    expect(tap, srv.request("PATCH", path, {"title": "still mine"}, auth=True), 200,
           what="the first key still works")


# ---- body size limit ------------------------------------------------------


def post_head(srv, length=None, extra=b""):
    head = (b"POST /v1/articles HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + srv.key.encode() + b"\r\n"
            b"Content-Type: application/json\r\n")
    if length is None:
        head += b"Transfer-Encoding: chunked\r\n"
    else:
        head += b"Content-Length: %d\r\n" % length
    return head + extra + b"\r\n"


def article_bytes(size, category):
    prefix = b'{"title":"Big","category":"' + category.encode() + b'","body":"'
    return prefix + b"x" * max(0, size - len(prefix) - 2) + b'"}'


def pieces(data, size=65536):
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_too_large(srv, size, category):
    big = article_bytes(size, category)
    resp = raw_exchange(srv.port, post_head(srv, len(big)), pieces(big))
    tap.check(resp is not None, "no answer to an oversized Content-Length body")
    if resp is not None:
        expect(tap, resp, 413, what=f"Content-Length {len(big)}")
    resp = raw_exchange(srv.port, post_head(srv), chunked(big, 4096))
    tap.check(resp is not None, "no answer to an oversized chunked body")
    if resp is not None:
        expect(tap, resp, 413, what=f"chunked {len(big)}")
    # Decided from Content-Length alone: no 100 Continue, no waiting for the body.
    resp = raw_exchange(srv.port, post_head(srv, len(big), b"Expect: 100-continue\r\n"),
                        timeout=5)
    tap.check(resp is not None, "no answer to Expect: 100-continue with an oversized body")
    if resp is not None:
        expect(tap, resp, 413, what="Expect: 100-continue")
    expect(tap, srv.request("GET", "/health"), 200, what="server still answers")
    tap.eq(listing(srv, "category=" + category), [], "oversized bodies created nothing")


def test_body_field_limit(srv):
    data = article_bytes((1 << 20) + 100, "TooBigField")
    # Over max-body the server may answer before the body is sent, and close.
    resp = raw_exchange(srv.port, post_head(srv, len(data)), pieces(data))
    tap.require(resp is not None, "no answer to a body of 1 MiB + 100 bytes")
    # The request is over max-body (1 MiB) before its body field is: 413.
    expect(tap, resp, 413, {"detail": contains("1048576 bytes")},
           what="a body of 1 MiB + 100 bytes")
    tap.eq(listing(srv, "category=TooBigField"), [], "nothing created")


def test_small_limit(srv):
    test_too_large(srv, 2000, "TooBigSmall")
    resp = srv.request("POST", "/v1/articles", raw=article_bytes(2000, "TooBigSmall"), auth=True)
    expect(tap, resp, 413, what="http.client body of 2000 bytes")
    fits = article_bytes(900, "FitsSmall")
    resp = raw_exchange(srv.port, post_head(srv), chunked(fits, 100))
    tap.check(resp is not None and resp.status == 201, f"chunked body within the limit: {resp}")
    resp = raw_exchange(srv.port, post_head(srv, len(fits)), [fits])
    tap.check(resp is not None and resp.status == 201, f"body within the limit: {resp}")
    tap.eq(len(listing(srv, "category=FitsSmall")), 2, "bodies within the limit created")


# ---- ETag -----------------------------------------------------------------


def test_etag(srv):
    art = srv.create_article(title="Tagged", body="x", category="Etags")
    path = f"/v1/articles/{art['id']}"
    first = srv.request("GET", path)
    expect(tap, first, 200, headers={"ETag": STRONG_ETAG}, what="GET has a strong ETag")
    tag = first.headers.get("ETag")
    tap.require(tag is not None, "no ETag")
    tap.eq(srv.request("GET", path).headers.get("ETag"), tag, "ETag stable across GETs")
    for inm in (tag, f'"nope", {tag}', "*"):
        resp = srv.request("GET", path, headers={"If-None-Match": inm})
        expect(tap, resp, 304, headers={"ETag": tag}, empty_body=True,
               what=f"If-None-Match: {inm}")
        # RFC 9110 8.6: a 304 may carry Content-Length only with the 200's length.
        length = resp.headers.get("Content-Length")
        tap.check(length is None or int(length) == len(first.body),
                  f"304 with Content-Length {length}; the 200 body has {len(first.body)} bytes")
    expect(tap, srv.request("GET", path, headers={"If-None-Match": '"nope"'}), 200,
           what="non-matching If-None-Match")
    head = srv.request("HEAD", path)
    expect(tap, head, 200, headers={"ETag": tag, "Content-Type": first.headers["Content-Type"]},
           empty_body=True, what="HEAD")
    length = head.headers.get("Content-Length")
    tap.check(length is None or int(length) == len(first.body),
              f"HEAD Content-Length {length} != GET body length {len(first.body)}")
    expect(tap, srv.request("HEAD", path, headers={"If-None-Match": tag}), 304,
           empty_body=True, what="HEAD with If-None-Match")
    srv.request("PATCH", path, {"title": "Tagged again"}, auth=True)
    after = settled(lambda: srv.request("GET", path),
                    lambda r: r.headers.get("ETag") not in (None, tag))
    tap.check(after.headers.get("ETag") not in (None, tag), "ETag did not change after PATCH")
    expect(tap, settled(lambda: srv.request("GET", path, headers={"If-None-Match": tag}),
                        lambda r: r.status == 200), 200, what="old ETag after PATCH")
    lpath = "/v1/articles?category=Etags"
    lst = srv.request("GET", lpath)
    ltag = lst.headers.get("ETag")
    expect(tap, lst, 200, headers={"ETag": STRONG_ETAG}, what="list ETag")
    expect(tap, srv.request("GET", lpath, headers={"If-None-Match": ltag or '"x"'}), 304,
           empty_body=True, what="list 304")
    srv.create_article(title="Tagged two", body="x", category="Etags")
    expect(tap, settled(lambda: srv.request("GET", lpath, headers={"If-None-Match": ltag or '"x"'}),
                        lambda r: r.status == 200), 200,
           what="list ETag changes with a new article")


# ---- the run --------------------------------------------------------------


def main_session():
    with Server(BIN) as srv:
        full = tap.run("create with every field; GET by id and slug", test_create_full, srv)
        tap.run("create with defaults: derived slug and summary", test_create_defaults, srv)
        tap.run("derived slug clash gets -2, -3", test_slug_clash, srv)
        tap.run("slug derivation table", test_slug_derivation, srv)
        tap.run("derived and given summaries", test_summary, srv)
        tap.cases(srv, creation_cases())
        tap.cases(srv, validation_cases())
        tap.cases(srv, malformed_cases())
        tap.run("ids, slugs and malformed ids in paths", test_paths, srv, full or {"id": 1})
        tap.run("drafts need a key", test_drafts, srv)
        tap.run("list order", test_order, srv)
        tap.run("list filters", test_filters, srv)
        tap.cases(srv, bad_query_cases())
        want = tap.run("keyset pagination via next_cursor and Link", test_pagination, srv)
        if want:
            tap.run("pagination while inserting at the head", test_pagination_inserts, srv, want)
        tap.run("PATCH merge patch", test_patch, srv)
        tap.run("DELETE", test_delete, srv)
        tap.run("ids of deleted articles and comments are not given again", test_ids_not_reused,
                srv)
        tap.run("comment_count", test_comment_count, srv)
        tap.run("authentication failures are 401 with WWW-Authenticate", test_auth, srv)
        tap.run("413 over the default limit (a 3 MiB request)", test_too_large, srv, 3 << 20,
                "TooBig")
        tap.run("a body field over 1 MiB is refused", test_body_field_limit, srv)
        tap.run("ETag and If-None-Match", test_etag, srv)
        tap.stop_server(srv)


def small_session():
    with Server(BIN, args=["--max-body", "1024"]) as srv:
        tap.run("413 with --max-body 1024", test_small_limit, srv)
        tap.stop_server(srv)


tap.run("articles session", main_session)
tap.run("small body limit session", small_session)
tap.done()
