"""harness.py: the integration-test harness of newsd, written once.

Every integration test starts the real newsd binary (argv[1]) on an ephemeral
port with a database in a temporary directory, talks HTTP to it with the
standard library only, and reports in TAP, which Meson reads. A test file is
mostly data: tables of requests with the status, JSON subset and headers each
one must answer with (curl/jq style), run by Tap.cases().

    tap = Tap()
    with Server(binary) as srv:
        tap.cases(srv, [
            case("health", "GET", "/health", status=200, json={"status": "ok"}),
        ])
        tap.stop_server(srv)
    tap.done()

Every answer with a status of 400 or more is checked to be an RFC 9457 problem
document (application/problem+json with type, title, status and detail, status
equal to the HTTP status), whatever the test itself looks at.

The harness is split by concern; this module gathers their names so a test
imports from one place:
    environment.py  the binary, source tree, samples, slowdown under a wrapper
    pg.py           the PostgreSQL backend: NEWSD_TEST_BACKEND, a database per test
    tap.py          TAP reporting: test points, checks, skips, the plan
    match.py        JSON subsets, Re/Pred and the other matchers
    http_client.py  Response, one request, raw bytes, Client (one connection)
    server.py       the newsd process: start, stop, CLI runs, API keys
    cases.py        case tables and the checks of one answer
"""

import signal
import sys

from cases import case, check_errors, expect, run_case  # noqa: F401
from environment import (  # noqa: F401
    CLUSTER, CLUSTER_INSTANCES, HTTP_TIMEOUT, LIMITS_PER_PROCESS, SLOWDOWN, START_TIMEOUT,
    STOP_TIMEOUT, WRAPPER, Workers, binary_from_argv, free_port, samples_dir, source_root,
    wait_until,
)
from http_client import (  # noqa: F401
    REASONS, Client, Headers, Response, chunked, http_request, raw_exchange, target_path,
)
from match import (  # noqa: F401
    ABSENT, ANY, INT, PRESENT, RFC3339_Z, TIMESTAMP, Pred, Re, contains, mismatches, short,
)
from server import (  # noqa: F401
    LISTENING, SANITIZER, Server, Stream, check_stop, clean_env, create_key, db_sql,
    hold_write_lock, is_postgres, run_cli, scratch_db, serve,
)
from pg import BACKEND, FOREIGN_NOTICE_S, OWN_NOTICE_S, Database, settled, soon  # noqa: F401
from tap import Failure, Tap  # noqa: F401

# A SIGTERM to the test (a Meson timeout) unwinds the with-blocks, so that no
# server outlives its test.
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
