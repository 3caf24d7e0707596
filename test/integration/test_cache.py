"""The small-file cache never serves a wrong representation and goes stale for at most
its TTL (SL_CACHE_TTL_MS, 1 s): a file edited in place, replaced by rename, truncated,
grown, deleted or created is served fresh within 1 s, and every response seen on the
way, stale or fresh, is one whole version that really existed on disk, with the
Content-Length, ETag and Last-Modified of that same version (never new bytes under the
old length or validators, never a mixture).

Each case runs for a small file (8 KiB, held in the cache) and a large one (80 KiB,
opened per request and sent with sendfile), with one and with two event loops. Each
loop has its own cache, so every poll round asks over several kept-alive connections
(which the kernel spreads over the loops) and over a fresh one, and a change counts as
picked up only when one whole round is fresh.

Every version's bytes and modification time are set by the test; the expected
Last-Modified is derived from that mtime. ETags are opaque: a version's ETag is learnt
from the first response that carries its bytes and must then stay the same, and differ
from every other version's.
"""

import email.utils
import os
import time

import pytest

from conftest import Conn, fetch_once, skip_long_under_asan, wait_for

TTL = 1.0  # SL_CACHE_TTL_MS
FRESH_WITHIN = 1.5  # the TTL plus scheduling slack
POLL_TIMEOUT = 2.5
POLL_INTERVAL = 0.05
KEEPALIVE_CONNS = 6  # spread over the loops by SO_REUSEPORT hashing
SMALL = 8 * 1024  # under the 16 KiB cache limit
LARGE = 80 * 1024  # over it
BASE_MTIME = 1_600_000_000  # versions get distinct whole-second mtimes from here


# ---- versions of a file ----


class Version:
    """One state of a path on disk: its bytes and mtime, or absent (404)."""

    def __init__(self, name, body=None, mtime=None):
        self.name = name
        self.body = body
        self.mtime = mtime
        self.etag = None  # learnt from the first response carrying this version

    @property
    def absent(self):
        return self.body is None

    @property
    def last_modified(self):
        return email.utils.formatdate(self.mtime, usegmt=True)

    def describes(self, status, fields, body):
        """Whether a response is this version (body is None for HEAD and 304)."""
        if self.absent:
            return status == 404
        return (status == 200 and int(fields["content-length"]) == len(self.body)
                and fields.get("last-modified") == self.last_modified
                and (body is None or body == self.body))


def classify(versions, status, fields, body, what):
    """Returns the one version a 200/404 response is, checking its ETag against the
    ETag learnt for that version and those of the others; fails on anything else."""
    matching = [v for v in versions if v.describes(status, fields, body)]
    summary = (f"{what}: status {status}, Content-Length {fields.get('content-length')}, "
               f"Last-Modified {fields.get('last-modified')}, ETag {fields.get('etag')}, "
               f"body {None if body is None else body[:40]!r}")
    assert len(matching) == 1, (
        f"{summary} is none of the versions that existed: "
        + "; ".join(f"{v.name} ({'absent' if v.absent else f'{len(v.body)} bytes, '}"
                    f"{'' if v.absent else v.last_modified})" for v in versions))
    version = matching[0]
    if not version.absent:
        etag = fields.get("etag")
        assert etag, f"{summary}: no ETag"
        if version.etag is None:
            others = [v.etag for v in versions if v is not version and v.etag]
            assert etag not in others, f"{summary}: ETag of another version"
            version.etag = etag
        assert etag == version.etag, f"{summary}: {version.name} was served as {version.etag}"
    return version


def put(path, version):
    """Makes path hold version: writes the bytes where they are, then sets the mtime."""
    if version.absent:
        path.unlink()
        return
    path.write_bytes(version.body)
    os.utime(path, (version.mtime, version.mtime))


def make_bytes(size, tag):
    """size bytes of text unlike those made with another tag."""
    pattern = f"<{tag}>" + "".join(chr(97 + (i * 7 + len(tag)) % 26) for i in range(57))
    return (pattern * (size // len(pattern) + 1)).encode()[:size]


# ---- the changes ----


def modify_in_place(path, old, size):
    """Same size, other bytes, later mtime, same inode."""
    new = Version("edited in place", make_bytes(len(old.body), "edited"), old.mtime + 10)
    ino = path.stat().st_ino
    with open(path, "r+b") as f:
        f.write(new.body)
    os.utime(path, (new.mtime, new.mtime))
    assert path.stat().st_ino == ino
    return new


def replace_by_rename(path, old, size):
    """Another file renamed over the path (how editors and deploy tools save)."""
    new = Version("renamed over", make_bytes(len(old.body) + 100, "renamed"), old.mtime + 10)
    tmp = path.with_name(path.name + ".tmp")
    put(tmp, new)
    os.replace(tmp, path)
    return new


def truncate(path, old, size):
    """The same inode cut to a prefix of its bytes."""
    new = Version("truncated", old.body[:size], old.mtime + 10)
    os.truncate(path, size)
    os.utime(path, (new.mtime, new.mtime))
    return new


def grow(path, old, size):
    """The same inode with bytes appended."""
    new = Version("grown", old.body + make_bytes(size - len(old.body), "appended"),
                  old.mtime + 10)
    with open(path, "ab") as f:
        f.write(new.body[len(old.body):])
    os.utime(path, (new.mtime, new.mtime))
    return new


def delete(path, old, size):
    new = Version("deleted")
    path.unlink()
    return new


def create(path, old, size):
    new = Version("created", make_bytes(size, "created"), BASE_MTIME + 20)
    put(path, new)
    return new


# (change, size before, size argument of the change)
CHANGES = [
    pytest.param(modify_in_place, SMALL, None, id="small-modify-in-place"),
    pytest.param(modify_in_place, LARGE, None, id="large-modify-in-place"),
    pytest.param(replace_by_rename, SMALL, None, id="small-replace-by-rename"),
    pytest.param(replace_by_rename, LARGE, None, id="large-replace-by-rename"),
    pytest.param(truncate, SMALL, 3000, id="small-truncate"),
    pytest.param(truncate, LARGE, 40 * 1024, id="large-truncate"),
    pytest.param(truncate, LARGE, 5000, id="large-truncate-below-cache-limit"),
    pytest.param(grow, SMALL, 12 * 1024, id="small-grow"),
    pytest.param(grow, LARGE, 120 * 1024, id="large-grow"),
    pytest.param(grow, SMALL, 100 * 1024, id="small-grow-past-cache-limit"),
    pytest.param(delete, SMALL, None, id="small-delete"),
    pytest.param(delete, LARGE, None, id="large-delete"),
    pytest.param(create, None, SMALL, id="small-create-after-404"),
    pytest.param(create, None, LARGE, id="large-create-after-404"),
]


# ---- polling ----


class Poller:
    """Asks for paths over KEEPALIVE_CONNS kept-alive connections plus a fresh one per
    round, checking every response against the versions that existed."""

    def __init__(self, srv, paths, method="GET", headers=()):
        self.srv = srv
        self.paths = paths
        self.method = method
        self.headers = headers
        self.conns = [Conn(srv) for _ in range(KEEPALIVE_CONNS)]
        self.responses = 0

    def close(self):
        for c in self.conns:
            c.close()

    def round(self, check):
        """One request per path on every connection; check(status, fields, body, what)
        returns whether the response is fresh. True when every one was."""
        fresh = True
        for path in self.paths:
            for i, c in enumerate(self.conns):
                status, fields, body = c.request(self.method, path, self.headers)
                if fields.get("connection", "").lower() == "close":
                    c.close()
                    self.conns[i] = Conn(self.srv)
                fresh &= check(status, fields, body, f"{self.method} {path} (conn {i})")
            status, fields, body = fetch_once(self.srv, self.method, path, self.headers)
            fresh &= check(status, fields, body, f"{self.method} {path} (fresh conn)")
            self.responses += len(self.conns) + 1
        return fresh


def watch_change(poller, versions, change, classify=classify):
    """Runs change() and polls until a whole round is fresh, checking every response
    with classify. Returns the seconds from the change until fresh, and the new
    version."""
    old = versions[0]

    def check_old(status, fields, body, what):
        return classify(versions, status, fields, body, what) is old

    assert poller.round(check_old), "not every connection served the old version"
    new = change()
    versions.append(new)
    changed_at = time.monotonic()

    def check_new(status, fields, body, what):
        return classify(versions, status, fields, body, what) is new

    wait_for(lambda: poller.round(check_new), timeout=POLL_TIMEOUT, interval=POLL_INTERVAL,
             what=f"every connection to serve the {new.name} version")
    delay = time.monotonic() - changed_at
    # Once fresh everywhere, no loop may go back to the old version.
    for _ in range(2):
        assert poller.round(check_new), "a connection went back to the old version"
    return delay, new


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    return root


# One loop and two: under the sanitizer only two (the same per-loop cache code, and the
# loops' shared epochs besides), as each case waits out the TTL.
@pytest.mark.parametrize("threads", [pytest.param(1, marks=skip_long_under_asan), 2])
@pytest.mark.parametrize("change,size_before,size_arg", CHANGES)
def test_changed_file_is_served_fresh_within_ttl_and_every_response_is_one_whole_version(
        start_server, root, threads, change, size_before, size_arg):
    path = root / "file.txt"
    old = (Version("original", make_bytes(size_before, "original"), BASE_MTIME)
           if size_before else Version("absent"))
    if not old.absent:
        put(path, old)
    srv = start_server(root, threads=threads)
    poller = Poller(srv, ["/file.txt"])
    try:
        delay, new = watch_change(poller, [old], lambda: change(path, old, size_arg))
    finally:
        poller.close()
    print(f"{change.__name__} ({size_before or size_arg} bytes, {threads} thread(s)): "
          f"fresh after {delay:.3f} s, {poller.responses} responses checked")
    assert delay <= FRESH_WITHIN, f"{new.name} version served only after {delay:.2f} s"


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
def test_head_after_replace_reports_one_versions_length_and_validators_then_the_new(
        start_server, root, threads, size):
    path = root / "file.txt"
    old = Version("original", make_bytes(size, "original"), BASE_MTIME)
    put(path, old)
    srv = start_server(root, threads=threads)
    # Learn the original's ETag from a GET (HEAD must then carry the same one).
    classify([old], *fetch_once(srv, "GET", "/file.txt"), "GET before the change")
    poller = Poller(srv, ["/file.txt"], method="HEAD")
    try:
        delay, new = watch_change(poller, [old], lambda: replace_by_rename(path, old, None))
    finally:
        poller.close()
    assert delay <= FRESH_WITHIN, f"HEAD reported the new file only after {delay:.2f} s"
    # The ETag HEAD reported for the new file is the one GET sends with its bytes.
    classify([old, new], *fetch_once(srv, "GET", "/file.txt"), "GET after the change")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
def test_if_none_match_with_old_etag_gets_304_until_change_is_seen_then_200_new_etag(
        start_server, root, threads, size):
    path = root / "file.txt"
    old = Version("original", make_bytes(size, "original"), BASE_MTIME)
    put(path, old)
    srv = start_server(root, threads=threads)
    classify([old], *fetch_once(srv, "GET", "/file.txt"), "GET before the change")
    new = None
    statuses = []

    def check(status, fields, body, what):
        statuses.append(status)
        if status == 304:
            # Still the old file: the tag matched. 304 carries the tag it matched.
            assert fields.get("etag") == old.etag, f"{what}: 304 with ETag {fields.get('etag')}"
            return False
        assert status == 200, f"{what}: status {status}"
        version = classify([old, new] if new else [old], status, fields, body, what)
        assert version is new, f"{what}: 200 with the old file although its ETag matched"
        return True

    poller = Poller(srv, ["/file.txt"], headers=[("If-None-Match", old.etag)])
    try:
        assert not poller.round(check) and set(statuses) == {304}, statuses
        new = replace_by_rename(path, old, None)
        changed_at = time.monotonic()
        wait_for(lambda: poller.round(check), timeout=POLL_TIMEOUT, interval=POLL_INTERVAL,
                 what="200 with the new file for the old ETag on every connection")
        delay = time.monotonic() - changed_at
        assert poller.round(check), "a connection went back to 304 for the old ETag"
        # The new ETag now validates: 304 for it everywhere.
        poller.headers = [("If-None-Match", new.etag)]
        statuses.clear()
        poller.round(lambda status, fields, body, what: statuses.append(status) or True)
        assert set(statuses) == {304}, statuses
    finally:
        poller.close()
    assert delay <= FRESH_WITHIN, f"the old ETag still matched after {delay:.2f} s"


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("directory", ["", "sub/"], ids=["root", "sub"])
def test_directory_index_edited_is_served_fresh_for_directory_and_file_urls(
        start_server, root, threads, directory):
    path = root / directory / "index.html"
    old = Version("original index", make_bytes(2000, "index"), BASE_MTIME)
    put(path, old)
    srv = start_server(root, threads=threads)
    poller = Poller(srv, [f"/{directory}", f"/{directory}index.html"])
    try:
        delay, _ = watch_change(poller, [old], lambda: modify_in_place(path, old, None))
    finally:
        poller.close()
    assert delay <= FRESH_WITHIN, f"edited index.html served only after {delay:.2f} s"


# ---- the site's own 404 page ----

BUILT_IN_404 = b"Nothing is served at this address."


def classify_404_page(versions, status, fields, body, what):
    """The one version of 404.html a response to a missing path is: its bytes, or the
    built-in page while 404.html is absent. Always with status 404, never cached by the
    browser (no validators), and Content-Length that of the bytes sent."""
    assert status == 404, f"{what}: status {status}"
    assert "etag" not in fields and "last-modified" not in fields, f"{what}: {fields}"
    matching = [v for v in versions
                if (BUILT_IN_404 in body if v.absent else body == v.body)]
    assert len(matching) == 1, (f"{what}: a {len(body)}-byte body "
                                f"{body[:60]!r} is none of the 404 pages that existed")
    return matching[0]


# The changes that matter to a page the server holds on to between requests: one kept in
# memory and one kept open (edited, replaced), and one going or coming.
PAGE_CHANGES = [
    pytest.param(modify_in_place, SMALL, None, id="small-modify-in-place"),
    pytest.param(modify_in_place, LARGE, None, id="large-modify-in-place"),
    pytest.param(replace_by_rename, LARGE, None, id="large-replace-by-rename"),
    pytest.param(delete, SMALL, None, id="small-delete"),
    pytest.param(delete, LARGE, None, id="large-delete"),
    pytest.param(create, None, SMALL, id="small-create"),
]


@pytest.mark.parametrize("change,size_before,size_arg", PAGE_CHANGES)
def test_changed_404_page_is_served_fresh_within_ttl_for_every_missing_path(
        start_server, root, change, size_before, size_arg):
    path = root / "404.html"
    old = (Version("original 404.html", make_bytes(size_before, "original"), BASE_MTIME)
           if size_before else Version("absent 404.html"))
    if not old.absent:
        put(path, old)
    srv = start_server(root, threads=2)
    poller = Poller(srv, ["/no-such-page", "/sub/gone.html"])
    try:
        delay, new = watch_change(poller, [old], lambda: change(path, old, size_arg),
                                  classify=classify_404_page)
    finally:
        poller.close()
    print(f"404.html {change.__name__} ({size_before or size_arg} bytes): "
          f"fresh after {delay:.3f} s, {poller.responses} responses checked")
    assert delay <= FRESH_WITHIN, f"{new.name} served only after {delay:.2f} s"
