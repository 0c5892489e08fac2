"""match.py: matching answers against expectations.

A JSON expectation is a subset of the answer (dicts as subsets, lists
element by element); Re and Pred stand for a value that must match a
regular expression or a predicate.
"""

import re

RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Re:
    """Matches a string against a regular expression (search)."""

    def __init__(self, pattern, flags=0):
        self.rx = re.compile(pattern, flags)

    def __call__(self, value):
        return isinstance(value, str) and self.rx.search(value) is not None

    def __repr__(self):
        return f"Re({self.rx.pattern!r})"


class Pred:
    """Matches when fn(value) is true; label names it in messages."""

    def __init__(self, fn, label):
        self.fn = fn
        self.label = label

    def __call__(self, value):
        try:
            return bool(self.fn(value))
        except Exception:  # noqa: BLE001 - a predicate that throws does not match
            return False

    def __repr__(self):
        return self.label


ANY = Pred(lambda v: True, "ANY")
ABSENT = object()  # in header checks: the header must not be there
PRESENT = Pred(lambda v: v is not None, "PRESENT")
TIMESTAMP = Pred(lambda v: isinstance(v, str) and RFC3339_Z.match(v), "TIMESTAMP")
INT = Pred(lambda v: isinstance(v, int) and not isinstance(v, bool), "INT")


def contains(*parts):
    return Pred(lambda v: all(p in v for p in parts), f"contains{parts!r}")


def mismatches(want, got, where="$"):
    """Paths where got does not match want: dicts match as subsets, lists
    element-wise with equal length, Re/Pred/callables as predicates."""
    if isinstance(want, (Re, Pred)):
        return [] if want(got) else [f"{where}: {got!r} does not match {want!r}"]
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{where}: want an object, got {got!r}"]
        out = []
        for key, sub in want.items():
            if sub is ABSENT:
                if key in got:
                    out.append(f"{where}.{key}: should be absent, got {got[key]!r}")
            elif key not in got:
                out.append(f"{where}.{key}: missing")
            else:
                out += mismatches(sub, got[key], f"{where}.{key}")
        return out
    if isinstance(want, list):
        if not isinstance(got, list):
            return [f"{where}: want an array, got {got!r}"]
        if len(want) != len(got):
            return [f"{where}: want {len(want)} items, got {len(got)}: {short(got)}"]
        out = []
        for i, (w, g) in enumerate(zip(want, got)):
            out += mismatches(w, g, f"{where}[{i}]")
        return out
    if isinstance(want, bool) or isinstance(got, bool):
        ok = type(want) is type(got) and want == got
    else:
        ok = want == got and type(want) is type(got)
    return [] if ok else [f"{where}: got {short(got)}, want {short(want)}"]


def short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
