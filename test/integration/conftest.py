"""Shared fixtures for the black-box tests: start the real sluice binary on an
ephemeral port over a temporary root, talk to it with real clients, and check on the
way out that it shut down cleanly (exit 0, no sanitizer report)."""

import http.client
import os
import re
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

# Every client a test starts (curl, wget, Chromium) talks to 127.0.0.1 directly, even
# where the environment routes HTTP through a proxy.
for _var in ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy"):
    os.environ.pop(_var, None)
    os.environ.pop(_var.upper(), None)
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "*"

BIN = os.environ.get("SLUICE_BIN", str(Path(__file__).resolve().parents[2] / "build" / "sluice"))
ARTIFACTS = Path(os.environ.get("SLUICE_ARTIFACTS",
                                Path(__file__).resolve().parents[1] / "artifacts"))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "definitely lost:", "indirectly lost:", "Invalid read", "Invalid write",
                     "uninitialised value")
# SLUICE_VALGRIND=1 runs every server under memcheck; any error or leak fails the test
# at shutdown (exit status 99 and the report in stderr).
VALGRIND = os.environ.get("SLUICE_VALGRIND") == "1"
VALGRIND_CMD = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
                "--track-fds=no"]
# Tests of behaviour under heavy load measure the server at speed; memcheck slows it
# 20-50x, so they are skipped there (every other test runs under it).
skip_under_valgrind = pytest.mark.skipif(VALGRIND, reason="load test: memcheck is 20-50x slower")

# Slower under instrumentation: tests that bound latency scale their limits by this
# (the limits themselves are about the product, the plain build).
ASAN = os.environ.get("SLUICE_BUILD_LABEL") == "asan"
SLOWDOWN = 10.0 if VALGRIND else 3.0 if ASAN else 1.0
# Memory bounds are about the product too: ASan's redzones and its quarantine of freed
# blocks make the sanitizer build's RSS say nothing about them.
MEMORY_MEASURED = not VALGRIND and not ASAN
# Tests whose time goes to waiting on a paced client or on gigabytes of zeroes run the
# same server code as shorter ones: the sanitizer pass leaves them to the plain one and
# spends CI's budget where it finds memory errors.
skip_long_under_asan = pytest.mark.skipif(ASAN, reason="long wait, code covered by shorter tests")


# Deadlines: the server checks them on a one-second tick, so a connection is closed no
# earlier than its timeout and no later than timeout + SWEEP_SLACK.
SWEEP_SLACK = 2.0  # the one-second sweep tick, plus scheduling
# The server starts some clocks a few milliseconds before the client can observe the
# event it measures from (e.g. it finishes writing a response before we read it), and
# its loop clock has millisecond resolution.
EARLY_SLACK = 0.1


def wait_for(predicate, timeout=10.0, interval=0.01, what="condition"):
    """Polls predicate() until it returns a truthy value; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def seconds_until_closed(sock, start, limit, dribble=b""):
    """Sends one byte of `dribble` per second until the server closes the connection.
    Returns (seconds since `start` when the close was seen, bytes the server sent)."""
    received = b""
    sent = 0
    next_send = time.monotonic()
    while True:
        now = time.monotonic()
        assert now - start < limit, f"connection still open after {limit}s"
        if sent < len(dribble) and now >= next_send:
            try:
                sock.send(dribble[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - start, received
            sent += 1
            next_send += 1.0
        wake = next_send if sent < len(dribble) else start + limit
        readable, _, _ = select.select([sock], [], [], max(0.0, wake - time.monotonic()))
        if readable:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                return time.monotonic() - start, received
            if not data:
                return time.monotonic() - start, received
            received += data


def assert_closed_on_time(elapsed, timeout, received):
    assert timeout - EARLY_SLACK <= elapsed <= timeout + SWEEP_SLACK, \
        f"closed after {elapsed:.2f}s; the deadline was {timeout}s"
    # Closing silently is fine; so is a 408 first (RFC 9110 §15.5.9).
    assert received == b"" or [r[0] for r in parse_responses(received)] == [408], received[:200]


def sluice_env():
    """The environment for a sluice a test starts: sanitizers report leaks and stop at
    the first undefined behaviour."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    return env


@pytest.fixture
def spawned():
    """Factory: spawned(make, *args, **kwargs) returns make(*args, **kwargs), an object
    whose .proc is a Popen, and kills it at the end of the test if it still runs."""
    made = []

    def spawn(make, *args, **kwargs):
        obj = make(*args, **kwargs)
        made.append(obj)
        return obj

    yield spawn
    for obj in made:
        if obj.proc.poll() is None:
            obj.proc.kill()
            obj.proc.communicate()


class Server:
    """One running sluice process."""

    def __init__(self, root, *args, threads=1, env=None, preexec=None, user_cmd=None):
        self.root = Path(root)
        self.log_path = self.root.parent / f"access-{id(self)}.log"
        cmd = [BIN, "-p", "0", "--threads", str(threads), "--log", str(self.log_path)]
        cmd += list(args) + [str(self.root)]
        if VALGRIND:
            cmd = VALGRIND_CMD + cmd
        if user_cmd:
            cmd = list(user_cmd) + cmd
        full_env = sluice_env()
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=full_env, preexec_fn=preexec)
        self.stdout_lines = []
        self.port = self._read_port()
        self.host = "127.0.0.1"
        self.stopped = False

    def _read_port(self):
        # The banner ends with "(N thread(s); Ctrl-C to stop)"; the URL comes before it.
        while True:
            line = self.proc.stdout.readline().decode()
            if not line:
                err = self.proc.stderr.read().decode()
                raise AssertionError(f"sluice exited before serving: {err.strip()}")
            self.stdout_lines.append(line)
            m = re.search(r"http://[^\s]*:(\d+)/", line)
            if m:
                port = int(m.group(1))
            if "Ctrl-C to stop" in line:
                return port

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path="/"):
        return f"http://{self.host}:{self.port}{path}"

    def connect(self, timeout=10.0):
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        return s

    def http(self, timeout=10.0):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def cpu_seconds(self):
        """User + system CPU time the server has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def rss_kib(self):
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15.0 * SLOWDOWN):
        """Stops the server and returns (exit status, stderr). Fails on sanitizer reports."""
        if self.stopped:
            return self.proc.returncode, ""
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError("sluice did not exit after SIGTERM")
        err = err.decode(errors="replace")
        for marker in SANITIZER_MARKERS:
            assert marker not in err, f"sanitizer report from sluice:\n{err}"
        # valgrind's own notes ("--PID-- WARNING: unhandled syscall: 437", openat2) are not
        # sluice's output.
        err = "".join(l for l in err.splitlines(True) if not re.match(r"--\d+-- ", l))
        return self.proc.returncode, err

    def access_log(self):
        return self.log_path.read_text() if self.log_path.exists() else ""


@pytest.fixture
def start_server(tmp_path):
    """Factory: start_server(root, *args, threads=1) -> Server; all are stopped at the end
    of the test, which fails unless each exits with status 0 and no sanitizer report."""
    servers = []

    def start(root=None, *args, **kwargs):
        if root is None:
            root = tmp_path / "root"
            root.mkdir(exist_ok=True)
        s = Server(root, *args, **kwargs)
        servers.append(s)
        return s

    yield start
    for s in servers:
        if not s.stopped:
            code, err = s.stop()
            assert code == 0, f"sluice exited with {code}: {err}"


BLKIO = "/sys/fs/cgroup/blkio"
MIB = 1 << 20


def block_device(path):
    """"major:minor" of the disk (not the partition) that holds path, or None when it is
    on no block device (tmpfs, overlay)."""
    st = os.stat(path)
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    if os.path.exists(f"/sys/dev/block/{dev}/partition"):
        dev = open(f"/sys/dev/block/{dev}/../dev").read().strip()
    return dev if os.path.exists(f"/sys/dev/block/{dev}") else None


@pytest.fixture
def throttled(tmp_path):
    """A blkio cgroup (v1) throttling reads, like a slow network volume. Yields
    throttle(pid, under=tmp_path, bps=20 MiB/s, iops=200), which limits reads from the
    disk that holds `under` to bps and iops and moves pid into the group."""
    if os.geteuid() != 0 or not os.path.exists(f"{BLKIO}/cgroup.procs"):
        pytest.skip("needs root and the cgroup v1 blkio controller")
    cg = f"{BLKIO}/sluice-test-{os.getpid()}"
    os.mkdir(cg)
    try:
        def throttle(pid, under=tmp_path, bps=20 * MIB, iops=200):
            dev = block_device(under)
            if dev is None:
                pytest.skip(f"{under} is not on a block device")
            with open(f"{cg}/blkio.throttle.read_bps_device", "w") as f:
                f.write(f"{dev} {bps}")
            with open(f"{cg}/blkio.throttle.read_iops_device", "w") as f:
                f.write(f"{dev} {iops}")
            with open(f"{cg}/cgroup.procs", "w") as f:
                f.write(str(pid))
        yield throttle
    finally:
        # A server still running goes back to the root group (it is stopped later).
        for pid in open(f"{cg}/cgroup.procs").read().split():
            with open(f"{BLKIO}/cgroup.procs", "w") as f:
                f.write(pid)
        os.rmdir(cg)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium (test/integration/cdp.py) for the module; closed (with all its
    helpers) at the end."""
    import cdp  # only the browser tests need it

    chromium = cdp.Chromium(tmp_path_factory.mktemp("chromium"))
    try:
        chromium.call("Page.enable")
        chromium.call("Runtime.enable")
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def site(tmp_path):
    """A small root: index, a text file, a nested directory, a binary file."""
    root = tmp_path / "site"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "index.html").write_text("<!DOCTYPE html><title>home</title><p>hello</p>\n")
    (root / "hello.txt").write_text("hello, world\n")
    (root / "sub" / "page.html").write_text("<p>sub page</p>\n")
    (root / "sub" / "deeper" / "data.json").write_text('{"a": 1}\n')
    (root / "bin.dat").write_bytes(os.urandom(100_000))
    (root / "empty.txt").write_bytes(b"")
    return root


@pytest.fixture
def server(start_server, site):
    """A running server over `site`."""
    return start_server(site)


def raw_exchange(srv, data, timeout=10.0, shutdown=True):
    """Sends raw bytes, reads until the server closes (or timeout), returns all bytes."""
    with srv.connect(timeout=timeout) as s:
        s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def leave_mid_request(srv, request, clients=20):
    """clients connections each send request and close at once, while the server is
    still working on it (off the loop: a directory read, a tree walk)."""
    for _ in range(clients):
        s = srv.connect()
        s.sendall(request)
        s.close()


def assert_stop_mid_request_exits_cleanly(srv, request, signals, exit_timeout):
    """Sends request (which asks for Connection: close), then 1 (graceful) or 2 (forced)
    SIGTERMs while the server works on it; reads what comes. The server must exit 0 of
    itself, and a graceful stop must finish a response it has begun."""
    s = srv.connect()
    try:
        s.sendall(request)
        time.sleep(0.01)
        for _ in range(signals):
            srv.proc.send_signal(signal.SIGTERM)
            time.sleep(0.005)
        data = bytearray()
        while chunk := s.recv(1 << 20):
            data += chunk
    finally:
        s.close()
    # Waits for the exit itself: a signal sent while the process tears down its handlers
    # would end it by the default action, so srv.stop() (one more SIGTERM) comes after.
    srv.proc.wait(timeout=exit_timeout)
    code, err = srv.stop()
    assert code == 0, err
    if signals == 1 and data:
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        assert len(body) == int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))


class Conn:
    """One kept-alive client connection that reads exactly one response per request,
    framed by its Content-Length (none missing, none extra)."""

    def __init__(self, srv, timeout=10.0):
        self.sock = srv.connect(timeout=timeout)
        self.buf = b""
        self.requests = 0

    def close(self):
        self.sock.close()

    def _fill(self, what):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise AssertionError(f"{what}: the server closed the connection after "
                                 f"{self.requests} requests and {len(self.buf)} bytes")
        self.buf += chunk

    def request(self, method, path, headers=()):
        """(status, lower-case fields, body); body None for HEAD and 304."""
        self.sock.sendall(request_head(method, path, headers))
        self.requests += 1
        return self.response(method, path)

    def pipeline(self, paths, then=b""):
        """Sends a GET for each of paths in one write, followed by the raw bytes `then`
        (a partial head, say); response() reads the answers one by one."""
        self.sock.sendall(b"".join(request_head("GET", p) for p in paths) + then)
        self.requests += len(paths)

    def response(self, method="GET", path=""):
        """The next response: (status, lower-case fields, body); body None for HEAD and
        304."""
        what = f"{method} {path}"
        while b"\r\n\r\n" not in self.buf:
            self._fill(what)
        raw_head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, fields = parse_head(raw_head)
        if method == "HEAD" or status == 304:
            return status, fields, None
        assert "content-length" in fields, f"{what}: no Content-Length: {raw_head!r}"
        length = int(fields["content-length"])
        while len(self.buf) < length:
            self._fill(what)
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, fields, body

    def get(self, path, method="GET"):
        """request(), and the connection must stay open after it."""
        status, fields, body = self.request(method, path)
        assert fields.get("connection", "").lower() != "close", \
            f"{path}: {status} ends the keep-alive connection"
        return status, fields, body if body is not None else b""


def fetch_once(srv, method, path, headers=(), version="1.1", timeout=10.0):
    """One request on a fresh connection that the server then closes: the bytes after
    the head must be exactly Content-Length long (none missing, none extra)."""
    head = f"{method} {path} HTTP/{version}\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    with srv.connect(timeout=timeout) as s:
        s.sendall((head + "\r\n").encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    raw_head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, f"{method} {path}: no complete response head: {data[:200]!r}"
    status, fields = parse_head(raw_head)
    if method == "HEAD" or status == 304:
        assert rest == b"", f"{method} {path}: {status} followed by {len(rest)} bytes"
        return status, fields, None
    assert "content-length" in fields, f"response without Content-Length: {raw_head!r}"
    length = int(fields["content-length"])
    assert len(rest) == length, (f"{method} {path}: Content-Length {length} but "
                                 f"{len(rest)} body bytes before close")
    return status, fields, rest


def request_head(method, path, headers=()):
    """The bytes of a request head for path, with Host and the given fields."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    return (head + "\r\n").encode()


def parse_head(raw_head):
    """A response head's bytes (without the blank line) -> (status, fields with lower-case
    names)."""
    lines = raw_head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), fields


def parse_responses(data, head_only_count=0):
    """Splits a byte stream into (status, headers dict (lower-case names), body) tuples,
    using Content-Length (every sluice response has one)."""
    out = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        assert end >= 0, f"incomplete head at {pos}: {data[pos:pos+200]!r}"
        status, headers = parse_head(data[pos:end])
        pos = end + 4
        length = int(headers.get("content-length", "0"))
        if len(out) < head_only_count or status == 304:
            length = 0
        body = data[pos:pos + length]
        pos += length
        out.append((status, headers, body))
    return out
