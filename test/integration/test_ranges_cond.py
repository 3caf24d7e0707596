"""Byte ranges, validators, conditional requests, precompressed variants and
Content-Disposition, checked black-box against RFC 9110 (§8.8 validators, §13
conditional requests, §14 ranges, §12.5.3 Accept-Encoding) with http.client, raw
sockets, the real curl and wget.

Every expected byte, length and validator is derived from the files the test writes
(their bytes and the mtimes it sets), never copied from the server's answers."""

import email.parser
import email.policy
import email.utils
import gzip
import hashlib
import os
import re
import subprocess
import time
import urllib.parse

import pytest

from conftest import parse_responses, raw_exchange, wait_for

DATA_SIZE = 10_000
# A fixed fractional part: Last-Modified has whole seconds, the file system has more.
MTIME_NS_FRACTION = 123_456_789
HOUR = 3600


# ---- helpers ----

def request(srv, path, headers=None, method="GET"):
    """One request on a fresh connection; returns (status, headers, body). Unlike
    HTTPConnection.request this sends no Accept-Encoding unless asked to."""
    conn = srv.http()
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def raw_get(srv, path, headers=None, method="GET"):
    """One request with Connection: close over a raw socket; returns (status, headers with
    lower-case names, body) where body is every byte after the head, so a wrong
    Content-Length cannot go unnoticed. headers: a dict, or (name, value) pairs to send a
    field on several lines."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{srv.port}", "Connection: close"]
    pairs = headers.items() if isinstance(headers, dict) else headers or []
    lines += [f"{name}: {value}" for name, value in pairs]
    data = raw_exchange(srv, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, f"no complete response head: {data[:300]!r}"
    head_lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in head_lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return int(head_lines[0].split()[1]), fields, body


def set_mtime_ns(path, mtime_ns):
    os.utime(path, ns=(mtime_ns, mtime_ns))


def past_mtime_ns(seconds_ago=HOUR):
    """A whole second in the past plus a fixed fraction, in nanoseconds."""
    return (int(time.time()) - seconds_ago) * 1_000_000_000 + MTIME_NS_FRACTION


def imf_fixdate(t):
    return email.utils.formatdate(t, usegmt=True)


def rfc850_date(t):
    return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(t))


def asctime_date(t):
    return time.asctime(time.gmtime(t))


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_content_range(value):
    m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", value or "")
    assert m, f"not a satisfied Content-Range: {value!r}"
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def parse_multipart(content_type, body):
    """Parses a multipart/byteranges body with Python's email parser; returns a list of
    (Content-Type, Content-Range, bytes) per part and fails on any structural defect
    (a missing closing delimiter means the body was cut short)."""
    raw = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)
    assert msg.get_content_type() == "multipart/byteranges"
    assert msg.is_multipart(), f"not multipart: {body[:300]!r}"
    assert not msg.defects, f"multipart defects: {msg.defects}"
    parts = []
    for part in msg.get_payload():
        assert not part.defects, f"part defects: {part.defects}"
        parts.append((part["Content-Type"], part["Content-Range"],
                      part.get_payload(decode=True)))
    return parts


def await_new_etag(srv, path, old_etag, old_body):
    """Requests path until its ETag differs from old_etag; returns (headers, body). A server
    may go on sending the representation it already had for a moment (a short-lived
    cache), but never the new bytes under the old strong tag."""
    def changed():
        status, headers, body = request(srv, path)
        assert status == 200
        if headers["ETag"] == old_etag:
            assert body == old_body, "changed bytes were sent under the old ETag"
            return None
        return headers, body
    return wait_for(changed, timeout=5, interval=0.05, what=f"a new ETag for {path}")


def resolve_spec(spec, size):
    """The byte offsets a client asked for with one simple range-spec (test's own view)."""
    first, _, last = spec.partition("-")
    if first == "":
        return range(max(0, size - int(last)), size)
    end = size if last == "" else min(int(last) + 1, size)
    return range(int(first), end)


def received_ranges(status, headers, body, size):
    """(first, last, bytes) of every range in a 206, single part or multipart."""
    assert status == 206, status
    ctype = headers["content-type"]
    if ctype.startswith("multipart/byteranges"):
        out = []
        for _, crange, data in parse_multipart(ctype, body):
            first, last, total = parse_content_range(crange)
            assert total == size
            out.append((first, last, data))
        return out
    first, last, total = parse_content_range(headers["content-range"])
    assert total == size
    return [(first, last, body)]


# ---- fixtures ----

@pytest.fixture
def data_root(tmp_path):
    """data.bin: 10,000 random bytes last modified an hour ago (so its Last-Modified is a
    strong validator, RFC 9110 §8.8.2.2); empty.bin; note.txt."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "data.bin").write_bytes(os.urandom(DATA_SIZE))
    (root / "empty.bin").write_bytes(b"")
    (root / "note.txt").write_text("a short note\n")
    for name in ("data.bin", "empty.bin", "note.txt"):
        set_mtime_ns(root / name, past_mtime_ns())
    return root


@pytest.fixture
def data_server(start_server, data_root):
    return start_server(data_root)


@pytest.fixture
def data(data_root):
    return (data_root / "data.bin").read_bytes()


# ---- single ranges (RFC 9110 §14.1.2, §14.4) ----

def test_file_response_advertises_accept_ranges_bytes(data_server, data):
    status, headers, body = request(data_server, "/data.bin")
    assert status == 200
    assert headers["Accept-Ranges"] == "bytes"
    assert body == data


@pytest.mark.parametrize("spec, first, last", [
    ("0-0", 0, 0),
    ("100-199", 100, 199),
    ("0-", 0, DATA_SIZE - 1),
    ("9990-", 9990, DATA_SIZE - 1),
    ("-10", DATA_SIZE - 10, DATA_SIZE - 1),
    ("-1", DATA_SIZE - 1, DATA_SIZE - 1),
    ("9000-20000", 9000, DATA_SIZE - 1),            # last-pos beyond the end is clipped
    ("9999-9999999999999999999999", 9999, DATA_SIZE - 1),
    ("-20000", 0, DATA_SIZE - 1),                   # suffix longer than the file: all of it
    ("0000100-0000199", 100, 199),
])
def test_single_range_returns_206_with_exact_bytes_and_content_range(data_server, data, spec,
                                                                      first, last):
    status, headers, body = raw_get(data_server, "/data.bin", {"Range": f"bytes={spec}"})
    assert status == 206
    assert headers["content-range"] == f"bytes {first}-{last}/{DATA_SIZE}"
    assert int(headers["content-length"]) == last - first + 1
    assert body == data[first:last + 1]
    assert not headers["content-type"].startswith("multipart/")


def test_range_unit_is_case_insensitive(data_server, data):
    status, headers, body = request(data_server, "/data.bin", {"Range": "Bytes=10-19"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes 10-19/{DATA_SIZE}"
    assert body == data[10:20]


@pytest.mark.parametrize("spec", [
    f"{DATA_SIZE}-",
    f"{DATA_SIZE}-{DATA_SIZE + 100}",
    "20000-30000",
    "-0",
    f"{DATA_SIZE}-,{DATA_SIZE * 2}-",
])
def test_unsatisfiable_range_returns_416_with_length_in_content_range(data_server, spec):
    status, headers, body = raw_get(data_server, "/data.bin", {"Range": f"bytes={spec}"})
    assert status == 416
    assert headers["content-range"] == f"bytes */{DATA_SIZE}"
    assert len(body) == int(headers["content-length"])


def test_any_range_of_an_empty_file_returns_416(data_server):
    status, headers, _ = request(data_server, "/empty.bin", {"Range": "bytes=0-"})
    assert status == 416
    assert headers["Content-Range"] == "bytes */0"


@pytest.mark.parametrize("value", [
    "bytes=abc",
    "bytes=5-2",          # last-pos before first-pos invalidates the field (§14.1.1)
    "bytes=",
    "bytes=0-1-2",
    "bytes=--5",
    "bytes=1-a",
    "bytes 0-10",
    "items=0-10",
    "none",
    "=0-10",
])
def test_malformed_or_foreign_unit_range_is_ignored_with_full_200(data_server, data, value):
    status, headers, body = raw_get(data_server, "/data.bin", {"Range": value})
    assert status == 200
    assert "content-range" not in headers
    assert int(headers["content-length"]) == DATA_SIZE
    assert body == data


def test_head_range_has_same_headers_as_get_and_no_body(data_server, data):
    _, get_headers, _ = request(data_server, "/data.bin", {"Range": "bytes=100-199"})
    req = ("HEAD /data.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=100-199\r\n\r\n"
           "GET /note.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode()
    (head_status, head_headers, head_body), (next_status, _, next_body) = parse_responses(
        raw_exchange(data_server, req), head_only_count=1)
    assert head_status == 206
    assert head_body == b""
    assert head_headers["content-range"] == get_headers["Content-Range"]
    assert head_headers["content-length"] == get_headers["Content-Length"] == "100"
    # The HEAD sent no body bytes: the next response on the connection parses intact.
    assert next_status == 200 and next_body == b"a short note\n"


# ---- several ranges (RFC 9110 §14.6) ----

def test_multiple_ranges_return_multipart_byteranges_with_exact_parts(data_server, data):
    specs = ["0-9", "100-199", "5000-5099", "-50"]
    status, headers, body = raw_get(data_server, "/data.bin",
                                    {"Range": "bytes=" + ",".join(specs)})
    assert status == 206
    assert headers["content-type"].startswith("multipart/byteranges")
    assert "content-range" not in headers
    assert int(headers["content-length"]) == len(body)
    _, single_headers, _ = request(data_server, "/data.bin")
    parts = parse_multipart(headers["content-type"], body)
    assert len(parts) == len(specs)
    for (ctype, crange, part), spec in zip(parts, specs):
        wanted = resolve_spec(spec, DATA_SIZE)
        assert ctype == single_headers["Content-Type"]
        assert crange == f"bytes {wanted.start}-{wanted.stop - 1}/{DATA_SIZE}"
        assert part == data[wanted.start:wanted.stop]


def test_multipart_parts_follow_the_order_the_ranges_were_requested_in(data_server, data):
    # RFC 9110 §14.6: parts SHOULD come in the order of the range-specs.
    status, headers, body = raw_get(data_server, "/data.bin", {"Range": "bytes=500-599,0-9"})
    assert status == 206
    ranges = [(first, last) for first, last, _ in
              received_ranges(status, headers, body, DATA_SIZE)]
    assert ranges == [(500, 599), (0, 9)]


@pytest.mark.parametrize("specs", [
    "0-99,50-149",
    "0-499,100-199",
    "100-199,150-249,180-300",
    "-100,9850-",
    "0-0,0-0,0-0",
    "0-9,10-19",
    "200-299,0-9,250-260",
])
def test_overlapping_ranges_never_send_wrong_or_duplicated_bytes(data_server, data, specs):
    status, headers, body = raw_get(data_server, "/data.bin", {"Range": f"bytes={specs}"})
    assert int(headers["content-length"]) == len(body)
    got = received_ranges(status, headers, body, DATA_SIZE)
    sent = []
    for first, last, part in got:
        assert part == data[first:last + 1]
        sent.extend(range(first, last + 1))
    assert len(sent) == len(set(sent)), f"some bytes were sent twice for {specs}"
    wanted = set()
    for spec in specs.split(","):
        wanted.update(resolve_spec(spec, DATA_SIZE))
    assert set(sent) == wanted


def test_unsatisfiable_ranges_in_a_set_are_left_out(data_server, data):
    status, headers, body = raw_get(data_server, "/data.bin",
                                    {"Range": f"bytes=0-9,{DATA_SIZE + 5}-{DATA_SIZE + 9}"})
    got = received_ranges(status, headers, body, DATA_SIZE)
    assert [(f, l) for f, l, _ in got] == [(0, 9)]
    assert got[0][2] == data[:10]


def test_head_multiple_ranges_has_same_length_as_get_and_no_body(data_server):
    rng = {"Range": "bytes=0-9,100-199"}
    _, get_headers, get_body = request(data_server, "/data.bin", rng)
    status, head_headers, head_body = raw_get(data_server, "/data.bin", rng, method="HEAD")
    assert status == 206
    assert head_body == b""
    assert head_headers["content-type"].startswith("multipart/byteranges")
    assert int(head_headers["content-length"]) == int(get_headers["Content-Length"]) \
        == len(get_body)


# ---- If-Range (RFC 9110 §13.1.5) ----

def test_if_range_with_current_etag_returns_206(data_server, data):
    _, headers, _ = request(data_server, "/data.bin")
    status, headers, body = request(data_server, "/data.bin",
                                    {"Range": "bytes=10-19", "If-Range": headers["ETag"]})
    assert status == 206
    assert body == data[10:20]


def test_if_range_with_exact_last_modified_returns_206(data_server, data_root, data):
    mtime = (data_root / "data.bin").stat().st_mtime
    status, _, body = request(data_server, "/data.bin",
                              {"Range": "bytes=10-19", "If-Range": imf_fixdate(mtime)})
    assert status == 206
    assert body == data[10:20]


@pytest.mark.parametrize("make_if_range", [
    pytest.param(lambda etag, mtime: "W/" + etag, id="weak-form-of-current-etag"),
    pytest.param(lambda etag, mtime: '"not-the-tag"', id="other-etag"),
    pytest.param(lambda etag, mtime: imf_fixdate(mtime - 1), id="earlier-date"),
    pytest.param(lambda etag, mtime: imf_fixdate(mtime + 1800), id="later-date"),
])
def test_if_range_that_does_not_match_returns_whole_file(data_server, data_root, data,
                                                        make_if_range):
    _, headers, _ = request(data_server, "/data.bin")
    mtime = (data_root / "data.bin").stat().st_mtime
    status, headers, body = raw_get(data_server, "/data.bin", {
        "Range": "bytes=10-19", "If-Range": make_if_range(headers["ETag"], mtime)})
    assert status == 200
    assert "content-range" not in headers
    assert body == data


def test_if_range_with_etag_from_before_the_file_changed_returns_whole_file(data_server,
                                                                           data_root):
    path = data_root / "data.bin"
    _, headers, old = request(data_server, "/data.bin")
    old_etag = headers["ETag"]
    new = os.urandom(DATA_SIZE)
    path.write_bytes(new)
    set_mtime_ns(path, past_mtime_ns(seconds_ago=60))
    await_new_etag(data_server, "/data.bin", old_etag, old)
    status, headers, body = request(data_server, "/data.bin",
                                    {"Range": "bytes=10-19", "If-Range": old_etag})
    assert status == 200
    assert body == new


def test_if_range_date_of_file_modified_within_the_last_second_is_ignored(data_server,
                                                                          data_root):
    # RFC 9110 §13.1.5 and §8.8.2.2: a Last-Modified less than a second before the
    # response's Date is weak, and If-Range with a weak date MUST be ignored, or two
    # writes within one second would splice old and new bytes into one download.
    path = data_root / "fresh.bin"
    content = os.urandom(1000)
    path.write_bytes(content)
    mtime = time.time()
    os.utime(path, (mtime, mtime))
    status, headers, body = request(data_server, "/fresh.bin",
                                    {"Range": "bytes=10-19", "If-Range": imf_fixdate(mtime)})
    date = email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
    assert date < mtime + 1, "precondition: the response came within a second"
    assert status == 200
    assert body == content


# ---- real clients ----

def test_curl_byte_range_download_matches_file(data_server, data, tmp_path):
    out = tmp_path / "part.bin"
    subprocess.run(["curl", "-sSf", "-r", "100-199", "-o", str(out),
                    data_server.url("/data.bin")], check=True, timeout=30)
    assert out.read_bytes() == data[100:200]


@pytest.fixture
def big_server(start_server, tmp_path):
    root = tmp_path / "bigroot"
    root.mkdir()
    (root / "big.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    return start_server(root)


def interrupt_download(cmd, out, cwd=None):
    """Runs a rate-limited download until some bytes are on disk, then kills it."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: out.exists() and out.stat().st_size >= 128 * 1024, timeout=30,
                 what=f"{cmd[0]} to write the first bytes")
    finally:
        proc.kill()
        proc.wait(timeout=10)
    return out.stat().st_size


def resumed_with_206(srv):
    return wait_for(lambda: re.search(r'"GET /big\.bin HTTP/1\.1" 206 ', srv.access_log()),
                    timeout=10, what="the resumed request in the access log")


def test_interrupted_curl_download_resumes_to_identical_file(big_server, tmp_path):
    original = big_server.root / "big.bin"
    out = tmp_path / "dl" / "big.bin"
    out.parent.mkdir()
    url = big_server.url("/big.bin")
    partial = interrupt_download(["curl", "-s", "--limit-rate", "1M", "-o", str(out), url], out)
    assert 0 < partial < original.stat().st_size
    subprocess.run(["curl", "-sSf", "-C", "-", "-o", str(out), url], check=True, timeout=60)
    assert sha256_of(out) == sha256_of(original)
    resumed_with_206(big_server)


def test_interrupted_wget_download_resumes_to_identical_file(big_server, tmp_path):
    original = big_server.root / "big.bin"
    dl = tmp_path / "dl"
    dl.mkdir()
    out = dl / "big.bin"
    url = big_server.url("/big.bin")
    partial = interrupt_download(["wget", "-q", "--limit-rate=1m", url], out, cwd=dl)
    assert 0 < partial < original.stat().st_size
    subprocess.run(["wget", "-q", "-c", url], cwd=dl, check=True, timeout=60)
    assert sha256_of(out) == sha256_of(original)
    assert sorted(p.name for p in dl.iterdir()) == ["big.bin"]  # resumed, not big.bin.1
    resumed_with_206(big_server)


# ---- validators (RFC 9110 §8.8) ----

STRONG_ETAG = re.compile(r'"[\x21\x23-\x7e\x80-\xff]*"')


def test_file_has_strong_etag_and_last_modified_of_its_mtime(data_server, data_root):
    status, headers, _ = request(data_server, "/data.bin")
    assert status == 200
    assert STRONG_ETAG.fullmatch(headers["ETag"]), headers["ETag"]
    mtime = (data_root / "data.bin").stat().st_mtime
    assert headers["Last-Modified"] == imf_fixdate(mtime)


@pytest.mark.parametrize("new_content", [
    pytest.param(lambda old: old, id="same-content"),
    pytest.param(lambda old: bytes(255 - b for b in old), id="new-content-same-size"),
])
def test_etag_changes_when_mtime_changes_by_one_nanosecond(start_server, tmp_path,
                                                           new_content):
    root = tmp_path / "root"
    root.mkdir()
    path = root / "v.bin"
    old = os.urandom(64)
    path.write_bytes(old)
    mtime_ns = past_mtime_ns()
    set_mtime_ns(path, mtime_ns)
    srv = start_server(root)
    first = request(srv, "/v.bin")[1]["ETag"]
    assert request(srv, "/v.bin")[1]["ETag"] == first  # stable while nothing changes
    path.write_bytes(new_content(old))
    set_mtime_ns(path, mtime_ns + 1)
    headers, body = await_new_etag(srv, "/v.bin", first, old)
    assert STRONG_ETAG.fullmatch(headers["ETag"])
    assert body == path.read_bytes()
    status, _, body = request(srv, "/v.bin", {"If-None-Match": first})
    assert status == 200
    assert body == path.read_bytes()
    assert request(srv, "/v.bin", {"If-None-Match": headers["ETag"]})[0] == 304


# ---- If-None-Match and If-Modified-Since (RFC 9110 §13.1.2, §13.1.3) ----

@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("make_inm", [
    pytest.param(lambda etag: etag, id="exact"),
    pytest.param(lambda etag: f'"aaa", {etag}, "zzz"', id="list-containing-it"),
    pytest.param(lambda etag: f'"aaa",{etag}', id="list-without-spaces"),
    pytest.param(lambda etag: "*", id="star"),
    pytest.param(lambda etag: "W/" + etag, id="weak-form"),
])
def test_if_none_match_that_matches_returns_304(data_server, data_root, method, make_inm):
    _, headers, _ = request(data_server, "/data.bin")
    etag = headers["ETag"]
    req = (f"{method} /data.bin HTTP/1.1\r\nHost: x\r\nIf-None-Match: {make_inm(etag)}\r\n\r\n"
           "GET /note.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode()
    (status, fields, body), (next_status, _, next_body) = parse_responses(
        raw_exchange(data_server, req))
    assert status == 304
    assert body == b""
    assert fields["etag"] == etag
    assert fields["last-modified"] == imf_fixdate((data_root / "data.bin").stat().st_mtime)
    assert email.utils.parsedate_to_datetime(fields["date"])
    assert fields.get("content-length", str(DATA_SIZE)) == str(DATA_SIZE)
    # No body bytes followed the 304: the next response parses intact.
    assert next_status == 200 and next_body == b"a short note\n"


@pytest.mark.parametrize("inm", ['"other"', '"other", W/"another"', 'W/"other"'])
def test_if_none_match_that_does_not_match_returns_200(data_server, data, inm):
    status, _, body = request(data_server, "/data.bin", {"If-None-Match": inm})
    assert status == 200
    assert body == data


DATE_FORMS = [imf_fixdate, rfc850_date, asctime_date]


@pytest.mark.parametrize("form", DATE_FORMS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("offset", [0, 1, 1800], ids=["equal", "1s-after", "30min-after"])
def test_if_modified_since_not_before_last_modified_returns_304(data_server, data_root, form,
                                                                offset):
    mtime = int((data_root / "data.bin").stat().st_mtime)
    status, headers, body = request(data_server, "/data.bin",
                                    {"If-Modified-Since": form(mtime + offset)})
    assert status == 304
    assert body == b""
    assert headers["ETag"]
    assert headers["Last-Modified"] == imf_fixdate(mtime)


@pytest.mark.parametrize("form", DATE_FORMS, ids=lambda f: f.__name__)
def test_if_modified_since_before_last_modified_returns_200(data_server, data_root, data, form):
    mtime = int((data_root / "data.bin").stat().st_mtime)
    status, _, body = request(data_server, "/data.bin", {"If-Modified-Since": form(mtime - 1)})
    assert status == 200
    assert body == data


def test_head_with_if_modified_since_returns_304(data_server, data_root):
    mtime = (data_root / "data.bin").stat().st_mtime
    status, _, body = request(data_server, "/data.bin",
                              {"If-Modified-Since": imf_fixdate(mtime)}, method="HEAD")
    assert status == 304
    assert body == b""


def test_if_modified_since_is_ignored_when_if_none_match_does_not_match(data_server, data_root,
                                                                        data):
    mtime = (data_root / "data.bin").stat().st_mtime
    status, _, body = request(data_server, "/data.bin", {
        "If-None-Match": '"other"', "If-Modified-Since": imf_fixdate(mtime + 1800)})
    assert status == 200
    assert body == data


def test_if_modified_since_is_ignored_when_if_none_match_matches(data_server, data_root):
    _, headers, _ = request(data_server, "/data.bin")
    mtime = (data_root / "data.bin").stat().st_mtime
    status, _, _ = request(data_server, "/data.bin", {
        "If-None-Match": headers["ETag"], "If-Modified-Since": imf_fixdate(mtime - HOUR)})
    assert status == 304


@pytest.mark.parametrize("value", ["yesterday", "", "Sun, 32 Nov 2026 99:00:00 GMT"])
def test_invalid_if_modified_since_is_ignored(data_server, data, value):
    status, _, body = request(data_server, "/data.bin", {"If-Modified-Since": value})
    assert status == 200
    assert body == data


# ---- If-Match and If-Unmodified-Since (RFC 9110 §13.1.1, §13.1.4) ----

@pytest.mark.parametrize("make_if_match, expected", [
    pytest.param(lambda etag: '"other"', 412, id="other-tag"),
    pytest.param(lambda etag: "W/" + etag, 412, id="weak-form-fails-strong-comparison"),
    pytest.param(lambda etag: '"a", "b"', 412, id="list-without-it"),
    pytest.param(lambda etag: etag, 200, id="exact"),
    pytest.param(lambda etag: f'"a", {etag}', 200, id="list-with-it"),
    pytest.param(lambda etag: "*", 200, id="star"),
])
def test_if_match_returns_412_unless_a_listed_tag_matches_strongly(data_server, make_if_match,
                                                                   expected):
    _, headers, _ = request(data_server, "/data.bin")
    status, _, _ = request(data_server, "/data.bin", {"If-Match": make_if_match(headers["ETag"])})
    assert status == expected


@pytest.mark.parametrize("offset, expected", [(-1, 412), (-HOUR, 412), (0, 200), (1800, 200)],
                         ids=["1s-before", "1h-before", "equal", "30min-after"])
def test_if_unmodified_since_before_last_modified_returns_412(data_server, data_root, offset,
                                                              expected):
    mtime = int((data_root / "data.bin").stat().st_mtime)
    status, _, _ = request(data_server, "/data.bin",
                           {"If-Unmodified-Since": imf_fixdate(mtime + offset)})
    assert status == expected


def test_if_unmodified_since_is_ignored_when_if_match_is_present(data_server, data_root):
    _, headers, _ = request(data_server, "/data.bin")
    mtime = (data_root / "data.bin").stat().st_mtime
    status, _, _ = request(data_server, "/data.bin", {
        "If-Match": headers["ETag"], "If-Unmodified-Since": imf_fixdate(mtime - HOUR)})
    assert status == 200


def test_failed_if_match_wins_over_range(data_server):
    status, headers, _ = request(data_server, "/data.bin",
                                 {"If-Match": '"other"', "Range": "bytes=0-9"})
    assert status == 412
    assert "Content-Range" not in headers


# ---- list fields sent on several lines (RFC 9110 §5.3) ----

def test_if_none_match_matching_on_a_second_line_returns_304(data_server):
    etag = request(data_server, "/data.bin")[1]["ETag"]
    lines = [("If-None-Match", '"aaa"'), ("If-None-Match", f'"bbb", {etag}')]
    status, fields, body = raw_get(data_server, "/data.bin", lines)
    assert (status, body) == (304, b"")
    assert fields["etag"] == etag


def test_if_none_match_lines_combine_around_other_fields_in_any_case(data_server):
    etag = request(data_server, "/data.bin")[1]["ETag"]
    lines = [("If-None-Match", '"aaa"'), ("Accept-Encoding", "gzip"), ("X-Other", "1"),
             ("if-none-match", '"zzz"'), ("Accept-Encoding", "br"), ("IF-NONE-MATCH", etag)]
    assert raw_get(data_server, "/data.bin", lines)[0] == 304


def test_if_none_match_lines_none_matching_return_200(data_server, data):
    lines = [("If-None-Match", '"aaa"'), ("If-None-Match", 'W/"bbb"')]
    assert raw_get(data_server, "/data.bin", lines)[::2] == (200, data)


def test_if_none_match_star_with_a_second_line_is_no_longer_star(data_server, data):
    # "*, "x"" is neither "*" nor a list of entity-tags: the field is invalid and the
    # condition does not hold, as if the value had come on one line.
    lines = [("If-None-Match", "*"), ("If-None-Match", '"x"')]
    assert raw_get(data_server, "/data.bin", lines)[::2] == (200, data)
    assert raw_get(data_server, "/data.bin", {"If-None-Match": '*, "x"'})[::2] == (200, data)


def test_if_match_matching_on_a_second_line_proceeds(data_server, data):
    etag = request(data_server, "/data.bin")[1]["ETag"]
    lines = [("If-Match", '"aaa"'), ("If-Match", etag)]
    assert raw_get(data_server, "/data.bin", lines)[::2] == (200, data)


def test_if_match_with_a_malformed_second_line_fails_with_412(data_server):
    etag = request(data_server, "/data.bin")[1]["ETag"]
    lines = [("If-Match", etag), ("If-Match", "garbage")]
    assert raw_get(data_server, "/data.bin", lines)[0] == 412


@pytest.mark.parametrize("lines, coding", [
    ([("Accept-Encoding", "gzip;q=0.5"), ("Accept-Encoding", "br")], "br"),
    ([("Accept-Encoding", "identity;q=0"), ("Accept-Encoding", "zstd")], "zstd"),
    ([("Accept-Encoding", "br;q=0"), ("Accept-Encoding", "br, gzip")], "gzip"),
    ([("Accept-Encoding", ""), ("Accept-Encoding", "gzip")], "gzip"),
])
def test_accept_encoding_lines_are_one_list(pc_server, pc_root, lines, coding):
    status, headers, body = raw_get(pc_server, "/app.js", lines)
    assert status == 200
    assert headers.get("content-encoding") == coding
    assert body == (pc_root / ("app.js" + SUFFIX[coding])).read_bytes()


def test_list_lines_too_long_to_combine_get_431_then_close(data_server):
    tags = ", ".join(f'"{i:040d}"' for i in range(30))  # about 1.3 KB a line
    lines = [("If-None-Match", tags), ("If-None-Match", tags)]
    assert raw_get(data_server, "/data.bin", lines)[0] == 431
    assert request(data_server, "/note.txt")[0] == 200


# ---- Cache-Control ----

def test_default_cache_control_is_no_cache_on_200_and_304(data_server):
    status, headers, _ = request(data_server, "/data.bin")
    assert status == 200
    assert headers["Cache-Control"] == "no-cache"
    status, headers, _ = request(data_server, "/data.bin", {"If-None-Match": headers["ETag"]})
    assert status == 304
    assert headers["Cache-Control"] == "no-cache"


def test_max_age_option_sets_public_max_age(start_server, data_root):
    srv = start_server(data_root, "--max-age", "3600")
    status, headers, _ = request(srv, "/data.bin")
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=3600"


# ---- precompressed variants (RFC 9110 §8.4, §12.5.3) ----

@pytest.fixture
def pc_root(tmp_path):
    """app.js with .br/.zst/.gz beside it (newer); old.css with an older .gz; dir.txt whose
    .gz is a directory; only.txt with just a .gz."""
    root = tmp_path / "pc"
    root.mkdir()
    base = past_mtime_ns()
    later = base + 5_000_000_000
    js = b"function hello() { return 'hello, world'; }\n" * 200
    files = {
        "app.js": (js, base),
        "app.js.gz": (gzip.compress(js, mtime=0), later),
        "app.js.br": (b"fake brotli " + os.urandom(300), later),
        "app.js.zst": (b"fake zstd " + os.urandom(300), later),
        "old.css": (b"body { color: red }\n" * 50, base),
        "old.css.gz": (gzip.compress(b"stale", mtime=0), base - 5_000_000_000),
        "dir.txt": (b"plain text\n" * 40, base),
        "only.txt": (b"only gzip here\n" * 40, base),
        "only.txt.gz": (gzip.compress(b"only gzip here\n" * 40, mtime=0), later),
    }
    for name, (content, mtime_ns) in files.items():
        (root / name).write_bytes(content)
        set_mtime_ns(root / name, mtime_ns)
    (root / "dir.txt.gz").mkdir()
    return root


@pytest.fixture
def pc_server(start_server, pc_root):
    return start_server(pc_root)


SUFFIX = {None: "", "br": ".br", "zstd": ".zst", "gzip": ".gz"}


@pytest.mark.parametrize("accept_encoding, expected", [
    (None, {None}),
    ("", {None}),
    ("identity", {None}),
    ("gzip", {"gzip"}),
    ("GZIP", {"gzip"}),
    ("x-gzip", {"gzip"}),
    ("br", {"br"}),
    ("zstd", {"zstd"}),
    ("deflate", {None}),
    ("gzip, deflate, br, zstd", {"gzip", "br", "zstd"}),
    ("gzip;q=0.5, br;q=0.1", {"gzip"}),
    ("br;q=0.5, gzip;q=0.9, zstd;q=0.7", {"gzip"}),
    ("br;q=0, gzip", {"gzip"}),
    ("gzip;q=0", {None}),
    ("gzip;q=0, br;q=0, zstd;q=0", {None}),
    ("identity;q=0, gzip", {"gzip"}),
    ("identity, gzip;q=0.5", {None}),
    ("*;q=0.1, identity;q=0.5, zstd", {"zstd"}),
    ("*", {"gzip", "br", "zstd", None}),
    ("*, gzip;q=0, br;q=0, zstd;q=0", {None}),
])
def test_precompressed_variant_follows_accept_encoding(pc_server, pc_root, accept_encoding,
                                                       expected):
    _, identity_headers, _ = request(pc_server, "/app.js")
    headers_in = {} if accept_encoding is None else {"Accept-Encoding": accept_encoding}
    status, headers, body = raw_get(pc_server, "/app.js", headers_in)
    assert status == 200
    coding = headers.get("content-encoding")
    assert coding in expected
    assert body == (pc_root / ("app.js" + SUFFIX[coding])).read_bytes()
    assert int(headers["content-length"]) == len(body)
    assert headers["content-type"] == identity_headers["Content-Type"]
    assert "gzip" not in headers["content-type"]
    assert "accept-encoding" in headers.get("vary", "").lower()


def test_identity_response_of_file_with_variants_varies_on_accept_encoding(pc_server):
    status, headers, _ = request(pc_server, "/app.js")
    assert status == 200
    assert "Content-Encoding" not in headers
    assert "accept-encoding" in headers.get("Vary", "").lower()


def test_variant_is_chosen_among_those_that_exist(pc_server, pc_root):
    status, headers, body = request(pc_server, "/only.txt",
                                    {"Accept-Encoding": "br, zstd;q=0.9, gzip;q=0.5"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert body == (pc_root / "only.txt.gz").read_bytes()


def test_variant_older_than_original_is_not_used(pc_server, pc_root):
    status, headers, body = request(pc_server, "/old.css", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert "Content-Encoding" not in headers
    assert body == (pc_root / "old.css").read_bytes()


def test_variant_that_is_a_directory_is_not_used(pc_server, pc_root):
    status, headers, body = request(pc_server, "/dir.txt", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert "Content-Encoding" not in headers
    assert body == (pc_root / "dir.txt").read_bytes()


def test_gzip_variant_decompresses_to_the_original(pc_server, pc_root):
    _, headers, body = request(pc_server, "/app.js", {"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == (pc_root / "app.js").read_bytes()


def test_range_applies_to_the_variant_sent(pc_server, pc_root):
    gz = (pc_root / "app.js.gz").read_bytes()
    status, headers, body = raw_get(pc_server, "/app.js",
                                    {"Accept-Encoding": "gzip", "Range": "bytes=10-19"})
    assert status == 206
    assert headers["content-encoding"] == "gzip"
    assert headers["content-range"] == f"bytes 10-19/{len(gz)}"
    assert body == gz[10:20]


def test_each_encoding_has_its_own_etag(pc_server):
    etags = {}
    for coding in ("identity", "gzip", "br", "zstd"):
        status, headers, _ = request(pc_server, "/app.js", {"Accept-Encoding": coding})
        assert status == 200
        assert headers.get("Content-Encoding", "identity") == coding
        assert STRONG_ETAG.fullmatch(headers["ETag"])
        etags[coding] = headers["ETag"]
    assert len(set(etags.values())) == 4, etags
    # The gzip tag validates the gzip response only.
    status, _, _ = request(pc_server, "/app.js", {"If-None-Match": etags["gzip"],
                                                  "Accept-Encoding": "identity"})
    assert status == 200
    status, headers, _ = request(pc_server, "/app.js", {"If-None-Match": etags["gzip"],
                                                        "Accept-Encoding": "gzip"})
    assert status == 304
    assert headers["ETag"] == etags["gzip"]
    assert "accept-encoding" in headers.get("Vary", "").lower()


def test_head_of_variant_has_same_headers_as_get(pc_server):
    ae = {"Accept-Encoding": "gzip"}
    _, get_headers, _ = request(pc_server, "/app.js", ae)
    status, head_headers, body = raw_get(pc_server, "/app.js", ae, method="HEAD")
    assert status == 200
    assert body == b""
    for name in ("Content-Encoding", "Content-Length", "Content-Type", "ETag", "Vary"):
        assert head_headers[name.lower()] == get_headers[name]


# ---- Content-Disposition (RFC 6266, RFC 8187) ----

@pytest.fixture
def dl_server(start_server, tmp_path):
    root = tmp_path / "dl"
    root.mkdir()
    (root / "report.pdf").write_bytes(b"%PDF-1.4 report\n")
    (root / "café résumé.pdf").write_bytes(b"%PDF-1.4 cv\n")
    return start_server(root)


@pytest.mark.parametrize("query", ["download", "download=1", "x=1&download"])
def test_download_query_adds_attachment_disposition_for_ascii_name(dl_server, query):
    status, headers, body = request(dl_server, f"/report.pdf?{query}")
    assert status == 200
    assert body == b"%PDF-1.4 report\n"
    assert headers["Content-Disposition"] == \
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"


def test_download_query_encodes_non_ascii_name_per_rfc_8187(dl_server):
    name = "café résumé.pdf"
    status, headers, body = request(dl_server, "/" + urllib.parse.quote(name) + "?download")
    assert status == 200
    assert body == b"%PDF-1.4 cv\n"
    value = headers["Content-Disposition"]
    m = re.fullmatch(r'attachment; filename="([^"\\]*)"; filename\*=(\S+)', value)
    assert m, value
    fallback, extended = m.groups()
    assert extended == "UTF-8''" + urllib.parse.quote(name, safe="")
    assert extended == "UTF-8''caf%C3%A9%20r%C3%A9sum%C3%A9.pdf"
    # The quoted fallback is plain printable ASCII that keeps the ASCII parts.
    assert re.fullmatch(r"caf_+ r_+sum_+\.pdf", fallback), fallback
    # RFC 8187 decoding of the extended value gives back the real name.
    charset, _, encoded = extended.partition("''")
    assert urllib.parse.unquote(encoded, encoding=charset, errors="strict") == name


@pytest.mark.parametrize("query", ["", "?", "?other=1", "?downloads"])
def test_no_download_query_means_no_content_disposition(dl_server, query):
    status, headers, _ = request(dl_server, "/report.pdf" + query)
    assert status == 200
    assert "Content-Disposition" not in headers


def test_directory_index_is_served_from_its_precompressed_variant(start_server, tmp_path):
    root = tmp_path / "idx"
    (root / "sub").mkdir(parents=True)
    page = b"<!DOCTYPE html><title>index</title>" + b"x" * 2000
    (root / "sub" / "index.html").write_bytes(page)
    packed = gzip.compress(page)
    (root / "sub" / "index.html.gz").write_bytes(packed)
    stat = (root / "sub" / "index.html").stat()
    os.utime(root / "sub" / "index.html.gz", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    srv = start_server(root)
    conn = srv.http()
    conn.request("GET", "/sub/", headers={"Accept-Encoding": "gzip"})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 200
    assert resp.getheader("Content-Encoding") == "gzip"
    assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "Accept-Encoding" in resp.getheader("Vary", "")
    assert body == packed
