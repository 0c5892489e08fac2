#!/usr/bin/env python3
"""test_client.py: a typed TypeScript client generated from the served /openapi.json works.

What a frontend developer would do, with the real tools pinned in tests/node (found through
$ND_NODE_TOOLS, installed by scripts/test): fetch /openapi.json from a running newsd, generate
TypeScript types from it with openapi-typescript, compile tests/client/client.mts against them
with tsc in strict mode, and run the result with Node. client.mts talks to the server only
through openapi-fetch's createClient<paths>() and reads every answer through the generated
types: it creates articles with the key, reads one by id and by slug, pages a list by
next_cursor, patches, posts a comment and a reply, reads the comment tree, searches, reads the
JSON feed, and meets 401, 404 and 422 problem documents as typed errors. Each of its steps
becomes a TAP point here.

A client that compiles proves little if the types are loose (any compiles), so
tests/client/wrong.mts must be rejected: tsc has to report, on each statement it marks, the
error it names (a field Article does not have, a string for `limit`, a missing `title`, a
nullable `next_cursor` used as a string, ...) and nothing elsewhere.

A missing node, openapi-typescript, openapi-fetch or tsc fails the test: scripts/test installs
them with npm ci.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOWDOWN, Server, Tap, binary_from_argv, short, source_root  # noqa: E402

BIN = binary_from_argv()
tap = Tap()

NODE = shutil.which("node") or "/usr/bin/node"
NODE_TOOLS = os.environ.get("ND_NODE_TOOLS") or os.path.join(
    source_root(), "tests", "node", "node_modules")
GENERATOR = os.path.join(NODE_TOOLS, ".bin", "openapi-typescript")
TSC = os.path.join(NODE_TOOLS, ".bin", "tsc")
RUNTIME = os.path.join(NODE_TOOLS, "openapi-fetch", "package.json")
CLIENT_DIR = os.path.join(source_root(), "tests", "client")
SOURCES = ("client.mts", "wrong.mts", "tsconfig.json", "tsconfig.wrong.json")
TOOL_TIMEOUT = 180
RUN_TIMEOUT = 120 * SLOWDOWN

# The steps client.mts reports, in order; it ends with "every step ran".
STEPS = [
    "create articles with the key (401 without)",
    "a 422 names every bad field through the typed error",
    "get the article by id",
    "get the article by slug",
    "list with a limit, following next_cursor to the end",
    "patch the article",
    "post a comment and a reply",
    "read the comment tree",
    "search finds the article and the comment with <mark>",
    "sort, fields, tags and authors shape the lists",
    "read the JSON feed",
    "a 404 problem document through the typed error",
    "delete the article (401 without the key)",
    "follow the change log with next_since; 410 past its end",
    "create articles in bulk from newline-delimited JSON (401 without the key)",
    "every step ran",
]

TSC_ERROR = re.compile(r"^(?P<file>[^()\s]+)\((?P<line>\d+),(?P<col>\d+)\): error (?P<code>TS\d+): ")
MARKER = re.compile(r'//\s*rejected:\s*(?P<code>TS\d+)\s+"(?P<text>(?:[^"\\]|\\.)*)"\s+(?P<why>.*)$')


def run(argv, cwd, timeout=TOOL_TIMEOUT, env=None):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL)


def tools_present():
    tap.check(os.access(NODE, os.X_OK), f"{NODE} is missing")
    for path, what in ((GENERATOR, "openapi-typescript"), (TSC, "typescript (tsc)"),
                       (RUNTIME, "openapi-fetch")):
        tap.check(os.path.exists(path),
                  f"{path} is missing: scripts/test installs {what} (npm ci in tests/node)")
    return tap.current == []


def fetch_document(srv, work):
    resp = srv.request("GET", "/openapi.json")
    tap.require(resp.status == 200, f"GET /openapi.json: {resp}")
    tap.require(isinstance(resp.json, dict) and str(resp.json.get("openapi", "")).startswith("3."),
                f"not an OpenAPI 3 document: {short(resp.body)}")
    path = os.path.join(work, "openapi.json")
    with open(path, "wb") as f:
        f.write(resp.body)
    return resp.json


def generate(source, out, work):
    """openapi-typescript SOURCE -o OUT must succeed without a warning; returns the types."""
    proc = run([GENERATOR, source, "-o", out], work)
    tap.require(proc.returncode == 0,
                f"openapi-typescript exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    tap.check(proc.stderr.strip() == "", "openapi-typescript complained:\n" + proc.stderr)
    with open(out, encoding="utf-8") as f:
        return f.read()


def check_generated(doc, types):
    """Every path and component schema of the document is in the generated types."""
    for path in doc["paths"]:
        tap.check(f'    "{path}": {{' in types, f"no type for the path {path}")
    for name in doc.get("components", {}).get("schemas", {}):
        tap.check(re.search(rf"^        {re.escape(name)}: ", types, re.M) is not None,
                  f"no type for the schema {name}")


def generate_from_url(srv, work, from_file):
    """The command in docs/openapi.md, pointed at the running server, gives the same types."""
    out = os.path.join(work, "from-url.d.ts")
    types = generate(f"http://127.0.0.1:{srv.port}/openapi.json", out, work)
    tap.check(types == from_file, "the types generated from the URL differ from the file's")


def prepare(work):
    """The client sources beside the generated types, with node_modules -> the test tools,
    as in a frontend project: tsc and Node both resolve openapi-fetch through it."""
    for name in SOURCES:
        shutil.copy(os.path.join(CLIENT_DIR, name), os.path.join(work, name))
    os.symlink(NODE_TOOLS, os.path.join(work, "node_modules"))


def tsc_errors(output):
    """(file, line, code, message with its continuation lines) of each error tsc printed."""
    errors = []
    for line in output.splitlines():
        m = TSC_ERROR.match(line)
        if m:
            errors.append([m["file"], int(m["line"]), m["code"], line])
        elif errors and line.startswith(" "):
            errors[-1][3] += "\n" + line
    return errors


def compile_client(work):
    proc = run([NODE, TSC, "-p", "tsconfig.json"], work)
    tap.require(proc.returncode == 0,
                f"tsc exited {proc.returncode}:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}")
    out = os.path.join(work, "out", "client.mjs")
    tap.require(os.path.isfile(out), f"tsc wrote no {out}")
    return out


def marked_statements(path):
    """{marker line: (code, text, why, first line, last line)} of wrong.mts: a marker covers
    the statement below it, up to the first line ending in ';'."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    marks = {}
    for i, text in enumerate(lines, start=1):
        m = MARKER.search(text)
        if not m:
            continue
        last = i + 1
        while last < len(lines) and not lines[last - 1].rstrip().endswith(";"):
            last += 1
        marks[i] = (m["code"], m["text"].replace('\\"', '"'), m["why"].strip(), i + 1, last)
    return marks


def check_wrong(work):
    """Type-checks wrong.mts; one point per marked mistake, one for stray errors."""
    marks = tap.run("wrong.mts marks its mistakes", lambda: marked_statements(
        os.path.join(work, "wrong.mts")))
    if not marks:
        return
    proc = run([NODE, TSC, "-p", "tsconfig.wrong.json"], work)
    output = proc.stdout + proc.stderr
    errors = tsc_errors(proc.stdout)
    tap.run("tsc rejects wrong.mts", lambda: tap.check(
        proc.returncode != 0 and errors, f"tsc exited {proc.returncode}:\n{output[-3000:]}"))
    claimed = set()
    for code, text, why, first, last in marks.values():
        def one(code=code, text=text, first=first, last=last):
            here = [e for e in errors if e[0] == "wrong.mts" and first <= e[1] <= last]
            claimed.update(id(e) for e in here)
            hit = [e for e in here if e[2] == code and text in e[3]]
            tap.check(bool(hit), f"want {code} containing {text!r} on lines {first}-{last}; "
                      f"tsc said:\n" + ("\n".join(e[3] for e in here) or "nothing there"))
        tap.run(f"tsc rejects: {why}", one)

    def no_strays():
        stray = [e[3] for e in errors if id(e) not in claimed]
        tap.check(not stray, "errors outside the marked statements:\n" + "\n".join(stray))
    tap.run("tsc reports nothing in wrong.mts but the marked mistakes", no_strays)


def run_client(srv, script, work):
    env = dict(os.environ, ND_CLIENT_URL=f"http://127.0.0.1:{srv.port}", ND_CLIENT_KEY=srv.key)
    proc = run([NODE, script], work, timeout=RUN_TIMEOUT, env=env)
    reports = []
    for line in proc.stdout.splitlines():
        try:
            reports.append(json.loads(line))
        except ValueError:
            tap.diag("client: " + line)
    for r in reports:
        tap.run("client: " + str(r.get("name")),
                lambda r=r: tap.check(r.get("ok") is True, str(r.get("detail"))))

    def finished():
        tap.check(proc.returncode == 0, f"node exited {proc.returncode}\n{proc.stderr[-3000:]}")
        tap.eq([r.get("name") for r in reports], STEPS, "the client's steps")
    tap.run("client: every step reported, in order", finished)


def main():
    present = tap.run("node, openapi-typescript, openapi-fetch and tsc are installed",
                      tools_present)
    with Server(BIN) as srv, tempfile.TemporaryDirectory(prefix="newsd-client-") as work:
        doc = tap.run("GET /openapi.json into a file", fetch_document, srv, work)
        types = None
        if present and doc:
            types = tap.run("openapi-typescript generates newsd.d.ts from it", generate,
                            os.path.join(work, "openapi.json"), os.path.join(work, "newsd.d.ts"),
                            work)
        if types:
            tap.run("the generated types name every path and schema", check_generated, doc,
                    types)
            tap.run("openapi-typescript given the server's URL generates the same types",
                    generate_from_url, srv, work, types)
            prepare(work)
            script = tap.run("tsc (strict) compiles client.mts against the generated types",
                             compile_client, work)
            check_wrong(work)
            if script:
                run_client(srv, script, work)
        tap.stop_server(srv)
    tap.done()


main()
