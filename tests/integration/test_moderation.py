#!/usr/bin/env python3
"""test_moderation.py: comment moderation, end to end.

With comment-moderation = pre a new comment is 201 with status "pending" and
invisible to readers (GET 404, lists, tree, comment_count, search) until a key
holder approves it with PATCH /v1/comments/{id} {"status":"visible"}; key
holders list pending comments with ?status=pending|any; a reader cannot reply
to a pending comment; a visible reply to a pending comment shows under the
nearest visible comment above it. With moderation off (the default) comments
are visible at once, and a key holder can still hide one.
"""

import os
import sys
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    INT, TIMESTAMP, Re, Server, Tap, binary_from_argv, expect, settled,
)

BIN = binary_from_argv()
tap = Tap()


def ids(items):
    return [item["id"] for item in items]


def shape(nodes):
    return [(n["id"], shape(n.get("replies", []))) for n in nodes]


def listing(srv, aid, query="", auth=False):
    resp = srv.request("GET", f"/v1/articles/{aid}/comments{query}", auth=auth)
    tap.require(resp.status == 200, f"list {query}: {resp}")
    return resp.json["data"]


def count(srv, aid):
    return srv.request("GET", f"/v1/articles/{aid}").json["comment_count"]


def search_ids(srv, word):
    resp = srv.request("GET", "/v1/search?type=comments&q=" + urllib.parse.quote(word))
    tap.require(resp.status == 200, f"search {word}: {resp}")
    return ids(resp.json["data"])


def post(srv, aid, body, parent=None, auth=False):
    fields = {"author": "reader", "body": body}
    if parent is not None:
        fields["parent_id"] = parent
    return srv.request("POST", f"/v1/articles/{aid}/comments", fields, auth=auth)


def patch(srv, cid, body, auth=True):
    return srv.request("PATCH", f"/v1/comments/{cid}", body, auth=auth)


def test_pending_flow(srv):
    aid = srv.create_article(title="Moderated", body="x")["id"]
    resp = post(srv, aid, "a quokka sighting")
    want = {"id": INT, "article_id": aid, "parent_id": None, "author": "reader",
            "body": "a quokka sighting", "status": "pending", "created_at": TIMESTAMP}
    expect(tap, resp, 201, want, what="POST under pre-moderation")
    tap.require(resp.status == 201, "no comment")
    cid = resp.json["id"]
    tap.eq(resp.headers.get("Location"), f"/v1/comments/{cid}", "Location")
    # Invisible to readers everywhere.
    expect(tap, srv.request("GET", f"/v1/comments/{cid}"), 404, what="GET without a key")
    expect(tap, srv.request("HEAD", f"/v1/comments/{cid}"), 404, what="HEAD without a key")
    tap.eq(listing(srv, aid), [], "flat list without a key")
    tap.eq(listing(srv, aid, "?view=tree"), [], "tree without a key")
    tap.eq(listing(srv, aid, "?status=visible"), [], "?status=visible")
    tap.eq(count(srv, aid), 0, "comment_count before approval")
    tap.eq(search_ids(srv, "quokka"), [], "search before approval")
    # Key holders see it.
    expect(tap, srv.request("GET", f"/v1/comments/{cid}", auth=True), 200,
           {"status": "pending"}, what="GET with a key")
    for status in ("pending", "any"):
        expect(tap, srv.request("GET", f"/v1/articles/{aid}/comments?status={status}"), 401,
               headers={"WWW-Authenticate": Re(r"^Bearer")}, what=f"?status={status} without key")
        tap.eq(ids(listing(srv, aid, f"?status={status}", auth=True)), [cid],
               f"?status={status} with a key")
    expect(tap, srv.request("GET", f"/v1/articles/{aid}/comments?status=hidden", auth=True), 400,
           what="?status=hidden")
    # Approval.
    expect(tap, patch(srv, cid, {"status": "visible"}, auth=False), 401, what="PATCH without key")
    expect(tap, patch(srv, cid, {"status": "visible"}, auth="Bearer nope"), 401,
           what="PATCH with a bad key")
    resp = patch(srv, cid, {"status": "visible"})
    expect(tap, resp, 200, dict(want, id=cid, status="visible"), what="approve")
    # each read right after a write: settled (in the cluster another instance
    # may answer before it has heard of the write)
    expect(tap, settled(lambda: srv.request("GET", f"/v1/comments/{cid}"),
                        lambda r: r.status == 200), 200, {"status": "visible"},
           what="GET after approval")
    tap.eq(settled(lambda: ids(listing(srv, aid)), lambda got: got == [cid]), [cid],
           "flat list after approval")
    tap.eq(settled(lambda: ids(listing(srv, aid, "?view=tree")), lambda got: got == [cid]),
           [cid], "tree after approval")
    tap.eq(listing(srv, aid, "?status=pending", auth=True), [], "queue after approval")
    tap.eq(settled(lambda: count(srv, aid), lambda n: n == 1), 1, "comment_count after approval")
    tap.eq(settled(lambda: search_ids(srv, "quokka"), lambda got: got == [cid]), [cid],
           "search after approval")
    # Hidden again.
    expect(tap, patch(srv, cid, {"status": "pending"}), 200, {"status": "pending"}, what="hide")
    expect(tap, settled(lambda: srv.request("GET", f"/v1/comments/{cid}"),
                        lambda r: r.status == 404), 404, what="GET after hiding")
    tap.eq(settled(lambda: count(srv, aid), lambda n: n == 0), 0, "comment_count after hiding")
    tap.eq(settled(lambda: search_ids(srv, "quokka"), lambda got: got == []), [],
           "search after hiding")
    expect(tap, patch(srv, cid, {}), 200, {"status": "pending"}, what="an empty patch changes nothing")


def test_patch_validation(srv):
    aid = srv.create_article(title="Patch rules", body="x")["id"]
    cid = post(srv, aid, "x").json["id"]
    cases = [
        ({"status": "published"}, ["status"]),
        ({"status": None}, ["status"]),
        ({"status": 1}, ["status"]),
        ({"body": "edited", "author": "x"}, ["body", "author"]),
        ({"id": 9, "article_id": 9, "parent_id": 9, "created_at": "x"},
         ["id", "article_id", "parent_id", "created_at"]),
        ({"status": "visible", "colour": "red"}, ["colour"]),
        ([], [""]),
        ('"visible"', [""]),  # a JSON string, sent as is
    ]
    for body, fields in cases:
        resp = patch(srv, cid, body)
        expect(tap, resp, 422, errors=fields, what=f"PATCH {body!r}")
    resp = patch(srv, cid, {"body": "x"})
    msgs = {e["field"]: e["message"] for e in (resp.json or {}).get("errors", [])}
    tap.eq(msgs.get("body"), "is read-only", "body is read-only")
    resp = patch(srv, cid, {"colour": "x"})
    msgs = {e["field"]: e["message"] for e in (resp.json or {}).get("errors", [])}
    tap.eq(msgs.get("colour"), "is not allowed", "an unknown field is not allowed")
    expect(tap, srv.request("GET", f"/v1/comments/{cid}", auth=True), 200, {"status": "pending"},
           what="a refused PATCH changed nothing")
    expect(tap, patch(srv, 999999, {"status": "visible"}), 404, what="PATCH an unknown comment")
    expect(tap, patch(srv, "x", {"status": "visible"}), 400, what="PATCH a malformed id")
    expect(tap, srv.request("PATCH", f"/v1/comments/{cid}", raw=b"status=visible", auth=True,
                            headers={"Content-Type": "application/x-www-form-urlencoded"}),
           415, what="PATCH a form")
    expect(tap, srv.request("PATCH", f"/v1/comments/{cid}", raw=b"{", auth=True), 400,
           what="PATCH malformed JSON")


def test_replies(srv):
    aid = srv.create_article(title="Threads", body="x")["id"]
    top = post(srv, aid, "top").json["id"]
    patch(srv, top, {"status": "visible"})
    pend = post(srv, aid, "pending reply", parent=top).json["id"]
    # A reader cannot reply to what they cannot see...
    resp = post(srv, aid, "reply to the unseen", parent=pend)
    expect(tap, resp, 422, errors=["parent_id"], what="reader reply to a pending comment")
    # ...a key holder can; approved, it shows under the nearest visible comment.
    resp = post(srv, aid, "editor reply", parent=pend, auth=True)
    expect(tap, resp, 201, {"parent_id": pend, "status": "pending"}, what="key holder reply")
    deep = resp.json["id"]
    patch(srv, deep, {"status": "visible"})
    tap.eq(settled(lambda: shape(listing(srv, aid, "?view=tree")),
                   lambda got: got == [(top, [(deep, [])])]), [(top, [(deep, [])])],
           "reader tree: the reply hangs under the nearest visible comment")
    tree = settled(lambda: listing(srv, aid, "?view=tree"), lambda t: t and t[0]["replies"])
    tap.eq(tree[0]["replies"][0]["parent_id"], pend, "its parent_id stays the pending comment")
    tap.eq(settled(lambda: ids(listing(srv, aid)), lambda got: got == [top, deep]), [top, deep],
           "reader flat list")
    tap.eq(shape(listing(srv, aid, "?view=tree&status=any", auth=True)),
           [(top, [(pend, [(deep, [])])])], "the whole tree with ?status=any")
    tap.eq(shape(listing(srv, aid, "?view=tree&status=pending", auth=True)), [(pend, [])],
           "the pending tree")
    tap.eq(settled(lambda: count(srv, aid), lambda n: n == 2), 2,
           "comment_count counts visible comments")
    # Hiding the top comment lifts its visible reply to the top level.
    patch(srv, top, {"status": "pending"})
    tap.eq(settled(lambda: shape(listing(srv, aid, "?view=tree")),
                   lambda got: got == [(deep, [])]), [(deep, [])], "reader tree, top hidden")
    tap.eq(settled(lambda: count(srv, aid), lambda n: n == 1), 1, "comment_count, top hidden")


def test_paging(srv):
    aid = srv.create_article(title="Queue", body="x")["id"]
    made = [post(srv, aid, f"q{i}").json["id"] for i in range(5)]
    path = f"/v1/articles/{aid}/comments?status=pending&limit=2"
    items, pages = srv.walk(path, via="link")
    tap.eq(ids(items), made, "the queue, followed by Link")
    link = pages[0].links().get("next", "")
    tap.check("status=pending" in link, f"Link repeats status: {link!r}")
    cursor = pages[0].json["next_cursor"]
    resp = srv.request("GET", f"/v1/articles/{aid}/comments?status=any&cursor="
                       + urllib.parse.quote(cursor), auth=True)
    expect(tap, resp, 400, what="a cursor of the queue on ?status=any")


def test_moderation_off(srv):
    aid = srv.create_article(title="Open", body="x")["id"]
    resp = post(srv, aid, "a visible wombat")
    expect(tap, resp, 201, {"status": "visible"}, what="POST without moderation")
    cid = resp.json["id"]
    tap.eq(settled(lambda: ids(listing(srv, aid)), lambda got: got == [cid]), [cid],
           "listed at once")
    tap.eq(settled(lambda: count(srv, aid), lambda n: n == 1), 1, "counted at once")
    tap.eq(settled(lambda: search_ids(srv, "wombat"), lambda got: got == [cid]), [cid],
           "found at once")
    expect(tap, patch(srv, cid, {"status": "pending"}), 200, {"status": "pending"},
           what="a key holder hides it")
    expect(tap, settled(lambda: srv.request("GET", f"/v1/comments/{cid}"),
                        lambda r: r.status == 404), 404, what="hidden from readers")
    tap.eq(settled(lambda: count(srv, aid), lambda n: n == 0), 0, "not counted when hidden")
    resp = post(srv, aid, "reply", parent=cid)
    expect(tap, resp, 422, errors=["parent_id"], what="no reader reply to a hidden comment")


def session():
    with Server(BIN, env={"NEWSD_COMMENT_MODERATION": "pre"}) as srv:
        tap.run("pending until approved, then visible everywhere", test_pending_flow, srv)
        tap.run("PATCH /v1/comments/{id}: only status may change", test_patch_validation, srv)
        tap.run("replies to pending comments", test_replies, srv)
        tap.run("the pending queue pages with its own cursors", test_paging, srv)
        tap.stop_server(srv)
    with Server(BIN) as srv:
        tap.run("moderation off: visible at once; hiding still works", test_moderation_off, srv)
        tap.stop_server(srv)


tap.run("moderation session", session)
tap.done()
