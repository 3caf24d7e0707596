#!/usr/bin/env python3
"""Cold, slow disk: do downloads of a file that is not in the page cache stall the other
clients of the same server? (issue 12, point 4)

Each server runs in a blkio cgroup (v1) throttled like an HDD or a network volume
(default 50 MiB/s and 500 read IOPS on the device holding the fixture), with CLIENTS
downloads of a 2 GiB file evicted from the page cache (posix_fadvise DONTNEED) before
each run. Meanwhile a probe requests a 1 KiB cached file on its own keep-alive
connection every 5 ms and records each latency. Reported per server: probe p50 / p99 /
max, and the downloads' total MiB/s. Servers: sluice (--threads 1), optionally an older
sluice binary (--baseline), nginx with sendfile, and nginx with sendfile and
`aio threads`, one after another in the same run, each pinned to CPU 1 (clients on 0).

    bench/cold.py                                  # build-release/sluice, nginx, nginx aio
    bench/cold.py --baseline /tmp/sluice-old --duration 20

Needs root (cgroup, fadvise on the file is fine for anyone), nginx, curl, taskset.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
CGROUP = "/sys/fs/cgroup/blkio/sluice-cold-bench"
MIB = 1 << 20

NGINX_CONF = """daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx-{port}.pid;
error_log {dir}/nginx-{port}.err warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    {aio}
    keepalive_requests 1000000;
    server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


def say(*a):
    print("cold:", *a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def block_device(path):
    """MAJ:MIN of the whole disk holding path (blkio throttles disks, not partitions)."""
    st = os.stat(path)
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    sysdir = f"/sys/dev/block/{dev}"
    if os.path.exists(f"{sysdir}/partition"):
        with open(f"{sysdir}/../dev") as f:
            dev = f.read().strip()
    return dev


def cgroup_setup(dev, bps, iops):
    os.makedirs(CGROUP, exist_ok=True)
    with open(f"{CGROUP}/blkio.throttle.read_bps_device", "w") as f:
        f.write(f"{dev} {bps}")
    with open(f"{CGROUP}/blkio.throttle.read_iops_device", "w") as f:
        f.write(f"{dev} {iops}")


def cgroup_add(pids):
    for pid in pids:
        with open(f"{CGROUP}/cgroup.procs", "w") as f:
            f.write(str(pid))


def cgroup_remove():
    try:
        os.rmdir(CGROUP)
    except OSError:
        pass


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def make_fixture(root, size):
    block = os.urandom(MIB)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        for i in range(size // MIB):
            f.write(i.to_bytes(8, "big") + block[8:])
    with open(os.path.join(root, "small.html"), "wb") as f:
        f.write(b"x" * 1024)


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def start_server(kind, binary, root, tmp):
    port = free_port()
    if kind.startswith("nginx"):
        aio = "aio threads;" if kind == "nginx-aio" else ""
        conf = os.path.join(tmp, f"nginx-{port}.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=tmp, port=port, root=root, aio=aio))
        cmd = ["nginx", "-c", conf, "-p", tmp]
    else:
        cmd = [binary, "-p", str(port), "--threads", "1", "--quiet", root]
    proc = subprocess.Popen(["taskset", "-c", "1"] + cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise SystemExit(f"{kind} did not start")
    cgroup_add([proc.pid] + children(proc.pid))
    return proc, port


def probe(port, seconds, out):
    """Sequential GETs of the small file on one keep-alive connection, every 5 ms."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    req = b"GET /small.html HTTP/1.1\r\nHost: x\r\n\r\n"
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("the server closed the probe's connection")
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep and len(body) >= 1024:
                break
        out.append(time.monotonic() - t0)
        time.sleep(0.005)
    s.close()


def run_one(kind, binary, root, tmp, args):
    evict(os.path.join(root, "big.bin"))
    proc, port = start_server(kind, binary, root, tmp)
    try:
        url = f"http://127.0.0.1:{port}/big.bin"
        subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/small.html"])
        dls = [subprocess.Popen(["taskset", "-c", "0", "curl", "-s", "--noproxy", "*", "-o",
                                 "/dev/null", "--max-time", str(args.duration), "-w",
                                 "%{size_download}", url], stdout=subprocess.PIPE, text=True)
               for _ in range(args.clients)]
        time.sleep(0.5)
        lat = []
        probe(port, args.duration - 1, lat)
        got = sum(int(d.communicate()[0] or 0) for d in dls)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
    lat.sort()
    ms = [x * 1000 for x in lat]
    return {"p50": statistics.median(ms), "p99": ms[int(len(ms) * 0.99) - 1], "max": ms[-1],
            "n": len(ms), "mibs": got / MIB / args.duration}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluice", default=os.path.join(REPO, "build-release", "sluice"))
    ap.add_argument("--baseline", help="an older sluice binary, run too")
    ap.add_argument("--servers", default="sluice,nginx,nginx-aio")
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--size-gib", type=int, default=2)
    ap.add_argument("--bps", type=int, default=50 * MIB)
    ap.add_argument("--iops", type=int, default=500)
    ap.add_argument("--dir", default=os.path.join(REPO, "bench", "out"),
                    help="where the fixture goes (on the disk to throttle, not tmpfs)")
    args = ap.parse_args()
    if os.geteuid() != 0 or not os.path.isdir("/sys/fs/cgroup/blkio"):
        raise SystemExit("cold.py needs root and the cgroup v1 blkio controller")
    os.makedirs(args.dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="cold-", dir=args.dir)
    os.chmod(tmp, 0o755)  # nginx's workers run as another user
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    servers = [(k, args.sluice) for k in args.servers.split(",")]
    if args.baseline:
        servers.insert(1, ("sluice-before", args.baseline))
    try:
        say(f"writing a {args.size_gib} GiB fixture in {root}")
        make_fixture(root, args.size_gib << 30)
        dev = block_device(root)
        cgroup_setup(dev, args.bps, args.iops)
        say(f"throttling {dev} to {args.bps // MIB} MiB/s and {args.iops} IOPS")
        rows = []
        for kind, binary in servers:
            say(f"{kind}: {args.clients} cold downloads for {args.duration} s, probing")
            r = run_one(kind, binary, root, tmp, args)
            rows.append((kind, r))
        print(f"\nCold throttled disk ({args.bps // MIB} MiB/s, {args.iops} IOPS), "
              f"{args.clients} downloads of a {args.size_gib} GiB evicted file, "
              f"1 KiB probe every 5 ms, {args.duration} s, kernel {os.uname().release}\n")
        print("| server | probe p50 ms | p99 ms | max ms | probes | downloads MiB/s |")
        print("|---|---:|---:|---:|---:|---:|")
        for kind, r in rows:
            print(f"| {kind} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.1f} | {r['n']} "
                  f"| {r['mibs']:.1f} |")
    finally:
        cgroup_remove()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
