"""Counts test cases across a Meson test log and prints "N passed, N failed, N skipped".

Every TAP line ("ok"/"not ok") of every test is one case; an "ok" line with a
"# SKIP reason" directive counts as skipped, not passed. A test that failed
without reporting any failing case (a crash, a timeout, a sanitizer abort)
counts as one more failed case, so a failure can never vanish from the count;
a test whose plan skips it whole ("1..0 # SKIP reason") counts as one skipped.
"""
import json
import re
import sys

OK = re.compile(r"^ok\b")
NOT_OK = re.compile(r"^not ok\b")
SKIP = re.compile(r"#\s*SKIP\b", re.IGNORECASE)
SKIP_ALL = re.compile(r"^1\.\.0\b.*#\s*SKIP\b", re.IGNORECASE)


def count(out, result):
    """(passed, failed, skipped) of one test's TAP output and Meson result."""
    lines = out.splitlines()
    skipped = sum(1 for l in lines if OK.match(l) and SKIP.search(l))
    passed = sum(1 for l in lines if OK.match(l) and not SKIP.search(l))
    failed = sum(1 for l in lines if NOT_OK.match(l))
    skipped += sum(1 for l in lines if SKIP_ALL.match(l))
    if result not in ("OK", "SKIP", "EXPECTEDFAIL") and failed == 0:
        failed = 1
    return passed, failed, skipped


def main(path):
    passed = failed = skipped = 0
    with open(path, encoding="utf-8") as log:
        for line in log:
            entry = json.loads(line)
            p, f, s = count(entry.get("stdout") or "", entry.get("result"))
            passed += p
            failed += f
            skipped += s
    print(f"{passed} passed, {failed} failed, {skipped} skipped")


if __name__ == "__main__":
    main(sys.argv[1])
