"""Many event loops, many connections: with --threads 4 the server holds 1,000 client
connections open at once and answers every one correctly, each asking for files no
other client asks for in the same position, over keep-alive; afterwards every
descriptor it opened for them is closed.

The files are written by the test (random bytes, sizes on both sides of the 16 KiB
small-file cache limit); each body is compared with the bytes written.
"""

import asyncio
import os
import resource

import pytest

from conftest import skip_under_valgrind, wait_for

CLIENTS = 1000
FILES = 1000
REQUESTS_PER_CLIENT = 3
TIMEOUT = 60.0  # for the whole exchange phase; it takes a few seconds


@pytest.fixture
def files_root(tmp_path):
    """A root of FILES files; returns it with a map URL path -> bytes."""
    root = tmp_path / "root"
    root.mkdir()
    files = {}
    for k in range(FILES):
        # Small (cached) and large (sendfile) files mixed: 100 B up to ~40 KiB.
        data = os.urandom(100 + (k * 7919) % 40_000)
        (root / f"f{k:04d}.bin").write_bytes(data)
        files[f"/f{k:04d}.bin"] = data
    return root, files


@pytest.fixture
def enough_descriptors():
    """This process holds CLIENTS sockets at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = CLIENTS + 512
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.skip(f"descriptor hard limit {hard} is below {want}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    assert length is not None, f"no Content-Length: {lines}"
    return status, await reader.readexactly(length)


async def run_clients(srv, files, baseline_fds):
    names = sorted(files)
    all_connected = asyncio.Event()
    connected = 0
    problems = []
    served = 0

    async def client(i):
        nonlocal connected, served
        reader, writer = await asyncio.open_connection(srv.host, srv.port)
        try:
            connected += 1
            if connected == CLIENTS:
                all_connected.set()
            await all_connected.wait()
            # Client i asks for i, i+1*stride, i+2*stride: no two clients ask for the
            # same file in the same position, and no client asks twice.
            stride = FILES // REQUESTS_PER_CLIENT
            for r in range(REQUESTS_PER_CLIENT):
                path = names[(i + r * stride) % FILES]
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                status, body = await read_response(reader)
                if status != 200 or body != files[path]:
                    problems.append(f"client {i} {path}: status {status}, {len(body)} bytes "
                                    f"(expected 200 and {len(files[path])} matching bytes)")
                served += 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(client(i)) for i in range(CLIENTS)]
    try:
        await asyncio.wait_for(all_connected.wait(), TIMEOUT)
        # Every client is connected; the server must have accepted them all at once.
        wait_for(lambda: srv.fd_count() >= baseline_fds + CLIENTS, timeout=10,
                 what=f"the server to hold {CLIENTS} connections at once")
        peak_fds = srv.fd_count()
        done, pending = await asyncio.wait(tasks, timeout=TIMEOUT)
        assert not pending, f"{len(pending)} clients still waiting after {TIMEOUT} s"
        for t in done:
            t.result()  # re-raises a client's exception (a refused or reset connection)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return served, problems, peak_fds


@skip_under_valgrind
def test_four_loops_serve_a_thousand_concurrent_keepalive_clients_correctly(
        start_server, files_root, enough_descriptors):
    root, files = files_root
    srv = start_server(root, threads=4)
    baseline = srv.fd_count()
    served, problems, peak_fds = asyncio.run(run_clients(srv, files, baseline))
    print(f"{CLIENTS} clients, {served} responses; server descriptors {baseline} -> "
          f"{peak_fds} -> back")
    assert not problems, f"{len(problems)} wrong responses, e.g. {problems[:5]}"
    assert served == CLIENTS * REQUESTS_PER_CLIENT
    wait_for(lambda: srv.fd_count() == baseline, timeout=10,
             what=f"server descriptors back to {baseline} (now {srv.fd_count()})")
