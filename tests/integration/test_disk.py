#!/usr/bin/env python3
"""test_disk.py: a full disk and a file system that turns read-only.

Disk full: the database lives on a 4 MiB tmpfs that a filler file then
fills to the last byte. Writes are answered 503 problem documents that
reveal nothing inside (never 500), reads go on answering 200, and nothing
stored is damaged; once the filler is removed writes succeed again, every
earlier write is intact and the file passes integrity_check.

Read-only: the database lives on a small ext4 image mounted from a loop
device with errors=remount-ro. While the server runs, ext4 is told to fail
(/sys/fs/ext4/DEV/trigger_fs_error), which turns the file system read-only
under the open files, as a disk error would. Writes are 503, reads 200,
/health 200; after the server stops, the image is checked with e2fsck and
mounted again, and every write acknowledged before the failure is there.
Where loop devices or that ext4 switch are missing, the same is checked on
a tmpfs remounted read-only between two runs of the server (the kernel
refuses that while a process has files open for writing on it).

Mounting needs root. The test runs in a mount namespace of its own (via
unshare) when it can, so no mount outlives it; when it cannot mount at all
it skips with the reason.
"""

import errno
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time


def enter_mount_namespace():
    """Re-runs this script in a private mount namespace when possible."""
    if os.environ.get("ND_DISK_TEST_NS") == "1" or os.geteuid() != 0:
        return
    unshare = shutil.which("unshare")
    if unshare is None:
        return
    probe = subprocess.run([unshare, "-m", "--propagation", "private", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        return
    env = dict(os.environ, ND_DISK_TEST_NS="1")
    sys.stdout.flush()
    os.execve(unshare, [unshare, "-m", "--propagation", "private", sys.executable,
                        os.path.abspath(__file__), *sys.argv[1:]], env)


enter_mount_namespace()

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Tap, binary_from_argv, check_stop, expect  # noqa: E402

BIN = binary_from_argv(("sqlite",), "a full or read-only disk under the SQLite file; "
                       "PostgreSQL's full disk is test_postgres_faults'")
tap = Tap()

LEAKS = ("sqlite", "select ", "insert ", "update ", "0x", "/")


def run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60)


class Mount:
    """A file system mounted on a new folder; unmounted (lazily if busy) on exit."""

    def __init__(self, folder, fstype, source, options):
        self.path = folder
        self.args = ["mount", "-t", fstype, "-o", options, source, folder]
        self.error = None
        self.mounted = False

    def __enter__(self):
        os.makedirs(self.path, exist_ok=True)
        if shutil.which("mount") is None:
            self.error = "no mount command"
        else:
            proc = run(*self.args)
            self.mounted = proc.returncode == 0
            if not self.mounted:
                self.error = (proc.stderr or proc.stdout).strip().splitlines()[0:1]
                self.error = self.error[0] if self.error else f"mount exited {proc.returncode}"
        return self

    def usable(self, point):
        """True when the tmpfs is mounted; otherwise the test point is skipped."""
        if not self.mounted:
            tap.skip(point, f"cannot mount a tmpfs here: {self.error}")
        return self.mounted

    def remount(self, options):
        proc = run("mount", "-o", "remount," + options, self.path)
        return proc.returncode == 0, proc.stderr.strip()

    def unmount(self):
        if self.mounted:
            if run("umount", self.path).returncode != 0:
                run("umount", "-l", self.path)
            self.mounted = False

    def __exit__(self, *exc):
        self.unmount()
        return False


def problem_ok(resp, what):
    """A 503 that is a proper problem document and reveals nothing inside."""
    expect(tap, resp, 503, what=what)
    text = resp.body.decode("utf-8", "replace").lower()
    for leak in LEAKS:
        tap.check(leak not in text.replace("application/problem+json", ""),
                  f"{what}: the 503 reveals {leak!r}: {text}")


def seed(srv, n=5):
    """n articles with a comment each; returns {path: JSON} of all of them."""
    snap = {}
    for i in range(n):
        art = srv.create_article(title=f"Stored before {i}", body=f"Paragraph {i}. " * 100,
                                 tags=["disk"])
        com = srv.create_comment(art["id"], author="reader", body=f"Comment {i}")
        for path in (f"/v1/articles/{art['id']}", f"/v1/comments/{com['id']}"):
            snap[path] = srv.request("GET", path).json
    return snap


def check_reads(srv, snap, what):
    expect(tap, srv.request("GET", "/health"), 200, {"status": "ok"}, what=f"{what}: health")
    expect(tap, srv.request("GET", "/v1/articles?limit=100"), 200, what=f"{what}: list")
    expect(tap, srv.request("GET", "/v1/search?q=paragraph"), 200, what=f"{what}: search")
    for path, value in snap.items():
        resp = srv.request("GET", path)
        tap.check(resp.status == 200 and resp.json == value,
                  f"{what}: GET {path}: {resp.status} {resp.body[:200]!r}")


def integrity(db, what):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()
    tap.check(rows == [("ok",)], f"{what}: integrity_check: {rows[:5]}")


def attempt_writes(srv, snap, n=30):
    """Writes while the disk is full; every answer is its success code or a
    clean 503. Returns the Locations of the posts that succeeded."""
    art_path = next(p for p in snap if p.startswith("/v1/articles/"))
    stored, refused = [], 0
    for i in range(n):
        kind = i % 3
        if kind == 0:
            resp = srv.request("POST", "/v1/articles",
                               {"title": f"While full {i}", "body": "w" * 40_000}, auth=True)
            want = 201
        elif kind == 1:
            resp = srv.request("POST", f"{art_path}/comments",
                               {"author": "full", "body": "c" * 9000})
            want = 201
        else:
            resp = srv.request("PATCH", art_path, {"summary": f"Summary {i}"}, auth=True)
            want = 200
        if resp.status == want:
            if kind < 2:
                stored.append(resp.headers.get("Location"))
            else:
                snap[art_path] = resp.json  # the last acknowledged version
            continue
        refused += 1
        problem_ok(resp, f"write {i} on a full disk")
    tap.check(refused > 0, f"none of {n} writes was refused: the disk never filled")
    return stored


def in_flight(srv):
    for line in srv.request("GET", "/metrics").body.decode().splitlines():
        if line.startswith("newsd_http_requests_in_flight "):
            return int(line.split()[1])
    return -1


def grouped_writes(srv, snap, n=12):
    """Writes sent together while another connection holds the write lock, so
    that newsd commits them as one group (http_offload.c) on the full disk.
    Each answer is its success code or a clean 503, never a 500; the
    acknowledged ones are returned (to be read back once there is space) and
    no refused one may be stored."""
    art_path = next(p for p in snap if p.startswith("/v1/articles/"))
    answers = [None] * n

    def send(i):
        if i % 3 == 0:
            answers[i] = srv.request("POST", "/v1/articles", {"title": f"Grouped while full {i}",
                                                              "body": "g" * 40_000}, auth=True)
        else:
            answers[i] = srv.request("POST", f"{art_path}/comments",
                                     {"author": "full", "body": f"grouped {i} " + "c" * 9000})

    other = sqlite3.connect(srv.db, isolation_level=None, timeout=5)
    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    try:
        other.execute("BEGIN IMMEDIATE")
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while in_flight(srv) < n + 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        other.execute("ROLLBACK")
        other.close()
    for t in threads:
        t.join(60)
    stored, refused = [], 0
    for i, resp in enumerate(answers):
        tap.require(resp is not None, f"grouped write {i} got no answer")
        if resp.status == 201:
            stored.append(resp.headers.get("Location"))
        else:
            refused += 1
            problem_ok(resp, f"grouped write {i} on a full disk")
    tap.diag(f"grouped writes on the full disk: {[r.status for r in answers]}")
    tap.check(refused > 0, f"none of {n} grouped writes was refused: the disk never filled")
    for i, resp in enumerate(answers):
        if resp.status != 201 and i % 3 == 0:
            found = srv.request("GET", f"/v1/articles/grouped-while-full-{i}", auth=True)
            tap.check(found.status == 404, f"refused grouped article {i} is stored")
    comments = srv.request("GET", f"{art_path}/comments?limit=100").json["data"]
    kept = {c["body"].split(" ")[1] for c in comments if c["body"].startswith("grouped ")}
    for i, resp in enumerate(answers):
        if i % 3 != 0:
            tap.check((str(i) in kept) == (resp.status == 201),
                      f"grouped comment {i} answered {resp.status} but stored: {str(i) in kept}")
    return stored


def fill(folder):
    """Fills the file system of folder; returns the filler's path."""
    path = os.path.join(folder, "filler")
    with open(path, "wb", buffering=0) as out:
        for size in (1 << 20, 1 << 16, 1 << 12, 1):
            chunk = b"\0" * size
            try:
                while True:
                    out.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    return path


def test_disk_full(folder):
    with Mount(os.path.join(folder, "small"), "tmpfs", "newsd-full", "size=4m,mode=0700") as mnt:
        if not mnt.usable("disk full: 503 for writes, reads go on, nothing damaged"):
            return
        db = os.path.join(mnt.path, "newsd.db")
        with Server(BIN, db=db, args=["--busy-timeout", "1000"]) as srv:
            snap = seed(srv)
            filler = fill(mnt.path)
            stored = tap.run("disk full: every write answered its code or a clean 503",
                             attempt_writes, srv, snap)
            grouped = tap.run("disk full: a group of writes is acknowledged whole or not at all",
                              grouped_writes, srv, snap)
            tap.run("disk full: reads go on", check_reads, srv, snap, "disk full")
            os.remove(filler)
            tap.run("space again: writes succeed, earlier data intact", after_full, srv, snap,
                    (stored or []) + (grouped or []))
            tap.run("stops cleanly", check_stop, tap, srv)
        tap.run("disk full: integrity_check after the stop", integrity, db, "disk full")


def after_full(srv, snap, stored):
    resp = srv.request("POST", "/v1/articles", {"title": "After the space came back",
                                                "body": "x"}, auth=True)
    expect(tap, resp, 201, what="a write once space is free")
    check_reads(srv, snap, "after space came back")
    for path in stored:
        tap.check(path and srv.request("GET", path).status == 200,
                  f"a write acknowledged while nearly full is gone: {path}")
    listed = srv.request("GET", "/v1/articles?limit=100").json["data"]
    titles = {a["title"] for a in listed}
    want = {v["title"] for p, v in snap.items() if "title" in v}
    tap.check(want <= titles, f"articles missing from the list: {want - titles}")


# ---- read-only -------------------------------------------------------------------------


def loop_device_of(mount_path):
    proc = run("findmnt", "-n", "-o", "SOURCE", mount_path)
    return os.path.basename(proc.stdout.strip()) if proc.returncode == 0 else None


def test_read_only(folder):
    image = os.path.join(folder, "ext4.img")
    have_tools = shutil.which("mkfs.ext4") and shutil.which("e2fsck") and shutil.which("findmnt")
    if have_tools:
        with open(image, "wb") as out:
            out.truncate(32 << 20)
        have_tools = run("mkfs.ext4", "-q", "-F", image).returncode == 0
    if have_tools:
        with Mount(os.path.join(folder, "ext4"), "ext4", image, "loop,errors=remount-ro") as mnt:
            dev = loop_device_of(mnt.path) if mnt.mounted else None
            trigger = f"/sys/fs/ext4/{dev}/trigger_fs_error" if dev else None
            if trigger and os.path.exists(trigger):
                read_only_ext4(mnt, image, trigger)
                return
    read_only_tmpfs(folder)


def read_only_ext4(mnt, image, trigger):
    db = os.path.join(mnt.path, "newsd.db")
    with Server(BIN, db=db, args=["--busy-timeout", "1000"]) as srv:
        snap = seed(srv)
        os.sync()  # what was acknowledged is on the disk before it fails
        with open(trigger, "w", encoding="ascii") as knob:
            knob.write("newsd read-only test")
        tap.require(probe_read_only(mnt.path), "ext4 did not turn read-only")
        tap.run("read-only file system: writes are 503", read_only_writes, srv, snap)
        tap.run("read-only file system: reads go on", check_reads, srv, snap, "read-only")
        tap.run("read-only file system: stops cleanly", check_stop, tap, srv)
        mnt.unmount()
        fsck = run("e2fsck", "-fy", image)
        tap.check(fsck.returncode in (0, 1), f"e2fsck exit {fsck.returncode}: {fsck.stdout}")
        with Mount(mnt.path, "ext4", image, "loop") as again:
            tap.require(again.mounted, f"the image does not mount again: {again.error}")
            tap.run("read-only file system: integrity_check afterwards", integrity, db,
                    "read-only")
            restart_and_verify(srv, snap)
            srv.stop()


def probe_read_only(path):
    try:
        with open(os.path.join(path, "probe"), "w", encoding="ascii"):
            return False
    except OSError as e:
        return e.errno == errno.EROFS


def read_only_writes(srv, snap):
    art_path = next(p for p in snap if p.startswith("/v1/articles/"))
    com_path = next(p for p in snap if p.startswith("/v1/comments/"))
    writes = [("POST", "/v1/articles", {"title": "Refused", "body": "x"}, True),
              ("POST", f"{art_path}/comments", {"author": "a", "body": "refused"}, False),
              ("PATCH", art_path, {"title": "Refused"}, True),
              ("DELETE", com_path, None, True),
              ("DELETE", art_path, None, True)]
    for method, path, body, auth in writes:
        problem_ok(srv.request(method, path, body, auth=auth),
                   f"{method} {path} on a read-only file system")


def restart_and_verify(srv, snap):
    srv.start()
    try:
        tap.run("after the failure: every earlier write intact", check_reads, srv, snap,
                "remounted")
        resp = srv.request("POST", "/v1/articles", {"title": "Writable again", "body": "x"},
                           auth=True)
        tap.run("after the failure: writes succeed again",
                lambda: expect(tap, resp, 201, what="write after remounting"))
    finally:
        tap.run("restarted server stops cleanly", check_stop, tap, srv)


def read_only_tmpfs(folder):
    with Mount(os.path.join(folder, "ro"), "tmpfs", "newsd-ro", "size=16m,mode=0700") as mnt:
        if not mnt.usable("read-only file system: 503 for writes, reads go on"):
            return
        tap.diag("no loop device or ext4 error switch: remounting a tmpfs read-only instead")
        db = os.path.join(mnt.path, "newsd.db")
        with Server(BIN, db=db, args=["--busy-timeout", "1000"]) as srv:
            snap = seed(srv)
            # A kill leaves the WAL and its index behind, which a read-only
            # opener needs; a clean stop would remove them.
            srv.stop(signal.SIGKILL)
            ok, err = mnt.remount("ro")
            tap.require(ok, f"remount read-only failed: {err}")
            srv.start()
            tap.run("read-only file system: writes are 503", read_only_writes, srv, snap)
            tap.run("read-only file system: reads go on", check_reads, srv, snap, "read-only")
            tap.run("read-only file system: stops cleanly", check_stop, tap, srv)
            ok, err = mnt.remount("rw")
            tap.require(ok, f"remount read-write failed: {err}")
            integrity(db, "read-only")
            restart_and_verify(srv, snap)


def session():
    if os.geteuid() != 0:
        tap.skip("disk full and read-only file systems", "mounting needs root")
        return
    with tempfile.TemporaryDirectory(prefix="newsd-disk-") as folder:
        tap.run("disk full", test_disk_full, folder)
        tap.run("read-only file system", test_read_only, folder)


session()
tap.done()
