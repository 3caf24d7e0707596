"""Hostile and malformed requests (the hardening issue): request-smuggling shapes,
invalid and NUL bytes, oversized heads, a head dribbled in one byte per write, the
unusual request-target forms of RFC 9112 §3.2, Expect: 100-continue and request bodies
on kept-alive connections.

Each case must get the right status or a close, never two responses for one request and
never a crash: every test ends by checking that the same server still answers a normal
request. "Exactly one response" is checked by parsing every byte the server sent until
it closed. The smuggling shapes are separate, named regression tests so that a future
llhttp or a lenient parser flag cannot silently reopen one of them."""

import socket
import time

import pytest

from conftest import parse_responses

TIMEOUT = 5.0
# A complete, valid request appended after every bad one: if the server ever lost track
# of where the bad request ended, it would answer this one too (a second response).
FOLLOW_UP = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"


# ---- helpers ----

def read_until_close(sock, timeout=TIMEOUT, must_close=True):
    """Returns every byte the server sends until it closes the connection. Fails if it
    has not closed within `timeout`, unless must_close is false."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            if must_close:
                raise AssertionError(f"server did not close within {timeout}s; got "
                                     f"{b''.join(chunks)[:300]!r}")
            break
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue  # the deadline check above decides
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def exchange(srv, data, must_close=True, timeout=TIMEOUT):
    """Sends data (without half-closing, so the close must come from the server) and
    returns the parsed responses to it."""
    with srv.connect(timeout=timeout) as s:
        s.sendall(data)
        return parse_responses(read_until_close(s, timeout, must_close))


def assert_still_serves(srv, site):
    """The same process still answers a normal request correctly."""
    assert srv.alive(), "sluice exited"
    conn = srv.http(timeout=TIMEOUT)
    try:
        conn.request("GET", "/hello.txt")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read() == (site / "hello.txt").read_bytes()
    finally:
        conn.close()


def assert_one_response_then_close(srv, site, data, status):
    responses = exchange(srv, data)
    assert [r[0] for r in responses] == [status], \
        f"expected exactly one {status} response, got {[r[0] for r in responses]}"
    assert_still_serves(srv, site)


# ---- request smuggling: each shape is rejected with 400 and a close ----

SMUGGLING = {
    "content_length_and_transfer_encoding":
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "transfer_encoding_and_content_length":
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 5\r\n\r\n0\r\n\r\n",
    "two_differing_content_lengths":
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Content-Length: 6\r\n\r\nhello!",
    "content_length_list_of_two_values":
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!",
    "transfer_encoding_gzip":
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    "transfer_encoding_chunked_then_gzip":
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "transfer_encoding_chunked_then_second_field_identity":
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: identity\r\n\r\n0\r\n\r\n",
    "get_with_transfer_encoding_gzip":
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    "obs_fold_continuation_with_space":
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    "obs_fold_continuation_with_tab":
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n",
    "obs_fold_continuing_content_length":
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n 5\r\n\r\nhello",
    "space_between_host_name_and_colon":
        b"GET /hello.txt HTTP/1.1\r\nHost : x\r\n\r\n",
    "space_between_content_length_name_and_colon":
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
    "tab_between_field_name_and_colon":
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-A\t: b\r\n\r\n",
    # CVE-2023-30589: a bare CR must not end a line.
    "bare_cr_ending_request_line":
        b"GET /hello.txt HTTP/1.1\rHost: x\r\n\r\n",
    "bare_cr_inside_header_value":
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
    "bare_cr_ending_header_line":
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-A: a\rContent-Length: 5\r\n\r\nhello",
    "space_before_first_header_name":
        b"GET /hello.txt HTTP/1.1\r\n Host: x\r\n\r\n",
    "tab_before_first_header_name":
        b"GET /hello.txt HTTP/1.1\r\n\tHost: x\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", list(SMUGGLING.values()), ids=list(SMUGGLING))
def test_smuggling_shape_is_rejected_with_400_and_close(server, site, request_bytes):
    assert_one_response_then_close(server, site, request_bytes + FOLLOW_UP, 400)


# ---- invalid bytes ----

INVALID_BYTES = {
    "method_with_at_sign": b"G@T /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "method_with_control_byte": b"G\x01T /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "target_with_control_byte": b"GET /hel\x01lo.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "target_with_del": b"GET /hel\x7flo.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "field_name_with_at_sign": b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX@A: b\r\n\r\n",
    "field_name_with_space": b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n",
    "field_name_with_control_byte":
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX\x01A: b\r\n\r\n",
    "field_name_with_non_ascii_byte":
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX\xe9A: b\r\n\r\n",
    "empty_field_name": b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n",
}

NUL_BYTES = {
    "in_method": b"GE\x00T /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "in_target": b"GET /hel\x00lo.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "in_version": b"GET /hello.txt HTTP/1.\x001\r\nHost: x\r\n\r\n",
    "after_version": b"GET /hello.txt HTTP/1.1\x00\r\nHost: x\r\n\r\n",
    "in_field_name": b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-\x00A: b\r\n\r\n",
    "in_field_value": b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "in_host_value": b"GET /hello.txt HTTP/1.1\r\nHost: x\x00y\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", list(INVALID_BYTES.values()), ids=list(INVALID_BYTES))
def test_invalid_byte_in_request_line_or_field_name_is_rejected_with_400_and_close(
        server, site, request_bytes):
    assert_one_response_then_close(server, site, request_bytes + FOLLOW_UP, 400)


@pytest.mark.parametrize("request_bytes", list(NUL_BYTES.values()), ids=list(NUL_BYTES))
def test_nul_byte_anywhere_in_head_is_rejected_with_400_and_close(server, site, request_bytes):
    # RFC 9110 §5.5: NUL in a field value must be rejected (or replaced); in the request
    # line or a field name it is a syntax error, not an unsupported version.
    assert_one_response_then_close(server, site, request_bytes + FOLLOW_UP, 400)


# ---- oversized heads ----

@pytest.mark.parametrize("line", [
    b"X-Long: " + b"a" * 20_000,
    b"X-" + b"n" * 20_000 + b": v",
    b"X-Huge: " + b"a" * 200_000,
], ids=["long_value", "long_name", "value_beyond_any_buffer"])
def test_absurdly_long_header_line_gets_431(server, site, line):
    request = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n"
    assert_one_response_then_close(server, site, request, 431)


def test_thousands_of_tiny_header_fields_get_431(server, site):
    # 2000 six-byte fields fit in 12 KB, under the 16 KiB head limit: the field count
    # (at most 100) is what must trip.
    fields = b"X: 1\r\n" * 2000
    request = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"
    assert len(request) < 16 * 1024
    assert_one_response_then_close(server, site, request, 431)


# ---- a head dribbled in one byte per write ----

def test_ten_thousand_byte_head_sent_one_byte_per_write_parses_correctly_and_quickly(
        server, site):
    # The URL is capped at 8 KiB, so a header value carries the padding. The Range field
    # after it proves that values split over thousands of reads are reassembled.
    before = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Pad: "
    after = b"\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n"
    head = before + b"p" * (10_000 - len(before) - len(after)) + after
    body = (site / "hello.txt").read_bytes()
    start = time.monotonic()
    with server.connect(timeout=TIMEOUT) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(head)):
            s.send(head[i:i + 1])
        responses = parse_responses(read_until_close(s, timeout=10.0))
    elapsed = time.monotonic() - start
    assert [r[0] for r in responses] == [206]
    assert responses[0][2] == body[:5]
    assert elapsed < 10.0, f"took {elapsed:.1f}s"
    assert_still_serves(server, site)


# ---- request-target forms (RFC 9112 §3.2) ----

def test_absolute_form_target_serves_the_named_file(server, site):
    request = (f"GET http://127.0.0.1:{server.port}/hello.txt HTTP/1.1\r\n"
               f"Host: 127.0.0.1:{server.port}\r\nConnection: close\r\n\r\n").encode()
    responses = exchange(server, request)
    assert [r[0] for r in responses] == [200]
    assert responses[0][2] == (site / "hello.txt").read_bytes()
    assert_still_serves(server, site)


def test_absolute_form_authority_overrides_host_field(server, site):
    # RFC 9112 §3.2.2: with an absolute-form target the Host field is ignored.
    request = (b"GET http://example.test/sub/page.html HTTP/1.1\r\n"
               b"Host: other.test\r\nConnection: close\r\n\r\n")
    responses = exchange(server, request)
    assert [r[0] for r in responses] == [200]
    assert responses[0][2] == (site / "sub" / "page.html").read_bytes()


@pytest.mark.parametrize("target", ["http://user@127.0.0.1/hello.txt",
                                    "http://user:pass@127.0.0.1:1/hello.txt",
                                    "http://127.0.0.1:x/hello.txt",
                                    "http://a%/hello.txt"])
def test_absolute_form_with_userinfo_or_bad_authority_gets_400(server, site, target):
    # RFC 9110 §4.2.4: userinfo in an http URI is an error.
    request = (f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode()
    responses = exchange(server, request)
    assert [r[0] for r in responses] == [400]
    assert_still_serves(server, site)


def test_options_asterisk_form_is_answered_with_allow(server, site):
    responses = exchange(server, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert len(responses) == 1
    status, headers, _ = responses[0]
    assert status in (200, 405)
    allowed = {m.strip() for m in headers.get("allow", "").split(",")}
    assert {"GET", "HEAD"} <= allowed, f"Allow: {headers.get('allow')!r}"
    assert_still_serves(server, site)


def test_get_with_asterisk_form_target_is_rejected_with_400(server, site):
    responses = exchange(server, b"GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert [r[0] for r in responses] == [400]
    assert_still_serves(server, site)


# ---- Expect and request bodies ----

def test_expect_100_continue_on_get_without_body_is_answered_promptly(server, site):
    request = (b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
               b"Connection: close\r\n\r\n")
    start = time.monotonic()
    responses = exchange(server, request, timeout=2.0)
    elapsed = time.monotonic() - start
    # A 100 Continue before the final response is allowed, not required.
    final = [r for r in responses if r[0] >= 200]
    assert all(r[0] == 100 for r in responses if r[0] < 200)
    assert [r[0] for r in final] == [200]
    assert final[0][2] == (site / "hello.txt").read_bytes()
    assert elapsed < 2.0


def test_request_with_five_byte_body_on_keep_alive_gets_exactly_one_response(server, site):
    # Were the body parsed as the next request, "hello" would earn a second (400) answer.
    # The server may keep the connection open, so its silence, not a close, ends the read.
    request = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    responses = exchange(server, request, must_close=False, timeout=2.0)
    assert [r[0] for r in responses] == [200]
    assert responses[0][2] == (site / "hello.txt").read_bytes()
    assert_still_serves(server, site)


def test_request_hidden_in_a_body_is_never_answered(server, site):
    hidden = b"GET /sub/page.html HTTP/1.1\r\nHost: x\r\n\r\n"
    request = (b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: " +
               str(len(hidden)).encode() + b"\r\n\r\n" + hidden)
    responses = exchange(server, request, must_close=False, timeout=2.0)
    assert [r[0] for r in responses] == [405]
    page = (site / "sub" / "page.html").read_bytes()
    assert all(page not in r[2] for r in responses)
    assert_still_serves(server, site)
