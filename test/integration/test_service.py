"""Running sluice as a service: socket activation (the sd_listen_fds protocol, driven by
systemd's own systemd-socket-activate, no running systemd needed) and restarts that lose
no connection while the socket stays with the service manager."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
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


# ---- restarts with the socket held by the service manager ----

# Run by systemd-socket-activate in place of sluice: it holds the socket (descriptor 3)
# as systemd would, and starts sluice again whenever the last one exits, as
# `systemctl restart` does (stop, then start), until DIR/stop exists. Each sluice gets
# LISTEN_PID set to its own pid; its pid goes to DIR/pid, its exit status to DIR/status.
SUPERVISOR = r'''
dir=$1; shift
n=0
while [ ! -e "$dir/stop" ]; do
    n=$((n + 1))
    /bin/sh -c 'echo $$ >"$0/pid.new" && mv "$0/pid.new" "$0/pid" && LISTEN_PID=$$ exec "$@"' \
        "$dir" "$@" >"$dir/out.$n" 2>"$dir/err.$n"
    echo $? >>"$dir/status"
done
'''


class Supervised:
    def __init__(self, tmp_path, port, root, *args):
        self.dir = tmp_path / "supervisor"
        self.dir.mkdir()
        cmd = [ACTIVATE, f"--listen=127.0.0.1:{port}", "/bin/sh", "-c", SUPERVISOR, "sh",
               str(self.dir), BIN, *map(str, args), str(root)]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=sluice_env())
        assert self.proc.stderr.readline().startswith("Listening on")

    def pid(self):
        path = self.dir / "pid"
        return int(path.read_text()) if path.exists() else None

    def restart(self):
        """SIGTERM to the running sluice; returns once the next one has been started."""
        old = wait_for(self.pid, what="a running sluice")
        os.kill(old, signal.SIGTERM)
        wait_for(lambda: self.pid() not in (None, old), what="the next sluice")

    def kill(self):
        """After a failure: no sluice of this supervisor is left running."""
        (self.dir / "stop").touch()
        pid = self.pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.kill()
        self.proc.wait()

    def finish(self):
        (self.dir / "stop").touch()
        os.kill(self.pid(), signal.SIGTERM)
        self.proc.wait(timeout=15)
        statuses = (self.dir / "status").read_text().split()
        errors = "".join(p.read_text() for p in sorted(self.dir.glob("err.*")))
        for marker in SANITIZER_MARKERS:
            assert marker not in errors, errors
        return statuses, errors


@skip_under_valgrind
def test_restart_with_the_socket_held_loses_no_request_and_finishes_responses_in_flight(
        tmp_path, root, spawned):
    big = os.urandom(1 << 20) * 24  # 24 MiB: far more than the socket buffers hold
    (root / "big.bin").write_bytes(big)
    hello = (root / "hello.txt").read_bytes()
    port = free_port()
    sup = spawned(Supervised, tmp_path, port, root, "--threads", "2", "--quiet")

    # One client sends requests one after another, each on a new connection, without
    # pausing, until it has sent 2,000 and the restarts are over.
    total, restarts_at = 2000, (400, 900, 1400)
    done = 0
    failures = []
    restarts_over = threading.Event()

    def client():
        nonlocal done
        while done < total or not restarts_over.is_set():
            try:
                result = get(port)
                if result != (200, hello):
                    failures.append((done, result[0]))
            except OSError as e:
                failures.append((done, repr(e)))
            done += 1

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        during, downloads = [], []
        for at in restarts_at:
            wait_for(lambda: done >= at, timeout=60, what=f"request {at}")
            before = done
            downloads.append(restart_during_download(sup, port, big))
            during.append(done - before)
        restarts_over.set()
        thread.join(120)
        assert not thread.is_alive()
        statuses, errors = sup.finish()
    finally:
        if sup.proc.poll() is None:
            sup.kill()
    assert done >= total
    assert failures == [], f"{len(failures)} of {done} requests failed: {failures[:10]}"
    assert all(n > 0 for n in during), f"requests made while restarting: {during}"
    assert downloads == [True] * len(restarts_at), "a response in flight was cut short"
    assert statuses == ["0"] * (len(restarts_at) + 1), errors


def restart_during_download(sup, port, big):
    """Restarts sluice (SIGTERM, then the next one starts) while a download of `big` is
    under way in the old process, read on meanwhile; returns whether it arrived whole."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 ")
    body = []

    def read_rest(data=first):
        while chunk := s.recv(1 << 20):
            data += chunk
        s.close()  # as a client does at the end of a response with Connection: close
        body.append(data.partition(b"\r\n\r\n")[2])

    reader = threading.Thread(target=read_rest)
    reader.start()
    sup.restart()
    reader.join(30)
    return body == [big]


# ---- meson install and the systemd units ----

BUILD_DIR = Path(BIN).resolve().parent
ANALYZE = shutil.which("systemd-analyze")
needs_build_dir = pytest.mark.skipif(not (BUILD_DIR / "meson-private").is_dir(),
                                     reason="SLUICE_BIN is not in a meson build directory")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`meson install --destdir` of the build SLUICE_BIN comes from: (destdir, prefix)."""
    dest = tmp_path_factory.mktemp("destdir")
    result = subprocess.run(["meson", "install", "-C", str(BUILD_DIR), "--no-rebuild",
                             "--destdir", str(dest)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    options = json.loads(subprocess.run(["meson", "introspect", "--buildoptions",
                                         str(BUILD_DIR)], capture_output=True, text=True,
                                        timeout=60).stdout)
    prefix = next(o["value"] for o in options if o["name"] == "prefix")
    return dest, prefix


@needs_build_dir
def test_meson_install_puts_binary_man_page_and_units_under_destdir_and_prefix(installed):
    dest, prefix = installed
    root = dest / prefix.lstrip("/")
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == ["bin/sluice", "lib/systemd/system/sluice.service",
                     "lib/systemd/system/sluice.socket", "share/man/man1/sluice.1"]
    assert os.access(root / "bin/sluice", os.X_OK)
    service = (root / "lib/systemd/system/sluice.service").read_text()
    assert f"\nExecStart={prefix}/bin/sluice " in service
    assert "@" not in service.split("ExecStart=")[1].split("\n")[0], "unsubstituted @var@"


def units_root(installed):
    """The destdir as a root for systemd-analyze: the units, the binary they start, and
    the host's targets they are ordered against; the man page found through MANPATH."""
    dest, prefix = installed
    targets = dest / "usr/lib/systemd/system"
    targets.mkdir(parents=True, exist_ok=True)
    for unit in Path("/lib/systemd/system").glob("*.target"):
        if not (targets / unit.name).exists():
            shutil.copy(unit, targets / unit.name)
    units = dest / prefix.lstrip("/") / "lib/systemd/system"
    env = dict(os.environ, MANPATH=f"{dest / prefix.lstrip('/') / 'share/man'}:")
    return dest, [str(units / "sluice.socket"), str(units / "sluice.service")], env


@needs_build_dir
@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze missing (Debian: systemd)")
def test_installed_units_pass_systemd_analyze_verify(installed):
    dest, units, env = units_root(installed)
    result = subprocess.run([ANALYZE, "verify", f"--root={dest}", *units],
                            capture_output=True, text=True, timeout=60, env=env)
    # verify exits 0 after warnings about ignored lines too: none may be printed.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_build_dir
@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze missing (Debian: systemd)")
def test_installed_service_is_sandboxed_to_an_exposure_of_at_most_1(installed):
    dest, units, env = units_root(installed)
    result = subprocess.run([ANALYZE, "security", "--offline=true", f"--root={dest}",
                             "--threshold=10", "--no-pager", units[1]],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    level = re.search(r"Overall exposure level for sluice\.service: (\d+\.\d+)", result.stdout)
    assert level and float(level.group(1)) <= 1.0, result.stdout
