#!/usr/bin/env python3
"""test_feeds.py: the Atom, RSS and JSON feeds of a running newsd.

Articles are seeded through the API (a hostile one among them: markup, "]]>",
entities, quotes, emoji, a carriage return, a noncharacter), plus one whose
title a foreign SQL write fills with control characters, and a draft that
must never appear. Each feed is parsed with Python's xml.etree and checked by
the real `xmllint --noout`, then held to what RFC 4287, RSS 2.0 and JSON Feed
1.1 require: every required element, each exactly as often as allowed, RFC
3339 and RFC 822 dates, absolute links. Entries must be the published
articles in the list's order; text must come back as it was written. Then
filters, limit, bad parameters, ETag and 304, HEAD, gzip, cache invalidation
by writes, the Host header and the public-url and feed-size settings.
Entries link to the page a person reads: by default the reader page's view
of the article (/#/articles/SLUG, the route the page's router.js serves), or the page the
article-url setting makes; Atom ids and RSS guids stay the API's URLs.
"""

import email.utils
import gzip
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    Server, Tap, binary_from_argv, expect, raw_exchange, run_cli, settled,
)

BIN = binary_from_argv()
tap = Tap()

A = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RFC822 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep"
                    r"|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d (\+0000|GMT)$")

HOSTILE = {
    "title": "<script>alert('x')</script> & &amp; ]]> \"q\" 🎉 é \uffff end",
    "summary": "Sum <i>it</i> & ]]> \"q\" 'a'\r\nnext line",
    "body": ("Intro <b>bold</b> &amp; ]]> 'single' \"double\"\r\nsecond line\tafter a tab\n"
             "\n  \t\nPara two 🎉 <![CDATA[ x ]]>\rthird line\n\n\ufffe last &lt;"),
    "author": 'Ann "A" <ann@example.com> & co',
    "category": "Tech & Science <x>",
    "tags": ["a&b", "]]>", "emoji 🎉", "Tech & Science <x>"],
    "source_url": "https://example.com/a?b=1&c=2",
    "published_at": "2025-03-01T00:00:00Z",
}
CONTROL_TITLE = "Ctrl\x01\x1b[0m end\x7f"


# ---- helpers ----------------------------------------------------------------


def xml_clean(text):
    """text without the characters XML 1.0 forbids (what newsd drops)."""
    def ok(c):
        o = ord(c)
        return o in (9, 10, 13) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000
    return "".join(c for c in text if ok(c))


def paragraphs(text):
    """Plain text as newsd's HTML renders it: paragraphs of lines joined by \\n."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    paras, cur = [], []
    for line in lines:
        if line.strip(" \t") == "":
            if cur:
                paras.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    if cur:
        paras.append("\n".join(cur))
    return paras


class HtmlParas(html.parser.HTMLParser):
    """The paragraphs of newsd's feed HTML; anything but <p> and <br> is an error."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paras, self.cur, self.problems = [], None, []

    def handle_starttag(self, tag, attrs):
        if tag == "p" and self.cur is None:
            self.cur = []
        elif tag != "br" or self.cur is None:
            self.problems.append(f"unexpected <{tag}>")

    def handle_endtag(self, tag):
        if tag == "p" and self.cur is not None:
            self.paras.append("".join(self.cur))
            self.cur = None
        else:
            self.problems.append(f"unexpected </{tag}>")

    def handle_data(self, data):
        if self.cur is not None:
            self.cur.append(data)
        elif data.strip():
            self.problems.append(f"text outside a paragraph: {data!r}")


def html_paragraphs(markup):
    p = HtmlParas()
    p.feed(markup)
    p.close()
    tap.check(not p.problems, f"feed HTML: {p.problems}: {markup!r}")
    return p.paras


def unix(stamp):
    return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
               .timestamp())


def fetch(srv, path, headers=None, auth=False):
    resp = srv.request("GET", path, headers=headers, auth=auth)
    tap.require(resp.status == 200, f"GET {path}: {resp}")
    return resp


def xmllint(body, what):
    """The real xmllint must find the document well-formed."""
    proc = subprocess.run(["xmllint", "--noout", "-"], input=body, capture_output=True,
                          timeout=30)
    tap.check(proc.returncode == 0 and not proc.stderr,
              f"xmllint refuses {what}: {proc.stderr.decode(errors='replace')[:800]}")


def parse_xml(resp, what):
    xmllint(resp.body, what)
    try:
        return ET.fromstring(resp.body)
    except ET.ParseError as e:
        tap.require(False, f"{what} is not well-formed XML: {e}: {resp.body[:300]!r}")


def one(parent, tag, what):
    """The single child tag of parent; fails unless there is exactly one."""
    found = parent.findall(tag)
    tap.check(len(found) == 1, f"{what}: {len(found)} <{tag}> elements, want exactly 1")
    return found[0] if found else ET.Element(tag)


def at_most_one(parent, tag, what):
    found = parent.findall(tag)
    tap.check(len(found) <= 1, f"{what}: {len(found)} <{tag}> elements, want at most 1")
    return found[0] if found else None


def absolute(url):
    parts = urllib.parse.urlsplit(url or "")
    return parts.scheme in ("http", "https") and parts.netloc != ""


def only_children(elem, allowed, what):
    bad = sorted({c.tag for c in elem if c.tag not in allowed})
    tap.check(not bad, f"{what}: elements not allowed here: {bad}")


# ---- the structure each specification requires -----------------------------

FEED_CHILDREN = {A + t for t in ("author", "category", "contributor", "generator", "icon", "logo",
                                  "id", "link", "rights", "subtitle", "title", "updated",
                                  "entry")}
ENTRY_CHILDREN = {A + t for t in ("author", "category", "content", "contributor", "id", "link",
                                   "published", "rights", "source", "summary", "title",
                                   "updated")}


def atom_text(elem, what):
    """An Atom text construct: type text or html, no child elements."""
    tap.check(elem.get("type", "text") in ("text", "html"), f"{what}: type {elem.get('type')!r}")
    tap.check(len(elem) == 0, f"{what}: a text construct of type text/html has child elements")
    return elem.text or ""


def atom_date(elem, what):
    tap.check(RFC3339.match(elem.text or "") is not None,
              f"{what}: {elem.text!r} is not an RFC 3339 date-time")
    return elem.text or ""


def atom_person(elem, what):
    return one(elem, A + "name", what + " author").text or ""


def atom_links(elem, what):
    links = elem.findall(A + "link")
    seen = set()
    for link in links:
        tap.check(absolute(link.get("href")), f"{what}: link href {link.get('href')!r}")
        rel = link.get("rel", "alternate")
        if rel == "alternate":
            key = (link.get("type"), link.get("hreflang"))
            tap.check(key not in seen, f"{what}: two alternate links with type/hreflang {key}")
            seen.add(key)
    return {link.get("rel", "alternate"): link for link in links}


def atom_common(el, what):
    """What a feed and an entry both carry (RFC 4287 4.1.1 and 4.1.2): id,
    title, updated, links and authors, each checked as it is read."""
    return {
        "id": one(el, A + "id", what).text,
        "title": atom_text(one(el, A + "title", what), what + " title"),
        "updated": atom_date(one(el, A + "updated", what), what + " updated"),
        "links": atom_links(el, what),
        "authors": [atom_person(a, what) for a in el.findall(A + "author")],
    }


def check_atom(resp, what):
    """RFC 4287 section 4, structurally. Returns (feed facts, entries)."""
    root = parse_xml(resp, what)
    tap.require(root.tag == A + "feed", f"{what}: root is {root.tag}, want atom:feed")
    only_children(root, FEED_CHILDREN, what)
    feed = atom_common(root, what)
    tap.check(absolute(feed["id"]), f"{what}: feed id {feed['id']!r} is not an absolute IRI")
    tap.check("self" in feed["links"], f"{what}: no link rel=self")
    at_most_one(root, A + "generator", what)
    entries = []
    for i, e in enumerate(root.findall(A + "entry")):
        entries.append(check_atom_entry(e, f"{what} entry {i}", feed))
    ids = [e["id"] for e in entries]
    tap.check(len(set(ids)) == len(ids), f"{what}: entry ids repeat: {ids}")
    return feed, entries


def check_atom_entry(e, what, feed):
    only_children(e, ENTRY_CHILDREN, what)
    entry = dict(atom_common(e, what),
                 categories=[c.get("term") for c in e.findall(A + "category")])
    tap.check(absolute(entry["id"]), f"{what}: id {entry['id']!r} is not an absolute IRI")
    tap.check(entry["authors"] or feed["authors"], f"{what}: no author in the entry or the feed")
    tap.check(all(entry["categories"]), f"{what}: a category without term")
    published = at_most_one(e, A + "published", what)
    entry["published"] = atom_date(published, what + " published") if published is not None else ""
    summary = at_most_one(e, A + "summary", what)
    entry["summary"] = atom_text(summary, what + " summary") if summary is not None else None
    content = at_most_one(e, A + "content", what)
    if content is None:
        tap.check("alternate" in entry["links"], f"{what}: neither content nor alternate link")
        entry["content"] = None
    else:
        tap.check(content.get("src") is None, f"{what}: out-of-line content")
        entry["content"] = atom_text(content, what + " content")
        entry["content_type"] = content.get("type", "text")
    return entry


CHANNEL_CHILDREN = {"title", "link", "description", "language", "copyright", "managingEditor",
                    "webMaster", "pubDate", "lastBuildDate", "category", "generator", "docs",
                    "cloud", "ttl", "image", "rating", "textInput", "skipHours", "skipDays",
                    "item", A + "link"}
ITEM_CHILDREN = {"title", "link", "description", "author", "category", "comments", "enclosure",
                 "guid", "pubDate", "source", CONTENT + "encoded", DC + "creator"}


def rfc822(text, what):
    tap.check(RFC822.match(text or "") is not None, f"{what}: {text!r} is not an RFC 822 date")
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        tap.check(False, f"{what}: {text!r} does not parse")
        return 0
    tap.check(when.strftime("%a") == text[:3], f"{what}: {text!r} names the wrong weekday")
    return int(when.timestamp())


def check_rss(resp, what):
    """RSS 2.0: rss version 2.0, one channel with title, link, description. Returns
    (channel facts, items)."""
    root = parse_xml(resp, what)
    tap.require(root.tag == "rss" and root.get("version") == "2.0",
                f"{what}: root {root.tag} version {root.get('version')!r}")
    channel = one(root, "channel", what)
    only_children(channel, CHANNEL_CHILDREN, what + " channel")
    facts = {"title": one(channel, "title", what).text or "",
             "link": one(channel, "link", what).text,
             "description": one(channel, "description", what).text or ""}
    tap.check(absolute(facts["link"]), f"{what}: channel link {facts['link']!r}")
    build = at_most_one(channel, "lastBuildDate", what)
    facts["lastBuildDate"] = rfc822(build.text, what) if build is not None else None
    selfs = [l for l in channel.findall(A + "link") if l.get("rel") == "self"]
    tap.check(len(selfs) == 1, f"{what}: {len(selfs)} atom:link rel=self, want 1")
    facts["self"] = selfs[0].get("href") if selfs else None
    items = []
    for i, it in enumerate(channel.findall("item")):
        w = f"{what} item {i}"
        only_children(it, ITEM_CHILDREN, w)
        title = at_most_one(it, "title", w)
        desc = at_most_one(it, "description", w)
        tap.check(title is not None or desc is not None, f"{w}: neither title nor description")
        guid = one(it, "guid", w)
        if guid.get("isPermaLink", "true") == "true":
            tap.check(absolute(guid.text), f"{w}: permalink guid {guid.text!r} is not a URL")
        link = one(it, "link", w)
        tap.check(absolute(link.text), f"{w}: link {link.text!r}")
        creator = at_most_one(it, DC + "creator", w)
        encoded = at_most_one(it, CONTENT + "encoded", w)
        items.append({
            "title": (title.text or "") if title is not None else None,
            "description": (desc.text or "") if desc is not None else None,
            "content": (encoded.text or "") if encoded is not None else None,
            "guid": guid.text, "guid_permalink": guid.get("isPermaLink"), "link": link.text,
            "pubDate": rfc822(one(it, "pubDate", w).text, w + " pubDate"),
            "categories": [c.text for c in it.findall("category")],
            "creator": creator.text if creator is not None else None,
        })
    return facts, items


JSON_FEED_KEYS = {"version", "title", "home_page_url", "feed_url", "description", "user_comment",
                  "next_url", "icon", "favicon", "authors", "author", "language", "expired",
                  "hubs", "items"}
JSON_ITEM_KEYS = {"id", "url", "external_url", "title", "content_html", "content_text", "summary",
                  "image", "banner_image", "date_published", "date_modified", "authors", "author",
                  "tags", "language", "attachments"}


def check_authors(value, what):
    tap.check(isinstance(value, list) and value and all(
        isinstance(a, dict) and isinstance(a.get("name"), str) and a["name"] for a in value),
        f"{what}: authors {value!r}")


def check_json_feed(resp, what):
    """JSON Feed 1.1: version, title, items; every item an id string and content."""
    tap.require(resp.json is not None, f"{what}: not JSON: {resp.json_error}")
    doc = resp.json
    tap.require(isinstance(doc, dict), f"{what}: not an object")
    extra = {k for k in doc if k not in JSON_FEED_KEYS and not k.startswith("_")}
    tap.check(not extra, f"{what}: keys the spec does not define: {extra}")
    tap.eq(doc.get("version"), "https://jsonfeed.org/version/1.1", what + " version")
    tap.check(isinstance(doc.get("title"), str) and doc["title"], f"{what}: title")
    tap.check(absolute(doc.get("home_page_url")), f"{what}: home_page_url")
    tap.check(absolute(doc.get("feed_url")), f"{what}: feed_url")
    check_authors(doc.get("authors"), what)
    tap.require(isinstance(doc.get("items"), list), f"{what}: items is not an array")
    for i, item in enumerate(doc["items"]):
        w = f"{what} item {i}"
        extra = {k for k in item if k not in JSON_ITEM_KEYS and not k.startswith("_")}
        tap.check(not extra, f"{w}: keys the spec does not define: {extra}")
        tap.check(isinstance(item.get("id"), str) and item["id"], f"{w}: id {item.get('id')!r}")
        tap.check(isinstance(item.get("content_html"), str) or
                  isinstance(item.get("content_text"), str), f"{w}: no content")
        for key in ("url", "external_url"):
            if key in item:
                tap.check(absolute(item[key]), f"{w}: {key} {item[key]!r}")
        for key in ("date_published", "date_modified"):
            tap.check(RFC3339.match(item.get(key) or "") is not None, f"{w}: {key}")
        tap.check(isinstance(item.get("tags", []), list) and
                  all(isinstance(t, str) for t in item.get("tags", [])), f"{w}: tags")
        if "authors" in item:
            check_authors(item["authors"], w)
    ids = [item["id"] for item in doc["items"]]
    tap.check(len(set(ids)) == len(ids), f"{what}: item ids repeat")
    return doc


# ---- seeding ----------------------------------------------------------------


def seed(srv):
    """The articles every test reads; returns {name: article} (as created)."""
    made = {}
    made["control"] = srv.create_article(title="Control placeholder", body="Plain body.",
                                         published_at="2024-12-01T00:00:00Z")
    made["oldest"] = srv.create_article(title="Oldest world news", body="One.",
                                        category="World", tags=["alpha"],
                                        published_at="2025-01-01T00:00:00Z")
    made["beta_world"] = srv.create_article(title="Beta world", body="Two.", category="World",
                                            tags=["beta", "alpha"], author="Bob",
                                            published_at="2025-02-01T00:00:00Z")
    made["hostile"] = srv.create_article(**HOSTILE)
    made["beta_only"] = srv.create_article(title="Beta only", body="Four.", tags=["beta"],
                                           published_at="2025-04-01T00:00:00Z")
    made["tie_a"] = srv.create_article(title="Same time A", body="Five.",
                                       published_at="2025-05-01T00:00:00Z")
    made["tie_b"] = srv.create_article(title="Same time B", body="Six.",
                                       published_at="2025-05-01T00:00:00Z")
    made["draft"] = srv.create_article(title="Secret draft", body="Not for readers.",
                                       status="draft", category="World", tags=["alpha"],
                                       published_at="2025-06-01T00:00:00Z")
    # Control characters cannot come in through the API; a foreign write puts them in.
    srv.sql("UPDATE articles SET title = ? WHERE id = ?", (CONTROL_TITLE, made["control"]["id"]))
    return made


def published_order(srv, query=""):
    """The ids of the article list (what the feeds must follow)."""
    resp = fetch(srv, "/v1/articles?limit=100" + ("&" + query if query else ""))
    return [a["id"] for a in resp.json["data"]]


def base_of(srv):
    return f"http://127.0.0.1:{srv.port}"


# ---- tests ------------------------------------------------------------------


def test_atom(srv, made):
    resp = fetch(srv, "/v1/feed.atom")
    tap.eq(resp.headers.get("Content-Type"), TYPES["atom"], "Atom Content-Type")
    feed, entries = check_atom(resp, "atom")
    base = base_of(srv)
    tap.eq(feed["links"]["self"].get("href"), base + "/v1/feed.atom", "self link")
    tap.eq(feed["links"]["self"].get("type"), "application/atom+xml", "self link type")
    tap.eq(feed["id"], base + "/v1/feed.atom", "the feed id is its self URL")
    tap.eq(feed["title"], "newsd", "feed title")
    tap.check(feed["authors"] == ["newsd"], f"feed author {feed['authors']}")
    order = published_order(srv)
    tap.eq(len(order), 7, "seven published articles")
    tap.eq([e["id"] for e in entries], [f"{base}/v1/articles/{i}" for i in order],
           "entries: the published articles, newest first, as the list orders them")
    tap.check(made["draft"]["id"] not in order, "the draft is not listed")
    tap.check(not any("Secret" in e["title"] for e in entries), "the draft is not in the feed")
    newest = max(unix(fetch(srv, f"/v1/articles/{i}").json["updated_at"]) for i in order)
    tap.eq(unix(feed["updated"]), newest, "feed updated = the newest updated_at")


def check_reader_page(srv, page):
    """page opens the reader page (what a browser fetches: no fragment) on the
    view of the article that app.js routes #/articles/SLUG to."""
    parts = urllib.parse.urlsplit(page)
    tap.eq(parts.path, "/", "the link's path is the reader page")
    resp = fetch(srv, parts.path)
    tap.eq((resp.status, resp.headers.get("Content-Type", "").split(";")[0]), (200, "text/html"),
           "GET of the link (what the browser asks for)")
    script = fetch(srv, "/assets/router.js").body.decode("utf-8")
    tap.check("return '#/articles/' + encodeURIComponent(slug);" in script and
              "/^\\/articles\\/([^/]+)$/.exec(path)" in script,
              "the page's router.js makes and routes #/articles/SLUG")
    tap.eq(parts.fragment, "/articles/" + page.rsplit("/", 1)[1], "the fragment is that route")


def test_atom_text(srv, made):
    _, entries = check_atom(fetch(srv, "/v1/feed.atom"), "atom")
    by_id = {e["id"].rsplit("/", 1)[1]: e for e in entries}
    hostile = by_id[str(made["hostile"]["id"])]
    tap.eq(hostile["title"], xml_clean(HOSTILE["title"]), "hostile title round-trips")
    tap.eq(hostile["summary"], HOSTILE["summary"], "summary round-trips, CR included")
    tap.eq(hostile["content_type"], "html", "content is HTML")
    tap.eq(html_paragraphs(hostile["content"]), paragraphs(xml_clean(HOSTILE["body"])),
           "body paragraphs round-trip through the HTML content")
    tap.eq(hostile["authors"], [HOSTILE["author"]], "entry author")
    tap.eq(hostile["categories"], ["Tech & Science <x>", "a&b", "]]>", "emoji 🎉"],
           "categories: the category, then the tags, none twice")
    page = f"{base_of(srv)}/#/articles/{made['hostile']['slug']}"
    tap.eq(hostile["links"]["alternate"].get("href"), page, "alternate: the reader page's view")
    tap.eq(hostile["links"]["alternate"].get("type"), "text/html", "alternate: a page")
    check_reader_page(srv, page)
    tap.eq(hostile["links"]["via"].get("href"), HOSTILE["source_url"], "via: the source URL")
    tap.eq(hostile["published"], HOSTILE["published_at"], "published")
    control = by_id[str(made["control"]["id"])]
    tap.eq(control["title"], "Ctrl[0m end\x7f", "control characters dropped, DEL kept")
    tap.eq(by_id[str(made["oldest"]["id"])]["authors"], [],
           "an article without author has no entry author")


def test_rss(srv, made):
    resp = fetch(srv, "/v1/feed.rss")
    tap.eq(resp.headers.get("Content-Type"), TYPES["rss"], "RSS Content-Type")
    facts, items = check_rss(resp, "rss")
    base = base_of(srv)
    tap.eq(facts["self"], base + "/v1/feed.rss", "atom:link self")
    tap.eq(facts["link"], base + "/", "channel link: the reader page")
    tap.eq(facts["title"], "newsd", "channel title")
    tap.check(facts["description"], "channel description")
    order = published_order(srv)
    tap.eq([it["guid"] for it in items], [f"{base}/v1/articles/{i}" for i in order],
           "items in list order, drafts left out")
    tap.eq(items[0]["guid_permalink"], "false", "the guid is an id, not the page to open")
    articles = {i: fetch(srv, f"/v1/articles/{i}").json for i in order}
    tap.eq(facts["lastBuildDate"], max(unix(a["updated_at"]) for a in articles.values()),
           "lastBuildDate = the newest updated_at")
    for it, i in zip(items, order):
        tap.eq(it["pubDate"], unix(articles[i]["published_at"]), f"pubDate of {i}")
        tap.eq(it["link"], f"{base}/#/articles/{articles[i]['slug']}", f"link of {i}")
    hostile = items[order.index(made["hostile"]["id"])]
    tap.eq(hostile["title"], xml_clean(HOSTILE["title"]), "title is plain text, round-trips")
    tap.eq(html_paragraphs(hostile["description"]), paragraphs(HOSTILE["summary"]),
           "description: the summary as HTML")
    tap.eq(html_paragraphs(hostile["content"]), paragraphs(xml_clean(HOSTILE["body"])),
           "content:encoded: the body as HTML")
    tap.eq(hostile["categories"], ["Tech & Science <x>", "a&b", "]]>", "emoji 🎉"], "categories")
    tap.eq(hostile["creator"], HOSTILE["author"], "dc:creator")
    tap.eq(items[order.index(made["oldest"]["id"])]["creator"], None, "no creator without author")


def test_json(srv, made):
    resp = fetch(srv, "/v1/feed.json")
    tap.eq(resp.headers.get("Content-Type"), TYPES["json"], "JSON Feed Content-Type")
    doc = check_json_feed(resp, "json")
    base = base_of(srv)
    tap.eq(doc["feed_url"], base + "/v1/feed.json", "feed_url")
    tap.eq(doc["home_page_url"], base + "/", "home_page_url")
    order = published_order(srv)
    tap.eq([it["id"] for it in doc["items"]], [f"{base}/v1/articles/{i}" for i in order],
           "items in list order, drafts left out")
    hostile = doc["items"][order.index(made["hostile"]["id"])]
    want = fetch(srv, f"/v1/articles/{made['hostile']['id']}").json
    tap.eq(hostile["title"], HOSTILE["title"], "title exactly, noncharacter included")
    tap.eq(hostile["content_text"], HOSTILE["body"], "content_text is the body, byte for byte")
    tap.eq(hostile["summary"], HOSTILE["summary"], "summary")
    tap.eq(html_paragraphs(hostile["content_html"]), paragraphs(HOSTILE["body"]), "content_html")
    tap.eq(hostile["date_published"], HOSTILE["published_at"], "date_published")
    tap.eq(hostile["date_modified"], want["updated_at"], "date_modified")
    tap.eq(hostile["url"], f"{base}/#/articles/{made['hostile']['slug']}", "url: the page")
    tap.eq(hostile["external_url"], HOSTILE["source_url"], "external_url")
    tap.eq(hostile["tags"], ["Tech & Science <x>", "a&b", "]]>", "emoji 🎉"], "tags")
    tap.eq(hostile["authors"], [{"name": HOSTILE["author"]}], "authors")
    control = doc["items"][order.index(made["control"]["id"])]
    tap.eq(control["title"], CONTROL_TITLE, "JSON keeps control characters (escaped)")


def test_filters(srv, made):
    base = base_of(srv)
    for query in ("category=World", "tag=alpha", "tag=beta", "category=World&tag=beta",
                  "tag=" + urllib.parse.quote("]]>", safe=""),
                  "category=" + urllib.parse.quote("Tech & Science <x>", safe=""),
                  "author=Bob", "tag=nothing-has-this"):
        want = published_order(srv, query)
        _, entries = check_atom(fetch(srv, "/v1/feed.atom?" + query), "atom?" + query)
        tap.eq([e["id"] for e in entries], [f"{base}/v1/articles/{i}" for i in want],
               f"atom?{query}: the list's articles")
        _, items = check_rss(fetch(srv, "/v1/feed.rss?" + query), "rss?" + query)
        tap.eq(len(items), len(want), f"rss?{query}: as many items")
        doc = check_json_feed(fetch(srv, "/v1/feed.json?" + query), "json?" + query)
        tap.eq(len(doc["items"]), len(want), f"json?{query}: as many items")
    tap.eq(len(published_order(srv, "category=World&tag=beta")), 1, "the filters combine")
    feed, _ = check_atom(fetch(srv, "/v1/feed.atom?tag=a%26b&category=World"), "filtered")
    tap.eq(feed["links"]["self"].get("href"),
           base + "/v1/feed.atom?category=World&tag=a%26b", "self link repeats the filters")
    tap.eq(feed["title"], "newsd: category World, tag a&b", "title names the filters")
    odd = "?category=%FF%01%3Cx%3E%26"  # invalid UTF-8, a control character, markup
    feed, entries = check_atom(fetch(srv, "/v1/feed.atom" + odd), "atom" + odd)
    tap.eq((feed["title"], entries), ("newsd: category \ufffd<x>&", []),
           "a filter value that is not text is cleaned for the title")
    tap.eq(feed["links"]["self"].get("href"), base + "/v1/feed.atom?category=%FF%01%3Cx%3E%26",
           "and kept, percent-encoded, in the self link")
    check_rss(fetch(srv, "/v1/feed.rss" + odd), "rss" + odd)
    doc = check_json_feed(fetch(srv, "/v1/feed.json" + odd), "json" + odd)
    tap.eq(doc["title"], "newsd: category \ufffd<x>&", "JSON Feed title")
    doc = check_json_feed(fetch(srv, "/v1/feed.json?limit=2"), "json?limit=2")
    tap.eq(len(doc["items"]), 2, "limit=2 gives two items")
    for fmt in ("atom", "rss", "json"):
        resp = fetch(srv, f"/v1/feed.{fmt}", auth=True)
        tap.check(b"Secret draft" not in resp.body, f"{fmt}: no draft even with a key")


def test_bad_parameters(srv):
    cases = [("since=yesterday", 400), ("until=2025-13-01T00:00:00Z", 400), ("limit=0", 400),
             ("limit=101", 400), ("limit=x", 400), ("status=draft", 400), ("status=any", 400)]
    for fmt in ("atom", "rss", "json"):
        for query, status in cases:
            resp = srv.request("GET", f"/v1/feed.{fmt}?{query}")
            expect(tap, resp, status, what=f"GET /v1/feed.{fmt}?{query}")
        resp = srv.request("GET", f"/v1/feed.{fmt}?status=draft", auth=True)
        expect(tap, resp, 400, what=f"{fmt}?status=draft with a key")
        expect(tap, srv.request("GET", f"/v1/feed.{fmt}?status=published"), 200,
               what=f"{fmt}?status=published")
        expect(tap, srv.request("POST", f"/v1/feed.{fmt}", {}, auth=True), 405,
               what=f"POST /v1/feed.{fmt}")


def test_etag_head(srv):
    for fmt in ("atom", "rss", "json"):
        path = f"/v1/feed.{fmt}"
        first = fetch(srv, path)
        etag = first.headers.get("ETag")
        tap.check(etag and re.match(r'^"[^"]+"$', etag), f"{fmt}: strong ETag {etag!r}")
        again = fetch(srv, path)
        tap.eq((again.body, again.headers.get("ETag")), (first.body, etag),
               f"{fmt}: the same bytes and ETag twice")
        cond = srv.request("GET", path, headers={"If-None-Match": etag})
        tap.eq((cond.status, cond.body), (304, b""), f"{fmt}: If-None-Match gives 304")
        tap.eq(cond.headers.get("ETag"), etag, f"{fmt}: 304 carries the ETag")
        other = srv.request("GET", path, headers={"If-None-Match": '"other"'})
        tap.eq(other.status, 200, f"{fmt}: another ETag gives 200")
        head = srv.request("HEAD", path)
        tap.eq((head.status, head.body), (200, b""), f"{fmt}: HEAD is 200 without body")
        tap.eq(head.headers.get("Content-Type"), TYPES[fmt], f"{fmt}: HEAD Content-Type")
        tap.eq(head.headers.get("Content-Length"), str(len(first.body)),
               f"{fmt}: HEAD Content-Length")
        tap.eq(head.headers.get("ETag"), etag, f"{fmt}: HEAD ETag")


def test_gzip(srv):
    for fmt in ("atom", "rss", "json"):
        path = f"/v1/feed.{fmt}"
        plain = fetch(srv, path)
        tap.check(len(plain.body) > 1024, f"{fmt}: the feed is over 1 KiB ({len(plain.body)})")
        zipped = fetch(srv, path, headers={"Accept-Encoding": "gzip"})
        tap.eq(zipped.headers.get("Content-Encoding"), "gzip", f"{fmt}: Content-Encoding")
        tap.check("accept-encoding" in (zipped.headers.get("Vary") or "").lower(),
                  f"{fmt}: Vary: {zipped.headers.get('Vary')!r}")
        tap.eq(zipped.headers.get("Content-Type"), TYPES[fmt], f"{fmt}: gzip Content-Type")
        tap.eq(gzip.decompress(zipped.body), plain.body, f"{fmt}: decompresses to the feed")
        tap.check(zipped.headers.get("ETag") != plain.headers.get("ETag"),
                  f"{fmt}: the encoded answer has its own ETag")


def test_invalidation(srv, made):
    before = {fmt: fetch(srv, f"/v1/feed.{fmt}") for fmt in ("atom", "rss", "json")}
    art = srv.create_article(title="Breaking: a new article", body="Fresh.",
                             published_at="2030-01-01T00:00:00Z")
    base = base_of(srv)
    # each read right after a write: settled (the cluster's other instance)
    after = settled(lambda: fetch(srv, "/v1/feed.atom"),
                    lambda r: r.headers.get("ETag") != before["atom"].headers.get("ETag"))
    _, entries = check_atom(after, "atom after a write")
    tap.eq(entries[0]["id"], f"{base}/v1/articles/{art['id']}", "the new article leads the feed")
    tap.check(after.headers.get("ETag") != before["atom"].headers.get("ETag"), "a new ETag")
    cond = settled(lambda: srv.request("GET", "/v1/feed.rss", headers={
        "If-None-Match": before["rss"].headers.get("ETag")}), lambda r: r.status == 200)
    tap.eq(cond.status, 200, "the old RSS ETag no longer matches")
    doc = check_json_feed(settled(lambda: fetch(srv, "/v1/feed.json"),
                                  lambda r: b"Breaking: a new article" in r.body),
                          "json after a write")
    tap.eq(doc["items"][0]["title"], "Breaking: a new article", "JSON Feed sees it too")
    resp = srv.request("PATCH", f"/v1/articles/{art['id']}", {"title": "Edited headline"},
                       auth=True)
    tap.eq(resp.status, 200, "PATCH")
    _, entries = check_atom(settled(lambda: fetch(srv, "/v1/feed.atom"),
                                    lambda r: b"Edited headline" in r.body), "atom after PATCH")
    tap.eq(entries[0]["title"], "Edited headline", "a PATCH shows in the feed")
    resp = srv.request("PATCH", f"/v1/articles/{art['id']}", {"status": "draft"}, auth=True)
    tap.eq(resp.status, 200, "PATCH to draft")
    _, entries = check_atom(settled(lambda: fetch(srv, "/v1/feed.atom"),
                                    lambda r: b"Edited headline" not in r.body),
                            "atom after unpublishing")
    tap.check(entries[0]["id"] != f"{base}/v1/articles/{art['id']}",
              "an article made a draft leaves the feed")
    tap.eq(srv.request("DELETE", f"/v1/articles/{art['id']}", auth=True).status, 204, "DELETE")
    tap.eq(settled(lambda: fetch(srv, "/v1/feed.atom").body, lambda b: b == before["atom"].body),
           before["atom"].body, "back to the feed before")


def test_host(srv):
    for host in ("feeds.example:8080", "other.example", "feeds.example:8080"):
        resp = fetch(srv, "/v1/feed.atom", headers={"Host": host})
        feed, entries = check_atom(resp, f"atom for Host {host}")
        tap.eq(feed["links"]["self"].get("href"), f"http://{host}/v1/feed.atom",
               f"Host {host}: self link")
        tap.check(all(e["id"].startswith(f"http://{host}/") for e in entries),
                  f"Host {host}: entry ids")
        doc = check_json_feed(fetch(srv, "/v1/feed.json", headers={"Host": host}), "json")
        tap.eq(doc["feed_url"], f"http://{host}/v1/feed.json", f"Host {host}: feed_url")
    resp = fetch(srv, "/v1/feed.rss", headers={"Host": "x&2'3.example:1"})
    facts, _ = check_rss(resp, "rss with & and ' in Host")
    tap.eq(facts["self"], "http://x&2'3.example:1/v1/feed.rss", "odd Host characters escaped")
    resp = raw_exchange(srv.port, b"GET /v1/feed.atom HTTP/1.0\r\n\r\n", method="GET")
    tap.require(resp is not None, "an HTTP/1.0 request without Host gets an answer")
    expect(tap, resp, 400, what="HTTP/1.0 feed without Host")


def test_settings():
    """public-url and feed-size; an empty database; a bad public-url."""
    args = ["--public-url", "https://news.example/base/", "--feed-size", "2"]
    with Server(BIN, args=args) as srv:
        for fmt in ("atom", "rss", "json"):
            resp = fetch(srv, f"/v1/feed.{fmt}")
            if fmt == "atom":
                feed, entries = check_atom(resp, "empty atom")
                tap.eq(entries, [], "no entries yet")
                tap.eq(feed["updated"], "1970-01-01T00:00:00Z", "empty feed: updated is the epoch")
                tap.eq(feed["links"]["self"].get("href"),
                       "https://news.example/base/v1/feed.atom", "public-url makes the links")
            elif fmt == "rss":
                facts, items = check_rss(resp, "empty rss")
                tap.eq((items, facts["lastBuildDate"]), ([], 0), "empty RSS")
            else:
                doc = check_json_feed(resp, "empty json")
                tap.eq(doc["items"], [], "empty JSON Feed")
        for i in range(3):
            srv.create_article(title=f"Article {i}", body="Text.",
                               published_at=f"2025-0{i + 1}-01T00:00:00Z")
        resp = fetch(srv, "/v1/feed.atom", headers={"Host": "evil.example"})
        feed, entries = check_atom(resp, "atom with public-url")
        tap.eq([e["title"] for e in entries], ["Article 2", "Article 1"], "feed-size 2")
        tap.check(all(e["id"].startswith("https://news.example/base/v1/articles/")
                      for e in entries), "public-url beats the Host header")
        tap.eq(len(check_json_feed(fetch(srv, "/v1/feed.json?limit=3"), "json")["items"]), 3,
               "limit overrides feed-size")
        tap.stop_server(srv)
    with tempfile.TemporaryDirectory(prefix="newsd-it-") as tmp:
        db = os.path.join(tmp, "newsd.db")
        for bad in ("ftp://news.example", "https://news.example/?x=1", "news.example"):
            proc = run_cli(BIN, ["--db", db, "--public-url", bad, "migrate"])
            tap.check(proc.returncode == 2 and "public-url" in proc.stderr,
                      f"--public-url {bad!r}: exit {proc.returncode}, stderr {proc.stderr!r}")
        proc = run_cli(BIN, ["--db", db, "migrate"], env={"NEWSD_PUBLIC_URL": "https://ok.example"})
        tap.eq(proc.returncode, 0, f"NEWSD_PUBLIC_URL is a setting: {proc.stderr!r}")
        for bad, why in (("https://example.org/news/", "must hold {slug} or {id}"),
                         ("https://example.org/{title}", "may hold only the placeholders {slug} and {id}"),
                         ("/news/{slug}", "must start with http:// or https://")):
            proc = run_cli(BIN, ["--db", db, "--article-url", bad, "serve"])
            tap.check(proc.returncode == 2 and f"--article-url: article-url: article-url {why}" in proc.stderr,
                      f"--article-url {bad!r}: exit {proc.returncode}, stderr {proc.stderr!r}")
        proc = run_cli(BIN, ["--db", db, "migrate"], env={"NEWSD_ARTICLE_URL": "https://x/{id"})
        tap.check(proc.returncode == 2 and "NEWSD_ARTICLE_URL" in proc.stderr,
                  f"NEWSD_ARTICLE_URL is checked: {proc.returncode} {proc.stderr!r}")


def test_article_url():
    """article-url: a site with its own frontend; every format links to its page."""
    template = "https://example.org/news/{slug}?ref={id}"
    with Server(BIN, env={"NEWSD_ARTICLE_URL": template}) as srv:
        art = srv.create_article(title="Rail timetable changes", body="New times.")
        want = f"https://example.org/news/{art['slug']}?ref={art['id']}"
        _, entries = check_atom(fetch(srv, "/v1/feed.atom"), "atom")
        tap.eq(entries[0]["links"]["alternate"].get("href"), want, "Atom alternate")
        tap.eq(entries[0]["id"], f"{base_of(srv)}/v1/articles/{art['id']}", "Atom id unchanged")
        _, items = check_rss(fetch(srv, "/v1/feed.rss"), "rss")
        tap.eq(items[0]["link"], want, "RSS link")
        doc = check_json_feed(fetch(srv, "/v1/feed.json"), "json")
        tap.eq(doc["items"][0]["url"], want, "JSON Feed url")
        tap.stop_server(srv)


def test_body_budget():
    """Bodies up to 1 MiB per feed: later entries keep their summary and link only."""
    with Server(BIN, args=["--max-body", "2M"]) as srv:
        big = "word " * 140_000  # 700,000 bytes
        for i in range(3):
            srv.create_article(title=f"Long read {i}", body=big, summary=f"Summary {i}",
                               published_at=f"2025-0{i + 1}-01T00:00:00Z")
        resp = fetch(srv, "/v1/feed.atom")
        tap.check(len(resp.body) < 1_500_000, f"the Atom feed is {len(resp.body)} bytes")
        _, entries = check_atom(resp, "atom over the body budget")
        tap.eq([e["title"] for e in entries], ["Long read 2", "Long read 1", "Long read 0"],
               "every article is still an entry")
        tap.eq([e["content"] is not None for e in entries], [True, False, False],
               "only the first body fits the 1 MiB budget")
        tap.check(len(entries[0]["content"]) > 600_000, "and it is whole")
        facts, items = check_rss(fetch(srv, "/v1/feed.rss"), "rss over the body budget")
        tap.eq([item["content"] is not None for item in items], [True, False, False],
               "RSS: content:encoded for the first item only")
        doc = check_json_feed(fetch(srv, "/v1/feed.json"), "json over the body budget")
        tap.eq(["content_html" in item for item in doc["items"]], [True, False, False],
               "JSON Feed: content_html for the first item only")
        tap.eq([item["content_text"][:9] for item in doc["items"][1:]],
               ["Summary 1", "Summary 0"], "later items carry their summary as content_text")
        tap.stop_server(srv)


def main():
    if shutil.which("xmllint") is None:
        tap.run("xmllint is installed (libxml2-utils)", lambda: tap.check(False, "no xmllint"))
        tap.done()
    with Server(BIN) as srv:
        made = tap.run("seed articles through the API and a foreign write", seed, srv)
        if made is None:
            tap.done()
        tap.run("Atom: RFC 4287 structure, order, drafts left out, updated", test_atom, srv, made)
        tap.run("Atom: hostile text round-trips, control characters dropped", test_atom_text, srv,
                made)
        tap.run("RSS 2.0: structure, order, dates, text round-trips", test_rss, srv, made)
        tap.run("JSON Feed 1.1: structure, order, text exactly", test_json, srv, made)
        tap.run("filters: the list's articles, self link and title", test_filters, srv, made)
        tap.run("bad parameters: 400 problems like the list", test_bad_parameters, srv)
        tap.run("ETag, 304 and HEAD", test_etag_head, srv)
        tap.run("gzip for clients that accept it", test_gzip, srv)
        tap.run("writes change the feeds at once", test_invalidation, srv, made)
        tap.run("links follow the Host header, cached per host", test_host, srv)
        tap.stop_server(srv)
    tap.run("public-url, feed-size, empty feeds, bad public-url and article-url", test_settings)
    tap.run("article-url: entries link to the site's own page", test_article_url)
    tap.run("a feed carries at most 1 MiB of bodies", test_body_budget)
    tap.done()


if __name__ == "__main__":
    main()
