"""What site authors rely on: a root rebuilt under a running server (deleted and made
again, or swapped in by rename) is served within about a second, with 503 and
Retry-After while it is missing; the site's own 404.html for missing paths; clean URLs
(/a/b serves a/b.html); index.htm as a directory index; precompressed variants made by
brotli, zstd and gzip (which keep the mtime to whole seconds only); one answer across
event loops once a file is created or edited; and the graceful-stop message on Ctrl-C.

Every body is compared with the bytes the test wrote; statuses and headers are exact.
The compression tools come from Debian's brotli, zstd and gzip packages (./dev installs
them); without them the variant tests fail.
"""

import os
import select
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import SLOWDOWN, Conn, parse_responses, raw_exchange, wait_for

TIMEOUT = 10.0
ROOT_CHECK = 1.0  # the root's path is re-checked at most once a second per loop
PICKUP = 2.5 * SLOWDOWN  # "within ~2 s": the check interval plus scheduling slack
AFTER_CHECK = ROOT_CHECK + 0.1  # every loop has checked since a change this long ago
FRESH_CONNS = 20
GONE = "is gone"
BACK = "is back"


# ---- clients ----


def fetch(srv, path, method="GET", headers=()):
    """One request on a fresh connection (Connection: close); returns (status, headers
    with lower-case names, body). The bytes after the head must be exactly
    Content-Length long."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    data = raw_exchange(srv, (head + "\r\n").encode(), timeout=TIMEOUT)
    responses = parse_responses(data, head_only_count=1 if method == "HEAD" else 0)
    assert len(responses) == 1, f"{method} {path}: {len(responses)} responses: {data[:300]!r}"
    status, fields, body = responses[0]
    if method == "HEAD":
        raw_head, _, rest = data.partition(b"\r\n\r\n")
        assert rest == b"", f"HEAD {path}: {len(rest)} bytes after the head"
    else:
        assert len(body) == int(fields["content-length"]), f"{path}: body cut short"
    return status, fields, body


def wait_until(moment):
    """Sleeps until time.monotonic() reaches moment (a deadline, not a guess)."""
    left = moment - time.monotonic()
    if left > 0:
        time.sleep(left)


def root_lines(err, which):
    """The stderr lines saying the root is gone (which=GONE) or back (which=BACK); the
    "gone" line may itself mention being back ("503 until it is back")."""
    gone = [line for line in err.splitlines() if GONE in line]
    back = [line for line in err.splitlines() if BACK in line and GONE not in line]
    return gone if which == GONE else back


def count_lines(err, which):
    return len(root_lines(err, which))


def stop_cleanly(srv):
    code, err = srv.stop()
    assert code == 0, f"sluice exited with {code}: {err}"
    return err


# ---- a root in two versions ----


def make_tree(path, version):
    """A root whose files say which version they belong to; returns path."""
    (path / "sub").mkdir(parents=True)
    (path / "index.html").write_text(f"<!DOCTYPE html><title>{version}</title><p>{version}\n")
    (path / "page.txt").write_text(f"page of the {version} tree\n" * (3 if version == "new" else 1))
    (path / "sub" / "inner.txt").write_text(f"inner {version}\n")
    (path / f"only-{version}.txt").write_text(f"only in {version}\n")
    return path


def page(version):
    return f"page of the {version} tree\n".encode() * (3 if version == "new" else 1)


def empty_directory(path):
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def swap_by_rename_over_emptied_old(root, new):
    """rename(2) replaces an empty directory atomically."""
    empty_directory(root)
    os.rename(new, root)


def swap_by_mv_after_removing_old(root, new):
    shutil.rmtree(root)
    subprocess.run(["mv", str(new), str(root)], check=True, timeout=TIMEOUT)


SWAPS = [swap_by_rename_over_emptied_old, swap_by_mv_after_removing_old]
SWAP_IDS = ["rename-over-emptied-old", "mv-after-rm"]


def serve_old_tree(start_server, tmp_path, threads):
    """A root of the "old" tree, served: (root, server)."""
    root = make_tree(tmp_path / "root", "old")
    srv = start_server(root, threads=threads)
    assert fetch(srv, "/page.txt")[2] == page("old")
    return root, srv


def wait_for_new_page(srv):
    wait_for(lambda: fetch(srv, "/page.txt")[2] == page("new"), timeout=PICKUP,
             what="the new tree's content")


def assert_every_fresh_connection_sees_new_tree(srv, changed_at):
    """From AFTER_CHECK after the change on, every new connection gets the new tree."""
    wait_until(changed_at + AFTER_CHECK)
    for i in range(FRESH_CONNS):
        status, _, body = fetch(srv, "/page.txt")
        assert (status, body) == (200, page("new")), \
            f"fresh connection {i}: {status} {body!r} (the old tree or none)"
        status, _, body = fetch(srv, "/only-new.txt")
        assert (status, body) == (200, b"only in new\n"), f"fresh connection {i}: {status}"
    assert fetch(srv, "/only-old.txt")[0] == 404
    status, _, body = fetch(srv, "/")
    assert status == 200 and b"<p>new" in body, (status, body[:200])


# ---- 1. a rebuilt root ----


def assert_root_seen_missing_at_most_once(err):
    """A swap may show the root missing for a moment or not at all: at most one pair of
    stderr lines, a 'gone' always followed by its 'back'."""
    assert count_lines(err, GONE) <= 1, err
    assert count_lines(err, BACK) == count_lines(err, GONE), err


def assert_root_missing_response(status, fields, body, method, path):
    assert status == 503, f"{method} {path} with the root missing: {status} {body[:200]!r}"
    assert fields.get("retry-after") == "1", fields
    assert fields["content-type"].startswith("text/html"), fields
    if method == "GET":
        assert b"missing" in body.lower(), body
        assert int(fields["content-length"]) == len(body)
    else:
        assert body == b""
        assert int(fields["content-length"]) > 0


@pytest.mark.parametrize("threads", [1, 2])
def test_removed_root_answers_503_retry_after_until_recreated_then_serves_new_content(
        start_server, tmp_path, threads):
    root, srv = serve_old_tree(start_server, tmp_path, threads)

    shutil.rmtree(root)
    removed_at = time.monotonic()
    wait_for(lambda: fetch(srv, "/page.txt")[0] == 503, timeout=PICKUP,
             what="503 for a request while the root is missing")
    # Once every loop has checked, every request gets 503, on every thread: never 404,
    # never an empty listing.
    wait_until(removed_at + AFTER_CHECK)
    for i in range(FRESH_CONNS):
        for method in ("GET", "HEAD"):
            for path in ("/", "/page.txt", "/sub/", "/sub/inner.txt", "/nothing.txt"):
                status, fields, body = fetch(srv, path, method)
                assert_root_missing_response(status, fields, body, method, path)

    make_tree(root, "new")
    remade_at = time.monotonic()
    wait_for_new_page(srv)
    assert_every_fresh_connection_sees_new_tree(srv, remade_at)

    err = stop_cleanly(srv)
    assert count_lines(err, GONE) == 1, f"one 'gone' line for the whole process:\n{err}"
    assert count_lines(err, BACK) == 1, f"one 'back' line for the whole process:\n{err}"
    lines = err.splitlines()
    gone, back = root_lines(err, GONE)[0], root_lines(err, BACK)[0]
    assert lines.index(gone) < lines.index(back), err
    assert str(root) in gone and str(root) in back, err


@pytest.mark.parametrize("threads", [1, 2])
def test_root_removed_and_recreated_at_once_serves_new_content_within_two_seconds(
        start_server, tmp_path, threads):
    root, srv = serve_old_tree(start_server, tmp_path, threads)
    assert fetch(srv, "/only-old.txt")[0] == 200

    subprocess.run(["rm", "-rf", str(root)], check=True, timeout=TIMEOUT)
    make_tree(root, "new")
    remade_at = time.monotonic()
    wait_for_new_page(srv)
    assert_every_fresh_connection_sees_new_tree(srv, remade_at)

    assert_root_seen_missing_at_most_once(stop_cleanly(srv))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("swap", SWAPS, ids=SWAP_IDS)
def test_root_swapped_in_by_rename_is_served_on_an_open_keep_alive_connection(
        start_server, tmp_path, swap, threads):
    root = make_tree(tmp_path / "root", "old")
    srv = start_server(root, threads=threads)
    conn = Conn(srv)
    try:
        assert conn.get("/page.txt")[:3:2] == (200, page("old"))
        new = make_tree(tmp_path / "root.new", "new")
        swap(root, new)
        swapped_at = time.monotonic()

        # The same socket keeps getting answers: the old tree until the loop notices (the
        # emptied or deleted old directory answers 404, a missing path 503), then the new.
        seen = []

        def new_content():
            status, _, body = conn.get("/page.txt")
            seen.append((status, body))
            return status == 200 and body == page("new")

        wait_for(new_content, timeout=PICKUP, what="the new tree on the keep-alive connection")
        for status, body in seen[:-1]:
            assert (status, body) == (200, page("old")) or status in (404, 503), \
                f"before the new tree: {status} {body!r}"
        for _ in range(10):
            assert conn.get("/page.txt")[:3:2] == (200, page("new")), "back to the old tree"
        assert conn.get("/only-new.txt")[:3:2] == (200, b"only in new\n")
        assert conn.get("/only-old.txt")[0] == 404
        assert conn.get("/sub/inner.txt")[:3:2] == (200, b"inner new\n")
    finally:
        conn.close()

    assert_every_fresh_connection_sees_new_tree(srv, swapped_at)
    assert_root_seen_missing_at_most_once(stop_cleanly(srv))


@pytest.mark.parametrize("swap", SWAPS, ids=SWAP_IDS)
def test_every_loop_serves_the_swapped_in_root_one_second_after_the_swap(
        start_server, tmp_path, swap):
    root = make_tree(tmp_path / "root", "old")
    srv = start_server(root, threads=2)
    # Every loop has served (and cached) the old tree.
    for _ in range(FRESH_CONNS):
        assert fetch(srv, "/page.txt")[:3:2] == (200, page("old"))
    new = make_tree(tmp_path / "root.new", "new")
    swap(root, new)
    swapped_at = time.monotonic()
    assert_every_fresh_connection_sees_new_tree(srv, swapped_at)
    assert_root_seen_missing_at_most_once(stop_cleanly(srv))


# ---- 2. the site's own 404 page ----

NOT_FOUND_PAGE = b"<!DOCTYPE html><title>Lost</title><h1>Nothing here \xe2\x80\x94 try /</h1>\n"


@pytest.fixture
def site_404(tmp_path):
    root = tmp_path / "site404"
    (root / "sub").mkdir(parents=True)
    (root / "404.html").write_bytes(NOT_FOUND_PAGE)
    (root / "index.html").write_text("<p>home</p>\n")
    (root / "sub" / "page.txt").write_text("sub page\n")
    (root / ".env").write_text("SECRET=hunter2\n")
    return root


def assert_site_404(status, fields, body, method):
    assert status == 404
    assert fields["content-type"] == "text/html; charset=utf-8"
    assert fields["content-length"] == str(len(NOT_FOUND_PAGE))
    assert fields.get("cache-control") == "no-cache", fields
    assert "etag" not in fields, fields
    assert body == (NOT_FOUND_PAGE if method == "GET" else b"")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", ["/missing.html", "/sub/missing.txt", "/no/such/dir/",
                                  "/sub/page.txt/x"])
def test_missing_path_gets_the_sites_404_html_with_status_404(start_server, site_404, path,
                                                               method):
    srv = start_server(site_404)
    assert_site_404(*fetch(srv, path, method), method)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_hidden_path_gets_the_sites_404_html(start_server, site_404, method):
    srv = start_server(site_404)
    status, fields, body = fetch(srv, "/.env", method)
    assert b"hunter2" not in body
    assert_site_404(status, fields, body, method)


def test_curl_sees_the_sites_404_html_with_status_404(start_server, site_404, tmp_path):
    srv = start_server(site_404)
    out = tmp_path / "curl-body"
    result = subprocess.run(["curl", "-sS", "-o", str(out), "-w", "%{http_code} %{content_type}",
                             srv.url("/nope")], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "404 text/html; charset=utf-8"
    assert out.read_bytes() == NOT_FOUND_PAGE


def test_existing_file_is_served_normally_beside_a_404_html(start_server, site_404):
    srv = start_server(site_404)
    assert fetch(srv, "/sub/page.txt")[:3:2] == (200, b"sub page\n")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_missing_path_without_404_html_gets_the_built_in_page(start_server, tmp_path, method):
    root = tmp_path / "plain"
    root.mkdir()
    (root / "index.html").write_text("<p>home</p>\n")
    srv = start_server(root)
    status, fields, body = fetch(srv, "/missing.html", method)
    assert status == 404
    assert fields["content-type"].startswith("text/html")
    if method == "GET":
        assert body and b"404" in body
    else:
        assert body == b"" and int(fields["content-length"]) > 0


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_symlink_leading_out_of_the_root_is_not_found_not_forbidden(start_server, tmp_path,
                                                                     method):
    root = tmp_path / "links"
    root.mkdir()
    os.symlink("/etc/hostname", root / "out.txt")
    secret = (tmp_path / "secret.txt")
    secret.write_text("TOP SECRET\n")
    os.symlink(secret, root / "out2.txt")
    srv = start_server(root)
    for path in ("/out.txt", "/out2.txt"):
        status, _, body = fetch(srv, path, method)
        assert status == 404, f"{path}: {status}"
        assert b"TOP SECRET" not in body
        if os.path.exists("/etc/hostname") and os.path.getsize("/etc/hostname") > 0:
            assert open("/etc/hostname", "rb").read().strip() not in body


def test_follow_symlinks_serves_a_link_that_leads_out_of_the_root(start_server, tmp_path):
    # A wrapper directory that emulates a site prefix: root/docs -> ../build/html.
    build = tmp_path / "build" / "html"
    build.mkdir(parents=True)
    (build / "index.html").write_bytes(b"<p>the built docs</p>\n")
    (tmp_path / "secret.txt").write_bytes(b"outside, reached on purpose\n")
    root = tmp_path / "wrapper"
    root.mkdir()
    os.symlink(build, root / "docs")
    os.symlink(tmp_path / "secret.txt", root / "note.txt")
    plain = start_server(root)
    assert fetch(plain, "/docs/")[0] == 404
    assert fetch(plain, "/note.txt")[0] == 404
    following = start_server(root, "--follow-symlinks")
    status, _, body = fetch(following, "/docs/")
    assert (status, body) == (200, b"<p>the built docs</p>\n")
    status, _, body = fetch(following, "/note.txt")
    assert (status, body) == (200, b"outside, reached on purpose\n")
    # Dotfiles stay hidden and ".." still cannot climb: only symlinks are followed.
    assert fetch(following, "/docs/../../secret.txt")[0] in (400, 404)


# ---- types and charsets ----

def test_types_come_from_the_built_in_table_then_etc_mime_types(start_server, tmp_path):
    root = tmp_path / "types"
    root.mkdir()
    for name in ("a.yaml", "a.py", "a.toml", "a.md", "a.vtt", "a.webp", "a.deb", "a.zzzz"):
        (root / name).write_bytes(b"x")
    srv = start_server(root)
    types = {name: fetch(srv, "/" + name)[1]["content-type"] for name in os.listdir(root)}
    assert types["a.yaml"].startswith("text/") and "charset=utf-8" in types["a.yaml"]
    assert types["a.py"].startswith("text/") and types["a.toml"].startswith("text/")
    assert types["a.md"].startswith("text/markdown")
    assert types["a.vtt"].startswith("text/vtt")
    assert types["a.webp"] == "image/webp"
    assert types["a.zzzz"] == "application/octet-stream"
    if os.path.exists("/etc/mime.types"):  # Debian's media-types: the long tail
        assert types["a.deb"] == "application/vnd.debian.binary-package"


def test_svgz_is_svg_with_content_encoding_gzip(start_server, tmp_path):
    import gzip
    root = tmp_path / "svgz"
    root.mkdir()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
    (root / "logo.svgz").write_bytes(gzip.compress(svg))
    srv = start_server(root)
    status, fields, body = fetch(srv, "/logo.svgz")
    assert status == 200
    assert fields["content-type"].startswith("image/svg+xml")
    assert fields["content-encoding"] == "gzip"
    assert gzip.decompress(body) == svg


@pytest.mark.parametrize("page, charset", [
    (b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>St\xe9phane',
     "windows-1252"),
    (b'<!-- <meta charset="koi8-r"> --><meta charset="Shift_JIS"><p>x', "shift_jis"),
    (b'\xef\xbb\xbf<p>a BOM says utf-8', "utf-8"),
    (b'<p>nothing declared', "utf-8"),
    (b'<meta charset="utf-8"><p>utf-8 declared', "utf-8"),
])
def test_html_is_sent_with_the_charset_the_page_declares(start_server, tmp_path, page, charset):
    root = tmp_path / "cs"
    root.mkdir()
    (root / "page.html").write_bytes(page)
    srv = start_server(root)
    for _ in range(2):  # the second answer comes from the file cache
        status, fields, _ = fetch(srv, "/page.html")
        assert status == 200
        assert fields["content-type"] == f"text/html; charset={charset}"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_404_flag_serves_the_named_page_for_missing_paths(start_server, site_404, method):
    custom = b"<!DOCTYPE html><p>custom not found</p>\n"
    (site_404 / "errors").mkdir()
    (site_404 / "errors" / "notfound.html").write_bytes(custom)
    srv = start_server(site_404, "--404", "errors/notfound.html")
    status, fields, body = fetch(srv, "/missing", method)
    assert status == 404
    assert fields["content-type"] == "text/html; charset=utf-8"
    assert fields["content-length"] == str(len(custom))
    assert fields.get("cache-control") == "no-cache"
    assert "etag" not in fields
    assert body == (custom if method == "GET" else b"")


# ---- 3. clean URLs ----


@pytest.fixture
def clean_root(tmp_path):
    root = tmp_path / "clean"
    (root / "a" / "c").mkdir(parents=True)
    (root / "a" / "b.html").write_bytes(b"<!DOCTYPE html><p>page b</p>\n")
    (root / "a" / "c.html").write_bytes(b"<p>page c</p>\n")
    (root / "a" / "c" / "index.html").write_bytes(b"<p>dir c</p>\n")
    (root / "a" / "d").write_bytes(b"plain d\n")
    (root / "a" / "d.html").write_bytes(b"<p>page d</p>\n")
    (root / "top.html").write_bytes(b"<p>top</p>\n")
    return root


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path, name", [("/a/b", "a/b.html"), ("/a/b?x=1", "a/b.html"),
                                        ("/top", "top.html")])
def test_clean_url_serves_the_html_file_of_that_name(start_server, clean_root, path, name,
                                                     method):
    srv = start_server(clean_root)
    data = (clean_root / name).read_bytes()
    status, fields, body = fetch(srv, path, method)
    assert status == 200
    assert fields["content-type"].startswith("text/html"), fields
    assert fields["content-length"] == str(len(data))
    assert body == (data if method == "GET" else b"")


def test_html_file_is_still_served_under_its_own_name(start_server, clean_root):
    srv = start_server(clean_root)
    assert fetch(srv, "/a/b.html")[:3:2] == (200, b"<!DOCTYPE html><p>page b</p>\n")


def test_directory_beside_the_html_file_wins_with_a_redirect(start_server, clean_root):
    srv = start_server(clean_root)
    status, fields, _ = fetch(srv, "/a/c")
    assert status == 301
    assert fields["location"] == "/a/c/"
    assert fetch(srv, "/a/c/")[:3:2] == (200, b"<p>dir c</p>\n")


def test_file_without_extension_wins_over_the_html_file(start_server, clean_root):
    srv = start_server(clean_root)
    assert fetch(srv, "/a/d")[:3:2] == (200, b"plain d\n")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_trailing_slash_does_not_fall_back_to_the_html_file(start_server, clean_root, method):
    srv = start_server(clean_root)
    assert fetch(srv, "/a/b/", method)[0] == 404


def test_curl_fetches_a_clean_url(start_server, clean_root):
    srv = start_server(clean_root)
    result = subprocess.run(["curl", "-sS", "--fail", srv.url("/a/b")], capture_output=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"<!DOCTYPE html><p>page b</p>\n"


def test_no_clean_urls_flag_leaves_the_extensionless_path_not_found(start_server, clean_root):
    srv = start_server(clean_root, "--no-clean-urls")
    assert fetch(srv, "/a/b")[0] == 404
    assert fetch(srv, "/a/b.html")[:3:2] == (200, b"<!DOCTYPE html><p>page b</p>\n")


# ---- 4. index.htm ----


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_index_htm_is_the_directory_index_without_index_html(start_server, tmp_path, method):
    root = tmp_path / "htm"
    (root / "dir").mkdir(parents=True)
    data = b"<p>old-style index</p>\n"
    (root / "dir" / "index.htm").write_bytes(data)
    (root / "dir" / "other.txt").write_text("x\n")
    srv = start_server(root)
    status, fields, body = fetch(srv, "/dir/", method)
    assert status == 200
    assert fields["content-type"].startswith("text/html")
    assert fields["content-length"] == str(len(data))
    assert body == (data if method == "GET" else b"")


def test_index_html_wins_over_index_htm(start_server, tmp_path):
    root = tmp_path / "both"
    (root / "dir").mkdir(parents=True)
    (root / "dir" / "index.htm").write_bytes(b"<p>htm</p>\n")
    (root / "dir" / "index.html").write_bytes(b"<p>html wins</p>\n")
    (root / "index.htm").write_bytes(b"<p>root htm</p>\n")
    srv = start_server(root)
    assert fetch(srv, "/dir/")[:3:2] == (200, b"<p>html wins</p>\n")
    assert fetch(srv, "/")[:3:2] == (200, b"<p>root htm</p>\n")


# ---- 5. --spa ----


@pytest.fixture
def spa_root(tmp_path):
    root = tmp_path / "spa"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(b"<!DOCTYPE html><div id=app></div>\n")
    (root / "assets" / "main.js").write_bytes(b"console.log(1)\n")
    return root


@pytest.mark.parametrize("accept", ["text/html", "text/html,application/xhtml+xml,*/*;q=0.8"])
def test_spa_serves_root_index_for_a_page_the_browser_navigates_to(start_server, spa_root,
                                                                    accept):
    srv = start_server(spa_root, "--spa")
    status, fields, body = fetch(srv, "/app/route", headers=[("Accept", accept)])
    assert status == 200
    assert body == (spa_root / "index.html").read_bytes()
    assert fields["content-type"] == "text/html; charset=utf-8"
    assert fields.get("cache-control") == "no-cache"


def test_spa_leaves_a_missing_asset_not_found(start_server, spa_root):
    srv = start_server(spa_root, "--spa")
    assert fetch(srv, "/app.js", headers=[("Accept", "text/html")])[0] == 404
    assert fetch(srv, "/assets/main.js")[:3:2] == (200, b"console.log(1)\n")


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_spa_does_not_answer_a_request_that_does_not_accept_html(start_server, spa_root, accept):
    srv = start_server(spa_root, "--spa")
    headers = [] if accept is None else [("Accept", accept)]
    assert fetch(srv, "/app/route", headers=headers)[0] == 404


# ---- 6. precompressed variants at whole-second resolution ----

TOOLS = [  # (tool command, Accept-Encoding / Content-Encoding, suffix)
    (["brotli", "-k"], "br", ".br"),
    (["zstd", "-q", "-k"], "zstd", ".zst"),
    (["gzip", "-k"], "gzip", ".gz"),
]
TOOL_IDS = ["brotli", "zstd", "gzip"]
CSS = b"".join(b".c%d { color: #%06x; margin: %dpx }\n" % (i, i * 2654435761 % 2**24, i % 40)
               for i in range(400))


def make_variant(root, tool, suffix):
    if not shutil.which(tool[0]):
        pytest.fail(f"{tool[0]} is not installed (apt-get install -y brotli zstd gzip)")
    original = root / "style.css"
    original.write_bytes(CSS)
    # A fraction of a second in the original's mtime, as any editor leaves it.
    stamp = 1_700_000_000_700_000_000
    os.utime(original, ns=(stamp, stamp))
    subprocess.run([*tool, str(original)], check=True, timeout=TIMEOUT)
    variant = root / ("style.css" + suffix)
    assert variant.exists()
    assert original.read_bytes() == CSS, "-k keeps the original"
    return original, variant


@pytest.mark.parametrize("tool, coding, suffix", TOOLS, ids=TOOL_IDS)
def test_variant_made_by_the_compression_tool_is_served(start_server, tmp_path, tool, coding,
                                                        suffix):
    root = tmp_path / "pc"
    root.mkdir()
    original, variant = make_variant(root, tool, suffix)
    # The tool copies the original's mtime, at least to the whole second.
    assert variant.stat().st_mtime_ns // 10**9 == original.stat().st_mtime_ns // 10**9
    srv = start_server(root)
    status, fields, body = fetch(srv, "/style.css", headers=[("Accept-Encoding", coding)])
    assert status == 200
    assert fields.get("content-encoding") == coding, fields
    assert body == variant.read_bytes()
    assert fields["content-length"] == str(len(body))
    assert fields["content-type"].startswith("text/css"), fields
    assert "accept-encoding" in fields.get("vary", "").lower(), fields


@pytest.mark.parametrize("tool, coding, suffix", TOOLS, ids=TOOL_IDS)
def test_variant_stamped_with_the_originals_whole_second_is_served(start_server, tmp_path, tool,
                                                                   coding, suffix):
    """Tools and copies that keep whole seconds only (brotli here; zstd and gzip in other
    versions, tar, FAT) leave the variant a fraction of a second "older"."""
    root = tmp_path / "pc"
    root.mkdir()
    original, variant = make_variant(root, tool, suffix)
    whole = original.stat().st_mtime_ns // 10**9 * 10**9
    os.utime(variant, ns=(whole, whole))
    assert variant.stat().st_mtime_ns < original.stat().st_mtime_ns
    srv = start_server(root)
    status, fields, body = fetch(srv, "/style.css", headers=[("Accept-Encoding", coding)])
    assert status == 200
    assert fields.get("content-encoding") == coding, fields
    assert body == variant.read_bytes()
    assert "accept-encoding" in fields.get("vary", "").lower(), fields


@pytest.mark.parametrize("tool, coding, suffix", TOOLS, ids=TOOL_IDS)
def test_variant_older_than_the_touched_original_is_not_served(start_server, tmp_path, tool,
                                                               coding, suffix):
    root = tmp_path / "pc"
    root.mkdir()
    original, variant = make_variant(root, tool, suffix)
    later = variant.stat().st_mtime_ns + 2 * 10**9  # the original touched 2 s later
    os.utime(original, ns=(later, later))
    srv = start_server(root)
    status, fields, body = fetch(srv, "/style.css", headers=[("Accept-Encoding", coding)])
    assert status == 200
    assert "content-encoding" not in fields, fields
    assert body == CSS


# ---- 7. one answer across threads ----

SEQUENCE_CONNS = 40


def count_from_first(seen, value):
    """How many responses were seen from the first that was value on (0: none was)."""
    return len(seen) - seen.index(value) if value in seen else 0


def test_created_file_never_goes_back_to_404_across_threads(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(root, threads=2)
    for _ in range(FRESH_CONNS):
        assert fetch(srv, "/new.txt")[0] == 404  # both loops have answered 404
    data = b"a new file\n" * 10
    (root / "new.txt").write_bytes(data)
    created_at = time.monotonic()

    seen = []
    # 40 connections one after another, and on until FRESH_CONNS have followed the first
    # 200 (or the pick-up time is over).
    while len(seen) < SEQUENCE_CONNS or (count_from_first(seen, 200) < FRESH_CONNS and
                                         time.monotonic() < created_at + PICKUP):
        status, _, body = fetch(srv, "/new.txt")
        assert status in (200, 404), status
        if status == 200:
            assert body == data
        seen.append(status)
    assert 200 in seen, f"never served within {PICKUP} s: {seen}"
    first_200 = seen.index(200)
    assert all(s == 200 for s in seen[first_200:]), \
        f"404 after 200 (the sequence must be 404* 200*): {seen}"


def test_edited_file_never_goes_back_to_the_old_version_across_threads(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    v1 = b"version one\n" * 20
    v2 = b"version two, longer\n" * 30
    target = root / "edit.txt"
    target.write_bytes(v1)
    srv = start_server(root, threads=2)
    for _ in range(FRESH_CONNS):
        assert fetch(srv, "/edit.txt")[:3:2] == (200, v1)  # both loops hold v1
    with open(target, "r+b") as f:  # in place: same inode, new size and mtime
        f.write(v2)
    edited_at = time.monotonic()

    seen = []
    while len(seen) < SEQUENCE_CONNS or (count_from_first(seen, "v2") < FRESH_CONNS and
                                         time.monotonic() < edited_at + PICKUP):
        status, _, body = fetch(srv, "/edit.txt")
        assert status == 200, status
        assert body in (v1, v2), f"neither version: {len(body)} bytes {body[:40]!r}"
        seen.append("v1" if body == v1 else "v2")
    assert "v2" in seen, f"v2 never served within {PICKUP} s"
    first_v2 = seen.index("v2")
    assert all(v == "v2" for v in seen[first_v2:]), \
        f"v1 after v2 (the sequence must be v1* v2*): {seen}"


# ---- 8. the graceful stop message ----

FINISHING_ONE = "sluice: finishing 1 response (Ctrl-C again to stop now)"


def read_stderr_until(srv, needle, timeout):
    """Reads the running server's stderr until a line containing needle arrives."""
    fd = srv.proc.stderr.fileno()
    got = b""
    deadline = time.monotonic() + timeout
    while needle.encode() not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {needle!r} on stderr within {timeout}s: {got!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"stderr closed before {needle!r}: {got!r}")
            got += chunk
    # The line is whole once its newline is in.
    while not got.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        got += chunk
    return got.decode(errors="replace")


@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_with_a_download_in_flight_says_so_and_a_second_stops_at_once(
        start_server, tmp_path, threads):
    root = tmp_path / "root"
    root.mkdir()
    with open(root / "big.bin", "wb") as f:
        f.truncate(64 << 20)  # far more than the socket buffers hold
    srv = start_server(root, "--quiet", threads=threads)
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.settimeout(TIMEOUT)
        client.connect((srv.host, srv.port))
        client.sendall(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(1024)
            assert chunk, "closed before the head"
            head += chunk
        assert head.startswith(b"HTTP/1.1 200 "), head[:100]
        # A slow reader: a few small reads, then the response stalls in flight.
        for _ in range(4):
            client.recv(1024)

        srv.proc.send_signal(signal.SIGINT)
        err = read_stderr_until(srv, "finishing", TIMEOUT)
        lines = [l for l in err.splitlines() if "finishing" in l]
        assert lines == [FINISHING_ONE], err
        assert srv.alive(), "the first Ctrl-C lets the response go on"

        started = time.monotonic()
        code, rest = srv.stop(signal.SIGINT)
        assert code == 0, rest
        assert time.monotonic() - started < 3.0 * SLOWDOWN, "the second Ctrl-C stops at once"
        assert "finishing" not in rest, f"the message is said once: {rest}"
