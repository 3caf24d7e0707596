#!/usr/bin/env python3
"""Idle keep-alive connections for scenario (f) of bench/run.

Opens CONNS connections, each sending one GET and reading the whole response so that it
is a real kept-alive connection, then leaves them idle. Source addresses rotate over
127.0.0.2 .. 127.0.0.(1+SOURCES) (IP_BIND_ADDRESS_NO_PORT, so the ephemeral port is picked
per 4-tuple), so TIME_WAIT left by earlier rounds never runs the port range dry.

Protocol with bench/run:  prints "OPEN ok=N failed=M seconds=S" when done, then waits for a line on
stdin; prints "ALIVE K" (connections the server has not closed), closes all and exits.
"""
import argparse
import resource
import socket
import sys
import time

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("EOF in header")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if lines[0].split()[1] != b"200":
        raise ConnectionError("status: %r" % lines[0])
    cl = 0
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        if k.strip().lower() == b"content-length":
            cl = int(v)
    while len(body) < cl:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("EOF in body")
        body += chunk


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--path", default="/small.html")
    ap.add_argument("--sources", type=int, default=8)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.conns + 100
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))

    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (a.path, a.port)).encode()
    socks, failed, in_a_row = [], 0, 0
    t0 = time.monotonic()
    for i in range(a.conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind(("127.0.0.%d" % (2 + i % a.sources), 0))
            s.settimeout(3)
            s.connect(("127.0.0.1", a.port))
            s.sendall(req)
            read_response(s)
            socks.append(s)
            in_a_row = 0
        except (OSError, ValueError, IndexError) as e:
            s.close()
            failed += 1
            in_a_row += 1
            if failed <= 3:
                print("idle.py: connection %d: %s" % (i, e), file=sys.stderr)
            if in_a_row >= 3:     # the server takes no more: stop here
                print("idle.py: giving up after connection %d" % i, file=sys.stderr)
                break
    print("OPEN ok=%d failed=%d seconds=%.1f" % (len(socks), failed, time.monotonic() - t0), flush=True)

    sys.stdin.readline()
    alive = 0
    for s in socks:
        # An idle kept-alive socket has nothing to read; one the server closed reads EOF.
        s.setblocking(False)
        try:
            alive += s.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    print("ALIVE %d" % alive, flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
