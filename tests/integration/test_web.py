#!/usr/bin/env python3
"""test_web.py: the reader web page at "/", end to end in headless Chromium.

Starts two newsd servers (one plain, one with pre-moderation and a tight
comment limit), seeds articles and comment threads through the API, and runs
tests/browser/reader.mjs, which drives Debian's chromium with playwright-core
(from $ND_NODE_TOOLS, installed by scripts/test). Each check the browser
script reports becomes one TAP point here: the list and its "More" cursor,
the category menu (every category with its count from /v1/categories, one
of them without an article on the first page, and the fallback to the
categories of the loaded articles when that request fails) and filter,
the filter bar (the tag list and the author menu with the seed's exact counts;
tag, author and category combined, kept in the address across a reload; the
oldest-first order paged by "More" without repeats), keyboard use, threaded comments, posting comments and replies, hostile
comments shown as text, search snippets with <mark>, the moderation and 429
messages, no horizontal scrolling at 360 px, and no console errors or CSP
violations. Afterwards the API is asked whether the comments posted in the
page were really stored, under the right parents.
Screenshots are saved in $ND_BUILD_ROOT/screenshots/.

A missing chromium or playwright-core fails the test: scripts/test installs both.
"""

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (LIMITS_PER_PROCESS, SLOWDOWN, Re, Server, Tap,  # noqa: E402
                     binary_from_argv, case, source_root)

BIN = binary_from_argv()
tap = Tap()

CHROMIUM = "/usr/bin/chromium"
NODE_TOOLS = os.environ.get("ND_NODE_TOOLS") or os.path.join(
    source_root(), "tests", "node", "node_modules")
PLAYWRIGHT = os.path.join(NODE_TOOLS, "playwright-core", "index.mjs")
SCRIPT = os.path.join(source_root(), "tests", "browser", "reader.mjs")
# A server under valgrind (ND_SERVER_WRAPPER) answers many times slower.
BROWSER_TIMEOUT = 240 * SLOWDOWN
WAIT_MS = 10000 * SLOWDOWN  # the longest wait for one thing in the page

CATEGORIES = ["World", "Science", "Sport"]
# The oldest article, alone in its category: never on the first page of the list, so only
# GET /v1/categories can put this category in the page's menu before "More" is pressed.
ARCHIVE = "Archive"
TOPICS = ["Council budget", "Comet survey", "Cup final", "Rail timetable", "Glacier study",
          "Marathon route", "Library opening", "Vaccine trial", "Chess olympiad",
          "Bridge repairs", "Telescope upgrade"]
# Authors of the series, in turn; "" is an article without an author (counted nowhere).
AUTHORS = ["Lena Park", "Omar Said", "Jo Brandt", ""]
TOP_TAGS = 8  # tags the page shows before "All tags" (filters.js)

THREAD_BODY = ("The harbour lights were switched on again on Saturday after two dark winters."
               "\n\nCrowds gathered along the quay to watch.\nA brass band played until late."
               "\n\nThe lights stay on every night until the end of September.")

POST = {
    "author": "Browser Tester",
    "top": "Posted from the browser test: lovely pictures.",
    "reply": "A reply written in the browser test.",
    "hostile": '<img src=x onerror="window.__pwned=5">',
}

STATIC_CASES = [
    case("GET / is the reader page with its own policy", "GET", "/",
         expect_headers={"Content-Type": "text/html; charset=utf-8",
                         "Content-Security-Policy": Re(r"^default-src 'none'; script-src 'self'")}),
    case("the page's script is served", "GET", "/assets/app.js",
         expect_headers={"Content-Type": "text/javascript; charset=utf-8"}),
    case("the page's style sheet is served", "GET", "/assets/style.css",
         expect_headers={"Content-Type": "text/css; charset=utf-8"}),
    case("the page's icon is served", "GET", "/assets/icon.svg",
         expect_headers={"Content-Type": "image/svg+xml"}),
    case("an unknown asset is 404", "GET", "/assets/nothing.js", status=404),
]


def stamp(hour):
    """An RFC 3339 time, hour hours after a fixed start: a stable order."""
    day, hour = divmod(hour, 24)
    return f"2025-07-{1 + day:02d}T{hour:02d}:00:00Z"


def comment(srv, aid, author, body, parent=None):
    fields = {"author": author, "body": body}
    if parent is not None:
        fields["parent_id"] = parent
    return srv.create_comment(aid, **fields)["id"]


def seed_thread(srv, aid):
    """The comment tree of the thread article; returns what the page must show."""
    top = comment(srv, aid, "Ada", "What a lovely evening it was.")
    chain = [top]
    for depth, text in enumerate(["I was there too!", "Same here, with the children.",
                                  "Did anyone film the band?", "Yes, it is online.",
                                  "Link please: " + "harbourlights" * 15]):
        chain.append(comment(srv, aid, f"Reader {depth + 1}", text, parent=chain[-1]))
    second = comment(srv, aid, "Dee", "Second top-level comment.")
    img = '<img src=x onerror="window.__pwned=1">'
    script = "<script>window.__pwned=2</script>"
    hostile1 = comment(srv, aid, "<b>Mallory</b>", img)
    hostile2 = comment(srv, aid, "Eve", script)
    return {
        "comments": {"top": top},
        "nesting": [[chain[i + 1], chain[i]] for i in range(len(chain) - 1)],
        "top_level": [top, second, hostile1, hostile2],
        "hostile": [[hostile1, img], [hostile2, script]],
        "reply_to": chain[1],
        "deepest": chain[-1],
    }


def seed(srv):
    """Articles in three categories and one old one in a fourth, by four authors (and
    none), with fifteen tags, one with markup in its title, one with a thread. Returns
    what the page must show of the thread, and under "articles" every article as the
    server stored it."""
    articles = [srv.create_article(title="Old town maps go online",
                                   body="Scanned maps from 1850.", category=ARCHIVE,
                                   published_at="2025-06-01T00:00:00Z")]
    for i in range(22):
        topic = TOPICS[i % len(TOPICS)]
        tags = ["update", topic.split()[0].lower()] + (["weather"] if i % 5 == 0 else [])
        articles.append(srv.create_article(
            title=f"{topic}: update {i + 1}",
            body=f"Report number {i + 1} in a series.\n\nA second paragraph.",
            author=AUTHORS[i % len(AUTHORS)], category=CATEGORIES[i % 3], tags=tags,
            published_at=stamp(i)))
    articles.append(srv.create_article(
        title='<img src=x onerror="window.__pwned=3"> & <b>bold</b> claims',
        body="A zebrafish study cited <script>window.__pwned=4</script> in its "
             "notes.\n\nNothing else.",
        category="Science", published_at=stamp(22)))
    articles.append(srv.create_article(title="Storm closes the harbour for a week",
                                       body="Ferries stay in the harbour until the wind drops.",
                                       category="World", tags=["weather", "harbour"],
                                       published_at=stamp(23)))
    thread = srv.create_article(title="Harbour lights return to the old port", body=THREAD_BODY,
                                author="Ana Reporter", category="World",
                                tags=["harbour", "night life"],
                                source_url="https://example.com/harbour-lights",
                                published_at=stamp(24))
    articles.append(thread)
    # The oldest article has the second most comments: "most commented" is not "newest".
    for text in ("Lovely old maps.", "Is 1850 the oldest one?"):
        comment(srv, articles[0]["id"], "Historian", text)
    info = seed_thread(srv, thread["id"])
    info.update(id=thread["id"], slug=thread["slug"], title=thread["title"],
                paragraphs=[p.strip() for p in THREAD_BODY.split("\n\n")], articles=articles)
    return info


def counted(names):
    """[[name, count]] of each name, in the API's order (the seed's names are ASCII)."""
    return [[n, c] for n, c in sorted(collections.Counter(names).items(),
                                      key=lambda nc: (nc[0].lower(), nc[0]))]


def seeded_titles(articles, oldest=False, **filters):
    """The titles of the seeded articles that match filters, in published_at order."""
    def matches(a):
        return ((not filters.get("tag") or filters["tag"] in a["tags"]) and
                all(a[k] == v for k, v in filters.items() if k != "tag"))
    chosen = sorted((a for a in articles if matches(a)), key=lambda a: a["published_at"],
                    reverse=not oldest)
    return [a["title"] for a in chosen]


def filter_config(srv, articles):
    """What the filter bar and the filtered, sorted lists must show: counted from the
    seed, and held to what the API answers."""
    tags = counted(t for a in articles for t in a["tags"])
    authors = counted(a["author"] for a in articles if a["author"])
    for path, want in (("/v1/tags", tags), ("/v1/authors", authors)):
        resp = srv.request("GET", path)
        got = [[e["name"], e["count"]] for e in resp.json["data"]] if resp.status == 200 else resp
        tap.require(got == want, f"{path} answered {got}, the seed has {want}")
    top = sorted(tags, key=lambda nc: -nc[1])[:TOP_TAGS]
    tap.require(len(tags) > TOP_TAGS, f"only {len(tags)} tags: \"All tags\" would not show")
    tag, author, category = "weather", AUTHORS[0], "World"
    combos = {
        "tag": seeded_titles(articles, tag=tag),
        "tag_author": seeded_titles(articles, tag=tag, author=author),
        "tag_author_oldest": seeded_titles(articles, oldest=True, tag=tag, author=author),
        "author_oldest": seeded_titles(articles, oldest=True, author=author),
        "all_three": seeded_titles(articles, tag=tag, author=author, category=category),
    }
    tap.require(0 < len(combos["all_three"]) < len(combos["tag_author"]) <
                len(combos["tag"]), f"the filters do not narrow step by step: {combos}")
    for key, query in (("tag_author", f"tag={tag}&author={author}"),
                       ("all_three", f"tag={tag}&author={author}&category={category}")):
        got = titles(srv, "/v1/articles?" + query.replace(" ", "%20"))
        tap.require(got == combos[key], f"{query}: the API lists {got}, the seed {combos[key]}")
    most_commented = [articles[-1]["title"], articles[0]["title"]]
    got = titles(srv, "/v1/articles?sort=commented")[:2]
    tap.require(got == most_commented, f"sort=commented begins with {got}")
    oldest = seeded_titles(articles, oldest=True)
    first = srv.request("GET", "/v1/articles?sort=oldest")
    tap.require(first.status == 200 and first.json["next_cursor"],
                f"sort=oldest must have several pages: {first}")
    return {
        "top_tags": top,
        "all_tags": tags,
        "author_menu": ["All authors"] + [f"{n} ({c})" for n, c in authors],
        "tag": tag,
        "author": author,
        "category": category,
        "titles": combos,
        "oldest": oldest,
        "oldest_first_page": oldest[:len(first.json["data"])],
        # the thread's 9 comments, then the oldest article's 2 (seed and seed_thread)
        "most_commented": most_commented,
    }


def titles(srv, path):
    items, _ = srv.walk(path)
    return [item["title"] for item in items]


def browser_config(srv, limited, thread, shots):
    first = srv.request("GET", "/v1/articles")
    search = srv.request("GET", "/v1/search?q=harbour")
    menu = srv.request("GET", "/v1/categories")
    tap.require(first.status == 200 and search.status == 200 and menu.status == 200,
                "the API does not answer lists")
    first_categories = {a["category"] for a in first.json["data"] if a["category"]}
    tap.require(first.json["next_cursor"] and ARCHIVE not in first_categories,
                f"{ARCHIVE} must have no article on the first of several pages")
    tap.require(ARCHIVE in [c["name"] for c in menu.json["data"]], f"no {ARCHIVE} in {menu}")
    return {
        "url": f"http://127.0.0.1:{srv.port}",
        "chromium": CHROMIUM,
        "timeout_ms": WAIT_MS,
        "screenshots": shots,
        "first_page": [a["title"] for a in first.json["data"]],
        "all_titles": titles(srv, "/v1/articles"),
        "categories": CATEGORIES,
        "category_menu": [f"{c['name']} ({c['count']})" for c in menu.json["data"]],
        "fallback_menu": sorted(first_categories),
        "archive": ARCHIVE,
        "archive_titles": titles(srv, "/v1/articles?category=" + ARCHIVE),
        "category": "Science",
        "category_titles": titles(srv, "/v1/articles?category=Science"),
        "tag": "weather",
        "tag_titles": titles(srv, "/v1/articles?tag=weather"),
        "filters": filter_config(srv, thread["articles"]),
        "thread": {k: v for k, v in thread.items() if k != "articles"},
        "post": POST,
        "search": "harbour",
        "search_titles": [r["title"] for r in search.json["data"]],
        "hostile_search": {"q": "zebrafish", "shows": "<script>window.__pwned=4</script>"},
        "limited": limited,
        "key": srv.key,
        "live": {"title": "Breaking: the harbour lights are live",
                 "comment": {"author": "Live reader", "body": "Seen as it happened."}},
    }


def run_browser(config):
    """Runs reader.mjs; returns (its reports, exit status, standard error)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config, f)
        path = f.name
    try:
        env = dict(os.environ, ND_NODE_TOOLS=NODE_TOOLS)
        proc = subprocess.run([shutil.which("node") or "/usr/bin/node", SCRIPT, path],
                              capture_output=True, text=True, timeout=BROWSER_TIMEOUT, env=env)
    finally:
        os.unlink(path)
    reports = []
    for line in proc.stdout.splitlines():
        try:
            reports.append(json.loads(line))
        except ValueError:
            tap.diag("browser: " + line)
    return reports, proc.returncode, proc.stderr


def report_browser(reports, status, stderr):
    for r in reports:
        if "429" in r["name"]:  # the moderated server's comment limit
            tap.run_single("browser: " + r["name"], LIMITS_PER_PROCESS,
                           lambda r=r: tap.check(r["ok"], r["detail"]))
            continue
        tap.run("browser: " + r["name"], lambda r=r: tap.check(r["ok"], r["detail"]))

    def finished():
        tap.check(status == 0, f"node exited {status}\n{stderr[-3000:]}")
        tap.check(len(reports) >= 20, f"only {len(reports)} browser checks ran\n{stderr[-3000:]}")
        tap.check(bool(reports) and reports[-1]["name"].startswith("no console errors"),
                  "the browser run stopped early")

    tap.run("browser: every check ran", finished)


def check_stored(srv, thread):
    """The comments the page posted are stored, under the parents it showed."""
    resp = srv.request("GET", f"/v1/articles/{thread['id']}/comments?limit=100")
    tap.require(resp.status == 200, f"comments list: {resp}")
    by_body = {c["body"]: c for c in resp.json["data"]}
    for key, parent in (("top", None), ("reply", thread["reply_to"]), ("hostile", None)):
        stored = by_body.get(POST[key])
        if tap.check(stored is not None, f"{key} comment not stored: {sorted(by_body)}"):
            tap.eq(stored["parent_id"], parent, f"{key} comment's parent_id")
            tap.eq(stored["author"], POST["author"], f"{key} comment's author")


def check_pending(limited_srv, aid, burst):
    resp = limited_srv.request("GET", f"/v1/articles/{aid}/comments?status=pending", auth=True)
    tap.require(resp.status == 200, f"pending list: {resp}")
    bodies = [c["body"] for c in resp.json["data"]]
    tap.eq(bodies, [f"Pending comment {i + 1}" for i in range(burst)], "pending comments stored")


def tools_present():
    tap.check(os.access(CHROMIUM, os.X_OK),
              f"{CHROMIUM} is missing (scripts/test installs chromium)")
    tap.check(os.path.isfile(PLAYWRIGHT),
              f"{PLAYWRIGHT} is missing (scripts/test installs playwright-core with npm ci)")
    tap.check(shutil.which("node") or os.access("/usr/bin/node", os.X_OK), "node is missing")


def main():
    build = os.environ.get("ND_BUILD_ROOT") or tempfile.mkdtemp(prefix="newsd-web-")
    shots = os.path.join(build, "screenshots")
    tap.run("chromium, node and playwright-core are installed", tools_present)
    burst = 2
    limited_env = {"NEWSD_COMMENT_MODERATION": "pre", "NEWSD_COMMENT_RATE": "1",
                   "NEWSD_COMMENT_BURST": str(burst)}
    # Each page load opens an event stream, and the test loads pages faster
    # than the server notices the streams they leave (a write to them does).
    web_env = {"NEWSD_EVENTS_PER_CLIENT": "64"}
    limited_env.update(web_env)
    with Server(BIN, env=web_env) as srv, Server(BIN, env=limited_env) as limited_srv:
        tap.cases(srv, STATIC_CASES)
        thread = tap.run("seed articles and comment threads", seed, srv)
        moderated = limited_srv.create_article(title="A moderated discussion", body="Say hello.")
        limited = {"url": f"http://127.0.0.1:{limited_srv.port}", "slug": moderated["slug"],
                   "burst": burst}
        if thread and tap.failed == 0:
            config = tap.run("browser configuration from the API", browser_config, srv, limited,
                             thread, shots)
            if config:
                report_browser(*run_browser(config))
                tap.diag("screenshots in " + shots)
            tap.run("comments posted in the page are stored via the API", check_stored, srv,
                    thread)
            tap.run_single("pending comments posted in the page are stored",
                           LIMITS_PER_PROCESS, check_pending, limited_srv, moderated["id"],
                           burst)
        tap.stop_server(srv)
        tap.stop_server(limited_srv, name="the moderated server exits 0 on SIGTERM")
    tap.done()


main()
