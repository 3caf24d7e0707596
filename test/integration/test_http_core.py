"""Black-box tests of sluice's HTTP/1.1 core: methods, versions, Host, size limits,
keep-alive and pipelining, request smuggling, the fields every response carries,
Content-Type by extension, error pages and byte-at-a-time parsing.

Every test talks to the real binary over 127.0.0.1 with raw sockets or http.client;
after every kind of bad request the server must still answer a good one."""

import email.utils
import os
import re
import socket
import time
from datetime import datetime, timezone

import pytest

from conftest import parse_responses, raw_exchange

TIMEOUT = 10.0
IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$")
SECRET = b"the smuggled request must never be answered\n"

# Extension -> media type (RFC 9239 for JavaScript; IANA registrations for the rest).
# Text types name UTF-8, per the product issue.
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "svg": "image/svg+xml; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "ico": "image/vnd.microsoft.icon",
    "wasm": "application/wasm",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "pdf": "application/pdf",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "zip": "application/zip",
    "gz": "application/gzip",
}
# image/x-icon is the older, still widely used name for the same format.
ICO_ALTERNATIVES = {"image/vnd.microsoft.icon", "image/x-icon"}
PIPELINE_DEPTH = 20


# ---- helpers ----

class Reader:
    """Reads whole responses, one at a time, from a socket that may carry several."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError(f"connection closed with {len(self.buf)} unparsed bytes")
        self.buf += data

    def response(self, head_only=False):
        """Returns (status, headers with lower-case names, body, raw head)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        end = self.buf.index(b"\r\n\r\n") + 4
        raw_head = self.buf[:end]
        (status, headers, _), = parse_responses(raw_head, head_only_count=1)
        length = 0 if head_only else int(headers["content-length"])
        while len(self.buf) < end + length:
            self._fill()
        body = self.buf[end:end + length]
        self.buf = self.buf[end + length:]
        return status, headers, body, raw_head

    def closed(self):
        """True when the server closed the connection cleanly with nothing more to say."""
        if self.buf:
            return False
        return self.sock.recv(65536) == b""


def get(path, host="localhost", extra="", version="HTTP/1.1"):
    return f"GET {path} {version}\r\nHost: {host}\r\n{extra}\r\n".encode()


def exchange_one(srv, data):
    """Sends data, returns the single response and asserts the server then closed."""
    with srv.connect(timeout=TIMEOUT) as s:
        s.sendall(data)
        reader = Reader(s)
        status, headers, body, _ = reader.response()
        assert reader.closed(), "the server kept the connection open after the response"
    return status, headers, body


def assert_still_serving(srv, site):
    """A good request on a fresh connection still gets the file."""
    conn = srv.http(timeout=TIMEOUT)
    try:
        conn.request("GET", "/hello.txt")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read() == (site / "hello.txt").read_bytes()
    finally:
        conn.close()


def http_date_of(mtime):
    return email.utils.formatdate(mtime, usegmt=True)


# ---- fixtures ----

@pytest.fixture
def core_site(site):
    """The shared site plus a file that only a smuggled request would ask for."""
    (site / "secret.txt").write_bytes(SECRET)
    return site


@pytest.fixture
def srv(start_server, core_site):
    return start_server(core_site)


# ---- methods ----

def test_get_returns_the_file_with_status_200(srv, core_site):
    status, headers, body = exchange_one(srv, get("/hello.txt", extra="Connection: close\r\n"))
    assert status == 200
    assert body == (core_site / "hello.txt").read_bytes()
    assert int(headers["content-length"]) == len(body)


@pytest.mark.parametrize("path", ["/hello.txt", "/bin.dat", "/empty.txt", "/", "/missing"])
def test_head_returns_same_headers_as_get_without_body(srv, path):
    raw = {}
    for method in ("GET", "HEAD"):
        raw[method] = raw_exchange(
            srv, f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    (get_status, get_headers, get_body), = parse_responses(raw["GET"])
    head_end = raw["HEAD"].find(b"\r\n\r\n") + 4
    assert head_end >= 4, f"no complete head in {raw['HEAD'][:200]!r}"
    assert raw["HEAD"][head_end:] == b"", "HEAD response carried body bytes"
    (head_status, head_headers, _), = parse_responses(raw["HEAD"], head_only_count=1)
    assert head_status == get_status
    get_headers.pop("date")
    head_headers.pop("date")
    assert head_headers == get_headers
    assert int(head_headers["content-length"]) == len(get_body)


def test_head_then_get_on_one_connection_gets_get_response_right_after_head(srv, core_site):
    with srv.connect(timeout=TIMEOUT) as s:
        s.sendall(b"HEAD /bin.dat HTTP/1.1\r\nHost: x\r\n\r\n"
                  + get("/hello.txt", extra="Connection: close\r\n"))
        reader = Reader(s)
        status, headers, _, _ = reader.response(head_only=True)
        assert status == 200
        assert int(headers["content-length"]) == (core_site / "bin.dat").stat().st_size
        status, _, body, _ = reader.response()
        assert (status, body) == (200, (core_site / "hello.txt").read_bytes())
        assert reader.closed()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"])
def test_known_method_other_than_get_head_gets_405_with_allow(srv, core_site, method):
    data = f"{method} /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    (status, headers, body), = parse_responses(raw_exchange(srv, data))
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert int(headers["content-length"]) == len(body)
    assert_still_serving(srv, core_site)


def test_connect_gets_405_or_400_and_connection_closes(srv, core_site):
    status, _, _ = exchange_one(
        srv, b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n")
    assert status in (400, 405)
    assert_still_serving(srv, core_site)


UNKNOWN_METHODS = {
    "unknown_token": b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n",
    "lowercase_get": b"get / HTTP/1.1\r\nHost: x\r\n\r\n",
    "known_prefix": b"GETX / HTTP/1.1\r\nHost: x\r\n\r\n",
    "token_punctuation": b"X-MY.METHOD! / HTTP/1.1\r\nHost: x\r\n\r\n",
    "after_empty_line": b"\r\nBREW /pot HTTP/1.1\r\nHost: x\r\n\r\n",
    "rtsp_method": b"DESCRIBE / HTTP/1.1\r\nHost: x\r\n\r\n",
    "rtsp_method_2": b"TEARDOWN / HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("data", UNKNOWN_METHODS.values(), ids=UNKNOWN_METHODS.keys())
def test_unrecognised_method_gets_501_then_close(srv, core_site, data):
    # RFC 9110 §9.1: an unrecognised method SHOULD get 501. The parser stops at the
    # method, so the rest of the request is unknown and the connection closes.
    status, headers, body = exchange_one(srv, data)
    assert status == 501
    assert "allow" not in headers
    assert b"501" in body
    assert_still_serving(srv, core_site)


def test_head_sent_in_lowercase_is_an_unknown_method_whose_501_has_a_body(srv, core_site):
    status, headers, body = exchange_one(srv, b"head / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 501
    assert int(headers["content-length"]) == len(body) > 0


# RFC 9112 §3.2: a Host field with an invalid value MUST get 400, like a missing one.
INVALID_HOSTS = {
    "space": "a b",
    "slash": "example.com/x",
    "userinfo": "user@example.com",
    "userinfo_with_password": "user:secret@example.com:80",
    "port_not_digits": "example.com:80x",
    "two_ports": "example.com:80:81",
    "open_ip_literal": "[::1",
    "bare_ipv6": "::1",
    "raw_utf8": "h\u00e9.test",
    "two_values": "a.test, b.test",
}


MALFORMED_REQUESTS = {
    "method_with_slash": b"HTTP/1.1 200 OK\r\n\r\n",
    "method_with_tab": b"GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "no_target_no_version": b"GET\r\nHost: x\r\n\r\n",
    "http09_style_line": b"GET /\r\n\r\n",
    "no_method": b"/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "garbage_protocol_name": b"GET / HTTZ/1.1\r\nHost: x\r\n\r\n",
    "extra_word_after_version": b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "header_without_colon": b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    "tls_client_hello": bytes.fromhex("160301020001") + b"\x00" * 64,
    **{f"host_{name}": f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
       for name, host in INVALID_HOSTS.items()},
}


@pytest.mark.parametrize("data", MALFORMED_REQUESTS.values(), ids=MALFORMED_REQUESTS.keys())
def test_malformed_request_gets_400_then_close(srv, core_site, data):
    status, _, _ = exchange_one(srv, data)
    assert status == 400
    assert_still_serving(srv, core_site)


@pytest.mark.parametrize("pieces", [
    [b"GET /hello.txt\r\n"],
    [b"GET /hello.txt\n"],
    [b"GET /hello.txt", b"\r", b"\n"],
], ids=["crlf", "bare_lf", "byte_by_byte"])
def test_http09_request_line_alone_gets_400_at_once_then_close(start_server, core_site, pieces):
    # A 0.9 client sends the line and waits: no header lines, no blank line, ever. The
    # answer must not wait for the head timeout.
    srv = start_server(core_site, "--head-timeout", "30")
    with srv.connect(timeout=TIMEOUT) as s:
        start = time.monotonic()
        for piece in pieces:
            s.sendall(piece)
            time.sleep(0.05)
        reader = Reader(s)
        status, _, _, _ = reader.response()
        elapsed = time.monotonic() - start
        assert status == 400
        assert reader.closed(), "the server kept the connection open after the 400"
    assert elapsed < 2.0, f"answered after {elapsed:.2f}s"
    assert_still_serving(srv, core_site)


# ---- versions and Host ----

def test_http11_request_without_host_gets_400_then_close(srv, core_site):
    status, _, _ = exchange_one(srv, b"GET /hello.txt HTTP/1.1\r\n\r\n")
    assert status == 400
    assert_still_serving(srv, core_site)


def test_http11_request_with_two_host_fields_gets_400_then_close(srv, core_site):
    status, _, _ = exchange_one(srv, b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    assert status == 400
    assert_still_serving(srv, core_site)


def test_http10_request_with_invalid_host_gets_400_too(srv, core_site):
    status, _, _ = exchange_one(srv, b"GET /hello.txt HTTP/1.0\r\nHost: u@h\r\n\r\n")
    assert status == 400


@pytest.mark.parametrize("host", ["example.com", "EXAMPLE.com:8080", "127.0.0.1:", "[::1]:80",
                                  "[2001:db8::1]", "xn--bcher-kva.example", "a-b_c~d", ""])
def test_valid_host_values_are_served(srv, core_site, host):
    data = f"GET /hello.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    status, _, body = exchange_one(srv, data.encode())
    assert (status, body) == (200, (core_site / "hello.txt").read_bytes())


def test_http10_request_is_served_and_closed_by_default(srv, core_site):
    status, headers, body = exchange_one(srv, b"GET /hello.txt HTTP/1.0\r\n\r\n")
    assert status == 200
    assert body == (core_site / "hello.txt").read_bytes()
    assert headers.get("connection", "close").lower() == "close"


def test_http10_keep_alive_request_keeps_connection_and_says_so(srv, core_site):
    with srv.connect(timeout=TIMEOUT) as s:
        reader = Reader(s)
        for name in ("hello.txt", "index.html"):
            s.sendall(f"GET /{name} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".encode())
            status, headers, body, _ = reader.response()
            assert status == 200
            assert body == (core_site / name).read_bytes()
            assert headers["connection"].lower() == "keep-alive"
        # Without the field, HTTP/1.0 closes after the response again.
        s.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
        assert reader.response()[0] == 200
        assert reader.closed()


@pytest.mark.parametrize("version", ["HTTP/0.9", "HTTP/2.0", "HTTP/3.0", "HTTP/9.9"])
def test_unsupported_http_version_gets_505_then_close(srv, core_site, version):
    status, _, _ = exchange_one(srv, get("/hello.txt", version=version))
    assert status == 505
    assert_still_serving(srv, core_site)


@pytest.mark.parametrize("version", ["HTTP/1.2", "HTTP/1.9"])
def test_higher_http1_minor_version_is_served_as_http11_and_kept_alive(srv, core_site, version):
    # RFC 9110 §6.2: a later minor version of HTTP/1 is processed as HTTP/1.1.
    with srv.connect(timeout=TIMEOUT) as s:
        s.sendall(get("/hello.txt", version=version) + get("/index.html", version=version,
                                                          extra="Connection: close\r\n"))
        reader = Reader(s)
        status, headers, body, raw_head = reader.response()
        assert raw_head.startswith(b"HTTP/1.1 200 ")
        assert body == (core_site / "hello.txt").read_bytes()
        assert headers.get("connection", "keep-alive").lower() != "close"
        status, _, body, _ = reader.response()
        assert (status, body) == (200, (core_site / "index.html").read_bytes())
        assert reader.closed()


def test_http12_request_without_host_gets_400_as_http11_would(srv, core_site):
    status, _, _ = exchange_one(srv, b"GET /hello.txt HTTP/1.2\r\n\r\n")
    assert status == 400


@pytest.mark.parametrize("version", ["HTTP/1.10", "HTTP/11.1", "HTTP/1", "HTTP/1.x"])
def test_malformed_http_version_gets_400_then_close(srv, core_site, version):
    status, _, _ = exchange_one(srv, get("/hello.txt", version=version))
    assert status == 400
    assert_still_serving(srv, core_site)


# ---- size limits ----

def test_url_longer_than_8_kib_gets_414_then_close(srv, core_site):
    target = "/hello.txt?q="
    target += "a" * (8193 - len(target))
    status, _, _ = exchange_one(srv, get(target))
    assert status == 414
    assert_still_serving(srv, core_site)


def test_url_of_exactly_8_kib_is_served(srv, core_site):
    # A short path with a long query: 8192 bytes is at the limit, not over it.
    target = "/hello.txt?q="
    target += "a" * (8192 - len(target))
    with srv.connect(timeout=TIMEOUT) as s:
        s.sendall(get(target))
        status, _, body, _ = Reader(s).response()
    assert status == 200
    assert body == (core_site / "hello.txt").read_bytes()


OVERSIZED_HEADS = {
    "many_headers": "".join(f"X-Filler-{i:03d}: {'v' * 200}\r\n" for i in range(90)),
    "one_huge_header": f"X-Huge: {'h' * 17000}\r\n",
}


@pytest.mark.parametrize("extra", OVERSIZED_HEADS.values(), ids=OVERSIZED_HEADS.keys())
def test_request_head_larger_than_16_kib_gets_431_then_close(srv, core_site, extra):
    data = get("/hello.txt", extra=extra)
    assert len(data) > 16384
    status, _, _ = exchange_one(srv, data)
    assert status == 431
    assert_still_serving(srv, core_site)


def test_request_head_just_under_16_kib_is_served(srv, core_site):
    head = get("/hello.txt", extra="X-Pad: \r\n")
    pad = 16384 - len(head) - 64
    data = get("/hello.txt", extra=f"X-Pad: {'p' * pad}\r\n")
    assert 16000 < len(data) < 16384
    with srv.connect(timeout=TIMEOUT) as s:
        s.sendall(data)
        status, _, body, _ = Reader(s).response()
    assert status == 200
    assert body == (core_site / "hello.txt").read_bytes()


# ---- connection management ----

def test_http11_keeps_connection_alive_by_default(srv, core_site):
    with srv.connect(timeout=TIMEOUT) as s:
        reader = Reader(s)
        for name in ("hello.txt", "index.html", "hello.txt"):
            s.sendall(get(f"/{name}"))
            status, headers, body, _ = reader.response()
            assert status == 200
            assert body == (core_site / name).read_bytes()
            assert headers.get("connection", "").lower() != "close"


def test_connection_close_is_honoured_after_the_response(srv, core_site):
    status, headers, body = exchange_one(srv, get("/hello.txt", extra="Connection: close\r\n"))
    assert status == 200
    assert body == (core_site / "hello.txt").read_bytes()
    assert headers["connection"].lower() == "close"


def test_twenty_pipelined_requests_get_twenty_responses_in_order(srv, core_site):
    expected = []
    for i in range(PIPELINE_DEPTH):
        content = f"pipelined response number {i}\n".encode() * (i + 1)
        (core_site / f"p{i:02d}.txt").write_bytes(content)
        expected.append(content)
    batch = b"".join(get(f"/p{i:02d}.txt") for i in range(PIPELINE_DEPTH))
    with srv.connect(timeout=TIMEOUT) as s:
        s.sendall(batch)
        reader = Reader(s)
        bodies = []
        for _ in range(PIPELINE_DEPTH):
            status, _, body, _ = reader.response()
            assert status == 200
            bodies.append(body)
        # The next response is the one to this request: no extra answer was queued.
        s.sendall(get("/hello.txt", extra="Connection: close\r\n"))
        assert reader.response()[2] == (core_site / "hello.txt").read_bytes()
        assert reader.closed()
    assert bodies == expected


def test_thousand_keep_alive_requests_reuse_one_connection(srv, core_site):
    names = ["hello.txt", "index.html", "sub/page.html", "sub/deeper/data.json"]
    contents = {n: (core_site / n).read_bytes() for n in names}
    conn = srv.http(timeout=TIMEOUT)
    try:
        conn.request("GET", "/hello.txt")
        conn.getresponse().read()
        sock = conn.sock
        local = sock.getsockname()
        for i in range(1000):
            name = names[i % len(names)]
            conn.request("GET", "/" + name)
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.read() == contents[name]
            assert conn.sock is sock, f"http.client reconnected after request {i}"
        assert conn.sock.getsockname() == local
    finally:
        conn.close()


# ---- request bodies are never read as requests ----

SMUGGLED = b"GET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n"
SMUGGLING_ATTEMPTS = {
    "content_length_body_is_a_request": (
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED)
        + SMUGGLED),
    "chunked_body_is_a_request": (
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"),
    "content_length_and_chunked": (
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    "post_body_is_a_request": (
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED)
        + SMUGGLED),
}


@pytest.mark.parametrize("data", SMUGGLING_ATTEMPTS.values(), ids=SMUGGLING_ATTEMPTS.keys())
def test_request_body_is_never_parsed_as_the_next_request(srv, core_site, data):
    responses = parse_responses(raw_exchange(srv, data))
    assert len(responses) == 1, [r[0] for r in responses]
    assert SECRET not in responses[0][2]
    assert_still_serving(srv, core_site)


def test_body_prefix_never_joins_the_following_bytes_into_a_request(srv, core_site):
    # The 5-byte body "GET /" followed by the rest of a request line: a server that
    # parsed the body as the start of the next request would answer /secret.txt.
    data = (b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nGET /"
            + b"secret.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    responses = parse_responses(raw_exchange(srv, data))
    assert responses[0][0] == 200
    assert responses[0][2] == (core_site / "hello.txt").read_bytes()
    assert all(SECRET not in body for _, _, body in responses)
    assert all(status != 200 for status, _, _ in responses[1:])
    assert_still_serving(srv, core_site)


# ---- fields every response carries ----

RESPONSE_KINDS = {
    "file": get("/hello.txt", extra="Connection: close\r\n"),
    "index": get("/", extra="Connection: close\r\n"),
    "listing": get("/sub/", extra="Connection: close\r\n"),
    "redirect": get("/sub", extra="Connection: close\r\n"),
    "not_found": get("/missing", extra="Connection: close\r\n"),
    "bad_method": b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "bad_request": b"GET / HTTZ/1.1\r\nHost: x\r\n\r\n",
    "unknown_method": b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad_version": get("/", version="HTTP/2.0"),
}


@pytest.mark.parametrize("data", RESPONSE_KINDS.values(), ids=RESPONSE_KINDS.keys())
def test_every_response_carries_date_server_and_content_length(srv, data):
    before = time.time()
    (_, headers, body), = parse_responses(raw_exchange(srv, data))
    after = time.time()
    assert IMF_FIXDATE.match(headers["date"]), headers["date"]
    stamp = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
    assert before - 2 <= stamp <= after + 1
    assert headers["server"]
    assert int(headers["content-length"]) == len(body)


def test_file_response_has_last_modified_equal_to_file_mtime(srv, core_site):
    path = core_site / "dated.txt"
    path.write_text("dated\n")
    mtime = datetime(2021, 3, 4, 5, 6, 7, tzinfo=timezone.utc).timestamp()
    os.utime(path, (mtime, mtime))
    status, headers, _ = exchange_one(srv, get("/dated.txt", extra="Connection: close\r\n"))
    assert status == 200
    assert headers["last-modified"] == http_date_of(mtime)
    assert IMF_FIXDATE.match(headers["last-modified"])


def test_last_modified_follows_the_current_mtime(srv, core_site):
    path = core_site / "hello.txt"
    mtime = os.stat(path).st_mtime
    status, headers, _ = exchange_one(srv, get("/hello.txt", extra="Connection: close\r\n"))
    assert status == 200
    assert headers["last-modified"] == http_date_of(int(mtime))


@pytest.mark.parametrize("ext", MEDIA_TYPES)
def test_content_type_follows_the_extension(srv, core_site, ext):
    content = f"content of a .{ext} file\n".encode()
    (core_site / f"file.{ext}").write_bytes(content)
    status, headers, body = exchange_one(srv, get(f"/file.{ext}", extra="Connection: close\r\n"))
    assert status == 200
    assert body == content
    expected = MEDIA_TYPES[ext]
    if ext == "ico":
        assert headers["content-type"] in ICO_ALTERNATIVES
    else:
        assert headers["content-type"].lower() == expected


@pytest.mark.parametrize("name", ["file.unknownext", "file.xyz123", "README", "Makefile"])
def test_unknown_or_missing_extension_is_served_as_octet_stream(srv, core_site, name):
    (core_site / name).write_bytes(b"\x00\x01opaque\n")
    status, headers, body = exchange_one(srv, get(f"/{name}", extra="Connection: close\r\n"))
    assert status == 200
    assert body == b"\x00\x01opaque\n"
    assert headers["content-type"] == "application/octet-stream"


# ---- error pages ----

ERROR_REQUESTS = {
    400: b"GET / HTTZ/1.1\r\nHost: x\r\n\r\n",
    404: get("/missing.html", extra="Connection: close\r\n"),
    405: b"PUT /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    414: get("/" + "u" * 9000),
    431: get("/", extra=f"X-Huge: {'h' * 17000}\r\n"),
    501: b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n",
    505: get("/", version="HTTP/2.0"),
}


@pytest.mark.parametrize("status,data", ERROR_REQUESTS.items(), ids=map(str, ERROR_REQUESTS))
def test_error_response_has_small_html_body_and_exact_content_length(srv, core_site, status,
                                                                    data):
    raw = raw_exchange(srv, data)
    (got, headers, body), = parse_responses(raw)
    assert got == status
    head_len = raw.index(b"\r\n\r\n") + 4
    assert int(headers["content-length"]) == len(body) == len(raw) - head_len
    assert headers["content-type"].startswith("text/html")
    assert 0 < len(body) <= 2048
    assert b"<html" in body.lower() or b"<!doctype html" in body.lower()
    assert str(status).encode() in body
    assert_still_serving(srv, core_site)


def test_error_page_is_made_for_people_on_any_screen(srv, core_site):
    raw = raw_exchange(srv, get("/missing.html", extra="Connection: close\r\n"))
    (status, _, body), = parse_responses(raw)
    assert status == 404
    page = body.decode("utf-8")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "prefers-color-scheme:dark" in page and "<style>" in page
    assert '<a href="/">Go to the home page</a>' in page
    # An empty data: icon, so the browser does not ask for /favicon.ico after the 404.
    assert '<link rel="icon" href="data:,">' in page
    assert "<script" not in page


# ---- parsing robustness ----

def test_requests_sent_one_byte_at_a_time_are_parsed(srv, core_site):
    first = get("/hello.txt", extra=f"User-Agent: slow-client/{'x' * 120}\r\n")
    second = get("/index.html", extra="Accept: */*\r\nConnection: close\r\n")
    data = first + second
    assert len(data) >= 200
    with srv.connect(timeout=TIMEOUT) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            # Pacing, not waiting: gives the server a chance to read each byte alone.
            time.sleep(0.001)
        reader = Reader(s)
        status1, _, body1, _ = reader.response()
        status2, _, body2, _ = reader.response()
        assert reader.closed()
    assert (status1, body1) == (200, (core_site / "hello.txt").read_bytes())
    assert (status2, body2) == (200, (core_site / "index.html").read_bytes())


def test_empty_line_before_request_line_is_ignored(srv, core_site):
    # RFC 9112 section 2.2: a server SHOULD ignore at least one empty line before a request.
    status, _, body = exchange_one(srv, b"\r\n" + get("/hello.txt", extra="Connection: close\r\n"))
    assert (status, body) == (200, (core_site / "hello.txt").read_bytes())


def test_server_keeps_serving_after_a_run_of_bad_requests(srv, core_site):
    bad = list(MALFORMED_REQUESTS.values()) + [
        get("/" + "a" * 9000), get("/", extra=f"X-Huge: {'h' * 17000}\r\n"),
        get("/", version="HTTP/3.0"), b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    ]
    for data in bad:
        status, _, _ = exchange_one(srv, data)
        assert 400 <= status < 600, data[:60]
    assert_still_serving(srv, core_site)


def test_last_modified_is_never_later_than_date(start_server, tmp_path):
    # RFC 9110 §8.8.2.1: a file stamped in the future is sent as modified "now".
    root = tmp_path / "future"
    root.mkdir()
    f = root / "f.txt"
    f.write_text("from the future\n")
    later = time.time() + 2 * 86400
    os.utime(f, (later, later))
    srv = start_server(root)
    status, headers, body = exchange_one(srv, get("/f.txt", extra="Connection: close\r\n"))
    assert status == 200 and body == b"from the future\n"
    last_modified = email.utils.parsedate_to_datetime(headers["last-modified"])
    date = email.utils.parsedate_to_datetime(headers["date"])
    assert last_modified <= date
