#!/usr/bin/env python3
"""test_search.py: GET /v1/search on a running newsd.

A generated corpus of about three hundred articles, built so that the
expected answer of every query is known in advance: a title hit against body
hits, an adjacent phrase against scattered words, word stems, accents,
excluded words, prefixes, OR, drafts, the list filters, comments, ties
broken by recency, HTML-safe snippets and keyset pages followed through
next_cursor and Link. Then a long list of hostile query texts, each of which
must be answered 200 or 400 (never 500, never a hang), after which the
server must be healthy and the data unchanged.
"""

import calendar
import os
import random
import re
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    TIMESTAMP, Client, Server, Tap, binary_from_argv, expect, short, target_path,
)

BIN = binary_from_argv()
tap = Tap()

ARTICLE_KEYS = {"id", "slug", "title", "published_at", "snippet", "score"}
COMMENT_KEYS = {"id", "article_id", "created_at", "snippet", "score"}
SLOW = 5.0  # seconds: an answer slower than this counts as a hang
BULK = 250  # filler articles; the named groups below bring the corpus to ~290
LEMMINGS = 52  # filler articles that also mention "lemming", in 4 classes of 13


def epoch(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def stamp(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def enc(value):
    """value (str, or bytes sent as they are) percent-encoded for a query string."""
    return urllib.parse.quote(value, safe="")


def search_path(params):
    """/v1/search with params, a list of (name, value); a value ("raw", text) is sent unencoded."""
    parts = []
    for name, value in params:
        text = value[1] if isinstance(value, tuple) else enc(value)
        parts.append(f"{name}={text}")
    return "/v1/search?" + "&".join(parts)


# ---- checking answers -------------------------------------------------------


def check_page(resp, kind="articles", what=""):
    """A 200 search page of kind: its shape, every item's members, positive
    scores that never increase and ties ordered newest first. Returns its
    items (None when the answer is not a page)."""
    if not expect(tap, resp, 200, what=what):
        return None
    doc = resp.json
    if not tap.check(isinstance(doc, dict) and set(doc) == {"data", "next_cursor"},
                     f"{what}: page members {short(doc)}"):
        return None
    items, cur = doc["data"], doc["next_cursor"]
    tap.check(isinstance(items, list), f"{what}: data is not an array")
    tap.check(cur is None or (isinstance(cur, str) and cur), f"{what}: next_cursor {cur!r}")
    if not isinstance(items, list):
        return None
    keys, time_key = (ARTICLE_KEYS, "published_at") if kind == "articles" else \
        (COMMENT_KEYS, "created_at")
    for item in items:
        if not tap.check(isinstance(item, dict) and set(item) == keys,
                         f"{what}: item members {short(item)}, want {sorted(keys)}"):
            return items
        score = item["score"]
        tap.check(isinstance(score, (int, float)) and not isinstance(score, bool) and score > 0,
                  f"{what}: score {score!r} of {item['id']} is not a positive number")
        tap.check(TIMESTAMP(item[time_key]), f"{what}: {time_key} {item[time_key]!r}")
        tap.check(isinstance(item["snippet"], str), f"{what}: snippet {item['snippet']!r}")
    check_order(items, time_key, what)
    return items


def check_order(items, time_key, what):
    """Scores never increase; among equal scores the newer comes first, then the higher id."""
    for a, b in zip(items, items[1:]):
        if not tap.check(a["score"] >= b["score"],
                         f"{what}: score rises from {a['score']} ({a['id']}) "
                         f"to {b['score']} ({b['id']})"):
            return
        if a["score"] == b["score"]:
            tap.check((a[time_key], a["id"]) > (b[time_key], b["id"]),
                      f"{what}: equal scores not newest first: {a['id']} at {a[time_key]} "
                      f"before {b['id']} at {b[time_key]}")


def found(cl, q, extra=(), auth=False, kind="articles"):
    """The ids the first page (limit 100) of search q finds, checked as a page."""
    params = [("q", q), ("limit", "100")] + list(extra)
    if kind != "articles":
        params.append(("type", kind))
    resp = cl.request("GET", search_path(params), auth=auth)
    items = check_page(resp, kind, what=f"search {q!r} {list(extra)}")
    tap.require(items is not None, f"search {q!r} did not answer a page: {resp}")
    tap.check(resp.json["next_cursor"] is None, f"search {q!r}: more than 100 results")
    return [item["id"] for item in items], items


def refused(cl, params, status=400, detail=None, auth=False, what=""):
    """A search answered with a problem of status whose detail matches detail (a regex)."""
    resp = cl.request("GET", search_path(params), auth=auth)
    label = what or f"search {params}"
    expect(tap, resp, status, what=label)
    if detail and isinstance(resp.json, dict):
        got = resp.json.get("detail", "")
        tap.check(isinstance(got, str) and re.search(detail, got),
                  f"{label}: detail {got!r} does not match {detail!r}")
    return resp


# ---- the corpus -------------------------------------------------------------


class Corpus:
    """The articles made for the tests, by group, with what was sent for each."""

    def __init__(self, cl):
        self.cl = cl
        self.rng = random.Random(20250712)
        self.clock = epoch("2024-03-01T00:00:00Z")
        self.groups = {}
        self.meta = {}
        # Filler words: consonant-vowel syllables, no 'h' and no 'z', so that
        # they never collide with the words (or prefixes) under test.
        words = set()
        while len(words) < 400:
            words.add("".join(self.rng.choice("bdfgkmnprstv") + self.rng.choice("aeiou")
                              for _ in range(3)))
        self.filler = sorted(words)

    def words(self, n):
        return " ".join(self.rng.choice(self.filler) for _ in range(n))

    def add(self, group, title, body, **fields):
        """Creates one article (published an hour after the previous one unless
        published_at is given) and files it under group. Returns its id."""
        if "published_at" not in fields:
            self.clock += 3600
            fields["published_at"] = stamp(self.clock)
        payload = dict(fields, title=title, body=body)
        resp = self.cl.request("POST", "/v1/articles", payload, auth=True)
        tap.require(resp.status == 201, f"creating {title!r}: {resp}")
        art = resp.json
        self.meta[art["id"]] = dict(payload, id=art["id"], slug=art["slug"])
        self.groups.setdefault(group, []).append(art["id"])
        return art["id"]

    def ids(self, group):
        return list(self.groups.get(group, []))


def build_bulk(c):
    """Filler articles; LEMMINGS of them mention "lemming" in four classes of
    identical text, so that each class shares one score and pages must break
    its ties by recency. Every other one is in category nature."""
    classes = []
    for k in range(4):
        first = c.words(30)
        second = c.words(20) + " lemming" * (k + 1) + " " + c.words(20 - k)
        classes.append(first + "\n\n" + second)
    for i in range(BULK):
        category = "nature" if i % 2 else "world"
        if i < LEMMINGS:
            k = i % 4
            c.add(f"lemming{k}", f"Bulletin {i + 1}", classes[k], category=category)
            c.groups.setdefault("lemming", []).append(c.groups[f"lemming{k}"][-1])
        else:
            body = c.words(30) + "\n\n" + c.words(40)
            c.add("bulk", f"Bulletin {i + 1}", body, category=category, author="desk")


def build_named(c):
    """The small groups whose ranking or membership each test knows."""
    w = c.words
    c.add("quetzal_title", "Quetzal sighted", w(30) + "\n\n" + w(40))
    for _ in range(6):
        c.add("quetzal_body", "Rainforest notes", w(30) + "\n\n" + w(20) + " quetzal " + w(19))
    c.add("phrase", "Port news", w(20) + "\n\n" + w(10) + " solar harbour " + w(10))
    c.add("scattered", "Port news", w(20) + "\n\n" + w(5) + " solar " + w(8) + " harbour " + w(5))
    c.add("harbour", "Dock report", w(20) + "\n\nThe harbour " + w(20))
    c.add("harbour", "Dock report", w(20) + "\n\nTwo harbours " + w(20))
    c.add("harbour", "Harbour master", w(20) + "\n\n" + w(20))
    c.add("solar", "Energy", w(20) + "\n\nsolar panels " + w(20))
    c.add("election", "Vote", w(20) + "\n\nthe election " + w(10))
    c.add("elected", "Vote", w(20) + "\n\nshe was elected " + w(10))
    c.add("electoral", "Vote", w(20) + "\n\nthe electoral roll " + w(10))
    c.add("cafe_title", "Café culture", w(20) + "\n\n" + w(20))
    c.add("cafe_body", "Coffee", w(20) + "\n\na small cafe " + w(10))
    c.add("zebra", "Savanna", w(20) + "\n\none zebra " + w(10))
    c.add("giraffe", "Savanna", w(20) + "\n\none giraffe " + w(10))
    c.add("mongoose_draft", "Burrow", w(20) + "\n\nmongoose " + w(10), status="draft")
    c.add("mongoose", "Burrow", w(20) + "\n\nmongoose " + w(10))
    c.add("narwhal", "Arctic",
          "Beware <script>alert(1)</script> near the narwhal & its \"friends\" 'here'.\n\n" + w(10))
    # Identical text, published out of id order: one score, ordered by recency.
    for day in ("2024-01-12", "2024-01-10", "2024-01-11"):
        c.add("osprey", "Osprey nest report", "The osprey nest is busy again.",
              published_at=day + "T08:00:00Z")
    build_walrus(c)


def build_walrus(c):
    """Twelve walrus articles, one a day, with every filter varying."""
    start = epoch("2023-06-01T12:00:00Z")
    for i in range(12):
        c.add("walrus", f"Walrus count {i}", c.words(15) + "\n\nwalrus " + c.words(10),
              published_at=stamp(start + i * 86400),
              category="polar" if i % 2 == 0 else "marine",
              tags=["ice"] if i % 3 == 0 else ["sea", "coast"],
              author="ann" if i < 6 else "bob")


def build_comments(c, corpus_cl):
    """Comments mentioning pelicans, on a published article and on a draft."""
    host = c.add("comment_host", "Pier", c.words(20))
    draft = c.add("comment_draft", "Pier draft", c.words(20), status="draft")
    made = {"visible": [], "draft": [], "other": []}
    for text, where in (("A pelican landed on the pier", "visible"),
                        ("Pelicans everywhere today", "visible"),
                        ("I saw a <b>pelican</b> & a gull", "visible"),
                        ("Nothing to see here", "other")):
        resp = corpus_cl.request("POST", f"/v1/articles/{host}/comments",
                                 {"author": "reader", "body": text})
        tap.require(resp.status == 201, f"comment {text!r}: {resp}")
        made[where].append(resp.json["id"])
    resp = corpus_cl.request("POST", f"/v1/articles/{draft}/comments",
                             {"author": "editor", "body": "Secret pelican note"}, auth=True)
    tap.require(resp.status == 201, f"comment on the draft: {resp}")
    made["draft"].append(resp.json["id"])
    c.comments = made
    c.comment_host, c.comment_draft = host, draft


def build_corpus(cl):
    started = time.monotonic()
    c = Corpus(cl)
    build_bulk(c)
    build_named(c)
    build_comments(c, cl)
    tap.diag(f"corpus: {len(c.meta)} articles in {time.monotonic() - started:.1f} s")
    tap.check(len(c.meta) >= 280, f"corpus has only {len(c.meta)} articles")
    return c


# ---- ranking and matching -----------------------------------------------------


def test_title_beats_body(cl, c):
    got, items = found(cl, "quetzal")
    tap.eq(sorted(got), sorted(c.ids("quetzal_title") + c.ids("quetzal_body")),
           "quetzal finds the title hit and the six body hits")
    tap.eq(got[:1], c.ids("quetzal_title"), "the title hit ranks first")
    if len(items) > 1:
        tap.check(items[0]["score"] > items[1]["score"],
                  f"title hit scores {items[0]['score']}, not above {items[1]['score']}")


def test_phrase(cl, c):
    got, items = found(cl, '"solar harbour"')
    tap.eq(got, c.ids("phrase"), '"solar harbour" finds only the adjacent phrase')
    if items:
        tap.check("<mark>solar</mark> <mark>harbour</mark>" in items[0]["snippet"] or
                  "<mark>solar harbour</mark>" in items[0]["snippet"],
                  f"phrase snippet marks the phrase: {items[0]['snippet']!r}")
    got, _ = found(cl, "solar harbour")
    tap.eq(sorted(got), sorted(c.ids("phrase") + c.ids("scattered")),
           "solar harbour (no quotes) finds the phrase and the scattered words")
    plus = cl.request("GET", search_path([("q", ("raw", "solar+harbour")), ("limit", "100")]))
    items = check_page(plus, what="q=solar+harbour")
    tap.eq([i["id"] for i in items or []], got, "a '+' in the query string is a space")
    tap.eq(got[:1], c.ids("phrase"),
           "solar harbour (no quotes) ranks the adjacent phrase above the scattered words")


def test_stems(cl, c):
    got, _ = found(cl, "elections")
    tap.eq(sorted(got), sorted(c.ids("election") + c.ids("elected")),
           "elections finds election and elected (porter stem elect), not electoral (elector)")
    got, _ = found(cl, "ELECTED")
    tap.eq(sorted(got), sorted(c.ids("election") + c.ids("elected")), "ELECTED, any case")
    got, _ = found(cl, "harbour")
    tap.eq(sorted(got), sorted(c.ids("harbour") + c.ids("phrase") + c.ids("scattered")),
           "harbour finds harbours and the Harbour title")


def test_accents(cl, c):
    want = sorted(c.ids("cafe_title") + c.ids("cafe_body"))
    for q in ("cafe", "CAFÉ", "Café", "cafés"):
        got, items = found(cl, q)
        tap.eq(sorted(got), want, f"{q} finds Café and cafe")
    got, items = found(cl, "cafe")
    title_item = [i for i in items if i["id"] in c.ids("cafe_title")]
    if title_item:
        tap.eq(title_item[0]["title"], "Café culture", "the title comes back with its accent")
        tap.check("<mark>Café</mark>" in title_item[0]["snippet"],
                  f"the snippet marks Café as written: {title_item[0]['snippet']!r}")


def test_exclude_prefix_or(cl, c):
    got, items = found(cl, "harbour -solar")
    tap.eq(sorted(got), sorted(c.ids("harbour")), "harbour -solar")
    for item in items:
        body = c.meta[item["id"]]["body"]
        tap.check("solar" not in body.lower(), f"harbour -solar returned {item['id']} with solar")
    got, _ = found(cl, "harb*")
    tap.eq(sorted(got), sorted(c.ids("harbour") + c.ids("phrase") + c.ids("scattered")),
           "harb* finds every harbour article")
    got, _ = found(cl, "Quetz*")
    tap.eq(sorted(got), sorted(c.ids("quetzal_title") + c.ids("quetzal_body")), "Quetz*")
    refused(cl, [("q", "h*")], detail=r"'\*'", what="h* (one letter before '*')")
    got, _ = found(cl, "zebra OR giraffe")
    tap.eq(sorted(got), sorted(c.ids("zebra") + c.ids("giraffe")), "zebra OR giraffe")
    got, _ = found(cl, "zebra giraffe")
    tap.eq(got, [], "zebra giraffe (AND) finds nothing")
    got, _ = found(cl, "zebra")
    tap.eq(got, c.ids("zebra"), "zebra alone")
    got, _ = found(cl, "savanna zebra OR giraffe")
    tap.eq(sorted(got), sorted(c.ids("zebra") + c.ids("giraffe")),
           "savanna zebra OR giraffe: OR binds tighter than AND")


def test_drafts(cl, c):
    pub, draft = c.ids("mongoose"), c.ids("mongoose_draft")
    got, _ = found(cl, "mongoose")
    tap.eq(got, pub, "no key: the draft is not found")
    got, _ = found(cl, "mongoose", auth=True)
    tap.eq(got, pub, "key without status: published only")
    got, _ = found(cl, "mongoose", [("status", "any")], auth=True)
    tap.eq(sorted(got), sorted(pub + draft), "key, status=any: both")
    got, _ = found(cl, "mongoose", [("status", "draft")], auth=True)
    tap.eq(got, draft, "key, status=draft: the draft only")
    for status in ("draft", "any"):
        resp = refused(cl, [("q", "mongoose"), ("status", status)], 401,
                       what=f"status={status} without a key")
        tap.check((resp.headers.get("WWW-Authenticate") or "").startswith("Bearer"),
                  f"status={status} without a key: WWW-Authenticate {resp.headers}")
    refused(cl, [("q", "mongoose"), ("status", "bogus")], 400, what="status=bogus")


def test_filters(cl, c):
    walrus = [c.meta[i] for i in c.ids("walrus")]
    since, until = "2023-06-04T12:00:00Z", "2023-06-10T12:00:00Z"
    cases = [
        ([("category", "polar")], lambda a: a["category"] == "polar"),
        ([("tag", "ice")], lambda a: "ice" in a["tags"]),
        ([("tag", "coast")], lambda a: "coast" in a["tags"]),
        ([("author", "bob")], lambda a: a["author"] == "bob"),
        ([("since", since)], lambda a: a["published_at"] >= since),
        ([("until", until)], lambda a: a["published_at"] < until),
        ([("since", since), ("until", until)], lambda a: since <= a["published_at"] < until),
        ([("category", "marine"), ("tag", "sea"), ("author", "ann"), ("since", since),
          ("until", until)],
         lambda a: a["category"] == "marine" and "sea" in a["tags"] and a["author"] == "ann"
         and since <= a["published_at"] < until),
        ([("category", "nature")], lambda a: False),
    ]
    for extra, keep in cases:
        want = sorted(a["id"] for a in walrus if keep(a))
        got, _ = found(cl, "walrus", extra)
        tap.eq(sorted(got), want, f"walrus with {extra}")
    got, _ = found(cl, "walrus", [("since", "2023-06-04T14:00:00+02:00")])
    tap.eq(sorted(got), sorted(a["id"] for a in walrus if a["published_at"] >= since),
           "since with an offset is the same instant")
    refused(cl, [("q", "walrus"), ("since", "yesterday")], detail="since", what="since=yesterday")
    refused(cl, [("q", "walrus"), ("until", "2023-13-01T00:00:00Z")], detail="until",
            what="until with month 13")


def test_comments(cl, c):
    visible, hidden = c.comments["visible"], c.comments["draft"]
    got, items = found(cl, "pelican", kind="comments")
    tap.eq(sorted(got), sorted(visible), "type=comments finds the comments, not the draft's")
    for item in items:
        tap.eq(item["article_id"], c.comment_host, f"comment {item['id']} article_id")
        tap.check(re.search(r"<mark>pelicans?</mark>", item["snippet"], re.I),
                  f"comment snippet {item['snippet']!r} marks pelican")
        tap.check("<b>" not in item["snippet"], f"comment snippet not escaped: {item['snippet']}")
    got, _ = found(cl, "pelican", [("status", "any")], auth=True, kind="comments")
    tap.eq(sorted(got), sorted(visible + hidden), "type=comments, key, status=any: the draft's too")
    got, _ = found(cl, "pelican", auth=True, kind="comments")
    tap.eq(sorted(got), sorted(visible), "type=comments with a key, no status: published only")
    got, _ = found(cl, "pelican", kind="articles")
    tap.eq(got, [], "type=articles does not find words only in comments")
    got, _ = found(cl, "mongoose", kind="comments")
    tap.eq(got, [], "type=comments does not find article text")
    refused(cl, [("q", "pelican"), ("type", "comments"), ("category", "x")], 400,
            what="an article filter with type=comments")
    refused(cl, [("q", "pelican"), ("type", "comments"), ("status", "any")], 401,
            what="type=comments status=any without a key")


def test_ties(cl, c):
    got, items = found(cl, "osprey")
    osprey = c.ids("osprey")  # created on days 12, 10, 11
    tap.eq(got, [osprey[0], osprey[2], osprey[1]], "identical text: newest published_at first")
    tap.eq(len({i["score"] for i in items}), 1, "identical text: one score")
    tap.eq([i["published_at"] for i in items],
           ["2024-01-12T08:00:00Z", "2024-01-11T08:00:00Z", "2024-01-10T08:00:00Z"],
           "published_at of the tied results")


def test_snippets(cl, c):
    got, items = found(cl, "narwhal")
    tap.require(got == c.ids("narwhal"), f"narwhal finds {got}")
    snip = items[0]["snippet"]
    tap.check("<mark>narwhal</mark>" in snip, f"snippet marks narwhal: {snip!r}")
    tap.check("&lt;script&gt;alert(1)&lt;/script&gt;" in snip, f"script escaped: {snip!r}")
    tap.check("<script" not in snip.lower(), f"raw <script in the snippet: {snip!r}")
    tap.check("&amp;" in snip, f"& escaped: {snip!r}")
    tap.check("&quot;friends&quot;" in snip or "&#34;friends&#34;" in snip,
              f"double quotes escaped: {snip!r}")
    bare = re.sub(r"</?mark>", "", snip)
    tap.check("<" not in bare and ">" not in bare, f"markup other than <mark>: {snip!r}")
    tap.check(not re.search(r"&(?!amp;|lt;|gt;|quot;|#\d+;)", bare), f"bare & in {snip!r}")
    tap.eq(items[0]["title"], "Arctic", "the title is plain JSON text")
    got, items = found(cl, "script")
    tap.eq(got, c.ids("narwhal"), "the escaped word is searchable")
    if items:
        tap.check("&lt;<mark>script</mark>&gt;" in items[0]["snippet"],
                  f"a match inside escaped markup: {items[0]['snippet']!r}")


# ---- pages ----------------------------------------------------------------------


def walk(cl, params, via):
    """Follows a search from its first page to its last; returns (items, responses)."""
    items, pages = [], []
    target = search_path(params)
    while target is not None and len(pages) < 50:
        resp = cl.request("GET", target)
        page = check_page(resp, what=f"page {len(pages) + 1} of {target}")
        tap.require(page is not None, f"page {len(pages) + 1}: {resp}")
        items += page
        pages.append(resp)
        if via == "cursor":
            cur = resp.json["next_cursor"]
            target = None if cur is None else search_path(params + [("cursor", cur)])
        else:
            nxt = resp.links().get("next")
            tap.check((nxt is None) == (resp.json["next_cursor"] is None),
                      f"Link {nxt!r} disagrees with next_cursor {resp.json['next_cursor']!r}")
            target = target_path(nxt) if nxt else None
    return items, pages


def check_walk(c, items, pages, want, label):
    got = [i["id"] for i in items]
    tap.eq(len(got), len(set(got)), f"{label}: no article twice")
    tap.eq(sorted(got), sorted(want), f"{label}: every match")
    tap.eq(len(pages), -(-len(want) // 7), f"{label}: pages of 7")
    check_order(items, "published_at", label + " (across pages)")


def test_pages(cl, c):
    want = c.ids("lemming")
    tap.require(len(want) == LEMMINGS, f"{len(want)} lemming articles")
    params = [("q", "lemming"), ("limit", "7")]
    by_cursor, pages = walk(cl, params, "cursor")
    check_walk(c, by_cursor, pages, want, "walk via next_cursor")
    scores = {}
    for item in by_cursor:
        scores.setdefault(item["score"], set()).add(item["id"])
    tap.eq(sorted(scores.values(), key=min),
           sorted((set(c.ids(f"lemming{k}")) for k in range(4)), key=min),
           "each class of identical text shares one score (ties cross page boundaries)")
    by_link, pages = walk(cl, params, "link")
    check_walk(c, by_link, pages, want, "walk via Link")
    tap.eq([i["id"] for i in by_link], [i["id"] for i in by_cursor], "both walks agree")

    since = c.meta[want[10]]["published_at"]
    filtered = [("q", "lemming"), ("category", "nature"), ("since", since), ("limit", "7")]
    fwant = [i for i in want
             if c.meta[i]["category"] == "nature" and c.meta[i]["published_at"] >= since]
    items, pages = walk(cl, filtered, "link")
    check_walk(c, items, pages, fwant, "filtered walk via Link")
    for resp in pages[:-1]:
        link = resp.links().get("next", "")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
        tap.eq(urllib.parse.urlsplit(link).path, "/v1/search", "Link path")
        for name, value in filtered:
            tap.eq(query.get(name), [value], f"Link {link!r} repeats {name}")


def test_page_errors(cl, c):
    refused(cl, [("q", "lemming"), ("cursor", "!!")], what="cursor !!")
    refused(cl, [("q", "lemming"), ("cursor", "AAAAAAAA")], what="cursor AAAAAAAA")
    refused(cl, [("q", "lemming"), ("cursor", "")], what="empty cursor")
    listing = cl.request("GET", "/v1/articles?limit=1")
    cur = (listing.json or {}).get("next_cursor")
    tap.require(listing.status == 200 and cur, f"an articles cursor: {listing}")
    refused(cl, [("q", "lemming"), ("cursor", cur)], what="a /v1/articles cursor")
    comments = cl.request("GET", search_path([("q", "pelican"), ("type", "comments"),
                                              ("limit", "1")]))
    ccur = (comments.json or {}).get("next_cursor")
    tap.require(comments.status == 200 and ccur, f"a comment-search cursor: {comments}")
    refused(cl, [("q", "lemming"), ("cursor", ccur)], what="a comment-search cursor on articles")
    first = cl.request("GET", search_path([("q", "lemming"), ("limit", "2")]))
    acur = (first.json or {}).get("next_cursor")
    tap.require(first.status == 200 and acur, f"an article-search cursor: {first}")
    refused(cl, [("q", "pelican"), ("type", "comments"), ("cursor", acur)],
            what="an article-search cursor on comments")
    refused(cl, [("q", "lemming"), ("cursor", acur[:-2])], what="a truncated cursor")


def test_request_errors(cl, c):
    expect(tap, cl.request("GET", "/v1/search"), 400, what="no q")
    refused(cl, [("limit", "5")], detail=r"\bq\b", what="no q, other parameters")
    refused(cl, [("q", "")], what="empty q")
    refused(cl, [("q", "zebra"), ("type", "bogus")], detail="type", what="type=bogus")
    refused(cl, [("q", "zebra"), ("type", "")], what="empty type")
    for limit in ("0", "101", "-1", "abc", "1.5"):
        refused(cl, [("q", "zebra"), ("limit", limit)], detail="limit", what=f"limit={limit}")
    got, _ = found(cl, "zebra", [("type", "articles")])
    tap.eq(got, c.ids("zebra"), "type=articles explicitly")
    # A text holding %00 stays encoded (http.c), so a NUL never cuts the query short.
    got, _ = found(cl, "zebra\x00")
    tap.eq(got, [], "q=zebra%00 is not read as q=zebra")
    head = cl.request("HEAD", search_path([("q", "zebra")]))
    expect(tap, head, 200, empty_body=True, what="HEAD /v1/search")
    post = cl.request("POST", search_path([("q", "zebra")]), {})
    expect(tap, post, 405, what="POST /v1/search")


# ---- hostile input ----------------------------------------------------------------


def hostile_inputs():
    """(label, q, expected) where q is str, bytes or ("raw", text) and expected
    is (status, detail regex or None): the one answer newsd gives."""
    thousand = " ".join(f"w{i}" for i in range(1000))
    return [
        ("unbalanced quote", '"solar harbour', (200, None)),
        ("lone opening quote", '"', (400, "no words")),
        ("quote at the end", 'solar"', (200, None)),
        ("three quotes", '"""', (400, "no words")),
        ("empty quotes", '""', (400, None)),
        ("lone *", "*", (400, None)),
        ("* * *", "* * *", (400, None)),
        ("lone -", "-", (400, None)),
        ("a hundred -", "-" * 100, (400, None)),
        ("--x", "--x", (400, "exclu")),
        ("-solar alone", "-solar", (400, "exclu")),
        ("NEAR(", "NEAR(", (200, None)),
        ("NEAR(a b)", "NEAR(a b)", (200, None)),
        ("NEAR with distance", "NEAR(solar harbour, 2)", (200, None)),
        ("title:x", "title:x", (200, None)),
        ("body:x", "body:x", (200, None)),
        ("title : solar", "title : solar", (200, None)),
        ("^x", "^x", (200, None)),
        ("solar^harbour", "solar^harbour", (200, None)),
        ("AND alone", "AND", (400, None)),
        ("OR alone", "OR", (400, "OR")),
        ("NOT alone", "NOT", (200, None)),
        ("a OR", "a OR", (400, "OR")),
        ("OR b", "OR b", (400, "OR")),
        ("OR OR", "OR OR", (400, "OR")),
        ("zebra OR OR giraffe", "zebra OR OR giraffe", (400, "OR")),
        ("a NOT b", "a NOT b", (200, None)),
        ("zebra -zebra", "zebra -zebra", (200, None)),
        ("control %01", "\x01", (400, None)),
        ("control %1F after a word", "zebra\x1f", (200, None)),
        ("DEL %7F", "\x7f", (400, None)),
        ("tab, newline, return", "\t\n\r", (400, None)),
        ("only spaces", " " * 100, (400, None)),
        ("NUL inside", "zebra\x00giraffe", (200, None)),
        ("NUL alone", "\x00", (200, None)),
        ("invalid UTF-8 %FF%FE", b"\xff\xfe", (400, "UTF-8")),
        ("truncated UTF-8", b"zebra \xc3", (400, "UTF-8")),
        ("overlong UTF-8", b"\xc0\xaf", (400, "UTF-8")),
        ("UTF-8 surrogate", b"\xed\xa0\x80", (400, "UTF-8")),
        ("10 KB of text", "zebra " * 1707, (400, "shorten")),
        ("513 bytes", "x" * 513, (400, "shorten")),
        # the byte limit (512) is reached long before the term limit
        ("1,000 terms", thousand, (400, "shorten")),
        ("17 terms", " ".join(["zebra"] * 17), (400, r"\b16\b.*terms|terms.*\b16\b")),
        ("exactly 16 terms", " ".join(["zebra"] * 16), (200, None)),
        ("a word of 500 characters", "a" * 500, (200, None)),
        ("emoji alone", "🦓", (400, None)),
        ("emoji and a word", "zebra 🦓", (200, None)),
        ("CJK", "東京", (200, None)),
        ("Hebrew", "שלום עולם", (200, None)),
        ("Arabic", "مرحبا بالعالم", (200, None)),
        ("zero-width space", "zeb\u200bra", (200, None)),
        ("combining accent", "cafe\u0301", (200, None)),
        ("SQL injection", "'; DROP TABLE articles; --", (200, None)),
        ("SQL injection in a phrase", '" OR 1=1 --', (200, None)),
        ("SQL injection after a word", "zebra'); DELETE FROM articles; --", (200, None)),
        ("column set", "{title body}: x", (200, None)),
        ("x + y", "x + y", (200, None)),
        ('"a" * "b"', '"a" * "b"', (200, None)),
        ('col:"x"', 'col:"x"', (200, None)),
        ("*x", "*x", (200, None)),
        ("x**", "x**", (400, r"'\*'")),
        ("zebra**", "zebra**", (200, None)),
        ('"solar harbour"*', '"solar harbour"*', (200, None)),
        ("(((", "(((", (400, None)),
        (")))", ")))", (400, None)),
        ("rank:", "rank:bm25(10.0, 1.0)", (200, None)),
        ("rank MATCH", "x rank MATCH 'y'", (200, None)),
        ("articles_fts", "articles_fts", (200, None)),
        ("bm25(", "bm25(", (200, None)),
        ("bm25(articles_fts)", "bm25(articles_fts)", (200, None)),
        ("percent signs", "100% sure", (200, None)),
        ("%%", "%%", (400, None)),
        ("literal %25", "%25", (200, None)),
        ("malformed escape %", ("raw", "%"), (400, "no words")),
        ("malformed escape %G1", ("raw", "%G1"), (200, None)),
        ("plus sign unencoded", ("raw", "zebra+giraffe"), (200, None)),
        ("backslash", "back\\slash", (200, None)),
        ("lone backslash", "\\", (400, None)),
        ("escaped quotes", '\\" OR \\"', (200, None)),
    ]


def test_hostile(cl, label, q, want):
    started = time.monotonic()
    resp = cl.request("GET", search_path([("q", q)]))
    took = time.monotonic() - started
    tap.check(took < SLOW, f"{label}: answered in {took:.1f} s")
    tap.require(resp.status == want[0], f"{label}: status {resp.status}, want {want[0]}: "
                f"{short(resp.body)}")
    if resp.status == 200:
        check_page(resp, what=label)
        return
    expect(tap, resp, 400, what=label)  # a problem document with a detail
    detail = (resp.json or {}).get("detail") or ""
    tap.check(len(detail) > 10, f"{label}: a detail that says what to change: {detail!r}")
    if want[1]:
        tap.check(re.search(want[1], detail), f"{label}: detail {detail!r} !~ {want[1]!r}")


def snapshot(cl):
    """Every article (drafts too) as (id, slug, title, updated_at, comment_count)."""
    rows, target = [], "/v1/articles?status=any&limit=100"
    while target:
        resp = cl.request("GET", target, auth=True)
        tap.require(resp.status == 200, f"GET {target}: {resp}")
        rows += [(a["id"], a["slug"], a["title"], a["updated_at"], a["comment_count"])
                 for a in resp.json["data"]]
        cur = resp.json["next_cursor"]
        target = f"/v1/articles?status=any&limit=100&cursor={enc(cur)}" if cur else None
    return rows


def run_hostile(cl, c):
    before = tap.run("snapshot before the hostile inputs", snapshot, cl)
    inputs = hostile_inputs()
    tap.run("at least 50 hostile inputs", lambda: tap.check(len(inputs) >= 50, str(len(inputs))))
    for label, q, want in inputs:
        tap.run(f"hostile q: {label}", test_hostile, cl, label, q, want)

    def after():
        expect(tap, cl.request("GET", "/health"), 200, {"status": "ok"}, what="health")
        rows = snapshot(cl)
        tap.eq(len(rows), len(c.meta), "articles count unchanged")
        tap.check(rows == before, "articles unchanged by the hostile inputs")
        got, _ = found(cl, "zebra")
        tap.eq(got, c.ids("zebra"), "the index still answers")

    tap.run("healthy and unchanged after the hostile inputs", after)


# ---- main -------------------------------------------------------------------------


def session():
    started = time.monotonic()
    with Server(BIN) as srv:
        cl = Client(srv, tap)
        try:
            c = tap.run("a corpus of a few hundred articles", build_corpus, cl)
            if c is None:
                return
            for name, fn in (
                ("a title hit beats body hits", test_title_beats_body),
                ("an exact phrase beats scattered words", test_phrase),
                ("stems match (porter)", test_stems),
                ("case and accents are ignored", test_accents),
                ("excluded words, prefixes, OR", test_exclude_prefix_or),
                ("drafts need a key and a status", test_drafts),
                ("the list filters combine with search", test_filters),
                ("type=comments", test_comments),
                ("ties are broken by recency", test_ties),
                ("snippets mark matches and escape HTML", test_snippets),
                ("pages via next_cursor and Link", test_pages),
                ("bad cursors", test_page_errors),
                ("bad requests", test_request_errors),
            ):
                tap.run(name, fn, cl, c)
            run_hostile(cl, c)
        finally:
            cl.close()
        tap.stop_server(srv)
    tap.diag(f"search session took {time.monotonic() - started:.1f} s")


tap.run("search session", session)
tap.done()
