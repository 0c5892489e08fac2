"""topology.py: "the server" of an integration test as a cluster behind haproxy.

In suite integration-cluster (NEWSD_TEST_TOPOLOGY=cluster, over PostgreSQL),
Server(binary, args, env) builds a ClusterServer instead of one process: a
Cluster (cluster.py) of CLUSTER_INSTANCES newsd instances, each given the
test's args and env, over the test's own database on the suite's PostgreSQL
server (no replica: one more server per test would cost seconds), with
haproxy in front. srv.port is haproxy's, so every request of the test goes
through it and may land on any instance (round robin). What a test does to
"the server" means, for the cluster:

- srv.db, srv.sql: the database every instance uses (on the one primary);
- srv.key: a key every instance takes;
- srv.stop(sig): sig to every instance; the exit status is 0 when every
  instance exits 0, else the first other status (None: one had to be
  killed); haproxy stops afterwards. srv.start() builds the cluster again
  over the same database;
- srv.err, srv.out, srv.stderr_lines(): every instance's lines, merged in
  the order they were read (haproxy's log is apart, in srv.cluster.haproxy);
- srv.cache_hits(): the sum over the instances, each asked directly.

What has no meaning for several processes (srv.proc: one pid to signal or
measure; another command than serve) raises: such a test or test point
skips itself in this topology (binary_from_argv(single=...),
Tap.run_single), saying why.
"""

import re
import signal
import threading
import time

from cluster import Cluster
from environment import CLUSTER_INSTANCES, STOP_TIMEOUT
from http_client import http_request
from server import Server


class MergedStream:
    """The lines of several Streams (one per instance) as one, in the order
    they were seen: each access takes what the streams gathered since. The
    same calls as Stream: wait_for(pattern, timeout, start) and snapshot()."""

    def __init__(self, streams):
        self.streams = list(streams)
        self.taken = [0] * len(self.streams)
        self.lines = []
        self.lock = threading.Lock()

    def _pull(self):
        with self.lock:
            for i, stream in enumerate(self.streams):
                new = stream.snapshot()[self.taken[i]:]
                self.taken[i] += len(new)
                self.lines += new
            return list(self.lines)

    def snapshot(self):
        return self._pull()

    @property
    def closed(self):
        return all(s.closed for s in self.streams)

    def wait_for(self, pattern, timeout, start=0):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        while True:
            lines = self._pull()
            for line in lines[start:]:
                m = rx.search(line)
                if m:
                    return m
            start = max(start, len(lines))
            if self.closed or time.monotonic() > deadline:
                return None
            time.sleep(0.02)


class ClusterServer(Server):
    """Server's interface over a Cluster; see the module's comment."""

    def __init__(self, binary, args=(), env=None, db=None, key=True, port_flag=True,
                 command=("serve",), wait_listening=True):
        if list(command) != ["serve"] or not wait_listening or not port_flag:
            raise RuntimeError("the cluster topology runs `newsd serve` on ports of its own: "
                               "a test of another command or of startup is about one process "
                               "(binary_from_argv(single=...))")
        super().__init__(binary, args, env, db, key, port_flag, command, wait_listening)
        self.cluster = None

    @property
    def proc(self):
        if self.cluster is not None:
            raise RuntimeError("srv.proc: the cluster topology has several processes "
                               "(a test about one process skips itself there)")
        return None

    @proc.setter
    def proc(self, value):
        if value is not None:
            raise RuntimeError("a ClusterServer has no process of its own")

    def start(self):
        self.returncode = None
        cluster = Cluster(self.binary, instances=CLUSTER_INSTANCES, replica=False,
                          database=self.db, args=self.args, env=self.env)
        try:
            cluster.start()
        except BaseException:
            cluster.close()
            raise
        self.cluster = cluster
        self.port = cluster.haproxy_port
        self.err = MergedStream(i.err for i in cluster.instances)
        self.out = MergedStream(i.out for i in cluster.instances)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        if self.cluster is None:
            return self.returncode
        instances = list(self.cluster.instances)
        if sig is not None:
            for inst in instances:
                if inst.running():
                    inst.proc.send_signal(sig)
        statuses = [inst.stop(None, timeout) for inst in instances]
        self._close()
        bad = [s for s in statuses if s != 0]
        self.returncode = bad[0] if bad else 0
        return self.returncode

    def kill(self):
        self._close()

    def _close(self):
        if self.cluster is None:
            return
        for stream in (self.err, self.out):
            if stream is not None:
                stream.snapshot()  # the last lines, before the streams go
        self.cluster.close()
        self.cluster = None

    def running(self):
        return self.cluster is not None and all(i.running() for i in self.cluster.instances)

    def stderr_tail(self, n=40):
        if self.cluster is None:
            return super().stderr_tail(n)
        return self.cluster.logs()

    def cache_hits(self):
        """newsd_response_cache_hits_total summed over the instances."""
        total = 0
        for inst in self.cluster.instances:
            resp = http_request(inst.port, "GET", "/metrics")
            m = re.search(r"^newsd_response_cache_hits_total (\d+)$", resp.body.decode(), re.M)
            if resp.status != 200 or m is None:
                raise RuntimeError(f"GET /metrics of {inst.name}: {resp}")
            total += int(m.group(1))
        return total
