"""tap.py: TAP reporting for the integration tests.

One "ok"/"not ok" line per test point (a failure and its diagnostics on
stderr too, which a CI log shows), a skip as "ok N - name # SKIP reason",
the plan last; Meson reads it. Running a case table (Tap.cases) and the
server-stop point (Tap.stop_server) are here too, so a test file needs one
object to report with.
"""

import signal
import sys
import traceback

from cases import run_case
from environment import CLUSTER
from server import check_stop

class Failure(Exception):
    """Raised by Tap.require to end the current test point at once."""


class Tap:
    """A tiny TAP producer: one "ok"/"not ok" line per test point, the plan last.

    Inside a test point, check() records a failure and goes on; require()
    records it and ends the point. An exception escaping a point fails it
    with its traceback as diagnostics.
    """

    def __init__(self):
        self.count = 0
        self.failed = 0
        self.current = None

    def run(self, name, fn, *args, **kwargs):
        """Runs fn(*args, **kwargs) as one test point. Returns fn's result or None.
        Points nest: a point run inside another reports on its own line first."""
        saved, self.current = self.current, []
        result = None
        try:
            result = fn(*args, **kwargs)
        except Failure:
            pass
        except Exception:  # noqa: BLE001 - any escape is a failed point
            self.current.append("unexpected exception:\n" + traceback.format_exc())
        failures, self.current = self.current, saved
        self._report(name, failures)
        return result

    def run_single(self, name, why, fn, *args, **kwargs):
        """run() for a point about one newsd process (its signals, its
        sockets, its own counters): in the cluster topology one skip line
        saying why (one line) instead."""
        if CLUSTER:
            self.skip(name, f"about one newsd process, not a cluster behind haproxy: {why}")
            return None
        return self.run(name, fn, *args, **kwargs)

    def point(self, name):
        """Decorator form of run(): the function runs at once as a test point."""

        def wrap(fn):
            self.run(name, fn)
            return fn

        return wrap

    def _report(self, name, failures):
        self.count += 1
        if failures:
            self.failed += 1
            print(f"not ok {self.count} - {name}")
            # the failure goes to stderr as well: meson prints a failed
            # test's stderr (--print-errorlogs), so a CI log names the point
            print(f"not ok {self.count} - {name}", file=sys.stderr)
            for message in failures:
                for line in str(message).splitlines() or [""]:
                    print(f"# {line}")
                    print(f"# {line}", file=sys.stderr)
        else:
            print(f"ok {self.count} - {name}")
        sys.stdout.flush()

    def skip(self, name, reason):
        self.count += 1
        print(f"ok {self.count} - {name} # SKIP {reason}")
        sys.stdout.flush()

    def diag(self, message):
        for line in str(message).splitlines():
            print(f"# {line}")
        sys.stdout.flush()

    def check(self, cond, message):
        """Records message as a failure of the current point when cond is false."""
        if not cond:
            if self.current is None:
                raise RuntimeError("check() outside a test point: " + message)
            self.current.append(message)
        return bool(cond)

    def require(self, cond, message):
        """Like check(), but ends the current point when cond is false."""
        if not self.check(cond, message):
            raise Failure(message)

    def eq(self, got, want, what):
        return self.check(got == want, f"{what}: got {got!r}, want {want!r}")

    def done(self):
        """Prints the plan and exits 1 when any point failed."""
        print(f"1..{self.count}")
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)

    # -- tables -------------------------------------------------------------

    def cases(self, srv, table, ctx=None):
        """Runs every case of table (see case()) against srv, one point each."""
        for c in table:
            self.run(c["name"], run_case, self, srv, c, ctx or {})

    def stop_server(self, srv, sig=signal.SIGTERM, name=None):
        """A test point: srv stops on sig within STOP_TIMEOUT with status 0."""
        label = name or f"server exits 0 on {signal.Signals(sig).name if sig else 'its signal'}"
        self.run(label, check_stop, self, srv, sig)
