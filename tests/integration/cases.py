"""cases.py: requests as data, and the checks of one answer.

A case table is a list of case() rows (request, expected status, JSON
subset, headers, field errors); run_case() sends one and expect() checks
the answer, which is always also checked to be a proper problem document
when its status is 400 or more.
"""

from match import ABSENT, Pred, Re, mismatches, short

def case(name, method, path, body=None, status=200, json=None, headers=None, expect_headers=None,
         raw=None, auth=False, errors=None, empty_body=False, check=None):
    """One row of a case table.

    path may hold {name} fields filled from the run's context dict. json is
    the expected subset of the answer; expect_headers maps a header name to a
    value (exact), an Re/Pred, or ABSENT. errors lists the fields a 422 must
    name (all of them, each once). empty_body: the answer must have no body.
    check(tap, resp, ctx) adds free-form checks.
    """
    return dict(name=name, method=method, path=path, body=body, status=status, json=json,
                headers=headers, expect_headers=expect_headers, raw=raw, auth=auth,
                errors=errors, empty_body=empty_body, check=check)


def run_case(tap, srv, c, ctx):
    path = c["path"].format(**ctx) if ctx else c["path"]
    resp = srv.request(c["method"], path, c["body"], c["headers"], c["raw"], c["auth"])
    expect(tap, resp, c["status"], c["json"], c["expect_headers"], c["errors"], c["empty_body"],
           what=f"{c['method']} {path}")
    if c["check"]:
        c["check"](tap, resp, ctx)
    return resp


def expect(tap, resp, status, body=None, headers=None, errors=None, empty_body=False, what=""):
    """Checks one answer; returns True when everything matched."""
    prefix = (what + ": ") if what else ""
    ok = tap.check(resp.status == status,
                   f"{prefix}status {resp.status}, want {status}; body {short(resp.body, 600)}")
    for issue in resp.problem_issues():
        ok = tap.check(False, prefix + issue) and ok
    if body is not None:
        if resp.json is None:
            ok = tap.check(False,
                           f"{prefix}body is not JSON ({resp.json_error}): {short(resp.body)}")
        else:
            for m in mismatches(body, resp.json):
                ok = tap.check(False, prefix + m) and ok
    for name, want in (headers or {}).items():
        got = resp.headers.get(name)
        if want is ABSENT:
            ok = tap.check(got is None,
                           f"{prefix}header {name} should be absent, is {got!r}") and ok
        elif isinstance(want, (Re, Pred)):
            ok = tap.check(got is not None and want(got),
                           f"{prefix}header {name} = {got!r}, want {want!r}") and ok
        else:
            ok = tap.check(got == want, f"{prefix}header {name} = {got!r}, want {want!r}") and ok
    if errors is not None:
        ok = check_errors(tap, resp, errors, prefix) and ok
    if empty_body:
        ok = tap.check(resp.body == b"", f"{prefix}body should be empty: {short(resp.body)}") and ok
    return ok


def check_errors(tap, resp, fields, prefix=""):
    """A 422 lists every field of fields, each exactly once, with a message.
    A field of an array ("tags") may be named by the bad element ("tags[0]")."""
    doc = resp.json if isinstance(resp.json, dict) else {}
    errs = doc.get("errors")
    if not tap.check(isinstance(errs, list), f"{prefix}no errors array: {short(resp.body)}"):
        return False
    ok = True
    named = []
    for e in errs:
        good = isinstance(e, dict) and isinstance(e.get("field"), str) and \
            isinstance(e.get("message"), str) and e.get("message")
        ok = tap.check(good, f"{prefix}malformed errors entry {e!r}") and ok
        if isinstance(e, dict):
            named.append(e.get("field"))
    for f in fields:
        # An array member may be named by its index: "tags" matches "tags[3]".
        hit = any(n == f or (isinstance(n, str) and n.startswith(f + "[")) for n in named)
        ok = tap.check(hit, f"{prefix}errors do not name {f!r}: {short(errs, 800)}") and ok
    dup = sorted({f for f in named if named.count(f) > 1})
    ok = tap.check(not dup,
                   f"{prefix}fields listed more than once: {dup}: {short(errs, 800)}") and ok
    return ok
