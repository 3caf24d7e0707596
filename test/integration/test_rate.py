"""--rate: every response body paced per connection by the kernel (SO_MAX_PACING_RATE),
measured with real clients: the rate holds within 10% over 10 s, a paced download is
never cut by the send timeout while it progresses, and many paced downloads leave the
server almost idle.

Runtime: about 25 s (a 10 s measurement, a 6 s paced download, 5 s of 500 downloads)."""

import os
import selectors
import subprocess
import time

import pytest

from conftest import BIN, SLOWDOWN, skip_under_valgrind

MIB = 1 << 20


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "big.bin").write_bytes(os.urandom(32 * MIB))
    (r / "small.bin").write_bytes(os.urandom(40 << 10))
    return r


def get(srv, path):
    s = srv.connect(timeout=30)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return s


def read_head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "closed inside the head"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int([l for l in head.decode().split("\r\n") if l.lower().startswith(
        "content-length:")][0].split(":")[1])
    return length, len(rest)


@skip_under_valgrind
def test_rate_1m_holds_within_10_percent_over_10_seconds_with_curl(start_server, root):
    srv = start_server(root, "--rate", "1M")
    r = subprocess.run(["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "--max-time", "10",
                        "-w", "%{size_download} %{time_total}", srv.url("/big.bin")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 28, r.stderr  # cut by --max-time: still downloading
    size, seconds = r.stdout.split()
    rate = int(size) / float(seconds)
    assert 0.9 * MIB <= rate <= 1.1 * MIB, rate


def test_paced_download_outlives_a_short_send_timeout_while_it_progresses(start_server, root):
    # 40 KiB at 4 KiB/s: ~14 KiB leave at once (the kernel's unpaced initial window),
    # the rest takes over 6 s, six times the send timeout.
    srv = start_server(root, "--rate", "4k", "--send-timeout", "1")
    start = time.monotonic()
    with get(srv, "/small.bin") as s:
        length, got = read_head(s)
        while got < length:
            chunk = s.recv(65536)
            assert chunk, f"closed after {got} of {length} bytes"
            got += len(chunk)
    elapsed = time.monotonic() - start
    assert got == length == 40 << 10
    assert elapsed >= 5.0, elapsed


@skip_under_valgrind
def test_500_paced_downloads_leave_the_server_nearly_idle(start_server, root):
    srv = start_server(root, "--rate", "16k", "--max-conns", "2000")
    sel = selectors.DefaultSelector()
    socks = []
    buf = bytearray(1 << 16)
    try:
        for _ in range(500):
            s = get(srv, "/big.bin")
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            socks.append(s)
        time.sleep(1)
        cpu0, t0, got = srv.cpu_seconds(), time.monotonic(), 0
        while time.monotonic() - t0 < 5:
            for key, _ in sel.select(0.2):
                try:
                    got += key.fileobj.recv_into(buf)
                except BlockingIOError:
                    pass
        seconds = time.monotonic() - t0
        cpu = (srv.cpu_seconds() - cpu0) / seconds
    finally:
        for s in socks:
            s.close()
    # Every connection moved data at about the rate (the first second's backlog and the
    # initial window come on top, so the upper bound is loose).
    per_conn = got / seconds / 500
    assert 0.8 * 16384 <= per_conn <= 2 * 16384, per_conn
    # 500 paced downloads: a few hundred wake-ups a second in all (measured 0.7% of a
    # core for 1,000 at 16 KiB/s).
    assert cpu < 0.05 * SLOWDOWN, cpu


def test_rate_out_of_range_is_refused_at_start_with_one_line(tmp_path):
    for bad in ("0", "100", "2G", "1.5M", "k", "-1k"):
        r = subprocess.run([BIN, "-p", "0", "--rate", bad, str(tmp_path)], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 1
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "--rate needs bytes per second" in lines[0], r.stderr
