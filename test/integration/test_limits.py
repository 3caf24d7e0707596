"""Time and resource limits (the hardening issue): the head, idle and send deadlines,
the connection cap, running out of descriptors, and the header-count, head-size and
URL-length limits.

Deadlines are set to a few seconds with the command-line flags and measured with
time.monotonic(). The server checks its deadlines on a one-second tick, so a connection
must be closed no earlier than its timeout and no later than timeout + 2 s. Each timing
test gives the other deadlines a much larger value, so that the wrong timer firing would
show as a wrong time."""

import hashlib
import http.client
import os
import resource
import select
import socket
import subprocess
import time

import pytest

from conftest import (EARLY_SLACK, SWEEP_SLACK, assert_closed_on_time, parse_responses,
                      seconds_until_closed, skip_under_valgrind, wait_for)

TIMEOUT = 10.0
SHORT = 2      # seconds: the deadline under test
LONG = 30      # seconds: the deadlines not under test
URL_MAX = 8192
HEAD_MAX = 16 * 1024
FIELDS_MAX = 100
# The slow reader: loopback socket buffers grow to about 4 MiB, so the file must be much
# bigger than that for the server to spend seconds waiting on the reader; at this rate it
# takes about six seconds, most of them with the server still sending.
SLOW_RATE = 4 << 20
SLOW_FILE_SIZE = 24 << 20
BIG_FILE_SIZE = 64 << 20  # far more than the socket buffers on both sides


# ---- fixtures and helpers ----

@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"hello, world\n")
    return root


def get(path, extra=b""):
    return b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


def read_response(sock, timeout=TIMEOUT):
    """Reads exactly one whole response (its Content-Length says how much) and returns
    (status, headers, body)."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        assert data, f"connection closed before a response head: {buf!r}"
        buf += data
    end = buf.index(b"\r\n\r\n") + 4
    (_, headers, _), = parse_responses(buf[:end], head_only_count=1)
    length = int(headers["content-length"])
    while len(buf) < end + length:
        data = sock.recv(65536)
        assert data, "connection closed in the middle of a body"
        buf += data
    (response,) = parse_responses(buf)
    return response


def http_get_ok(srv, path="/hello.txt"):
    conn = srv.http(timeout=TIMEOUT)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status == 200 and resp.read() == (srv.root / path.lstrip("/")).read_bytes()
    finally:
        conn.close()


def serves_now(srv):
    """Like http_get_ok, but a connection the server sheds counts as 'not yet'."""
    try:
        return http_get_ok(srv)
    except (OSError, http.client.HTTPException):
        return False


# ---- time limits ----

def test_slowloris_sending_one_byte_per_second_is_closed_at_head_deadline(start_server, root):
    srv = start_server(root, "--head-timeout", str(SHORT), "--idle-timeout", str(LONG))
    dribble = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 60
    start = time.monotonic()
    with srv.connect(timeout=TIMEOUT) as s:
        elapsed, received = seconds_until_closed(s, start, SHORT + 10, dribble)
    assert_closed_on_time(elapsed, SHORT, received)
    assert http_get_ok(srv)


def test_fresh_connection_sending_nothing_is_closed_at_head_deadline(start_server, root):
    srv = start_server(root, "--head-timeout", str(SHORT), "--idle-timeout", str(LONG))
    start = time.monotonic()
    with srv.connect(timeout=TIMEOUT) as s:
        elapsed, received = seconds_until_closed(s, start, SHORT + 10)
    assert_closed_on_time(elapsed, SHORT, received)
    assert http_get_ok(srv)


def test_keep_alive_connection_idle_after_response_is_closed_at_idle_timeout(start_server, root):
    srv = start_server(root, "--idle-timeout", str(SHORT), "--head-timeout", str(LONG))
    with srv.connect(timeout=TIMEOUT) as s:
        s.sendall(get(b"/hello.txt"))
        status, headers, body = read_response(s)
        start = time.monotonic()
        assert status == 200 and headers.get("connection") != "close"
        elapsed, received = seconds_until_closed(s, start, SHORT + 10)
    assert_closed_on_time(elapsed, SHORT, received)
    assert http_get_ok(srv)


def test_keep_alive_connection_used_more_often_than_idle_timeout_stays_open(start_server, root):
    srv = start_server(root, "--idle-timeout", str(SHORT), "--head-timeout", str(LONG))
    expected = (root / "hello.txt").read_bytes()
    start = time.monotonic()
    with srv.connect(timeout=TIMEOUT) as s:
        # Requests half an idle timeout apart, for twice the idle timeout in all: each
        # response restarts the idle clock.
        while time.monotonic() - start < 2 * SHORT:
            s.sendall(get(b"/hello.txt"))
            status, _, body = read_response(s)
            assert (status, body) == (200, expected)
            time.sleep(SHORT / 2)


def holds_open(srv, path):
    """Whether the server has `path` open (a response from it is in flight)."""
    fd_dir = f"/proc/{srv.pid}/fd"
    targets = []
    for fd in os.listdir(fd_dir):
        try:
            targets.append(os.readlink(f"{fd_dir}/{fd}"))
        except FileNotFoundError:
            pass  # closed while we looked
    return str(path) in targets


def test_download_that_makes_no_progress_is_torn_down_after_send_timeout(start_server, root):
    big = root / "big.bin"
    with open(big, "wb") as f:
        f.truncate(BIG_FILE_SIZE)  # sparse: only its size matters here
    srv = start_server(root, "--send-timeout", str(SHORT), "--head-timeout", str(LONG),
                       "--idle-timeout", str(LONG))
    # A kept-alive connection that has been served: the worker is up and nothing is in
    # flight, so this is the count the server must come back to.
    warm = srv.connect(timeout=TIMEOUT)
    warm.sendall(get(b"/hello.txt"))
    assert read_response(warm)[0] == 200
    baseline = srv.fd_count()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # A small receive buffer keeps the stalled download far from complete.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        s.settimeout(TIMEOUT)
        s.connect((srv.host, srv.port))
        s.sendall(get(b"/big.bin"))
        start = time.monotonic()
        head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 200 ")
        # The client now stops reading. The server holds the socket and the file...
        assert holds_open(srv, big)
        assert srv.fd_count() > baseline
        # ...until the send deadline tears the response down.
        wait_for(lambda: srv.fd_count() == baseline, SHORT + 2 * SWEEP_SLACK,
                 what="the stalled connection's descriptors to be released")
        elapsed = time.monotonic() - start
        assert elapsed >= SHORT - EARLY_SLACK, f"torn down after only {elapsed:.2f}s"
        assert not holds_open(srv, big)
        # The client sees a truncated body followed by the close.
        total = len(head)
        while True:
            try:
                data = s.recv(1 << 20)
            except ConnectionResetError:
                break
            if not data:
                break
            total += len(data)
        assert total < BIG_FILE_SIZE
    finally:
        s.close()
        warm.close()
    assert http_get_ok(srv)


def test_slow_reader_that_keeps_making_progress_is_not_cut_off(start_server, root, tmp_path):
    slow = root / "slow.bin"
    slow.write_bytes(os.urandom(SLOW_FILE_SIZE))
    srv = start_server(root, "--send-timeout", str(SHORT))
    out = tmp_path / "slow.out"
    # wget, not curl: this curl's --limit-rate averages over several seconds and lets a
    # loopback transfer through at full speed.
    start = time.monotonic()
    wget = subprocess.Popen(["wget", "-q", f"--limit-rate={SLOW_RATE}", "--tries=1",
                             "--timeout=30", "-O", str(out), srv.url("/slow.bin")],
                            stderr=subprocess.PIPE, text=True)
    # While the reader trickles, the server must still be sending well past the send
    # timeout (else the buffers swallowed the file and this test would prove nothing).
    sending_since = None
    while wget.poll() is None and time.monotonic() - start < 40:
        if holds_open(srv, slow):
            sending_since = time.monotonic() - start
        time.sleep(0.05)
    wget.wait(timeout=5)
    assert wget.returncode == 0, wget.stderr.read()
    assert hashlib.sha256(out.read_bytes()).hexdigest() == \
        hashlib.sha256(slow.read_bytes()).hexdigest()
    assert sending_since is not None and sending_since > SHORT + SWEEP_SLACK, \
        f"the server finished sending after {sending_since}s; the test needs a slower reader"


# ---- the connection cap ----

def test_connection_beyond_max_conns_waits_until_one_closes(start_server, root):
    cap = 10
    srv = start_server(root, "--max-conns", str(cap), "--idle-timeout", str(LONG),
                       "--head-timeout", str(LONG))
    expected = (root / "hello.txt").read_bytes()
    first = [srv.connect(timeout=TIMEOUT) for _ in range(cap)]
    extra = None
    try:
        for s in first:  # each one is served, so each is held by the server
            s.sendall(get(b"/hello.txt"))
            assert read_response(s)[0] == 200
        extra = srv.connect(timeout=TIMEOUT)  # the kernel completes the handshake...
        extra.sendall(get(b"/hello.txt"))
        readable, _, _ = select.select([extra], [], [], 1.5)
        assert not readable, "the connection over the cap was served"  # ...but no answer
        first.pop().close()
        status, _, body = read_response(extra)
        assert (status, body) == (200, expected)
    finally:
        for s in first:
            s.close()
        if extra is not None:
            extra.close()


def _limit_descriptors():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


@pytest.mark.parametrize("args", [
    (),
    ("--max-conns", "1000"),
], ids=["derived_cap", "cap_above_descriptor_limit"])
def test_descriptor_exhaustion_does_not_spin_or_stop_service(start_server, root, args):
    srv = start_server(root, *args, "--idle-timeout", str(LONG), "--head-timeout", str(LONG),
                       preexec=_limit_descriptors)
    expected = (root / "hello.txt").read_bytes()
    before = srv.http(timeout=TIMEOUT)  # opened before the flood
    flood = []
    try:
        before.request("GET", "/hello.txt")
        assert before.getresponse().read() == expected
        for _ in range(200):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((srv.host, srv.port))
            flood.append(s)
        # A server whose accept loop spins on EMFILE burns a whole core here.
        cpu0 = srv.cpu_seconds()
        time.sleep(2.0)
        cpu = srv.cpu_seconds() - cpu0
        assert cpu < 0.3, f"server used {cpu:.2f}s of CPU in 2s while out of descriptors"
        assert srv.alive()
        # The connection opened before the flood is still served.
        before.request("GET", "/hello.txt")
        resp = before.getresponse()
        assert (resp.status, resp.read()) == (200, expected)
    finally:
        before.close()
        for s in flood:
            s.close()
    wait_for(lambda: serves_now(srv), TIMEOUT, interval=0.2,
             what="the server to serve new connections after the flood")


DOWNLOAD_FILES = 40


def limit_descriptors_to(n):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def download_all(srv, names, timeout):
    """One client per name, all connected and asking at once, each with a small receive
    buffer (so responses stay in flight and hold their files); reads every response.
    Returns, per client, (status, body) or (None, what went wrong)."""
    socks = []
    for name in names:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.settimeout(timeout)
        s.connect((srv.host, srv.port))  # completed by the kernel, accepted or not
        s.sendall(get(b"/" + name, b"Connection: close\r\n"))
        socks.append(s)
    results = [None] * len(socks)
    bufs = [b""] * len(socks)
    open_ = {s.fileno(): i for i, s in enumerate(socks)}
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    deadline = time.monotonic() + timeout
    while open_:
        assert time.monotonic() < deadline, f"{len(open_)} downloads unfinished"
        for fd, _ in poller.poll(1000):
            i = open_[fd]
            try:
                data = socks[i].recv(1 << 16)
            except ConnectionResetError:
                data = b""
            bufs[i] += data
            if data:
                continue
            poller.unregister(fd)
            del open_[fd]
            socks[i].close()  # as a browser does: the server's lingering close ends now
            head, sep, body = bufs[i].partition(b"\r\n\r\n")
            results[i] = (int(head.split(b" ", 2)[1]), body) if sep else (None, bufs[i])
    return results


# Load tests: under memcheck the server is 20-50x slower, valgrind keeps descriptors of
# its own below the limit, and its warnings for each openat2 fill the stderr pipe.
@skip_under_valgrind
@pytest.mark.parametrize("limit,threads,downloads", [
    (256, 2, 300),
    (256, 1, 300),
    (256, 4, 300),
    (64, 2, 100),
], ids=["256-fds-2-threads", "256-fds-1-thread", "256-fds-4-threads", "64-fds-2-threads"])
def test_concurrent_downloads_beyond_the_descriptor_limit_all_succeed_and_never_get_500(
        start_server, tmp_path, limit, threads, downloads):
    # The descriptor table holds `limit`: listening sockets, loops, the root, cached
    # files, and for each connection its socket and the file it sends. The accept side
    # must stop taking connections before opening a file can fail with EMFILE, whatever
    # the number of threads: every client is served, late ones after waiting in the
    # listen backlog.
    root = tmp_path / "files"
    root.mkdir()
    contents = {}
    for i in range(DOWNLOAD_FILES):
        name = f"file-{i:02d}.bin".encode()
        contents[name] = os.urandom(200_000 + i * 1000)  # beyond the in-memory cache
        (root / name.decode()).write_bytes(contents[name])
    srv = start_server(root, threads=threads, preexec=limit_descriptors_to(limit))
    names = [f"file-{i % DOWNLOAD_FILES:02d}.bin".encode() for i in range(downloads)]
    results = download_all(srv, names, timeout=60.0)
    statuses = [r[0] for r in results]
    assert 500 not in statuses, f"{statuses.count(500)} of {downloads} got 500"
    assert statuses.count(200) == downloads, sorted(set(map(str, statuses)))
    for name, (_, body) in zip(names, results):
        assert body == contents[name], name
    assert " 500 " not in srv.access_log()


@skip_under_valgrind
def test_max_conns_beyond_the_file_share_gets_503_when_files_run_out_never_500(
        start_server, tmp_path):
    # At 64 descriptors, --max-conns 1000 is lowered to what leaves a few body files per
    # loop; more downloads at once than that are told to retry, not failed with a 500.
    root = tmp_path / "files"
    root.mkdir()
    contents = {}
    for i in range(DOWNLOAD_FILES):
        name = f"file-{i:02d}.bin".encode()
        contents[name] = os.urandom(200_000 + i * 1000)
        (root / name.decode()).write_bytes(contents[name])
    srv = start_server(root, "--max-conns", "1000", threads=1,
                       preexec=limit_descriptors_to(64))
    names = [f"file-{i % DOWNLOAD_FILES:02d}.bin".encode() for i in range(60)]
    results = download_all(srv, names, timeout=60.0)
    statuses = [r[0] for r in results]
    assert 500 not in statuses
    assert set(statuses) <= {200, 503}, sorted(set(map(str, statuses)))
    assert statuses.count(200) > 0
    for name, (status, body) in zip(names, results):
        if status == 200:
            assert body == contents[name], name
    code, err = srv.stop()
    assert code == 0
    assert "--max-conns 1000 lowered to" in err


# ---- head limits ----

def exchange_status(srv, request):
    with srv.connect(timeout=TIMEOUT) as s:
        s.sendall(request)
        return read_response(s)[0]


@pytest.mark.parametrize("fields,status", [
    (FIELDS_MAX, 200),
    (FIELDS_MAX + 1, 431),
    (FIELDS_MAX * 10, 431),
])
def test_header_field_count_over_limit_gets_431(start_server, root, fields, status):
    srv = start_server(root)
    # Host, Connection and fields - 2 others.
    request = get(b"/hello.txt", b"Connection: close\r\n" + b"X-F: 1\r\n" * (fields - 2))
    assert exchange_status(srv, request) == status
    assert http_get_ok(srv)


def padded_head(size):
    """A GET /hello.txt head exactly `size` bytes long."""
    start, end = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Pad: ", b"\r\n\r\n"
    return start + b"p" * (size - len(start) - len(end)) + end


@pytest.mark.parametrize("size,status", [
    (HEAD_MAX, 200),
    (HEAD_MAX + 1, 431),
    (4 * HEAD_MAX, 431),
])
def test_request_head_over_16_kib_gets_431(start_server, root, size, status):
    srv = start_server(root)
    request = padded_head(size)
    assert len(request) == size
    assert exchange_status(srv, request) == status
    assert http_get_ok(srv)


@pytest.mark.parametrize("length,status", [
    (URL_MAX, 200),
    (URL_MAX + 1, 414),
    (2 * URL_MAX, 414),
])
def test_request_target_over_8_kib_gets_414(start_server, root, length, status):
    srv = start_server(root)
    base = b"/hello.txt?q="
    target = base + b"a" * (length - len(base))
    assert len(target) == length
    assert exchange_status(srv, get(target)) == status
    assert http_get_ok(srv)
