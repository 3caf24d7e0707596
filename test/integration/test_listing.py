"""Directory listings, black-box: the HTML page (parent link, order, sizes, dates), links
that are percent-encoded and names that are HTML-escaped (every link is followed and must
serve its file), the JSON form, --no-listing, dotfiles, --listing-max-entries, a
10,000-entry directory that lists quickly without holding up other clients, a
20,000-entry one read by 100 slow clients at a small cost in memory each, and a listing
that takes longer than the head timeout (a cold directory on a throttled disk), asked for
on a kept-alive connection: answered in full, the connection kept.

Links are resolved the way a browser does (urllib.parse.urljoin against the listing's
URL); expected names, sizes and dates come from the files the test creates."""

import datetime
import html.parser
import json
import os
import hashlib
import re
import selectors
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import (MEMORY_MEASURED, SLOWDOWN, Conn, assert_closed_on_time,
                      assert_stop_mid_request_exits_cleanly, leave_mid_request, raw_exchange,
                      seconds_until_closed, skip_long_under_asan, skip_under_valgrind,
                      wait_for)

SPECIAL_NAMES = [
    "<script>alert(1)<\u2215script>.txt",  # U+2215 DIVISION SLASH: '/' cannot be in a name
    "<img src=x onerror=alert(1)>.txt",
    "with space.txt",
    "hash#tag.txt",
    "what?.txt",
    "100%.txt",
    "100%25.txt",
    "café.txt",
    "javascript:alert(1)",
    "quote\"apos'amp&.txt",
    "semi;colon=1+2.txt",
]
SPECIAL_DIR = "dir with space & #"
LATIN1_NAME = b"latin1-\xe9.txt"  # not UTF-8
# 2021-03-04 05:06:07 UTC and others: distinct, in the past, with a sub-second part.
ORDER_FILES = {  # name: (size, mtime)
    "aaa.txt": (0, 1614834367.25),
    "alpha.txt": (37, 1577836799.5),
    "mike.txt": (1536, 1262304000.75),
    "zulu.txt": (3_000_000, 1700000000.125),
}
ORDER_DIRS = ["beta", "alpha-dir", "zdir"]


# ---- helpers ----

def request(srv, path, headers=None, method="GET"):
    conn = srv.http()
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


class Page(html.parser.HTMLParser):
    """Collects every link (href and text) and the rows (<tr> or <li>) they sit in, with
    each row's text and attribute values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []  # dicts: href, text, row
        self.rows = []   # dicts: text, attrs
        self._row = None
        self._link = None

    def handle_starttag(self, tag, attrs):
        if tag in ("tr", "li"):
            self._row = {"text": "", "attrs": []}
            self.rows.append(self._row)
        if self._row is not None:
            self._row["attrs"] += [v for _, v in attrs if v]
        if tag == "a":
            self._link = {"href": dict(attrs).get("href"), "text": "", "row": self._row}
            self.links.append(self._link)

    def handle_endtag(self, tag):
        if tag == "a":
            self._link = None
        elif tag in ("tr", "li"):
            self._row = None

    def handle_data(self, data):
        if self._link is not None:
            self._link["text"] += data
        if self._row is not None:
            self._row["text"] += data + " "


def fetch_listing(srv, path):
    status, headers, body = request(srv, path)
    assert status == 200, (status, body[:300])
    assert headers["Content-Type"].split(";")[0].strip() == "text/html"
    page = Page()
    page.feed(body.decode("utf-8"))
    page.close()
    return page, body


def entries_by_name(srv, listing_path, page):
    """Maps each entry's name (bytes, as on disk) to its link, for links that resolve to
    something directly inside the listed directory."""
    base = srv.url(listing_path)
    out = {}
    for index, link in enumerate(page.links):
        if link["href"] is None:
            continue
        target = urllib.parse.urlsplit(urllib.parse.urljoin(base, link["href"]))
        if target.netloc != f"127.0.0.1:{srv.port}":
            continue
        if not target.path.startswith(listing_path) or target.path == listing_path:
            continue
        rest = urllib.parse.unquote_to_bytes(target.path[len(listing_path):])
        name = rest[:-1] if rest.endswith(b"/") else rest
        if name and b"/" not in name:
            out[name] = dict(link, target=target, is_dir=rest.endswith(b"/"), index=index)
    return out


def target_of(link):
    """The request-target a browser would send for a resolved link (no fragment)."""
    t = link["target"]
    return t.path + (f"?{t.query}" if t.query else "")


def write_file(path, content, mtime=None):
    path.write_bytes(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def empty_files(directory, name, count):
    """Makes directory with count empty files in it, named name.format(0, 1, ...)."""
    directory.mkdir()
    for i in range(count):
        os.close(os.open(directory / name.format(i), os.O_CREAT | os.O_WRONLY, 0o644))


def shows_size(row, size):
    """Whether a row shows `size`: exactly in bytes, or rounded in K/M/G units."""
    units = {"": 1, "b": 1, "bytes": 1, "k": 1024, "kb": 1000, "kib": 1024,
             "m": 1024 ** 2, "mb": 1000 ** 2, "mib": 1024 ** 2,
             "g": 1024 ** 3, "gb": 1000 ** 3, "gib": 1024 ** 3}
    for text in [row["text"]] + row["attrs"]:
        for num, unit in re.findall(r"(\d[\d,]*(?:\.\d+)?)\s*([A-Za-z]*)", text):
            factor = units.get(unit.lower())
            if factor is None:
                continue
            value = float(num.replace(",", "")) * factor
            if value == size or (factor > 1 and abs(value - size) <= 0.05 * size):
                return True
    return False


def shows_date(row, mtime):
    """Whether a row shows the UTC day of `mtime` (ISO 8601 or 04-Mar-2021 style)."""
    day = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)
    forms = (day.strftime("%Y-%m-%d"), day.strftime("%d-%b-%Y"))
    return any(form in text for text in [row["text"]] + row["attrs"] for form in forms)


def json_entries(srv, path):
    status, headers, body = request(srv, path, {"Accept": "application/json"})
    assert status == 200
    # No charset parameter: RFC 8259 §11 defines none (JSON is UTF-8).
    assert headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        assert len(lists) == 1, f"expected one list of entries in {doc!r:.300}"
        doc = lists[0]
    return {e["name"]: e for e in doc}


def json_mtime(value):
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# ---- fixtures ----

@pytest.fixture
def tree(tmp_path):
    """order/ (directories and files with known sizes and dates), special/ (hostile and
    awkward names), hidden/ (dotfiles), indexed/ (has index.html), empty/."""
    root = tmp_path / "tree"
    order = root / "order"
    order.mkdir(parents=True)
    for name, (size, mtime) in ORDER_FILES.items():
        write_file(order / name, os.urandom(size), mtime)
    for name in ORDER_DIRS:
        (order / name).mkdir()

    special = root / "special"
    special.mkdir()
    for name in SPECIAL_NAMES:
        write_file(special / name, f"contents of {name}\n".encode())
    (root / "latin1").mkdir()
    write_file(root / "latin1" / os.fsdecode(LATIN1_NAME), b"contents of a Latin-1 name\n")
    (special / SPECIAL_DIR).mkdir()
    write_file(special / SPECIAL_DIR / "inner.txt", b"inner file\n")

    hidden = root / "hidden"
    (hidden / ".git").mkdir(parents=True)
    write_file(hidden / ".env", b"SECRET=1\n")
    write_file(hidden / ".git" / "config", b"[core]\n")
    write_file(hidden / "visible.txt", b"visible\n")

    (root / "indexed").mkdir()
    write_file(root / "indexed" / "index.html", b"<p>the index</p>\n")
    write_file(root / "indexed" / "other.txt", b"other\n")
    (root / "empty").mkdir()
    return root


@pytest.fixture
def srv(start_server, tree):
    return start_server(tree)


# ---- the HTML page ----

def test_directory_without_index_gets_html_listing_of_its_entries(srv, tree):
    page, _ = fetch_listing(srv, "/order/")
    names = entries_by_name(srv, "/order/", page)
    assert set(names) == {os.fsencode(n) for n in list(ORDER_FILES) + ORDER_DIRS}
    for name in ORDER_DIRS:
        assert names[name.encode()]["is_dir"]
    for name in ORDER_FILES:
        assert not names[name.encode()]["is_dir"]


def test_directory_with_index_html_serves_the_index_not_a_listing(srv):
    status, _, body = request(srv, "/indexed/")
    assert status == 200
    assert body == b"<p>the index</p>\n"


def test_empty_directory_lists_with_no_entries(srv):
    page, _ = fetch_listing(srv, "/empty/")
    assert entries_by_name(srv, "/empty/", page) == {}


def test_listing_links_to_parent_except_at_root(srv):
    def links_to(page, listing_path, target):
        base = srv.url(listing_path)
        return [l for l in page.links
                if urllib.parse.urljoin(base, l["href"] or "") == srv.url(target)]

    page, _ = fetch_listing(srv, "/order/")
    assert links_to(page, "/order/", "/")
    page, _ = fetch_listing(srv, "/special/" + urllib.parse.quote(SPECIAL_DIR) + "/")
    assert links_to(page, "/special/" + urllib.parse.quote(SPECIAL_DIR) + "/", "/special/")
    page, _ = fetch_listing(srv, "/")
    assert not links_to(page, "/", "/")


def test_listing_puts_directories_first_then_files_each_sorted_by_name(srv):
    page, _ = fetch_listing(srv, "/order/")
    names = entries_by_name(srv, "/order/", page)
    shown = sorted(names, key=lambda name: names[name]["index"])
    expected = sorted(d.encode() for d in ORDER_DIRS) + sorted(f.encode() for f in ORDER_FILES)
    assert shown == expected


NATURAL_DIRS = ["Docs", "assets", "v10", "v9"]
NATURAL_FILES = ["chapter10.txt", "README", "chapter2.txt", "apple.txt", "Zebra.txt",
                 "chapter1.txt", "rust.txt", "quux.txt", "track01.txt", "track1.txt"]


def test_listing_sorts_numbers_by_value_and_letters_without_case(start_server, tmp_path):
    root = tmp_path / "natural"
    (root / "n").mkdir(parents=True)
    for name in NATURAL_DIRS:
        (root / "n" / name).mkdir()
    for name in NATURAL_FILES:
        write_file(root / "n" / name, b"x")
    srv = start_server(root)
    expected = ["assets", "Docs", "v9", "v10",
                "apple.txt", "chapter1.txt", "chapter2.txt", "chapter10.txt", "quux.txt",
                "README", "rust.txt", "track1.txt", "track01.txt", "Zebra.txt"]
    page, _ = fetch_listing(srv, "/n/")
    names = entries_by_name(srv, "/n/", page)
    shown = sorted(names, key=lambda name: names[name]["index"])
    assert shown == [n.encode() for n in expected]
    assert list(json_entries(srv, "/n/")) == expected


@pytest.mark.parametrize("name", list(ORDER_FILES))
def test_listing_shows_size_and_modification_date_of_each_file(srv, name):
    size, mtime = ORDER_FILES[name]
    page, _ = fetch_listing(srv, "/order/")
    row = entries_by_name(srv, "/order/", page)[name.encode()]["row"]
    assert row is not None, "entry is not in a table row or list item"
    assert shows_size(row, size), row
    assert shows_date(row, mtime), row


def test_listing_says_its_times_are_utc(srv):
    _, body = fetch_listing(srv, "/order/")
    text = body.decode()
    assert re.search(r"<th[^>]*>[^<]*\bUTC\b[^<]*</th>", text), "no column heading says UTC"
    mtime = ORDER_FILES["alpha.txt"][1]
    instant = datetime.datetime.fromtimestamp(int(mtime), datetime.timezone.utc)
    assert f'datetime="{instant:%Y-%m-%dT%H:%M:%S}Z"' in text


def test_listing_asks_the_browser_for_no_favicon(srv):
    _, body = fetch_listing(srv, "/order/")
    assert b'<link rel="icon" href="data:,">' in body


def test_head_of_listing_has_same_length_and_no_body(srv):
    _, get_headers, get_body = request(srv, "/order/")
    data = raw_exchange(srv, b"HEAD /order/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert rest == b""
    assert f"Content-Length: {len(get_body)}".encode() in head
    assert int(get_headers["Content-Length"]) == len(get_body)


# ---- validators ----

def listing_etag(srv, path, headers=None):
    status, headers, _ = request(srv, path, headers)
    assert status == 200
    etag = headers["ETag"]
    assert re.fullmatch(r'W/"[0-9a-f]+-(html|json)"', etag), etag
    return etag


def test_listing_has_a_weak_etag_stable_across_requests(srv):
    first = listing_etag(srv, "/order/")
    assert listing_etag(srv, "/order/") == first
    json_tag = listing_etag(srv, "/order/", {"Accept": "application/json"})
    assert json_tag != first
    assert listing_etag(srv, "/order/", {"Accept": "application/json"}) == json_tag


def test_listing_etag_changes_when_a_file_is_added_at_once_or_touched_within_a_second(srv, tree):
    # An added name changes the directory's mtime: the next request reads it again. A
    # file changed in place changes only the file: its listing is read again within the
    # directory cache's 1 s, as an edited file is served fresh within 1 s.
    before = listing_etag(srv, "/order/")
    write_file(tree / "order" / "new.txt", b"new\n", 1600000000)
    added = listing_etag(srv, "/order/")
    assert added != before
    mtime = ORDER_FILES["alpha.txt"][1]
    os.utime(tree / "order" / "alpha.txt", (mtime + 60, mtime + 60))
    touched = wait_for(lambda: (lambda t: t if t not in (before, added) else None)(
        listing_etag(srv, "/order/")), timeout=3.0 * SLOWDOWN, interval=0.05,
        what="the listing to show the touched file")
    write_file(tree / "order" / "alpha.txt", os.urandom(38), mtime + 60)  # size only
    wait_for(lambda: listing_etag(srv, "/order/") not in (before, added, touched),
             timeout=3.0 * SLOWDOWN, interval=0.05, what="the listing to show the new size")


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_listing_if_none_match_with_its_etag_is_304_without_body(srv, accept):
    etag = listing_etag(srv, "/order/", {"Accept": accept})
    request_bytes = (f"GET /order/ HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n"
                     f"If-None-Match: {etag}\r\nConnection: close\r\n\r\n").encode()
    data = raw_exchange(srv, request_bytes)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 304 Not Modified"
    fields = {k.lower(): v for k, _, v in (l.partition(": ") for l in lines[1:])}
    assert fields["etag"] == etag
    assert fields["cache-control"] == "no-cache"
    assert fields["vary"] == "Accept"
    assert "content-length" not in fields
    assert rest == b""


def test_listing_if_none_match_with_a_stale_etag_gets_the_listing(srv, tree):
    etag = listing_etag(srv, "/order/")
    write_file(tree / "order" / "new.txt", b"new\n", 1600000000)
    status, headers, body = request(srv, "/order/", {"If-None-Match": etag})
    assert status == 200
    assert headers["ETag"] != etag
    assert b"new.txt" in body


# ---- escaping: every name escaped, every link encoded and working ----

def test_script_name_is_escaped_and_never_appears_raw(srv):
    _, body = fetch_listing(srv, "/special/")
    assert b"<script" not in body.lower()
    assert b"<img" not in body.lower()
    assert "&lt;script&gt;alert(1)&lt;\u2215script&gt;.txt".encode() in body


URI_CHARS = re.compile(r"(?:[A-Za-z0-9\-._~:/@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")


def test_every_link_is_percent_encoded(srv):
    page, _ = fetch_listing(srv, "/special/")
    hrefs = [link["href"] for link in page.links]
    assert len(hrefs) >= len(SPECIAL_NAMES) + 2
    assert "./?tar" in hrefs  # the archive's link: a fixed text, the one with a query
    for href in hrefs:
        if href == "./?tar":
            continue
        # No raw space, quote, '<', '#', '?' or non-ASCII: a name can never end the path.
        assert URI_CHARS.fullmatch(href), href


@pytest.mark.parametrize("name", SPECIAL_NAMES)
def test_link_for_awkward_name_serves_that_file(srv, tree, name):
    page, _ = fetch_listing(srv, "/special/")
    link = entries_by_name(srv, "/special/", page).get(os.fsencode(name))
    assert link is not None, f"no link resolves to {name!r}"
    assert link["text"].strip() == name
    status, _, body = request(srv, target_of(link))
    assert status == 200
    assert body == (tree / "special" / name).read_bytes()


def test_name_that_is_not_utf8_is_listed_in_valid_utf8_and_its_link_works(srv, tree):
    # The page says charset=utf-8, so it must be UTF-8 throughout (fetch_listing decodes
    # strictly); the name is shown with a replacement character, the link keeps the bytes.
    page, _ = fetch_listing(srv, "/latin1/")
    link = entries_by_name(srv, "/latin1/", page).get(LATIN1_NAME)
    assert link is not None, f"no link resolves to {LATIN1_NAME!r}"
    assert link["text"].strip().startswith("latin1-")
    status, _, body = request(srv, target_of(link))
    assert status == 200
    assert body == (tree / "latin1" / os.fsdecode(LATIN1_NAME)).read_bytes()


def test_javascript_name_links_to_the_file_not_a_script(srv):
    page, _ = fetch_listing(srv, "/special/")
    link = entries_by_name(srv, "/special/", page)[b"javascript:alert(1)"]
    assert not link["href"].strip().lower().startswith("javascript:")
    assert urllib.parse.urlsplit(link["href"]).scheme in ("", "http")
    assert link["target"].scheme == "http"


def test_link_for_awkward_directory_name_opens_its_listing(srv):
    page, _ = fetch_listing(srv, "/special/")
    link = entries_by_name(srv, "/special/", page)[SPECIAL_DIR.encode()]
    assert link["is_dir"]
    inner_page, _ = fetch_listing(srv, target_of(link))
    inner = entries_by_name(srv, link["target"].path, inner_page)[b"inner.txt"]
    status, _, body = request(srv, target_of(inner))
    assert status == 200 and body == b"inner file\n"


# ---- JSON ----

def test_json_listing_has_name_type_size_mtime_for_each_entry(srv):
    entries = json_entries(srv, "/order/")
    assert set(entries) == set(ORDER_FILES) | set(ORDER_DIRS)
    for name, (size, mtime) in ORDER_FILES.items():
        e = entries[name]
        assert e["type"] == "file"
        assert e["size"] == size
        assert abs(json_mtime(e["mtime"]) - mtime) < 1
    for name in ORDER_DIRS:
        assert entries[name]["type"] in ("directory", "dir")
        assert "size" in entries[name] and "mtime" in entries[name]


def test_json_listing_has_the_same_entries_as_html(srv):
    page, _ = fetch_listing(srv, "/special/")
    html_names = set(entries_by_name(srv, "/special/", page))
    json_names = {os.fsencode(n) for n in json_entries(srv, "/special/")}
    assert json_names == html_names


# ---- --no-listing, dotfiles ----

def test_no_listing_option_answers_403_for_directories_without_index(start_server, tree):
    srv = start_server(tree, "--no-listing")
    status, _, body = request(srv, "/order/")
    assert status == 403
    assert b"zulu.txt" not in body
    status, _, body = request(srv, "/indexed/")
    assert status == 200 and body == b"<p>the index</p>\n"
    status, _, _ = request(srv, "/order/alpha.txt")
    assert status == 200


def test_dotfiles_are_hidden_from_listings_and_not_served_by_default(srv):
    page, _ = fetch_listing(srv, "/hidden/")
    assert set(entries_by_name(srv, "/hidden/", page)) == {b"visible.txt"}
    assert set(json_entries(srv, "/hidden/")) == {"visible.txt"}
    for path in ("/hidden/.env", "/hidden/.git/config", "/hidden/.git/"):
        assert request(srv, path)[0] == 404, path


def test_dotfiles_option_lists_and_serves_dotfiles(start_server, tree):
    srv = start_server(tree, "--dotfiles")
    page, _ = fetch_listing(srv, "/hidden/")
    names = entries_by_name(srv, "/hidden/", page)
    assert set(names) == {b".env", b".git", b"visible.txt"}
    assert set(json_entries(srv, "/hidden/")) == {".env", ".git", "visible.txt"}
    status, _, body = request(srv, target_of(names[b".env"]))
    assert status == 200 and body == b"SECRET=1\n"
    status, _, body = request(srv, "/hidden/.git/config")
    assert status == 200 and body == b"[core]\n"


# ---- a large directory ----

BIG_COUNT = 10_000


@pytest.fixture(scope="module")
def big_root(tmp_path_factory):
    """big/ with 10,000 empty files, shared by the tests of this module (read-only)."""
    root = tmp_path_factory.mktemp("bigroot")
    empty_files(root / "big", "entry-{:05d}.txt", BIG_COUNT)
    write_file(root / "small.txt", b"small\n")
    return root


@pytest.fixture
def big_srv(start_server, big_root):
    return start_server(big_root, threads=1)


def timed_get(srv, path):
    start = time.monotonic()
    status, _, body = request(srv, path)
    return time.monotonic() - start, status, body


def test_directory_of_10000_entries_lists_well_under_a_second(big_srv):
    times = []
    for _ in range(3):
        elapsed, status, body = timed_get(big_srv, "/big/")
        assert status == 200
        times.append(elapsed)
    page = Page()
    page.feed(body.decode())
    assert len(entries_by_name(big_srv, "/big/", page)) == BIG_COUNT
    assert max(times) < 1.0 * SLOWDOWN, times
    assert min(times) < 0.3 * SLOWDOWN, times


def test_other_clients_are_not_held_up_while_large_listings_are_generated(big_srv):
    done = threading.Event()
    errors = []

    def list_repeatedly():
        try:
            for _ in range(5):
                _, status, _ = timed_get(big_srv, "/big/")
                assert status == 200
        except Exception as e:  # reported by the main thread
            errors.append(e)
        finally:
            done.set()

    lister = threading.Thread(target=list_repeatedly)
    lister.start()
    latencies = []
    conn = big_srv.http()
    try:
        while not done.is_set():
            start = time.monotonic()
            conn.request("GET", "/small.txt")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read() == b"small\n"
            latencies.append(time.monotonic() - start)
    finally:
        conn.close()
        lister.join(timeout=30)
    assert not errors, errors
    assert len(latencies) >= 5
    assert max(latencies) < 0.5 * SLOWDOWN, sorted(latencies)[-5:]


def test_client_not_reading_a_large_listing_does_not_block_others(big_srv):
    with big_srv.connect() as slow:
        slow.sendall(b"GET /big/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        elapsed, status, body = timed_get(big_srv, "/small.txt")
        assert status == 200 and body == b"small\n"
        assert elapsed < 0.5 * SLOWDOWN
        chunks = []
        while True:
            b = slow.recv(1 << 16)
            if not b:
                break
            chunks.append(b)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    assert len(body) == length
    assert body.count(b"entry-") >= BIG_COUNT


# ---- exact lengths, keep-alive, the entry limit ----

def test_listing_responses_keep_the_connection_alive_with_exact_lengths(srv):
    conn = srv.http()
    try:
        for method, path, accept in [("GET", "/order/", "text/html"),
                                     ("GET", "/order/", "application/json"),
                                     ("HEAD", "/order/", "text/html"),
                                     ("GET", "/special/", "text/html"),
                                     ("GET", "/order/alpha.txt", "*/*")]:
            conn.request(method, path, headers={"Accept": accept})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200, (method, path)
            assert resp.getheader("Connection", "keep-alive").lower() != "close"
            if method == "GET":
                assert len(body) == int(resp.getheader("Content-Length"))
    finally:
        conn.close()


def test_directory_with_more_entries_than_the_limit_gets_403_naming_it(start_server, tree):
    srv = start_server(tree, "--listing-max-entries", "6")
    status, headers, body = request(srv, "/order/")  # 4 files and 3 directories
    assert status == 403
    assert headers["Content-Type"].startswith("text/html")
    assert b"more than 6 entries" in body and b"--listing-max-entries" in body
    assert b"zulu.txt" not in body
    status, _, body = request(srv, "/order/", {"Accept": "application/json"})
    assert status == 403
    status, _, body = request(srv, "/special/")  # 12 entries, but a file in it is served
    assert status == 403
    assert request(srv, "/order/zulu.txt")[0] == 200
    status, _, body = request(srv, "/hidden/")  # one entry shown (dotfiles are not)
    assert status == 200 and b"visible.txt" in body


def test_listing_max_entries_option_needs_a_positive_number(start_server, tree):
    with pytest.raises(AssertionError, match="listing-max-entries"):
        start_server(tree, "--listing-max-entries", "0")


# ---- a directory of 20,000 entries, many readers ----

MANY_COUNT = 20_000
SLOW_READERS = 100
# Memory a reader of a listing may cost the server while its response is in flight:
# its exchange (the 16 KiB head buffer, the plan) and one chunk of rendered rows.
READER_RSS_MAX_KIB = 64


@pytest.fixture(scope="module")
def many_root(tmp_path_factory):
    """many/ with 20,000 files whose names need escaping, its mtime in the past (so its
    list is kept between requests), and small.txt."""
    root = tmp_path_factory.mktemp("manyroot")
    many = root / "many"
    empty_files(many, "report {:05d} <draft> & notes.txt", MANY_COUNT)
    os.utime(many, (1600000000, 1600000000))
    write_file(root / "small.txt", b"small\n")
    return root


def slow_socket(srv):
    """A client socket with a small receive buffer, so a response it does not read stays
    in the server rather than in the client's kernel buffer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.settimeout(30)
    s.connect((srv.host, srv.port))
    return s


def read_all_responses(socks, timeout):
    """Reads one whole response from each socket, all at the same time. Returns, per
    socket, (status, content length, sha256 of the body, body length)."""
    sel = selectors.DefaultSelector()
    state = {}
    for s in socks:
        s.setblocking(False)
        state[s] = {"head": b"", "length": None, "got": 0, "hash": hashlib.sha256()}
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    pending = set(socks)
    while pending:
        assert time.monotonic() < deadline, f"{len(pending)} responses unfinished"
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            st = state[s]
            data = s.recv(1 << 16)
            if st["length"] is None:
                st["head"] += data
                if b"\r\n\r\n" not in st["head"]:
                    assert data, "closed before the end of the head"
                    continue
                head, _, data = st["head"].partition(b"\r\n\r\n")
                st["status"] = int(head.split(b" ", 2)[1])
                st["length"] = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
            assert data or st["got"] == st["length"], "closed before the end of the body"
            st["got"] += len(data)
            st["hash"].update(data)
            if st["got"] >= st["length"]:
                sel.unregister(s)
                pending.discard(s)
    return [(st["status"], st["length"], st["hash"].hexdigest(), st["got"])
            for st in (state[s] for s in socks)]


@skip_under_valgrind
def test_listing_of_20000_entries_read_by_100_slow_clients_costs_little_memory_each(
        start_server, many_root):
    srv = start_server(many_root, threads=2)
    status, _, reference = request(srv, "/many/")
    assert status == 200 and reference.count(b"report ") == MANY_COUNT
    for _ in range(4):  # both loops have listed it (the kernel picks the loop)
        assert request(srv, "/many/")[2] == reference
    rss_before = srv.rss_kib()

    socks = [slow_socket(srv) for _ in range(SLOW_READERS)]
    try:
        for s in socks:
            s.sendall(b"GET /many/ HTTP/1.1\r\nHost: x\r\n\r\n")
        # Every response has started and filled what its socket takes.
        time.sleep(1.0 * SLOWDOWN)
        rss_during = srv.rss_kib()
        # Meanwhile the server answers others at once.
        start = time.monotonic()
        assert request(srv, "/small.txt")[2] == b"small\n"
        assert time.monotonic() - start < 0.5 * SLOWDOWN
        results = read_all_responses(socks, timeout=60 * SLOWDOWN)
    finally:
        for s in socks:
            s.close()
    want = hashlib.sha256(reference).hexdigest()
    for status, length, digest, got in results:
        assert (status, length, got, digest) == (200, len(reference), len(reference), want)
    per_reader = (rss_during - rss_before) / SLOW_READERS
    assert per_reader < READER_RSS_MAX_KIB or not MEMORY_MEASURED, \
        f"{per_reader:.1f} KiB of RSS per slow reader of a {len(reference)}-byte listing"


def test_clients_that_leave_while_their_listing_is_read_cost_nothing(start_server, many_root):
    srv = start_server(many_root, threads=1)
    fds_before = srv.fd_count()
    leave_mid_request(srv, b"GET /many/ HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = request(srv, "/many/")
    assert status == 200 and body.count(b"report ") == MANY_COUNT
    wait_for(lambda: srv.fd_count() <= fds_before, timeout=10 * SLOWDOWN,
             what="every descriptor of the departed clients to be closed")


@pytest.mark.parametrize("signals", [1, 2], ids=["graceful", "forced"])
def test_stop_while_a_large_directory_is_read_exits_cleanly(start_server, many_root, signals):
    srv = start_server(many_root, threads=1)
    assert_stop_mid_request_exits_cleanly(
        srv, b"GET /many/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", signals,
        exit_timeout=15 * SLOWDOWN)


# ---- a listing that takes longer than the head timeout ----

HEAD_TIMEOUT = 1  # seconds, the least --head-timeout takes
COLD_COUNT = 10_000
# Listing a cold directory reads its inodes from the disk, one 4 KiB block (16 inodes)
# at a time: ~630 reads for COLD_COUNT files, ~3 s at this rate (measured 3.0-3.2 s).
COLD_IOPS = 200
PARTIAL_HEAD = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n"


def unmount(where):
    """Unmounts where once nothing holds it: a process that has just exited may still have
    its files released by the kernel's delayed fput a moment later (umount: busy)."""
    def done():
        r = subprocess.run(["umount", str(where)], capture_output=True, text=True)
        assert r.returncode == 0 or "busy" in r.stderr, r.stderr
        return r.returncode == 0
    wait_for(done, timeout=10.0, interval=0.05, what=f"{where} to be unmounted")


def mount(image, where, mode):
    r = subprocess.run(["mount", "-o", f"loop,{mode}", str(image), str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a file system image here: {r.stderr.strip()}")


@pytest.fixture(scope="module")
def cold_image(tmp_path_factory):
    """An ext4 image with cold/, COLD_COUNT empty files, and small.txt. Mounted afresh
    (cold_root), none of it is in memory, so listing cold/ has to read the disk."""
    if os.geteuid() != 0 or not shutil.which("mkfs.ext4"):
        pytest.skip("needs root and mkfs.ext4 to mount a file system image")
    base = tmp_path_factory.mktemp("coldimage")
    image, where = base / "fs.img", base / "mnt"
    with open(image, "wb") as f:
        f.truncate(64 << 20)
    # Spelled out: what a listing reads depends on the block and inode sizes.
    subprocess.run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-I", "256", "-N", "16384",
                    str(image)], check=True)
    where.mkdir()
    mount(image, where, "rw")
    try:
        empty_files(where / "cold", "entry-{:05d}.txt", COLD_COUNT)
        write_file(where / "small.txt", b"small\n")
    finally:
        unmount(where)
    return image


@pytest.fixture
def cold_root(cold_image, tmp_path):
    """cold_image mounted afresh, read-only: unmounting dropped its directories and inodes
    from memory."""
    where = tmp_path / "cold"
    where.mkdir()
    mount(cold_image, where, "ro")
    yield where
    unmount(where)


@pytest.fixture
def cold_srv(cold_root, start_server, throttled):
    """A server over cold_root with the shortest head timeout, reading its disk at
    COLD_IOPS. The other deadlines are long, so that only the head deadline can close a
    connection here."""
    srv = start_server(cold_root, "--head-timeout", str(HEAD_TIMEOUT), "--idle-timeout", "30",
                       "--send-timeout", "30")
    throttled(srv.pid, under=cold_root, iops=COLD_IOPS)
    yield srv
    code, err = srv.stop()  # before cold_root is unmounted
    assert code == 0, err


@skip_long_under_asan  # deadline rules; the wait itself runs under ASan in other tests
@pytest.mark.parametrize("pipelined", [True, False], ids=["pipelined", "next_request"])
def test_listing_slower_than_the_head_timeout_is_answered_and_the_connection_kept(
        cold_srv, pipelined):
    # The request for the listing comes on a kept-alive connection: in the same write as
    # a request before it (parsed from the buffer once that one is answered), or after
    # the response to one. Either way the connection waits for the listing under the send
    # deadline: the head deadline, far shorter, must not close it.
    before = ["/small.txt"] if pipelined else []
    conn = Conn(cold_srv, timeout=30)
    try:
        if not pipelined:
            assert conn.get("/small.txt")[::2] == (200, b"small\n")
        start = time.monotonic()
        conn.pipeline(before + ["/cold/"])
        for _ in before:
            assert conn.response()[::2] == (200, b"small\n")
        status, fields, body = conn.response(path="/cold/")
        elapsed = time.monotonic() - start
        assert status == 200 and fields.get("connection") != "close"
        page = Page()
        page.feed(body.decode())
        assert len(entries_by_name(cold_srv, "/cold/", page)) == COLD_COUNT
        # Precondition: the listing took long enough for the head deadline to have fired.
        assert elapsed > 2 * HEAD_TIMEOUT, \
            f"the cold listing took only {elapsed:.2f}s: the disk was not slow enough"
        assert conn.get("/small.txt")[::2] == (200, b"small\n")
        # A head that really is partial is still closed at its deadline.
        start = time.monotonic()
        conn.pipeline(before, then=PARTIAL_HEAD)
        for _ in before:
            assert conn.response()[::2] == (200, b"small\n")
        elapsed, received = seconds_until_closed(conn.sock, start, HEAD_TIMEOUT + 10)
        assert_closed_on_time(elapsed, HEAD_TIMEOUT, received)
    finally:
        conn.close()
