"""The pages the responder holds between requests (the site's 404
page, the --404 page, the --spa page): each loop keeps a reference to the cache entry it
found last and re-checks it on every 404 (src/respond.c page_entry, src/filecache.c
sl_cache_revisit); the tick lets go of one the cache dropped.

What must hold: a missing path gets 404 with the current page's bytes (Content-Length
matching), or the built-in page when there is none; a change is served within about
1.5 s; descriptors return to their baseline; the server exits cleanly.
"""

import os
import shutil
import signal
import time

import pytest

from conftest import Conn, fetch_once, wait_for

BUILT_IN = b"Nothing is served at this address."
FRESH_WITHIN = 1.5  # the cache's TTL (or the root's one-second check) plus slack
HTML = [("Accept", "text/html")]
LARGE = 40 * 1024  # over the 16 KiB in-memory limit: a held descriptor entry


def body_of(tag, size):
    return (tag.encode() * (size // len(tag) + 1))[:size]


def is_page(body, expected):
    """expected: the page's bytes, or None for the built-in page."""
    return BUILT_IN in body if expected is None else body == expected


def served_everywhere(srv, conns, expected, path="/missing"):
    """A predicate: every kept-alive connection and a fresh one get 404 with `expected`
    (503 while the root is missing for a moment counts as not yet)."""
    def check():
        answers = [c.get(path)[:3:2] for c in conns] + [fetch_once(srv, "GET", path)[::2]]
        if any(status == 503 for status, _ in answers):
            return False
        for status, body in answers:
            assert status == 404, f"{path}: {status}"
        return all(is_page(body, expected) for _, body in answers)
    return check


def wait_fresh(check, what):
    start = time.monotonic()
    wait_for(check, timeout=5, what=what)
    delay = time.monotonic() - start
    assert delay <= FRESH_WITHIN, f"{what} only after {delay:.2f} s"


@pytest.mark.parametrize("kind", ["directory", "symlink-outside", "fifo", "dangling-symlink"])
def test_held_404_page_replaced_by_what_is_not_a_file(start_server, tmp_path, kind):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.html").write_bytes(b"SECRET")
    page = root / "404.html"
    page.write_bytes(body_of("original", LARGE))
    srv = start_server(root, threads=2)
    conns = [Conn(srv) for _ in range(4)]
    assert served_everywhere(srv, conns, body_of("original", LARGE))()
    page.unlink()
    if kind == "directory":
        page.mkdir()
        (page / "index.html").write_bytes(b"dirindex")
    elif kind == "symlink-outside":
        os.symlink(tmp_path / "secret.html", page)
    elif kind == "fifo":
        os.mkfifo(page)
    else:
        os.symlink(tmp_path / "nothing", page)
    wait_fresh(served_everywhere(srv, conns, None), f"built-in page after 404.html became {kind}")
    if kind == "directory":
        shutil.rmtree(page)
    else:
        page.unlink()
    page.write_bytes(b"back")
    wait_fresh(served_everywhere(srv, conns, b"back"), "404.html back")
    for c in conns:
        c.close()


def test_large_404_page_truncated_then_rewritten_while_sent(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    page = root / "404.html"
    original = body_of("a", 4 << 20)
    page.write_bytes(original)
    srv = start_server(root, "--rate", "1M", threads=1)
    baseline = srv.fd_count()
    s = srv.connect()
    s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
    received = s.recv(65536)
    assert received.startswith(b"HTTP/1.1 404 "), received[:80]
    with open(page, "r+b") as f:
        f.truncate(1000)
    while True:  # the server must close, not hang nor pad
        chunk = s.recv(65536)
        if not chunk:
            break
        received += chunk
    s.close()
    assert len(received) < len(original)
    conns = [Conn(srv)]
    wait_fresh(served_everywhere(srv, conns, original[:1000]), "truncated 404.html")
    with open(page, "r+b") as f:  # same size, same inode, other bytes
        f.write(b"Z" * 1000)
    wait_fresh(served_everywhere(srv, conns, b"Z" * 1000), "rewritten 404.html")
    conns[0].close()
    wait_for(lambda: srv.fd_count() <= baseline, timeout=4,
             what=f"descriptors back to {baseline}")


@pytest.mark.parametrize("new_page", [b"new 404", None], ids=["with-404", "without-404"])
def test_root_rebuilt_by_rename_then_deleted_and_recreated(start_server, tmp_path, new_page):
    site = tmp_path / "site"
    site.mkdir()
    (site / "404.html").write_bytes(body_of("old", LARGE))
    srv = start_server(site, threads=2)
    conns = [Conn(srv) for _ in range(4)]
    assert served_everywhere(srv, conns, body_of("old", LARGE))()
    build = tmp_path / "build"
    build.mkdir()
    (build / "index.html").write_bytes(b"home")
    if new_page:
        (build / "404.html").write_bytes(new_page)
    os.rename(site, tmp_path / "trash")
    os.rename(build, site)
    shutil.rmtree(tmp_path / "trash")
    wait_fresh(served_everywhere(srv, conns, new_page), "the rebuilt root's 404 page")
    if new_page is not None:
        shutil.rmtree(site)
        wait_for(lambda: fetch_once(srv, "GET", "/missing")[0] == 503, timeout=5,
                 what="503 without a root")
        site.mkdir()
        (site / "404.html").write_bytes(b"recreated")
        wait_for(served_everywhere(srv, conns, b"recreated"), timeout=5, what="recreated root")
    for c in conns:
        c.close()


def test_spa_page_and_404_page_the_same_file(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    app = root / "app.html"
    app.write_bytes(body_of("app", LARGE))
    srv = start_server(root, "--spa=app.html", "--404", "app.html", threads=2)
    c = Conn(srv)

    def both(expected):
        status, _, body = c.request("GET", "/route", HTML)
        asset_status, _, asset = c.request("GET", "/asset.js")
        if expected is None:
            return status == asset_status == 404 and is_page(body, None) and is_page(asset, None)
        assert (status, asset_status) == (200, 404)
        return body == asset == expected

    for _ in range(10):
        assert both(body_of("app", LARGE))
    app.write_bytes(b"v2")
    wait_fresh(lambda: both(b"v2"), "edited app.html")
    app.unlink()
    wait_fresh(lambda: both(None), "built-in page without app.html")
    c.close()


def test_404_option_naming_a_missing_page_that_then_appears(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(root, "--404", "errors/nf.html", threads=2)
    conns = [Conn(srv) for _ in range(4)]
    assert served_everywhere(srv, conns, None)()
    (root / "errors").mkdir()
    (root / "errors" / "nf.html").write_bytes(b"custom")
    wait_fresh(served_everywhere(srv, conns, b"custom"), "the --404 page once it exists")
    assert fetch_once(srv, "GET", "/errors/nf.html")[::2] == (200, b"custom")
    for c in conns:
        c.close()


def test_pipelined_hits_and_misses_head_and_http10_over_four_loops(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    page = body_of("nf", 20000)
    (root / "404.html").write_bytes(page)
    (root / "hit.txt").write_bytes(b"hit")
    srv = start_server(root, threads=4)
    conns = [Conn(srv) for _ in range(16)]
    expected = {"/hit.txt": (200, b"hit"), "/404.html": (200, page)}
    for rnd in range(5):
        for i, c in enumerate(conns):
            paths = ["/hit.txt", f"/m{rnd}-{i}", "/hit.txt", "/404.html", f"/m{i}"]
            c.pipeline(paths)
            for path in paths:
                status, _, body = c.response("GET", path)
                assert (status, body) == expected.get(path, (404, page)), (path, status, len(body))
            status, fields, _ = c.request("HEAD", f"/h{i}")
            assert status == 404 and int(fields["content-length"]) == len(page)
    for c in conns:
        c.close()
    assert fetch_once(srv, "GET", "/old", version="1.0")[::2] == (404, page)
    status, fields, _ = fetch_once(srv, "HEAD", "/old", version="1.0")
    assert status == 404 and int(fields["content-length"]) == len(page)


def test_descriptors_back_to_baseline_after_eviction_pressure(start_server, tmp_path):
    # More distinct misses than the cache has entries, and more large files than it
    # keeps descriptors, while the held 404 page is a descriptor entry itself.
    root = tmp_path / "root"
    root.mkdir()
    page = body_of("nf", LARGE)
    (root / "404.html").write_bytes(page)
    for i in range(80):
        (root / f"f{i}.bin").write_bytes(body_of(f"f{i}", 20000))
    srv = start_server(root, threads=2)
    baseline = srv.fd_count()
    conns = [Conn(srv) for _ in range(8)]
    for j in range(1500):
        c = conns[j % len(conns)]
        c.pipeline([f"/miss-{j}", f"/f{j % 80}.bin"])
        status, _, body = c.response()
        assert status == 404 and body == page
        assert c.response()[0] == 200
    for c in conns:
        c.close()
    (root / "404.html").unlink()  # the held entry goes too
    wait_for(served_everywhere(srv, [], None, "/gone"), timeout=5, what="built-in page")
    wait_for(lambda: srv.fd_count() <= baseline, timeout=4,
             what=f"descriptors back to {baseline} (now {srv.fd_count()})")


def test_variant_range_and_conditions_on_the_held_404_page(start_server, tmp_path):
    import gzip
    root = tmp_path / "root"
    root.mkdir()
    page = body_of("nf", 30000)
    (root / "404.html").write_bytes(page)
    srv = start_server(root, threads=1)
    c = Conn(srv)
    for headers in ([("Range", "bytes=0-9")], [("If-None-Match", "*")],
                    [("If-Modified-Since", "Wed, 01 Jan 2031 00:00:00 GMT")]):
        status, fields, body = c.request("GET", "/x", headers)
        assert status == 404 and body == page, (headers, status, fields)
    gz = root / "404.html.gz"
    gz.write_bytes(gzip.compress(page))
    later = time.time() + 5
    os.utime(gz, (later, later))

    def gzipped():
        status, fields, body = c.request("GET", "/x", [("Accept-Encoding", "gzip")])
        assert status == 404
        return fields.get("content-encoding") == "gzip" and gzip.decompress(body) == page
    wait_fresh(gzipped, "the 404 page's gzip variant")
    for i in range(20):
        status, _, body = c.request("GET", f"/y{i}", [("Accept-Encoding", "gzip")])
        assert status == 404 and gzip.decompress(body) == page
        assert c.request("GET", f"/z{i}")[::2] == (404, page)
    c.close()


def test_live_edit_of_the_404_page_served_at_once(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    page = root / "404.html"
    page.write_bytes(b"<html><body>one</body></html>")
    srv = start_server(root, "--live", threads=2)
    c = Conn(srv)
    for _ in range(5):
        assert b"one" in c.get("/x")[2]
    page.write_bytes(b"<html><body>two</body></html>")
    wait_fresh(lambda: b"two" in c.get("/x")[2], "edited 404.html with --live")
    page.unlink()
    wait_fresh(lambda: BUILT_IN in c.get("/x")[2], "deleted 404.html with --live")
    c.close()


def test_sigterm_right_after_404s_with_a_body_in_flight(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "404.html").write_bytes(body_of("nf", LARGE))
    (root / "index.html").write_bytes(b"app")
    srv = start_server(root, "--spa", threads=2)
    conns = [Conn(srv) for _ in range(6)]
    for i, c in enumerate(conns):
        assert c.request("GET", f"/a{i}", HTML)[::2] == (200, b"app")
        c.sock.sendall(b"GET /a.js HTTP/1.1\r\nHost: a\r\n\r\n")  # a held 404 page, unread
    code, err = srv.stop(signal.SIGTERM)
    assert code == 0, err
    for c in conns:
        c.close()


def test_404_page_lookup_does_not_hide_a_directory_of_the_same_name(start_server, tmp_path):
    """The page is looked up by file name: a directory there is no page, but a request
    for the path still gets the directory's redirect (the two lookups keep apart in the
    cache)."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "404.html").mkdir()
    (root / "404.html" / "index.html").write_bytes(b"a directory")
    srv = start_server(root, threads=1)
    c = Conn(srv)
    assert c.get("/404.html")[0] == 301
    status, _, body = c.get("/missing")
    assert status == 404 and BUILT_IN in body
    assert c.get("/404.html")[0] == 301
    assert c.get("/404.html/")[:3:2] == (200, b"a directory")
    c.close()


def test_spa_page_missing_by_name_does_not_hide_its_clean_url(start_server, tmp_path):
    """--spa names "app", which is no file; "/app" is app.html by clean URLs. The page
    lookup's miss must not answer the request for "/app"."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "app.html").write_bytes(b"<!DOCTYPE html><title>app</title>the app")
    srv = start_server(root, "--spa=app", threads=1)
    c = Conn(srv)
    status, _, body = c.request("GET", "/some/route", HTML)
    assert status == 404 and BUILT_IN in body
    status, _, body = c.request("GET", "/app", HTML)
    assert status == 200 and body.endswith(b"the app")
    c.close()
