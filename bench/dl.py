#!/usr/bin/env python3
"""Download-throughput client for scenario (c) of bench/run.

Keeps N keep-alive connections each GETting PATH over and over for DURATION seconds
(one thread, epoll), and prints one line:

    DL bytes=B seconds=S files=F errors=E

bytes counts body bytes received inside the window, including the partial transfers in
flight at the end (like wrk's Transfer/sec), so the rate is exact for any duration.

By default the body is received with recv(MSG_TRUNC), which the Linux TCP stack treats as
"discard" (no copy to user space): the client then costs far less CPU per byte than the
server and the rate measures the server's send path, not the client. --copy receives into
a 1 MiB buffer instead (what a real download tool does). wrk is not used here: it reads
8 KiB per read() call and spends about 2-3 times the CPU per GiB of this client, so on a
single pinned core it, not the server, is the limit.
"""
import argparse
import selectors
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/large.bin")
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--copy", action="store_true", help="copy into user space")
    a = ap.parse_args()

    flags = 0 if a.copy else socket.MSG_TRUNC
    buf = bytearray(1 << 20)
    mv = memoryview(buf)
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (a.path, a.host, a.port)).encode()
    sel = selectors.DefaultSelector()
    total = files = errors = 0

    class Conn:
        pass

    def start(c):
        c.hdr = b""
        c.remaining = None
        c.sock.sendall(req)

    def open_conn():
        c = Conn()
        c.sock = socket.create_connection((a.host, a.port))
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ, c)
        return c

    t0 = time.monotonic()
    deadline = t0 + a.duration
    for _ in range(a.conns):
        start(open_conn())

    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        for key, _ in sel.select(deadline - now):
            c = key.data
            try:
                if c.remaining is None:
                    data = c.sock.recv(65536)
                    if not data:
                        raise ConnectionError("EOF in header")
                    c.hdr += data
                    end = c.hdr.find(b"\r\n\r\n")
                    if end < 0:
                        if len(c.hdr) > 65536:
                            raise ConnectionError("header too long")
                        continue
                    head, rest = c.hdr[:end], c.hdr[end + 4:]
                    lines = head.split(b"\r\n")
                    if lines[0].split()[1] != b"200":
                        raise ConnectionError("status: %r" % lines[0])
                    cl = None
                    for ln in lines[1:]:
                        k, _, v = ln.partition(b":")
                        if k.strip().lower() == b"content-length":
                            cl = int(v)
                    if cl is None:
                        raise ConnectionError("no Content-Length")
                    total += len(rest)
                    c.remaining = cl - len(rest)
                else:
                    k = c.sock.recv_into(mv, min(len(buf), c.remaining), flags)
                    if k == 0:
                        raise ConnectionError("EOF in body")
                    total += k
                    c.remaining -= k
                if c.remaining == 0:
                    files += 1
                    start(c)
            except BlockingIOError:
                pass
            except (OSError, ValueError, IndexError) as e:
                errors += 1
                print("dl.py: %s" % e, file=sys.stderr)
                sel.unregister(c.sock)
                c.sock.close()
                if errors > 10:
                    raise SystemExit("dl.py: too many errors")
                start(open_conn())
    seconds = time.monotonic() - t0
    print("DL bytes=%d seconds=%.6f files=%d errors=%d" % (total, seconds, files, errors))


if __name__ == "__main__":
    main()
