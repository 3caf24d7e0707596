"""Headers for local development: -H adds fields to every response, --cors lets pages
of other origins fetch (checked with headless Chromium: a page served on one port
fetching from sluice on another), and both are refused at start-up when malformed.

Needs Debian's chromium package for the browser tests (test/integration/cdp.py)."""

import json
import subprocess

import pytest

from conftest import BIN, parse_responses, raw_exchange, wait_for

COOP = "Cross-Origin-Opener-Policy: same-origin"
COEP = "Cross-Origin-Embedder-Policy: require-corp"


@pytest.fixture
def two_roots(tmp_path):
    """A page root and a data root with a 100-byte file."""
    page, data = tmp_path / "page", tmp_path / "data"
    page.mkdir()
    data.mkdir()
    (page / "index.html").write_text("<!DOCTYPE html><title>page</title><p>page</p>\n")
    (data / "data.bin").write_bytes(bytes(range(100)))
    return page, data


def head_of(srv, request):
    """The head fields of the one response to raw `request` bytes (lower-case names;
    repeated fields as lists)."""
    responses = parse_responses(raw_exchange(srv, request))
    assert len(responses) == 1, responses
    return responses[0]


def fetch_js(url, init=None):
    """JS: fetch url from the page, return [status, body length, ETag, Content-Range] as
    the script sees them, or ["error", message] when the browser refuses."""
    return f"""fetch({json.dumps(url)}, {json.dumps(init or {})}).then(
        async r => [r.status, (await r.arrayBuffer()).byteLength,
                    r.headers.get('ETag'), r.headers.get('Content-Range')],
        e => ['error', String(e)])"""


def test_extra_header_fields_are_on_files_errors_304_and_redirects(start_server, site):
    srv = start_server(site, "-H", COOP, "-H", "X-Note:  two words ")
    (site / "dir").mkdir()
    for req in (b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                b"GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                b"GET /dir HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                b"GET /sub/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                b"GARBAGE\r\n\r\n"):
        status, headers, _ = head_of(srv, req)
        assert headers.get("cross-origin-opener-policy") == "same-origin", (req, status)
        assert headers.get("x-note") == "two words", (req, status)
    status, headers, _ = head_of(srv, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n"
                                      b"Connection: close\r\n\r\n")
    status, headers, _ = head_of(
        srv, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nIf-None-Match: "
        + headers["etag"].encode() + b"\r\n\r\n")
    assert status == 304 and headers["x-note"] == "two words"


@pytest.mark.parametrize("field, why", [
    ("Content-Length: 5", "frames every message"),
    ("transfer-encoding: chunked", "frames every message"),
    ("Connection: close", "frames every message"),
    ("Content-Range: bytes 0-1/2", "frames every message"),
    ("Bad Name: x", "name made of"),
    ("NoColon", "name made of"),
    ("X-A: one\rtwo", "control characters"),
    ("X-A: one\ntwo", "control characters"),
])
def test_bad_extra_header_is_refused_at_start_with_one_line(tmp_path, field, why):
    r = subprocess.run([BIN, "-p", "0", "-H", field, str(tmp_path)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sluice: ") and why in lines[0], r.stderr


def test_options_without_cors_is_405_and_with_cors_a_preflight_is_204(start_server, site):
    plain = start_server(site)
    preflight = (b"OPTIONS /hello.txt HTTP/1.1\r\nHost: x\r\nOrigin: http://a.test\r\n"
                 b"Access-Control-Request-Method: GET\r\n"
                 b"Access-Control-Request-Headers: if-none-match, x-other, range\r\n"
                 b"Connection: close\r\n\r\n")
    status, headers, _ = head_of(plain, preflight)
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert "access-control-allow-origin" not in headers

    cors = start_server(site, "--cors")
    status, headers, body = head_of(cors, preflight)
    assert status == 204 and body == b"" and "content-length" not in headers
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == "GET, HEAD"
    assert headers["access-control-allow-headers"] == "if-none-match, range"
    assert headers["access-control-max-age"] == "7200"
    status, headers, _ = head_of(cors, b"GET /missing HTTP/1.1\r\nHost: x\r\n"
                                       b"Connection: close\r\n\r\n")
    assert status == 404 and headers["access-control-allow-origin"] == "*"
    assert "ETag" in headers["access-control-expose-headers"]


def test_chromium_page_on_another_port_fetches_with_ranges_and_validators_under_cors(
        browser, start_server, two_roots):
    page_root, data_root = two_roots
    page = start_server(page_root)
    data = start_server(data_root, "--cors")
    url = data.url("/data.bin")
    browser.navigate(page.url("/"))

    # A simple GET: readable, and the validator is exposed to the script.
    status, length, etag, _ = browser.evaluate(fetch_js(url, {"cache": "no-store"}))
    assert (status, length) == (200, 100) and etag.startswith('"')
    # A single simple range needs no preflight; Content-Range is exposed.
    got = browser.evaluate(fetch_js(url, {"cache": "no-store", "headers": {"Range": "bytes=10-19"}}))
    assert got == [206, 10, etag, "bytes 10-19/100"]
    # If-None-Match and a multi-range are not safelisted: a preflight goes first.
    got = browser.evaluate(fetch_js(url, {"cache": "no-store",
                                          "headers": {"If-None-Match": etag}}))
    assert got[0] == 304, got
    got = browser.evaluate(fetch_js(url, {"cache": "no-store",
                                          "headers": {"Range": "bytes=0-1,50-51"}}))
    assert got[0] == 206 and got[1] > 4, got
    # A field sluice does not honour is not allowed: the browser refuses the request.
    got = browser.evaluate(fetch_js(url, {"cache": "no-store", "headers": {"X-Custom": "1"}}))
    assert got[0] == "error", got
    wait_for(lambda: '"OPTIONS /data.bin HTTP/1.1" 204' in data.access_log(),
             what="the preflight in the access log")

    # Without --cors the same fetch is refused by the browser.
    closed = start_server(data_root)
    got = browser.evaluate(fetch_js(closed.url("/data.bin"), {"cache": "no-store"}))
    assert got[0] == "error", got


def test_coop_and_coep_fields_make_the_page_cross_origin_isolated_in_chromium(
        browser, start_server, two_roots):
    page_root, _ = two_roots
    plain = start_server(page_root)
    browser.navigate(plain.url("/"))
    assert browser.evaluate("self.crossOriginIsolated") is False
    isolated = start_server(page_root, "-H", COOP, "-H", COEP)
    browser.navigate(isolated.url("/"))
    assert browser.evaluate("self.crossOriginIsolated") is True
    assert browser.evaluate("typeof SharedArrayBuffer") == "function"
