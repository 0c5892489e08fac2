#!/usr/bin/env python3
"""check.py: does the comparison server answer what newsd answers?

Both servers serve the same database. For a sample of every read scenario's
URLs (bench/urls.py) it fetches the answer from each and compares them:
statuses, and the JSON bodies field by field (articles, list pages, comment
pages, next_cursor); for searches the ids in order, the scores (to 1e-9
relative) and the snippets, then the next page through next_cursor. It also
compares a few refused requests (status and detail), and one article and one
comment created on each (every field but id, slug, times). bench.py runs it
before measuring with --peer; alone:

    python3 bench/peer/check.py --newsd http://127.0.0.1:8080 \\
        --peer http://127.0.0.1:8081 --data build/bench-data/2000 --key nd_...

Prints one line per difference and a summary; exits 1 when anything differs.
"""

import argparse
import http.client
import json
import os
import random
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import urls as urllists  # noqa: E402

SAMPLE = 40  # URLs per scenario
# refused requests: status and detail must match
REFUSED = [
    "/v1/search", "/v1/search?q=", "/v1/search?q=a*", "/v1/search?q=OR%20cats",
    "/v1/search?q=-cats", "/v1/search?q=cats%20OR", "/v1/search?q=cats&cursor=xyz",
    "/v1/search?q=cats&limit=0", "/v1/articles?limit=101", "/v1/articles?cursor=abc",
    "/v1/articles/999999999", "/v1/articles/no-such-slug", "/v1/articles/0",
    "/v1/articles/999999999/comments", "/v1/articles/1/comments?cursor=zz",
]


class Client:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    def call(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        raw = resp.read()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = raw.decode("utf-8", "replace")
        return resp.status, doc

    def close(self):
        self.conn.close()


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def diff_search(path, mine, peer, out):
    ids_m = [x["id"] for x in mine["data"]]
    ids_p = [x["id"] for x in peer["data"]]
    if ids_m != ids_p:
        same = set(ids_m) == set(ids_p)
        out.append(f"{path}: result ids differ ({'same set, other order' if same else 'other set'}):"
                   f" newsd {ids_m[:8]} peer {ids_p[:8]}")
        return
    for a, b in zip(mine["data"], peer["data"]):
        for key in ("slug", "title", "published_at", "snippet"):
            if a.get(key) != b.get(key):
                out.append(f"{path}: id {a['id']}: {key} differs: {a.get(key)!r} / {b.get(key)!r}")
        if not close(a["score"], b["score"]):
            out.append(f"{path}: id {a['id']}: score {a['score']} / {b['score']}")
        if set(a) != set(b):
            out.append(f"{path}: fields differ: {sorted(a)} / {sorted(b)}")
    if mine.get("next_cursor") != peer.get("next_cursor"):
        out.append(f"{path}: next_cursor {mine.get('next_cursor')} / {peer.get('next_cursor')}")


def compare_get(newsd, peer, path, out, follow=True):
    sm, dm = newsd.call("GET", path)
    sp, dp = peer.call("GET", path)
    if sm != sp:
        out.append(f"{path}: status {sm} / {sp}")
        return
    if sm != 200:
        if isinstance(dm, dict) and isinstance(dp, dict) and dm.get("detail") != dp.get("detail"):
            out.append(f"{path}: detail {dm.get('detail')!r} / {dp.get('detail')!r}")
        return
    if path.startswith("/v1/search"):
        diff_search(path, dm, dp, out)
    elif dm != dp:
        keys = dm.keys() if isinstance(dm, dict) else []
        what = [k for k in keys if dm.get(k) != dp.get(k)] or "bodies"
        out.append(f"{path}: {what} differ")
    cursor = dm.get("next_cursor") if isinstance(dm, dict) else None
    if follow and cursor and cursor == (dp or {}).get("next_cursor"):
        base, _, query = path.partition("?")
        params = [p for p in query.split("&") if p and not p.startswith("cursor=")]
        params.append(f"cursor={urllib.parse.quote(cursor, safe='')}")
        compare_get(newsd, peer, f"{base}?{'&'.join(params)}", out, follow=False)


def walk_cursors(client, n):
    cursors, path = [], "/v1/articles?limit=20"
    for _ in range(n // 20 + 2):
        status, doc = client.call("GET", path)
        if status != 200 or not doc.get("next_cursor"):
            break
        cursors.append(doc["next_cursor"])
        path = f"/v1/articles?limit=20&cursor={urllib.parse.quote(doc['next_cursor'], safe='')}"
    return cursors


def compare_writes(newsd, peer, key, article_id, out):
    auth = {"Authorization": f"Bearer {key}"}
    article = {"title": "Check ferry harbour council", "body": "First paragraph of the check.\n\n"
               "Second paragraph, with the harbour.", "tags": ["check", "ferry"],
               "category": "Check"}
    results = []
    for client in (newsd, peer):
        results.append(client.call("POST", "/v1/articles", article, auth))
    (sm, dm), (sp, dp) = results
    if sm != sp:
        out.append(f"POST /v1/articles: status {sm} / {sp}")
    elif sm == 201:
        skip = {"id", "slug", "created_at", "updated_at", "published_at"}
        for k in dm:
            if k not in skip and dm[k] != dp.get(k):
                out.append(f"POST /v1/articles: {k} {dm[k]!r} / {dp.get(k)!r}")
        if set(dm) != set(dp):
            out.append(f"POST /v1/articles: fields {sorted(dm)} / {sorted(dp)}")
    comment = {"author": "checker", "body": "A comment of the check."}
    (sm, dm), (sp, dp) = [c.call("POST", f"/v1/articles/{article_id}/comments", comment)
                          for c in (newsd, peer)]
    if sm != sp:
        out.append(f"POST comment: status {sm} / {sp}")
    elif sm == 201:
        for k in dm:
            if k not in ("id", "created_at") and dm[k] != dp.get(k):
                out.append(f"POST comment: {k} {dm[k]!r} / {dp.get(k)!r}")
    bad = [("POST", "/v1/articles", article, {}),
           ("POST", "/v1/articles", article, {"Authorization": "Bearer nd_nope"}),
           ("POST", "/v1/articles", {"body": "no title"}, auth),
           ("POST", f"/v1/articles/{article_id}/comments", {"author": "x"}, {}),
           ("POST", "/v1/articles/999999999/comments", comment, {})]
    for method, path, body, headers in bad:
        (sm, dm), (sp, dp) = [c.call(method, path, body, headers) for c in (newsd, peer)]
        if sm != sp or dm.get("detail") != dp.get("detail") or dm.get("errors") != dp.get("errors"):
            out.append(f"{method} {path} {body}: {sm} {dm.get('detail')!r} {dm.get('errors')} / "
                       f"{sp} {dp.get('detail')!r} {dp.get('errors')}")
    return 2 + len(bad)


def run(newsd_url, peer_url, meta, key, sample=SAMPLE, lists=None):
    """Compares the two servers; returns {"checked": n, "differences": [...]}."""
    newsd, peer = Client(newsd_url), Client(peer_url)
    out, checked = [], 0
    try:
        if lists is None:
            lists = urllists.build(meta, walk_cursors(newsd, meta["articles"]))
        rng = random.Random(7)
        for name, paths in lists.items():
            for path in rng.sample(paths, min(sample, len(paths))):
                compare_get(newsd, peer, path, out)
                checked += 1
        for path in REFUSED:
            compare_get(newsd, peer, path, out)
            checked += 1
        if key:
            checked += compare_writes(newsd, peer, key, lists["comments"][0].split("/")[3], out)
    finally:
        newsd.close()
        peer.close()
    return {"checked": checked, "differences": out}


def main():
    ap = argparse.ArgumentParser(description="compare the comparison server's answers with newsd's")
    ap.add_argument("--newsd", required=True, help="newsd's base URL")
    ap.add_argument("--peer", required=True, help="the comparison server's base URL")
    ap.add_argument("--data", required=True, help="the corpus folder (build/bench-data/N)")
    ap.add_argument("--key", help="an API key of the database (the writes are compared too)")
    ap.add_argument("--sample", type=int, default=SAMPLE, help="URLs per scenario")
    opts = ap.parse_args()
    with open(os.path.join(opts.data, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    result = run(opts.newsd, opts.peer, meta, opts.key, opts.sample)
    for line in result["differences"]:
        print(line)
    print(f"{result['checked']} requests compared, {len(result['differences'])} differences")
    sys.exit(1 if result["differences"] else 0)


if __name__ == "__main__":
    main()
