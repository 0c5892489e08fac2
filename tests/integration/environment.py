"""environment.py: what the integration tests learn from where they run.

The newsd binary under test (argv[1]), the backend it runs against
(NEWSD_TEST_BACKEND, see pg.py), the source tree and the shared samples
folder, and how much slower than normal a wrapped newsd runs
(ND_SERVER_WRAPPER, e.g. valgrind), which stretches every timeout.
"""

import os
import shlex
import socket
import sys
import threading
import time

import pg

# ND_SERVER_WRAPPER: a command put in front of every newsd process the tests
# start, e.g. "valgrind --leak-check=full --error-exitcode=99" (the
# 'valgrind' test setup sets it). A wrapped newsd runs many times slower, so
# the harness then waits that much longer.
WRAPPER = shlex.split(os.environ.get("ND_SERVER_WRAPPER", ""))
SLOWDOWN = 10 if WRAPPER else 1

# NEWSD_TEST_TOPOLOGY: "single" (the default: Server is one newsd process)
# or "cluster" (suite integration-cluster: Server is haproxy in front of
# CLUSTER_INSTANCES newsd instances over one PostgreSQL database, see
# topology.py). A test about one process says so to binary_from_argv (single=)
# or to Tap.run_single, and skips itself in the cluster.
TOPOLOGY = pg.TOPOLOGY
CLUSTER = pg.CLUSTER
CLUSTER_INSTANCES = pg.CLUSTER_INSTANCES

# Why a check of a rate or stream limit skips itself in the cluster topology.
LIMITS_PER_PROCESS = ("newsd's rate and stream limits count per process, and each instance "
                      "has its own (cluster-wide limits are not in newsd yet)")

START_TIMEOUT = 10.0 * SLOWDOWN
STOP_TIMEOUT = 15.0 * SLOWDOWN
HTTP_TIMEOUT = 15.0 * SLOWDOWN


def binary_from_argv(backends=pg.BACKENDS, why=None, single=None):
    """The newsd binary of argv[1]. Skips the whole test (a TAP plan of 0 with
    the reason) when there is none, or when it cannot run against the backend
    of NEWSD_TEST_BACKEND: the test names the backends it is meant for, and
    why (one line) when that is not both. single: why (one line) the test is
    about one newsd process; it then skips itself in the cluster topology,
    as every test does when no cluster can run here."""
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        print("1..0 # SKIP no newsd binary given (usage: test_X.py /path/to/newsd)")
        sys.exit(0)
    binary = os.path.abspath(sys.argv[1])
    reason = pg.skip_reason(binary, backends)
    if reason and why and pg.BACKEND not in backends:
        reason += f": {why}"
    if not reason and TOPOLOGY != "single":
        reason = cluster_skip_reason(binary, single)
    if reason:
        print(f"1..0 # SKIP {reason}")
        sys.exit(0)
    return binary


def source_root():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("ND_SOURCE_ROOT") or os.path.dirname(os.path.dirname(here))


def samples_dir():
    """The shared samples folder, or None when this checkout has none."""
    path = os.environ.get("ND_SAMPLES")
    return path if path and os.path.isdir(path) else None


def free_port():
    """A port that was free a moment ago (for config tests that need a fixed one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(fn, timeout=10.0, interval=0.05):
    """Polls fn until it returns a true value; returns that value or None."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


def cluster_skip_reason(binary, single=None):
    """Why a test cannot run in the cluster topology, or None."""
    if TOPOLOGY not in ("single", "cluster"):
        return f"unknown NEWSD_TEST_TOPOLOGY {TOPOLOGY!r} (want single or cluster)"
    if single:
        return f"about one newsd process, not a cluster behind haproxy: {single}"
    if pg.BACKEND != "postgres":
        return "the cluster topology runs over PostgreSQL (NEWSD_TEST_BACKEND=postgres)"
    import cluster  # here: cluster.py imports server.py, which imports this module

    return cluster.skip_reason(binary)


class Workers:
    """n threads running self.run(me) (a subclass's) until stopped, in a
    with-block; each appends what it saw to self.results under self.lock
    (record), and count(pred) counts them."""

    def __init__(self, n):
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.results = []
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(n)]

    def run(self, me):
        raise NotImplementedError

    def record(self, rec):
        with self.lock:
            self.results.append(rec)

    def count(self, pred=lambda r: True):
        with self.lock:
            return sum(1 for r in self.results if pred(r))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(60)
        return False
