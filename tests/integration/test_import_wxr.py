#!/usr/bin/env python3
"""test_import_wxr.py: `newsd import` of WordPress exports, and of files that
are not articles, end to end through the real binary, read back over HTTP.

The fixtures in tests/fixtures/wxr (WXR 1.2, 1.1 and 1.0) are imported and
every field of every post and comment is checked through the API; a second
import changes nothing; broken XML, XML that is not a WordPress export and
hostile XML (an external entity, a billion laughs, a DOCTYPE with a SYSTEM
URL that must not be fetched) are refused with their reason and line, and
import nothing; an export given to plain `newsd import` is restored, and JSON
that newsd does not read is refused instead of stored as an article.
"""

import os
import socket
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    Server, Tap, binary_from_argv, run_cli, scratch_db, source_root,
)

BIN = binary_from_argv()
tap = Tap()
FIXTURES = os.path.join(source_root(), "tests", "fixtures", "wxr")
HARBOUR = os.path.join(FIXTURES, "harbour-gazette-1.2.xml")

HARBOUR_WALL = {
    "slug": "harbour-wall-repairs-to-start-in-may",
    "title": "Harbour wall repairs to start in May",
    "summary": ("The council has approved £2.4\u00a0million for repairs to the north harbour "
                "wall, which was damaged in the January storms.").replace("\u00a0", " "),
    "body": ("The council has approved £2.4 million for repairs to the north harbour wall, "
             "which was damaged in the January storms.\n\n"
             "What happens next\n\n"
             "Work will start on 6 May. The contractor, Quayside Civil, expects it to take six "
             "weeks.\n\n"
             "- The north car park closes from 1 May.\n"
             "- Fishing boats moor at the east quay.\n\n"
             "The wall after the storm of 14 January.\n\n"
             "“We’re relieved,” said harbour master Joan Pike."),
    "author": "Maria Hollis",
    "category": "Local News, Politics & Council",
    "tags": ["harbour", "council"],
    "source_url": ("https://harbourgazette.example/2024/02/20/"
                   "harbour-wall-repairs-to-start-in-may/"),
    "status": "published",
    "published_at": "2024-02-20T09:15:00Z",
    "comment_count": 3,
}
CAFE = {
    "slug": "cafe-owners-welcome-longer-summer-hours",
    "title": "Café owners welcome “longer” summer hours",
    "summary": "Cafés on the quay may open until 11pm & hire more staff.",
    "body": ("Cafés on the quay may stay open until 11pm from June, the council’s licensing "
             "committee decided on Wednesday.\n\n"
             "\"It’s what visitors have asked for,\" said Priya Shah, who runs the Lighthouse "
             "Café.\nShe expects to hire two more staff.\n\n"
             "Residents on Quay Street have until 15 March to object."),
    "author": "Tom O’Neil",
    "category": "Business",
    "tags": ["Cafés", "summer"],
    "source_url": ("https://harbourgazette.example/2024/02/22/"
                   "cafe-owners-welcome-longer-summer-hours/"),
    "status": "published",
    "published_at": "2024-02-22T14:00:00Z",
    "comment_count": 0,
}
BUDGET = {
    "slug": "budget-vote-delayed",
    "title": "Budget vote delayed",
    "summary": "The council’s budget vote has been moved to 12 March.",
    "body": "The council’s budget vote has been moved to 12 March.",
    "author": "Maria Hollis",
    "category": "",
    "tags": [],
    "source_url": "https://harbourgazette.example/?p=103",
    "status": "draft",
    "published_at": "2024-02-28T16:30:00Z",  # post_date, as the GMT date is zero
    "comment_count": 0,
}
# The comments of the harbour wall post in id order: (author, body, status,
# created_at, index of the parent in this list or None).
HARBOUR_COMMENTS = [
    ("Ann Baker", "Finally! The wall has been crumbling for years.\n\nWill the steps by the "
     "lifeboat station be fixed too?", "visible", "2024-02-20T10:02:00Z", None),
    ("Harbour Master", "Yes & the slipway: both are in the contract.", "visible",
     "2024-02-20T10:45:00Z", 0),
    ("Anonymous", "Will the car park close for the whole six weeks?", "pending",
     "2024-02-20T11:30:00Z", None),
    # a reply to a trashed comment: at the top level
    ("Lena Marsh", "No need for that, Rob.", "visible", "2024-02-20T13:20:00Z", None),
]
HARBOUR_OUT = (
    f"{HARBOUR}: WordPress export (WXR 1.2): 3 posts created, 0 existing, 4 comments created, "
    "0 existing, 0 refused\n"
    f"{HARBOUR}: skipped 1 page, 1 attachment, 1 menu item, 0 items of other types, 1 private, "
    "1 trashed and 0 other posts, 1 spam, 1 trashed comment, 1 pingback and trackbacks\n")


def describe(proc):
    return f"exit {proc.returncode}\nstdout: {proc.stdout!r}\nstderr: {proc.stderr!r}"


def newsd(db, *args, timeout=60):
    return run_cli(BIN, ["--db", db, *args], timeout=timeout)


def all_articles(srv):
    items, _ = srv.walk("/v1/articles?status=any&limit=100")
    return items


def get_article(srv, slug):
    resp = srv.request("GET", f"/v1/articles/{slug}", auth=True)
    tap.require(resp.status == 200, f"GET /v1/articles/{slug}: {resp}")
    return resp.json


def check_article(srv, want):
    got = get_article(srv, want["slug"])
    for field, value in want.items():
        tap.eq(got[field], value, f"{want['slug']}: {field}")
    return got


def comments(srv, article_id, query="?status=any", auth=True):
    resp = srv.request("GET", f"/v1/articles/{article_id}/comments{query}&limit=100", auth=auth)
    tap.require(resp.status == 200, f"comments of {article_id}: {resp}")
    return resp.json["data"]


def check_harbour_comments(srv, article_id):
    got = comments(srv, article_id)
    tap.eq(len(got), len(HARBOUR_COMMENTS), "harbour wall: every kept comment")
    for i, (author, body, status, created, parent) in enumerate(HARBOUR_COMMENTS[:len(got)]):
        c = got[i]
        tap.eq((c["author"], c["body"], c["status"], c["created_at"]),
               (author, body, status, created), f"comment {i}")
        tap.eq(c["parent_id"], None if parent is None else got[parent]["id"], f"comment {i} parent")
    visible = comments(srv, article_id, "?view=tree", auth=False)
    tap.eq([(c["author"], [r["author"] for r in c["replies"]]) for c in visible],
           [("Ann Baker", ["Harbour Master"]), ("Lena Marsh", [])],
           "readers see the approved comments, threaded")


def test_harbour(srv, db):
    proc = newsd(db, "import", HARBOUR)
    tap.eq((proc.returncode, proc.stdout), (0, HARBOUR_OUT), "import; " + describe(proc))
    articles = all_articles(srv)
    tap.eq(sorted(a["slug"] for a in articles),
           sorted([HARBOUR_WALL["slug"], CAFE["slug"], BUDGET["slug"]]),
           "only the published post and the draft: no page, attachment, menu item, private "
           "or trashed post")
    wall = check_article(srv, HARBOUR_WALL)
    check_article(srv, CAFE)
    check_article(srv, BUDGET)
    tap.eq(srv.request("GET", f"/v1/articles/{BUDGET['slug']}").status, 404,
           "the draft stays hidden from readers")
    check_harbour_comments(srv, wall["id"])
    return wall["id"]


def test_twice(srv, db, wall_id):
    before = all_articles(srv)
    proc = newsd(db, "import", HARBOUR)
    tap.eq((proc.returncode, proc.stdout.splitlines()[0]),
           (0, f"{HARBOUR}: WordPress export (WXR 1.2): 0 posts created, 3 existing, 0 comments "
               "created, 4 existing, 0 refused"), "second import; " + describe(proc))
    tap.eq(all_articles(srv), before, "the articles are unchanged")
    check_harbour_comments(srv, wall_id)


def test_older_versions(folder):
    db = scratch_db(folder, "old")
    one_o = os.path.join(FIXTURES, "ashcombe-1.0.xml")
    one_one = os.path.join(FIXTURES, "pellow-point-1.1.xml")
    proc = newsd(db, "import", one_o, one_one)
    tap.eq(proc.returncode, 0, describe(proc))
    tap.check("(WXR 1.0): 1 post created" in proc.stdout, "WXR 1.0 read; " + describe(proc))
    tap.check("(WXR 1.1): 1 post created" in proc.stdout, "WXR 1.1 read; " + describe(proc))
    with Server(BIN, db=db) as srv:
        ferry = check_article(srv, {
            "slug": "ferry-back-to-summer-timetable",
            "title": "Ferry back to summer timetable",
            "body": ("The passenger ferry resumes hourly crossings on Monday.\n\n"
                     "Winter tickets stay valid until the end of the month."),
            "author": "admin",  # WXR 1.0 lists no authors: the login
            "category": "Transport",  # written twice in WXR 1.0, kept once
            "tags": ["ferry"],  # domain "tag" in WXR 1.0
            "published_at": "2010-09-13T07:30:00Z",
            "status": "published",
        })
        tap.eq([(c["author"], c["parent_id"]) for c in comments(srv, ferry["id"])],
               [("Pat", None), ("Ferry Co", comments(srv, ferry["id"])[0]["id"])],
               "WXR 1.0 comments, threaded")
        tours = check_article(srv, {
            "slug": "lighthouse-tours-resume-at-easter",
            "author": "Sam Penrose",
            "category": "Heritage",
            "tags": ["lighthouse"],
            "published_at": "2013-03-28T18:05:00Z",
            "body": ("Guided tours of the lighthouse start again on Easter Saturday.\n\n"
                     "Groups of eight climb the 112 steps to the lamp room – children under 8 "
                     "cannot go up."),
        })
        tap.eq([(c["author"], c["body"], c["created_at"]) for c in comments(srv, tours["id"])],
               [("Jo", "Is it open on Easter Monday too?", "2013-03-29T08:00:00Z")],
               "WXR 1.1 comment")
        tap.stop_server(srv)


def write(folder, name, text):
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def refused(srv, db, path, says, what):
    """Imports path into the served database: refused with says, nothing changed."""
    before = all_articles(srv)
    started = time.monotonic()
    proc = newsd(db, "import", path)
    tap.eq(proc.returncode, 1, f"{what}: exit status; " + describe(proc))
    tap.eq(proc.stdout, "", f"{what}: nothing reported as imported")
    tap.check(says in proc.stderr, f"{what}: says {says!r}; " + describe(proc))
    tap.eq(all_articles(srv), before, f"{what}: nothing imported")
    return time.monotonic() - started


def test_broken(srv, db, folder):
    with open(HARBOUR, encoding="utf-8") as f:
        text = f.read()
    # the second post's id element is cut: line 231 of the fixture
    broken = write(folder, "broken.xml", text.replace("<wp:post_id>102</wp:post_id>",
                                                      "<wp:post_id>102</wp:post_idx>"))
    refused(srv, db, broken, "broken.xml: line 231: the file is not well-formed XML: Opening "
            "and ending tag mismatch", "broken XML")
    cut = write(folder, "cut.xml", text[:len(text) // 2])
    refused(srv, db, cut, "the file is not well-formed XML", "a file cut in half")
    atom = write(folder, "feed.xml", '<?xml version="1.0" encoding="utf-8"?>\n'
                 '<feed xmlns="http://www.w3.org/2005/Atom"><title>News</title></feed>\n')
    refused(srv, db, atom, "feed.xml: line 2: this XML is not a WordPress export: its root "
            "element is <feed>", "an Atom feed")
    rss = write(folder, "rss.xml", '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">'
                '<channel><title>News</title>\n<item><title>One</title></item></channel></rss>\n')
    refused(srv, db, rss, "rss.xml: line 3: this is not a WordPress export: an <item> comes "
            "before any <wp:wxr_version>", "an RSS feed")
    future = write(folder, "v2.xml", text.replace("<wp:wxr_version>1.2</wp:wxr_version>",
                                                  "<wp:wxr_version>2.0</wp:wxr_version>"))
    refused(srv, db, future, "v2.xml: line 22: this is WXR version \"2.0\"", "an unknown version")


def open_listener():
    """A non-blocking listening socket on loopback that newsd must never reach, and its port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    return listener, listener.getsockname()[1]


def close_unvisited(listener, what):
    """Fails when anything connected to listener (non-blocking), then closes it."""
    try:
        conn, _ = listener.accept()
        conn.close()
        tap.check(False, f"newsd connected to {what}")
    except BlockingIOError:
        pass
    listener.close()


def test_hostile(srv, db, folder):
    listener, port = open_listener()
    head = ('<?xml version="1.0"?>\n')
    body = ('<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel>'
            '<wp:wxr_version>1.2</wp:wxr_version>\n<item><title>&e;</title>'
            '<wp:post_id>1</wp:post_id><wp:status>publish</wp:status></item></channel></rss>\n')
    entity = write(folder, "entity.xml", head + '<!DOCTYPE rss [<!ENTITY e SYSTEM '
                   '"file:///etc/passwd">]>\n' + body)
    refused(srv, db, entity, "entity.xml: the file declares a document type", "external entity")
    remote = write(folder, "remote.xml", head + f'<!DOCTYPE rss [<!ENTITY e SYSTEM '
                   f'"http://127.0.0.1:{port}/e">]>\n' + body)
    refused(srv, db, remote, "declares a document type", "an entity by URL")
    system = write(folder, "system.xml", head + f'<!DOCTYPE rss SYSTEM '
                   f'"http://127.0.0.1:{port}/wxr.dtd">\n' + body.replace("&e;", "x"))
    refused(srv, db, system, "declares a document type", "a DOCTYPE with a SYSTEM URL")
    close_unvisited(listener, "the URL of a DOCTYPE or entity")
    decl = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">\n' for i in range(1, 10))
    laughs = write(folder, "laughs.xml", head + '<!DOCTYPE rss [\n<!ENTITY l0 "lol">\n' + decl +
                   ']>\n' + body.replace("&e;", "&l9;"))
    seconds = refused(srv, db, laughs, "laughs.xml: line ", "a billion laughs")
    tap.check(seconds < 20, f"a billion laughs refused in {seconds:.1f} s")


def test_hostile_body(srv, db, folder):
    """A post body is HTML in CDATA: a DOCTYPE in it declares nothing the HTML parser uses."""
    listener, port = open_listener()
    body = (f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "http://127.0.0.1:{port}/body">'
            '<!ENTITY big "EXPANDED">]><p>Harbour &xxe; and &big; stay as written.</p>')
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n<rss xmlns:wp="http://wordpress.org/export/'
            '1.2/" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>\n'
            '<wp:wxr_version>1.2</wp:wxr_version>\n'
            '<wp:base_blog_url>https://entities.example</wp:base_blog_url>\n'
            '<item><title>Entities in a body</title><wp:post_id>7</wp:post_id>'
            '<wp:post_name>entities-in-a-body</wp:post_name>'
            f'<content:encoded><![CDATA[{body}]]></content:encoded>'
            '<wp:status>publish</wp:status></item>\n</channel></rss>\n')
    path = write(folder, "body-entities.xml", text)
    proc = newsd(db, "import", path)
    tap.eq(proc.returncode, 0, "exit status; " + describe(proc))
    article = get_article(srv, "entities-in-a-body")
    # libxml2's HTML parser skips a DOCTYPE up to its first ">": the rest of the
    # internal subset is text, and no entity it declares is used
    tap.eq(article["body"], '!ENTITY big "EXPANDED">]>\n\nHarbour &xxe; and &big; stay as '
           'written.', "the references stay as written, nothing expanded")
    resp = srv.request("DELETE", f"/v1/articles/{article['id']}", auth=True)
    tap.eq(resp.status, 204, "the post deleted again for the tests after this one")
    close_unvisited(listener, "the URL of an entity in a post body")


def test_refused_post(srv, db, folder):
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n<rss xmlns:wp="http://wordpress.org/export/'
            '1.2/" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>\n'
            '<wp:wxr_version>1.2</wp:wxr_version>\n'
            '<wp:base_blog_url>https://refusals.example</wp:base_blog_url>\n'
            '<item><title></title><wp:post_id>5</wp:post_id><content:encoded>Text.'
            '</content:encoded><wp:status>publish</wp:status></item>\n'
            '<item><title>Kept post</title><wp:post_id>6</wp:post_id><content:encoded>Text.'
            '</content:encoded><wp:status>publish</wp:status></item>\n'
            '</channel></rss>\n')
    path = write(folder, "untitled.xml", text)
    proc = newsd(db, "import", path)
    tap.eq(proc.returncode, 1, "a refused post fails the run; " + describe(proc))
    tap.eq(proc.stderr, f"newsd: {path}:5: post 5: title: must not be empty\n",
           "the refusal names the line, the post and the rule")
    tap.check("1 post created, 0 existing, 0 comments created, 0 existing, 1 refused"
              in proc.stdout, describe(proc))
    tap.eq(get_article(srv, "kept-post")["body"], "Text.", "the other post is imported")


def test_export_to_plain_import(srv, db, folder):
    exported = os.path.join(folder, "export.jsonl")
    proc = newsd(db, "export", exported)
    tap.eq(proc.returncode, 0, describe(proc))
    fresh = scratch_db(folder, "fresh")
    proc = newsd(fresh, "import", exported)
    tap.eq(proc.returncode, 0, "an export given to plain import; " + describe(proc))
    tap.eq(proc.stdout, f"{exported}: 4 articles created, 0 existing, 4 comments created, "
           "0 lines refused\n", "restored as import --jsonl does")
    again = os.path.join(folder, "again.jsonl")
    tap.eq(newsd(fresh, "export", again).returncode, 0, "export of the restored database")
    with open(exported, encoding="utf-8") as a, open(again, encoding="utf-8") as b:
        tap.eq(b.read(), a.read(), "the restored database exports the same records")
    # the import keys came along: the WordPress export finds everything again
    proc = newsd(fresh, "import", HARBOUR)
    tap.check("0 posts created, 3 existing, 0 comments created, 4 existing" in proc.stdout,
              "WordPress import after a restore creates nothing; " + describe(proc))


def test_json_refused(srv, db, folder):
    cases = [
        ("object.json", '{"hello": "world"}\n', "line 1 is a JSON object whose \"type\" is not"),
        ("array.json", '[{"title": "x"}]\n', "the file looks like a JSON array"),
        ("pretty.json", '{\n  "type": "article",\n  "title": "x"\n}\n',
         "but line 1 is not a JSON object"),
        ("header.json", '{"type":"newsd-export","version":9}\n', "version: this newsd reads "
         "export version 1"),
    ]
    for name, text, says in cases:
        path = write(folder, name, text)
        before = all_articles(srv)
        proc = newsd(db, "import", path)
        tap.eq(proc.returncode, 1, f"{name}: exit status; " + describe(proc))
        tap.check(says in proc.stderr, f"{name}: says {says!r}; " + describe(proc))
        tap.eq(all_articles(srv), before, f"{name}: no article made of it")


def session():
    with tempfile.TemporaryDirectory(prefix="newsd-wxr-") as folder:
        db = scratch_db(folder, "news")
        with Server(BIN, db=db) as srv:
            wall_id = tap.run("the WXR 1.2 fixture, every field over HTTP", test_harbour, srv, db)
            if wall_id:
                tap.run("importing it twice changes nothing", test_twice, srv, db, wall_id)
            tap.run("broken and foreign XML is refused, nothing imported", test_broken, srv, db,
                    folder)
            tap.run("hostile XML is refused without network access", test_hostile, srv, db,
                    folder)
            tap.run("entities in a post body's HTML are neither fetched nor expanded",
                    test_hostile_body, srv, db, folder)
            tap.run("a refused post is reported, the others imported", test_refused_post, srv,
                    db, folder)
            tap.run("an export given to plain import is restored", test_export_to_plain_import,
                    srv, db, folder)
            tap.run("JSON that newsd does not read is refused", test_json_refused, srv, db,
                    folder)
            tap.stop_server(srv)
        tap.run("WXR 1.0 and 1.1", test_older_versions, folder)


tap.run("import session", session)
tap.done()
