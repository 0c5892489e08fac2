"""Counts test cases across a Meson test log and prints "N passed, N failed".

Every TAP line ("ok"/"not ok") of every test is one case; a test that failed
without reporting any failing case (a crash, a timeout, a sanitizer abort)
counts as one more failed case, so a failure can never vanish from the count.
"""
import json
import re
import sys

OK = re.compile(r"^ok\b")
NOT_OK = re.compile(r"^not ok\b")


def main(path):
    passed = failed = 0
    with open(path, encoding="utf-8") as log:
        for line in log:
            entry = json.loads(line)
            out = entry.get("stdout") or ""
            ok = sum(1 for l in out.splitlines() if OK.match(l) and "# SKIP" not in l)
            bad = sum(1 for l in out.splitlines() if NOT_OK.match(l))
            if entry.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and bad == 0:
                bad = 1
            passed += ok
            failed += bad
    print(f"{passed} passed, {failed} failed")


if __name__ == "__main__":
    main(sys.argv[1])
