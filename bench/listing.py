#!/usr/bin/env python3
"""Large-directory listings (issue 14): sluice against nginx's autoindex.

    bench/listing.py                                  sluice (build-release) and nginx
    bench/listing.py --sluice old=/path/to/sluice     another sluice binary beside it
    bench/listing.py --threads 1,2 --entries 50000 --readers 200 --duration 10 --rounds 3

Over one directory of N empty files (default 50,000; names 30 bytes, so sluice's HTML
listing is about 12.9 MB), for each server and thread count:

  list ms       time per listing request: wrk -t1 -c1 on /big/ (mean latency), and
                the server's CPU time per listing (utime+stime / requests)
  KiB/reader    RSS per slow reader: R clients (receive buffer 8 KiB) ask for /big/
                and read nothing; once every response has begun, (VmRSS with R - VmRSS
                with none) / R, and per extra reader (VmRSS with R - with R/2) / (R/2)
  p99 ms        small-file latency while the listing is hammered: wrk -t1 -c2 loops on
                /big/ while wrk -t1 -c10 --latency GETs a 1 KiB file; its p99

Servers run unpinned (a 2-core machine has no core to spare for a client), one after
another, each on its own port and temp prefix; nginx from bench/nginx.conf.in with
`autoindex on`. Markdown to stdout; see bench/README.md."""
import argparse
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
_procs = []


def say(*a):
    print("bench/listing:", *a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_tree(root_pid):
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    s = f.read()
            except OSError:
                continue
            children.setdefault(int(s[s.rindex(")") + 2:].split()[1]), []).append(int(d))
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def proc_sum(pids, what):
    total = 0
    for p in pids:
        try:
            if what == "rss":
                with open("/proc/%d/status" % p) as f:
                    total += sum(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            else:
                with open("/proc/%d/stat" % p) as f:
                    s = f.read()
                fields = s[s.rindex(")") + 2:].split()
                total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def make_fixture(root, entries):
    big = os.path.join(root, "big")
    os.makedirs(big)
    for i in range(entries):
        os.close(os.open(os.path.join(big, "report-%05d-quarterly-data.txt" % i),
                         os.O_CREAT | os.O_WRONLY, 0o644))
    os.utime(big, (1600000000, 1600000000))
    with open(os.path.join(root, "small.html"), "wb") as f:
        f.write((b"<!doctype html><title>small</title><p>" + b"x" * 1024)[:1024])


class Server:
    def __init__(self, kind, binary, threads, root, prefix):
        self.kind = kind
        self.port = free_port()
        self.prefix = tempfile.mkdtemp(prefix=kind + "-", dir=prefix)
        if kind == "nginx":
            with open(os.path.join(BENCH, "nginx.conf.in")) as f:
                conf = f.read()
            vals = {"PORT": self.port, "ROOT": root, "PREFIX": self.prefix, "THREADS": threads,
                    "MAX_FDS": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
            for k, v in vals.items():
                conf = conf.replace("@%s@" % k, str(v))
            conf = conf.replace("location / { }", "location / { autoindex on; }")
            path = os.path.join(self.prefix, "nginx.conf")
            with open(path, "w") as f:
                f.write(conf)
            cmd = [binary, "-p", self.prefix, "-e", os.path.join(self.prefix, "error.log"),
                   "-c", path]
        else:
            cmd = [binary, "--quiet", "--threads", str(threads), "-p", str(self.port),
                   "--idle-timeout", "60", root]
        self.log = open(os.path.join(self.prefix, "out.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        _procs.append(self.proc)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("bench/listing: %s did not start (see %s)" % (kind, self.prefix))
                time.sleep(0.05)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def pids(self):
        return proc_tree(self.proc.pid)

    def stop(self):
        try:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        _procs.remove(self.proc)


def wrk(args, url):
    out = subprocess.run(["wrk"] + args + [url], stdout=subprocess.PIPE, text=True).stdout
    return out


def wrk_ms(text, label):
    """A latency value from wrk's output ("Latency 1.23ms" or a --latency percentile)."""
    m = re.search(r"%s\s+([\d.]+)(us|ms|s)\b" % re.escape(label), text)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def wrk_requests(text):
    m = re.search(r"(\d+) requests in", text)
    return int(m.group(1)) if m else 0


def time_per_listing(srv, duration):
    wrk(["-t1", "-c1", "-d2s"], srv.url("/big/"))  # warm-up
    cpu0 = proc_sum(srv.pids(), "cpu")
    out = wrk(["-t1", "-c1", "-d%ds" % duration, "--timeout", "10s"], srv.url("/big/"))
    cpu = (proc_sum(srv.pids(), "cpu") - cpu0) / os.sysconf("SC_CLK_TCK")
    n = wrk_requests(out)
    return wrk_ms(out, "Latency"), (cpu * 1000 / n if n else float("nan")), n


def wait_idle(srv, limit=180.0):
    """Waits until the server has used no CPU for a second (abandoned work done)."""
    deadline = time.monotonic() + limit
    last = proc_sum(srv.pids(), "cpu")
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = proc_sum(srv.pids(), "cpu")
        if now == last:
            return
        last = now


def open_readers(srv, count):
    """`count` slow readers of /big/, returned once each has received a byte (a server
    that renders each listing whole on its loop takes a while to begin the last)."""
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(b"GET /big/ HTTP/1.1\r\nHost: x\r\n\r\n")
        socks.append(s)
    waiting = list(socks)
    deadline = time.monotonic() + 180
    while waiting and time.monotonic() < deadline:
        time.sleep(0.2)
        for s in list(waiting):
            try:
                if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                    waiting.remove(s)
            except BlockingIOError:
                pass
    if waiting:
        say("%d readers never got a byte" % len(waiting))
    time.sleep(0.3)
    return socks


def rss_per_reader(srv, readers):
    """RSS per slow reader: (all readers - none) / readers, and per extra reader: (all -
    half) / the other half, which leaves out what the first readers cost once (an entry
    list per loop, a thread's malloc arena)."""
    subprocess.run(["curl", "-s", "-o", "/dev/null", srv.url("/big/")], check=True)
    time.sleep(0.5)
    before = proc_sum(srv.pids(), "rss")
    first = open_readers(srv, readers // 2)
    half = proc_sum(srv.pids(), "rss")
    second = open_readers(srv, readers - readers // 2)
    after = proc_sum(srv.pids(), "rss")
    for s in first + second:
        s.close()
    wait_idle(srv)
    return (after - before) / readers, (after - half) / (readers - readers // 2)


def p99_under_listing_load(srv, duration):
    loop = subprocess.Popen(["wrk", "-t1", "-c2", "-d%ds" % (duration + 2), "--timeout", "30s",
                             srv.url("/big/")], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    out = wrk(["-t1", "-c10", "-d%ds" % duration, "--latency", "--timeout", "10s"],
              srv.url("/small.html"))
    lists = loop.communicate()[0]
    return wrk_ms(out, "99%"), wrk_ms(out, "50%"), wrk_requests(lists)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=50000)
    ap.add_argument("--readers", type=int, default=200)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sluice", action="append", default=[],
                    help="LABEL=PATH of a sluice binary (default: build-release/sluice)")
    ap.add_argument("--no-nginx", action="store_true")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for tool in ("wrk", "curl"):
        if not shutil.which(tool):
            sys.exit("bench/listing: %s is needed" % tool)
    binaries = [tuple(s.split("=", 1)) for s in args.sluice]
    if not binaries:
        binaries = [("sluice", os.path.join(REPO, "build-release", "sluice"))]
    if not args.no_nginx:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        binaries.append(("nginx", nginx))
    tmp = tempfile.mkdtemp(prefix="sluice-bench-listing-")
    os.chmod(tmp, 0o755)
    try:
        root = os.path.join(tmp, "root")
        say("creating %d entries" % args.entries)
        make_fixture(root, args.entries)
        results = {}  # (label, threads): list of rounds
        for rnd in range(args.rounds):
            for threads in [int(t) for t in args.threads.split(",")]:
                for label, binary in binaries:
                    kind = "nginx" if label == "nginx" else "sluice"
                    say("round %d: %s, %d thread(s)" % (rnd + 1, label, threads))
                    srv = Server(kind, binary, threads, root, tmp)
                    try:
                        body = subprocess.run(["curl", "-s", srv.url("/big/")],
                                              stdout=subprocess.PIPE).stdout
                        ms, cpu_ms, n = time_per_listing(srv, args.duration)
                        kib, extra_kib = rss_per_reader(srv, args.readers)
                        p99, p50, lists = p99_under_listing_load(srv, args.duration)
                    finally:
                        srv.stop()
                    results.setdefault((label, threads), []).append(
                        (len(body) / 1e6, ms, cpu_ms, kib, extra_kib, p50, p99, lists))
        rows = []
        for (label, threads), rounds in results.items():
            cols = list(zip(*rounds))
            rows.append((label, threads) + tuple(statistics.median(c) for c in cols))
        print("\n%d entries, %d slow readers, %d s runs, median of %d rounds; %s, %s, "
              "load %s\n" % (
            args.entries, args.readers, args.duration, args.rounds, os.uname().release,
            subprocess.run(["nginx", "-v"], stderr=subprocess.PIPE, text=True).stderr.strip(),
            open("/proc/loadavg").read().split()[0]))
        print("| server | threads | body MB | list ms (mean) | server CPU ms/list | "
              "KiB RSS/reader | KiB RSS/extra reader | small p50 ms | small p99 ms | "
              "listings meanwhile |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, threads, size, ms, cpu_ms, kib, extra_kib, p50, p99, lists in rows:
            print("| %s | %d | %.1f | %.1f | %.1f | %.0f | %.0f | %.2f | %.1f | %d |" % (
                label, threads, size, ms, cpu_ms, kib, extra_kib, p50, p99, lists))
        print("\nEvery round:")
        for (label, threads), rounds in results.items():
            print("- %s, %d thread(s): small p99 ms %s; KiB/reader %s" % (
                label, threads, ", ".join("%.1f" % r[6] for r in rounds),
                ", ".join("%.0f" % r[3] for r in rounds)))
    finally:
        for p in list(_procs):
            try:
                os.killpg(p.pid, 9)
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
