"""rawhttp.py: HTTP/1.1 over plain sockets, for the tests that try to break newsd.

http.client refuses to send most of what these tests send (two
Content-Length headers, NUL bytes, a hundred pipelined requests), so they
write bytes to a socket and read the answers back with this module. It also
binds clients to chosen loopback addresses (127.x.y.z all reach 127.0.0.1 on
Linux), tells an open connection from one the server closed, and reads a
process's memory and sockets from /proc. Standard library only.
"""

import os
import select
import socket
import time

from harness import Headers, Response


class Closed(Exception):
    """The server closed (or reset) the connection before a whole answer."""


class Timeout(Exception):
    """No whole answer arrived in time, and the connection is still open."""


def connect(port, source=None, timeout=10.0):
    """A TCP connection to 127.0.0.1:port, from the loopback address source
    (any port) when given. TCP_NODELAY, so small writes leave at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source is not None:
            sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return sock


def send_all(sock, data):
    """Sends data; False when the server has already closed the connection."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
        return False


class Reader:
    """Reads answers off one connection, framing each by its Content-Length
    (or chunked encoding); bytes past an answer stay for the next one."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout("no complete answer in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout("no complete answer in time") from None
        except (ConnectionResetError, ConnectionAbortedError):
            self.eof = True
            raise Closed("connection reset") from None
        if not data:
            self.eof = True
            raise Closed("connection closed")
        self.buf += data

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise Closed("an answer line longer than 1 MiB")
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, method="GET", timeout=10.0):
        """The next answer as a harness Response (with .raw_head, the status
        line and headers as bytes). Raises Closed or Timeout."""
        deadline = time.monotonic() + timeout
        status_line = self._line(deadline)
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise Closed(f"not an HTTP status line: {status_line[:100]!r}")
        status = int(parts[1])
        pairs = []
        while True:
            line = self._line(deadline)
            if line == b"":
                break
            name, _, value = line.partition(b":")
            pairs.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        headers = Headers(pairs)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in (headers.get("Transfer-Encoding") or "").lower():
            body = self._chunked(deadline)
        elif headers.get("Content-Length") is not None:
            body = self._take(int(headers["Content-Length"]), deadline)
        else:
            body = self._until_close(deadline)
        resp = Response(status, headers, body, method)
        resp.raw_head = status_line
        return resp

    def _chunked(self, deadline):
        body = b""
        while True:
            size = int(self._line(deadline).split(b";")[0], 16)
            if size == 0:
                while self._line(deadline) != b"":
                    pass
                return body
            body += self._take(size, deadline)
            self._take(2, deadline)

    def _until_close(self, deadline):
        try:
            while True:
                self._fill(deadline)
        except Closed:
            pass
        data, self.buf = self.buf, b""
        return data


def wait_closed(sock, timeout):
    """Seconds until the server closes or resets sock (reading and dropping
    anything it sends first), or None when it is still open after timeout."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            return None
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            return time.monotonic() - started
        except BlockingIOError:
            continue
        if not data:
            return time.monotonic() - started


def is_open(sock):
    """True when nothing says the server has closed sock: no EOF, no reset
    and no data waiting (a probe that does not block)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    if not readable:
        return True
    try:
        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return False
    return bool(data)


def rss_kib(pid):
    """The resident set size of process pid in KiB (VmRSS), or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def unix_socket_inodes():
    """The inodes of every Unix domain socket of the machine."""
    inodes = set()
    try:
        with open("/proc/net/unix", encoding="ascii") as f:
            next(f)
            for line in f:
                fields = line.split()
                if len(fields) >= 7:
                    inodes.add(fields[6])
    except OSError:
        pass
    return inodes


def socket_count(pid):
    """How many network sockets process pid holds open (its listening socket
    included). Unix domain sockets are not counted: they are the server's own
    connections to PostgreSQL, opened per worker thread on first use."""
    count = 0
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    local = unix_socket_inodes()
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:") and target[len("socket:["):-1] not in local:
            count += 1
    return count


def request_bytes(method, path, headers=(), body=b"", version="HTTP/1.1"):
    """A request as bytes: Host first, then headers (pairs of str), then body
    (bytes, sent as is: add Content-Length yourself when you want one)."""
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body
