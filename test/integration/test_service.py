"""Running sluice as a service: socket activation (the sd_listen_fds protocol, driven by
systemd's own systemd-socket-activate, no running systemd needed) and restarts that lose
no connection while the socket stays with the service manager."""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN, SANITIZER_MARKERS, skip_under_valgrind, sluice_env, wait_for

ACTIVATE = shutil.which("systemd-socket-activate")
pytestmark = pytest.mark.skipif(ACTIVATE is None,
                                reason="systemd-socket-activate missing (Debian: systemd)")
TIMEOUT = 10.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path="/hello.txt", timeout=TIMEOUT):
    """One GET on a fresh connection with Connection: close; returns (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head, "connection closed without a response"
    return int(head.split()[1]), body


def listening_socket_fds(pid, port):
    """The descriptors of process pid that are its listening socket on `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(f"/proc/{pid}/net/{Path(table).name}").read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    fds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", target)
        if m and m.group(1) in inodes:
            fds.append(int(fd))
    return sorted(fds)


class Activated:
    """systemd-socket-activate -l ADDR... sluice ARGS: the tool binds and listens, waits for
    the first connection, then execs sluice with LISTEN_FDS/LISTEN_PID set."""

    def __init__(self, addrs, *args):
        cmd = [ACTIVATE] + [f"--listen={a}" for a in addrs] + [BIN, *map(str, args)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=sluice_env())
        self.stderr = []
        for _ in addrs:  # "Listening on 127.0.0.1:8080 as 3."
            line = self.proc.stderr.readline()
            assert line.startswith("Listening on"), line
            self.stderr.append(line)

    def banner(self):
        lines = []
        while True:
            line = self.proc.stdout.readline()
            assert line, f"sluice exited: {self.proc.stderr.read()}"
            lines.append(line)
            if "Ctrl-C to stop" in line:
                return lines

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=15)
        for marker in SANITIZER_MARKERS:
            assert marker not in err, err
        return self.proc.returncode, "".join(self.stderr) + err


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "hello.txt").write_text("hello from a socket-activated sluice\n")
    return r


@pytest.fixture
def activated(spawned):
    return lambda addrs, *args: spawned(Activated, addrs, *args)


# ---- socket activation ----

def test_activated_sluice_serves_the_passed_socket_on_every_loop_and_ignores_port(
        root, activated):
    port = free_port()
    srv = activated([f"127.0.0.1:{port}"], "--threads", "3", "-p", "1", "--log", os.devnull,
                    root)
    # The first connection is what makes systemd-socket-activate start sluice.
    assert get(port) == (200, (root / "hello.txt").read_bytes())
    banner = "".join(srv.banner())
    assert f"http://127.0.0.1:{port}/" in banner
    assert "(3 threads;" in banner
    for _ in range(20):
        assert get(port)[0] == 200
    # One descriptor of the one socket per event loop: the passed one and two dups.
    assert len(listening_socket_fds(srv.proc.pid, port)) == 3
    code, err = srv.stop()
    assert code == 0, err
    assert "--port and --bind do not apply" in err


def test_activated_sluice_serves_every_passed_socket(root, activated):
    ports = [free_port(), free_port()]
    srv = activated([f"127.0.0.1:{ports[0]}", f"[::1]:{ports[1]}"], "--threads", "2",
                    "--quiet", root)
    assert get(ports[0])[0] == 200
    banner = "".join(srv.banner())
    assert f"http://127.0.0.1:{ports[0]}/" in banner and f"http://[::1]:{ports[1]}/" in banner
    with socket.create_connection(("::1", ports[1]), timeout=TIMEOUT) as s:
        s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert len(listening_socket_fds(srv.proc.pid, ports[0])) == 2
    assert len(listening_socket_fds(srv.proc.pid, ports[1])) == 2
    code, err = srv.stop()
    assert code == 0, err
    assert "do not apply" not in err, "no --port or --bind was given"


def run_with_fd3(root, fd3_setup, listen_pid="$$"):
    """sluice with descriptor 3 set up by a shell redirection and LISTEN_FDS=1."""
    script = f'{fd3_setup}; LISTEN_PID={listen_pid} LISTEN_FDS=1 exec "$@"'
    return subprocess.run(["/bin/sh", "-c", script, "sh", BIN, "-p", "0", str(root)],
                          capture_output=True, text=True, timeout=TIMEOUT, env=sluice_env())


def test_passed_descriptor_that_is_no_listening_socket_is_a_one_line_error(root):
    result = run_with_fd3(root, "exec 3</dev/null")
    assert result.returncode == 1
    assert result.stderr.startswith("sluice: descriptor 3 from the service manager is not")
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def test_listen_fds_meant_for_another_process_are_ignored(root):
    # LISTEN_PID names another process (here init): not ours, so sluice binds its own.
    script = 'exec 3</dev/null; LISTEN_PID=1 LISTEN_FDS=1 exec "$@"'
    proc = subprocess.Popen(["/bin/sh", "-c", script, "sh", BIN, "-p", "0", "--quiet",
                             str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=sluice_env())
    try:
        banner = ""
        while "Ctrl-C to stop" not in banner:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            banner += line
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", banner).group(1))
        assert get(port)[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
