"""Load with faults (the hardening issue): for 20 seconds, all at once, against one
server with --threads 2 and --head-timeout 5,

  * 200 keep-alive clients hammer small files, checking every status and body;
  * 50 curl processes download a 16 MiB file at --limit-rate 200k (~80 s: they are
    killed at the end of the window, and what each received must be a prefix of the
    file);
  * 10 curl processes download a 2 MiB file at --limit-rate 200k (~10 s), which must
    complete byte-exact (sha256);
  * 200 clients in a loop ask for the 16 MiB file, read a random amount under 2 MiB
    (checking it) and hang up;
  * 100 slowloris clients send a request head one byte per second and are cut at the
    head deadline, then reconnect.

Afterwards: every response had the right status, every completed download is exact,
the server's descriptor count returns to what it was before the load, its peak RSS
(sampled every 0.5 s) stays bounded, and it still answers.

The client side is one asyncio loop (raw streams and protocols, no threads, no busy
waiting) plus the curl processes, to leave the 2-core machine to the server as far as
possible. curl's --limit-rate averages over seconds, and on loopback curl first
swallows megabytes at once; the test reads each curl's output at the same 200 KiB/s,
so curl blocks on its pipe and the server sees a reader that is really that slow.

The assertions are about correctness, not throughput (the build may be sanitized):
the request counts, the peak RSS and the server's CPU time are printed (pytest -s).
Runtime: ~22 s (the 20 s window, start-up and the wait for descriptors).
"""

import asyncio
import collections
import hashlib
import os
import random
import re
import signal
import time

import pytest

from conftest import parse_head, skip_under_valgrind, wait_for

WINDOW = 20.0
SMALL_CLIENTS = 200
SLOW_CURLS = 50
COMPLETE_CURLS = 10
ABORTERS = 200
SLOWLORIS = 100
HEAD_TIMEOUT = 5
RATE = "200k"
RATE_BYTES = 200 * 1024
BIG_SIZE = 16 << 20
MEDIUM_SIZE = 2 << 20
ABORT_READ_MAX = 2 << 20
RSS_LIMIT_KIB = 200 * 1024
RSS_INTERVAL = 0.5
# A slowloris connection is cut once its head deadline passes, at the next tick of the
# loop's timer sweep (1 s); more under load and sanitizers, never before the deadline.
CUT_LATEST = HEAD_TIMEOUT + 4.0
CUT_EARLIEST = HEAD_TIMEOUT - 0.5
# What may still be running when the window closes gets this long to finish.
GRACE = 8.0


@pytest.fixture
def load_root(tmp_path):
    """Small files of assorted sizes (all under the 16 KiB cache limit), a 2 MiB and a
    16 MiB file, all random; returns the root and a map URL path -> bytes."""
    root = tmp_path / "root"
    (root / "s").mkdir(parents=True)
    files = {}
    for k, size in enumerate([0, 1, 100, 512, 1000, 2048, 4096, 5000, 8192, 12000, 16384]):
        files[f"/s/f{k}.bin"] = os.urandom(size)
    files["/medium.bin"] = os.urandom(MEDIUM_SIZE)
    files["/big.bin"] = os.urandom(BIG_SIZE)
    for path, data in files.items():
        (root / path.lstrip("/")).write_bytes(data)
    return root, files


async def read_head(reader):
    """(status, lower-case field map) of the next response head."""
    head = await reader.readuntil(b"\r\n\r\n")
    return parse_head(head[:-4])


class PartialDownload(asyncio.BufferedProtocol):
    """Asks for the 16 MiB file, checks the head and the first `want` body bytes as they
    arrive (read into one reused buffer, so no allocation per read), then hangs
    up. Reads at most 64 KiB per event so the other clients get their turn."""

    def __init__(self, load, name, want, reset):
        self.load = load
        self.name = name
        self.want = want
        self.reset = reset
        self.buf = bytearray(65536)
        self.head = b""
        self.got = 0
        self.transport = None
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    def get_buffer(self, sizehint):
        return self.buf

    def buffer_updated(self, nbytes):
        data = self.buf[:nbytes]  # a copy, but comparing memoryviews is ~30x slower
        if self.head is not None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.head[:end].decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            self.load.abort_statuses[status] += 1
            length = [v.strip() for n, _, v in (ln.partition(":") for ln in lines[1:])
                      if n.strip().lower() == "content-length"]
            if status != 200 or length != [str(BIG_SIZE)]:
                self.finish(f"status {status}, Content-Length {length}")
                return
            data = self.head[end + 4:]
            self.head = None
        n = min(len(data), self.want - self.got)
        if self.load.big[self.got:self.got + n] != data[:n]:
            self.finish(f"wrong bytes at offset {self.got}")
            return
        self.got += n
        if self.got >= self.want:
            self.finish(None)

    def finish(self, problem):
        if self.done.done():
            return
        if problem:
            self.load.problem(f"{self.name}: {problem}")
        else:
            self.load.aborted_downloads += 1
            self.load.aborted_bytes += self.got
        if self.reset:
            self.transport.abort()
        else:
            self.transport.close()
        self.done.set_result(None)

    def connection_lost(self, exc):
        self.finish(f"connection lost after {self.got} of {self.want} bytes: {exc!r}")


class Load:
    """The clients of one run and what they saw."""

    def __init__(self, srv, files):
        self.srv = srv
        self.files = files
        self.small_paths = sorted(p for p in files if p.startswith("/s/"))
        self.big = files["/big.bin"]
        self.stop = asyncio.Event()
        self.problems = []  # anything wrong, as readable lines
        self.small_statuses = collections.Counter()
        self.abort_statuses = collections.Counter()
        self.curl_statuses = collections.Counter()
        self.aborted_downloads = 0
        self.aborted_bytes = 0
        self.cuts = [[] for _ in range(SLOWLORIS)]  # seconds to each cut, per client
        self.slowloris_responses = collections.Counter()
        self.partial_bytes = []  # bytes each killed 16 MiB download received
        self.completed = collections.Counter()  # byte-exact curl downloads per path
        self.procs = []
        self.to_kill = []  # the 16 MiB downloads, stopped at the end of the window
        self.peak_rss = 0

    def problem(self, text):
        if len(self.problems) < 1000:
            self.problems.append(text)

    async def connect(self):
        return await asyncio.open_connection(self.srv.host, self.srv.port)

    # ---- keep-alive small files ----

    async def small_client(self, i):
        reader = writer = None
        k = i
        try:
            while not self.stop.is_set():
                if writer is None:
                    reader, writer = await self.connect()
                path = self.small_paths[k % len(self.small_paths)]
                k += 1
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                try:
                    status, fields = await read_head(reader)
                    body = await reader.readexactly(int(fields["content-length"]))
                except (asyncio.IncompleteReadError, ConnectionError) as e:
                    self.problem(f"small client {i}: {path}: connection lost: {e!r}")
                    writer.close()
                    writer = None
                    continue
                self.small_statuses[status] += 1
                if status != 200 or body != self.files[path]:
                    self.problem(f"small client {i}: {path}: status {status}, {len(body)} "
                                 f"bytes, expected 200 and {len(self.files[path])} bytes")
                if fields.get("connection", "").lower() == "close":
                    self.problem(f"small client {i}: {path}: keep-alive refused")
                    writer.close()
                    writer = None
        finally:
            if writer is not None:
                writer.close()

    # ---- downloads abandoned part way ----

    async def aborter(self, i, rng):
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            want = rng.randrange(1, ABORT_READ_MAX)
            # Half hang up with unread data pending (the kernel resets), half reset.
            proto = PartialDownload(self, f"aborter {i}", want, reset=bool(i % 2))
            transport, _ = await loop.create_connection(lambda: proto, self.srv.host,
                                                        self.srv.port)
            try:
                await proto.done
            finally:
                transport.abort()

    # ---- slowloris ----

    async def slowloris(self, i):
        head = (b"GET /s/f4.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 200)
        while not self.stop.is_set():
            started = time.monotonic()
            reader, writer = await self.connect()
            try:
                for byte in head:  # never completes: 200+ s of head at 1 byte/s
                    writer.write(bytes([byte]))
                    try:
                        data = await asyncio.wait_for(reader.read(4096), 1.0)
                    except asyncio.TimeoutError:
                        if self.stop.is_set():
                            if time.monotonic() - started > CUT_LATEST:
                                self.problem(f"slowloris {i}: not cut after "
                                             f"{time.monotonic() - started:.1f} s")
                            return
                        continue
                    except ConnectionError:
                        data = b""
                    if data:  # a server may answer 408 before closing
                        m = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
                        status = int(m.group(1)) if m else None
                        self.slowloris_responses[status] += 1
                        if status != 408:
                            self.problem(f"slowloris {i}: got {data[:60]!r}")
                        while data:
                            try:
                                data = await asyncio.wait_for(reader.read(4096), 5.0)
                            except (asyncio.TimeoutError, ConnectionError):
                                break
                    self.cuts[i].append(time.monotonic() - started)
                    break
            finally:
                writer.close()

    # ---- curl ----

    async def curl(self, path, may_be_stopped):
        """Downloads path with a rate-limited curl whose output is also read at that
        rate. It must end byte-exact, or, if may_be_stopped, be killed at the end of
        the window having received a non-empty prefix of the file."""
        expected = self.files[path]
        proc = await asyncio.create_subprocess_exec(
            "curl", "-sS", "--limit-rate", RATE, "-D", "/dev/stderr", self.srv.url(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        self.procs.append(proc)
        if may_be_stopped:
            self.to_kill.append(proc)
        digest = hashlib.sha256()
        got = 0
        prefix_ok = True
        started = time.monotonic()
        while chunk := await proc.stdout.read(65536):
            # curl's own limit averages over seconds: on loopback it first swallows
            # megabytes at once. Reading its pipe at the rate keeps it (and so its
            # socket) really that slow.
            ahead = (got + len(chunk)) / RATE_BYTES - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
            if prefix_ok and expected[got:got + len(chunk)] != chunk:
                self.problem(f"curl {path}: wrong bytes at offset {got}")
                prefix_ok = False
            digest.update(chunk)
            got += len(chunk)
        err = (await proc.stderr.read()).decode(errors="replace")
        code = await proc.wait()
        m = re.match(r"HTTP/1\.1 (\d{3}) ", err)
        status = int(m.group(1)) if m else None
        self.curl_statuses[status] += 1
        if status != 200:
            self.problem(f"curl {path}: status {status}: {err[:200]!r}")
        if code == 0 and digest.hexdigest() == hashlib.sha256(expected).hexdigest():
            self.completed[path] += 1
        elif may_be_stopped and code == -signal.SIGKILL and prefix_ok and got > 0:
            self.partial_bytes.append(got)
        else:
            self.problem(f"curl {path}: exit {code} after {got} of {len(expected)} bytes "
                         f"({'a prefix' if prefix_ok else 'wrong bytes'}): {err[-200:]!r}")

    # ---- the run ----

    async def sample_rss(self):
        while not self.stop.is_set():
            self.peak_rss = max(self.peak_rss, self.srv.rss_kib())
            try:
                await asyncio.wait_for(self.stop.wait(), RSS_INTERVAL)
            except asyncio.TimeoutError:
                pass

    async def run(self):
        rng = random.Random(20240601)
        sampler = asyncio.create_task(self.sample_rss())
        completing = [asyncio.create_task(self.curl("/medium.bin", False))
                      for _ in range(COMPLETE_CURLS)]
        killed = [asyncio.create_task(self.curl("/big.bin", True)) for _ in range(SLOW_CURLS)]
        clients = [asyncio.create_task(self.small_client(i)) for i in range(SMALL_CLIENTS)]
        clients += [asyncio.create_task(self.aborter(i, random.Random(rng.random())))
                    for i in range(ABORTERS)]
        clients += [asyncio.create_task(self.slowloris(i)) for i in range(SLOWLORIS)]
        everything = [sampler, *completing, *killed, *clients]
        try:
            await asyncio.sleep(WINDOW)  # the load runs for this long
            self.stop.set()
            for proc in self.to_kill:
                if proc.returncode is None:
                    proc.kill()
            done, pending = await asyncio.wait(everything, timeout=GRACE)
            for t in done:
                if t.exception():
                    self.problem(f"client failed: {t.exception()!r}")
            for t in pending:
                self.problem(f"still running {GRACE} s after the window: {t.get_coro()}")
        finally:
            self.stop.set()
            for proc in self.procs:
                if proc.returncode is None:
                    proc.kill()
            for t in everything:
                t.cancel()
            await asyncio.gather(*everything, return_exceptions=True)
            for proc in self.procs:
                await proc.wait()


@skip_under_valgrind
def test_server_stays_correct_and_bounded_under_load_with_faults(start_server, load_root):
    root, files = load_root
    srv = start_server(root, "--head-timeout", str(HEAD_TIMEOUT), threads=2)
    baseline = srv.fd_count()
    load = Load(srv, files)
    started = time.monotonic()
    asyncio.run(load.run())
    elapsed = time.monotonic() - started
    small = sum(load.small_statuses.values())
    cuts = [c for per_client in load.cuts for c in per_client]
    partial = load.partial_bytes
    print(f"\nload for {elapsed:.1f} s, server --threads 2:\n"
          f"  small files: {small} requests ({small / WINDOW:.0f}/s), statuses "
          f"{dict(load.small_statuses)}\n"
          f"  aborted downloads: {load.aborted_downloads} ({load.aborted_bytes >> 20} MiB "
          f"read), statuses {dict(load.abort_statuses)}\n"
          f"  curl: {load.completed['/medium.bin']}/{COMPLETE_CURLS} 2 MiB downloads "
          f"complete; 16 MiB: {load.completed['/big.bin']} complete, {len(partial)} stopped "
          f"after {min(partial, default=0) >> 10}-{max(partial, default=0) >> 10} KiB; "
          f"statuses {dict(load.curl_statuses)}\n"
          f"  slowloris: {len(cuts)} cuts after {min(cuts, default=0):.1f}-"
          f"{max(cuts, default=0):.1f} s, responses {dict(load.slowloris_responses)}\n"
          f"  server: peak RSS {load.peak_rss / 1024:.1f} MiB, CPU {srv.cpu_seconds():.1f} s")

    assert not load.problems, (f"{len(load.problems)} problems, first ones:\n"
                               + "\n".join(load.problems[:20]))
    assert small > 0 and set(load.small_statuses) == {200}
    assert load.aborted_downloads > 0 and set(load.abort_statuses) == {200}
    assert load.completed["/medium.bin"] == COMPLETE_CURLS
    assert load.completed["/big.bin"] + len(load.partial_bytes) == SLOW_CURLS
    assert load.curl_statuses == {200: COMPLETE_CURLS + SLOW_CURLS}
    late = [c for c in cuts if not CUT_EARLIEST <= c <= CUT_LATEST]
    assert not late, f"slowloris cut after {late[:10]} s, not {HEAD_TIMEOUT}-{CUT_LATEST} s"
    # Every slowloris client is cut at least twice in the window (at ~6 and ~12 s).
    assert all(len(c) >= 2 for c in load.cuts), [len(c) for c in load.cuts]
    assert load.peak_rss < RSS_LIMIT_KIB, f"peak RSS {load.peak_rss} KiB"

    wait_for(lambda: srv.fd_count() == baseline, timeout=10,
             what=f"server descriptors back to {baseline} (now {srv.fd_count()})")
    conn = srv.http(timeout=10)
    conn.request("GET", "/s/f9.bin")
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, files["/s/f9.bin"])
    conn.close()
