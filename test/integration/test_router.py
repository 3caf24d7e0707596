"""Black-box tests of the router: how a request-target becomes a file under the root.

Covers percent-decoding (once, with NUL, encoded '/' and broken escapes refused),
dot-segment removal and traversal attempts sent byte-for-byte over raw sockets,
symlinks inside and leading out of the root, missing, unreadable and special files,
directory redirects (never to a scheme-relative Location), index pages and listings,
and dotfiles. Every hostile request also checks that the response never carries the
content of secret files planted at each place a traversal would reach.
"""

import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from conftest import raw_exchange

METHODS = ["GET", "HEAD"]
SETPRIV = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
NOBODY = 65534


# ---- the tree ----------------------------------------------------------------------


class Tree:
    """The served root plus the secrets planted around it.

    base/                         secret.txt, etc/passwd          (secrets)
    base/outer/                   secret.txt, etc/passwd          (secrets)
    base/outer/inner/             secret.txt, etc/passwd, outside/ (secrets)
    base/outer/inner/root/        the served root
    """

    def __init__(self, base):
        self.token = "SECRET-" + secrets.token_hex(16)
        self.secret = f"{self.token}\n".encode()
        self.inner = base / "outer" / "inner"
        self.root = self.inner / "root"
        self.root.mkdir(parents=True)
        for level in (base, base / "outer", self.inner):
            (level / "secret.txt").write_bytes(self.secret)
            (level / "etc").mkdir()
            (level / "etc" / "passwd").write_bytes(self.secret)
        # A directory outside the root; its file name carries the token too, so a
        # listing of it would leak the token as well.
        self.outside = self.inner / "outside"
        self.outside.mkdir()
        (self.outside / "secret.txt").write_bytes(self.secret)
        (self.outside / f"{self.token}.txt").write_bytes(self.secret)
        self.system_passwd = Path("/etc/passwd").read_bytes().split(b"\n", 1)[0]
        self._populate()

    def _write(self, rel, data):
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        return p

    def _populate(self):
        r = self.root
        for name in ("hello.txt", "a+b.txt", "a b.txt", "café.txt", "%68ello.txt",
                     "sub/page.txt", "sub/.hidden", ".env", ".git/config",
                     ".well-known/security.txt", "my dir/inside.txt",
                     "evil.example/dir/inside.txt", "\\evil.example/dir/inside.txt"):
            self._write(name, f"{name}: {secrets.token_hex(8)}\n")
        self._write("home/index.html", f"<!DOCTYPE html><p>home {secrets.token_hex(8)}</p>\n")
        # Symlinks that stay inside the root.
        (r / "link.txt").symlink_to("hello.txt")
        (r / "alias").symlink_to("sub")
        (r / "sub" / "up.txt").symlink_to("../hello.txt")
        (r / "chain.txt").symlink_to("sub/up.txt")
        (r / "indexshared").mkdir()
        (r / "indexshared" / "index.html").symlink_to("../home/index.html")
        # Symlinks that lead out of it.
        (r / "out_abs.txt").symlink_to(self.inner / "secret.txt")
        (r / "out_rel.txt").symlink_to("../secret.txt")
        (r / "out_deep.txt").symlink_to("../../../secret.txt")
        (r / "out_passwd").symlink_to("/etc/passwd")
        (r / "sub" / "out.txt").symlink_to("../../secret.txt")
        (r / "outdir").symlink_to("../outside")
        (r / "outdir_abs").symlink_to(self.outside)
        (r / "loop").symlink_to("loop")
        (r / "indexleak").mkdir()
        (r / "indexleak" / "index.html").symlink_to("../../secret.txt")
        os.mkfifo(r / "pipe")

    def content(self, rel):
        return (self.root / rel).read_bytes()

    def assert_no_secret(self, resp):
        assert self.token.encode() not in resp.raw, f"secret leaked: {resp.raw[:300]!r}"
        assert self.system_passwd not in resp.raw, f"/etc/passwd leaked: {resp.raw[:300]!r}"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """One tree for the whole module: every test only reads it."""
    return Tree(tmp_path_factory.mktemp("router"))


# ---- talking to the server ---------------------------------------------------------


class Response:
    """One HTTP response split into status, lower-cased header fields and body."""

    def __init__(self, raw):
        self.raw = raw
        head, sep, self.body = raw.partition(b"\r\n\r\n")
        assert sep, f"no complete response head in {raw[:300]!r}"
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    @property
    def content_type(self):
        return self.headers.get("content-type", "")


def fetch(srv, target, method="GET", timeout=10.0):
    """Sends one request with `target` exactly as given (str or bytes) on a fresh
    connection and returns the Response. Checks the framing: a GET body is exactly
    Content-Length bytes; a HEAD response carries no body at all (RFC 9110 §9.3.2)."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    request = (method.encode() + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Connection: close\r\n\r\n")
    resp = Response(raw_exchange(srv, request, timeout=timeout))
    if method == "HEAD":
        assert resp.body == b"", (f"HEAD {target!r} -> {resp.status} carried a body: "
                                  f"{resp.body[:200]!r}")
    else:
        assert len(resp.body) == int(resp.headers["content-length"]), resp.raw[:300]
    return resp


def assert_serves(resp, method, expected):
    """A 200 carrying exactly `expected` (for HEAD: announcing its length)."""
    assert resp.status == 200, resp.raw[:300]
    assert int(resp.headers["content-length"]) == len(expected)
    if method == "GET":
        assert resp.body == expected


# ---- percent-decoding --------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", [
    "/%", "/%4", "/%zz", "/%g0", "/hello.txt%", "/hello.txt%2", "/%%34%31",
    "/%00", "/hello.txt%00", "/sub/%00/page.txt",
    "/%2f", "/%2F", "/sub%2fpage.txt", "/sub%2Fpage.txt", "/%2fhello.txt",
])
def test_invalid_escape_nul_or_encoded_slash_in_path_is_bad_request(
        start_server, tree, target, method):
    srv = start_server(tree.root)
    resp = fetch(srv, target, method)
    assert resp.status == 400
    tree.assert_no_secret(resp)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target, name", [
    ("/a+b.txt", "a+b.txt"),            # '+' is a plus in a path, not a space
    ("/a%2Bb.txt", "a+b.txt"),
    ("/a%2bb.txt", "a+b.txt"),
    ("/a%20b.txt", "a b.txt"),
    ("/caf%C3%A9.txt", "café.txt"),
    ("/caf%c3%a9.txt", "café.txt"),
    ("/%68ello.txt", "hello.txt"),       # any byte may be escaped
    ("/%2568ello.txt", "%68ello.txt"),   # decoded once: %25 is a literal '%'
    ("/sub/%70age.txt", "sub/page.txt"),
])
def test_path_is_percent_decoded_exactly_once(start_server, tree, target, name, method):
    srv = start_server(tree.root)
    assert_serves(fetch(srv, target, method), method, tree.content(name))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", [
    "/hello.txt?x=../../etc/passwd",
    "/hello.txt?/../../secret.txt",
    "/hello.txt?%zz",
    "/hello.txt?%00",
    "/hello.txt?x=%2f..%2f..%2fsecret.txt",
    "/hello.txt?",
    "/hello.txt#../../secret.txt",
    "/hello.txt?a=1#/../secret.txt",
])
def test_query_and_fragment_never_change_the_file_served(start_server, tree, target, method):
    srv = start_server(tree.root)
    resp = fetch(srv, target, method)
    assert_serves(resp, method, tree.content("hello.txt"))
    tree.assert_no_secret(resp)


def test_curl_fetches_plus_space_and_non_ascii_names(start_server, tree):
    srv = start_server(tree.root)
    for path, name in (("/a+b.txt", "a+b.txt"), ("/a%20b.txt", "a b.txt"),
                       ("/caf%C3%A9.txt", "café.txt")):
        out = subprocess.run(["curl", "-sS", "--max-time", "10", srv.url(path)],
                             capture_output=True, timeout=20, check=True).stdout
        assert out == tree.content(name), path


# ---- dot segments and traversal ----------------------------------------------------

LONG_NAME = "a" * 300                 # longer than NAME_MAX (255)
OVER_PATH_MAX = "/" + "a/" * 2100     # decodes to more than 4096 bytes
OVER_URL_MAX = "/" + "x" * 9000       # a request-target longer than 8 KiB
CLIMB_AFTER_LONG_WALK = "/" + "a/../" * 800 + "../etc/passwd"  # within limits, climbs at the end

# (target, expected status, file served for a 200). Each is sent byte-for-byte.
HOSTILE = [
    ("/../", 400, None),
    ("/..", 400, None),
    ("/../etc/passwd", 400, None),
    ("/../secret.txt", 400, None),
    ("/../../../secret.txt", 400, None),
    ("/a/../../etc/passwd", 400, None),
    ("/%2e%2e/", 400, None),
    ("/%2e%2e", 400, None),
    ("/%2E%2E/etc/passwd", 400, None),
    ("/.%2e/", 400, None),
    ("/.%2E/secret.txt", 400, None),
    ("/%2e./", 400, None),
    ("/..%2f..%2fetc%2fpasswd", 400, None),
    ("/%2e%2e%2fsecret.txt", 400, None),
    ("/sub/..%2F..%2Fetc/passwd", 400, None),
    ("/..%00/", 400, None),
    ("/%00", 400, None),
    ("/index.html%00.txt", 400, None),
    ("/hello.txt%00/../../secret.txt", 400, None),
    ("/./../", 400, None),
    ("/sub/../../", 400, None),
    ("/sub/./../../secret.txt", 400, None),
    ("/sub/%2e%2e/%2e%2e/etc/passwd", 400, None),
    ("/sub/%2E%2E/%2E%2E/secret.txt", 400, None),
    ("/%u002e%u002e/secret.txt", 400, None),   # IIS-style %u escape is not an escape
    (CLIMB_AFTER_LONG_WALK, 400, None),
    ("http://evil.example/../../etc/passwd", 400, None),
    ("http://127.0.0.1/../secret.txt", 400, None),
    ("HTTP://evil.example/%2e%2e/secret.txt", 400, None),
    ("http:///etc/passwd", 400, None),          # an http URI with an empty host
    ("\\..\\..\\etc\\passwd", 400, None),      # not origin-form
    ("..\\..\\secret.txt", 400, None),
    ("../../secret.txt", 400, None),
    ("etc/passwd", 400, None),
    ("*", 400, None),
    # Decoded once, these are ordinary names that do not exist inside the root.
    ("/..%5c..%5cetc%5cpasswd", 404, None),
    ("/..\\..\\secret.txt", 404, None),
    ("/%252e%252e/%252e%252e/etc/passwd", 404, None),
    ("/..%252f..%252fsecret.txt", 404, None),
    ("/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", 404, None),  # overlong UTF-8 is not '.'
    ("/%e0%80%ae%e0%80%ae/secret.txt", 404, None),
    ("/..;/secret.txt", 404, None),
    ("/.../secret.txt", 404, None),
    ("/..%2e/secret.txt", 404, None),
    ("//etc/passwd", 404, None),                # root/etc/passwd: not there
    ("/secret.txt", 404, None),
    ("/" + LONG_NAME, 404, None),
    (OVER_PATH_MAX, 414, None),
    (OVER_URL_MAX, 414, None),
    # These stay inside the root and are served.
    ("//hello.txt", 200, "hello.txt"),
    ("///hello.txt", 200, "hello.txt"),
    ("/./hello.txt", 200, "hello.txt"),
    ("/%2e/hello.txt", 200, "hello.txt"),
    ("/sub/../hello.txt", 200, "hello.txt"),
    ("/sub/%2e%2e/hello.txt", 200, "hello.txt"),
    ("/sub/.././sub/./page.txt", 200, "sub/page.txt"),
    ("/sub//page.txt", 200, "sub/page.txt"),
    ("http://evil.example/hello.txt", 200, "hello.txt"),
    ("http://evil.example//sub/../hello.txt", 200, "hello.txt"),
]


def _case_id(case):
    target = case[0]
    return target if len(target) <= 60 else f"{target[:30]}...({len(target)} bytes)"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target, status, served", HOSTILE, ids=[_case_id(c) for c in HOSTILE])
def test_hostile_target_gets_its_safe_status_and_never_a_secret(
        start_server, tree, target, status, served, method):
    srv = start_server(tree.root)
    resp = fetch(srv, target, method)
    tree.assert_no_secret(resp)
    assert resp.status == status, resp.raw[:300]
    if served is not None:
        assert_serves(resp, method, tree.content(served))


@pytest.mark.parametrize("target", ["/sub/..", "/sub/../", "/sub/%2e%2e", "/./"])
def test_dot_segments_ending_at_the_root_list_the_root(start_server, tree, target):
    srv = start_server(tree.root)
    resp = fetch(srv, target)
    assert resp.status == 200
    assert resp.content_type.startswith("text/html")
    assert b"hello.txt" in resp.body
    tree.assert_no_secret(resp)


def test_traversal_attempts_leave_the_server_answering(start_server, tree):
    srv = start_server(tree.root)
    for target, _, _ in HOSTILE:
        fetch(srv, target)
    assert_serves(fetch(srv, "/hello.txt"), "GET", tree.content("hello.txt"))


# ---- symlinks ------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", [
    "/out_abs.txt",             # absolute target outside
    "/out_rel.txt",             # ../secret.txt
    "/out_deep.txt",            # ../../../secret.txt
    "/out_passwd",              # /etc/passwd
    "/sub/out.txt",             # ../../secret.txt from a subdirectory
    "/outdir/secret.txt",       # directory symlink ../outside
    "/outdir_abs/secret.txt",   # directory symlink, absolute
    "/outdir/",
    "/outdir_abs/",
    "/outdir",
    "/loop",
])
def test_symlink_leading_out_of_the_root_is_refused(start_server, tree, target, method):
    srv = start_server(tree.root)
    resp = fetch(srv, target, method)
    tree.assert_no_secret(resp)
    assert resp.status in (403, 404), resp.raw[:300]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target, name", [
    ("/link.txt", "hello.txt"),
    ("/sub/up.txt", "hello.txt"),
    ("/chain.txt", "hello.txt"),
    ("/alias/page.txt", "sub/page.txt"),
    ("/alias/up.txt", "hello.txt"),
])
def test_symlink_staying_inside_the_root_is_followed(start_server, tree, target, name, method):
    srv = start_server(tree.root)
    assert_serves(fetch(srv, target, method), method, tree.content(name))


def test_directory_symlink_inside_the_root_is_listed(start_server, tree):
    srv = start_server(tree.root)
    resp = fetch(srv, "/alias/")
    assert resp.status == 200
    assert b"page.txt" in resp.body


def test_index_symlink_to_a_page_inside_the_root_is_served(start_server, tree):
    srv = start_server(tree.root)
    resp = fetch(srv, "/indexshared/")
    assert resp.status == 200
    assert resp.body == tree.content("home/index.html")


def test_index_symlink_leading_out_of_the_root_never_serves_the_secret(start_server, tree):
    srv = start_server(tree.root)
    for method in METHODS:
        resp = fetch(srv, "/indexleak/", method)
        tree.assert_no_secret(resp)
        # Without its index the directory may be listed or refused; either is safe.
        assert resp.status in (200, 403, 404)


# ---- missing, unreadable and special files -------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", [
    "/missing.txt", "/sub/missing.txt", "/nodir/x", "/hello.txt/x", "/link.txt/x",
    "/sub/page.txt/..x",
])
def test_missing_file_or_path_through_a_file_is_not_found(start_server, tree, target, method):
    srv = start_server(tree.root)
    assert fetch(srv, target, method).status == 404


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", ["/hello.txt/", "/sub/page.txt/", "/link.txt/"])
def test_file_requested_as_a_directory_is_not_found(start_server, tree, target, method):
    # open("hello.txt/") fails with ENOTDIR; a file is not a directory, and serving it
    # here would give it a second address where its relative links break.
    srv = start_server(tree.root)
    assert fetch(srv, target, method).status == 404


def _make_traversable_for_nobody(path):
    """chmod 0755 path and each parent up to (not including) /tmp."""
    p = Path(path)
    while p != Path("/tmp") and p != p.parent:
        p.chmod(0o755)
        p = p.parent


@pytest.fixture
def nobody_tree(tmp_path):
    """A world-readable root served by uid 65534, with one file, one directory and one
    unreadable directory that it may not read; returns (root, user_cmd)."""
    base = tmp_path / "nobody"
    root = base / "root"
    (root / "lockeddir").mkdir(parents=True)
    (root / "noread").mkdir()
    (root / "hello.txt").write_text(f"hello {secrets.token_hex(8)}\n")
    (root / "locked.txt").write_text(f"locked {secrets.token_hex(8)}\n")
    (root / "lockeddir" / "f.txt").write_text("in locked dir\n")
    (root / "noread" / "f.txt").write_text(f"traversable {secrets.token_hex(8)}\n")
    for p in (root, root / "lockeddir", root / "noread"):
        p.chmod(0o755)
    for f in ("hello.txt", "locked.txt", "lockeddir/f.txt", "noread/f.txt"):
        (root / f).chmod(0o644)
    (root / "locked.txt").chmod(0)
    (root / "lockeddir").chmod(0)
    (root / "noread").chmod(0o311)
    user_cmd = None
    if os.geteuid() == 0:
        # Root bypasses file permissions: serve as nobody, which must be able to reach
        # the root and write the access log beside it.
        os.chown(base, NOBODY, NOBODY)
        _make_traversable_for_nobody(base)
        user_cmd = SETPRIV
    yield root, user_cmd
    (root / "lockeddir").chmod(0o755)
    (root / "noread").chmod(0o755)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", ["/locked.txt", "/lockeddir/", "/lockeddir/f.txt",
                                    "/noread/"])
def test_unreadable_file_or_directory_is_forbidden(start_server, nobody_tree, target, method):
    root, user_cmd = nobody_tree
    srv = start_server(root, user_cmd=user_cmd)
    resp = fetch(srv, target, method)
    assert resp.status == 403, resp.raw[:300]
    # The same server does read what it may: the refusal is about permissions.
    assert_serves(fetch(srv, "/hello.txt", method), method, (root / "hello.txt").read_bytes())


def test_file_in_traversable_but_unreadable_directory_is_served(start_server, nobody_tree):
    root, user_cmd = nobody_tree
    srv = start_server(root, user_cmd=user_cmd)
    assert_serves(fetch(srv, "/noread/f.txt"), "GET", (root / "noread" / "f.txt").read_bytes())


@pytest.mark.parametrize("method", METHODS)
def test_fifo_is_forbidden_without_blocking_the_server(start_server, tree, method):
    srv = start_server(tree.root)
    started = time.monotonic()
    resp = fetch(srv, "/pipe", method, timeout=5.0)
    assert resp.status == 403
    assert_serves(fetch(srv, "/hello.txt", method, timeout=5.0), method,
                  tree.content("hello.txt"))
    assert time.monotonic() - started < 5.0


def test_fifo_does_not_stall_a_keep_alive_connection(start_server, tree):
    srv = start_server(tree.root)
    conn = srv.http(timeout=5.0)
    try:
        conn.request("GET", "/pipe")
        r = conn.getresponse()
        r.read()
        assert r.status == 403
        conn.request("GET", "/hello.txt")
        r = conn.getresponse()
        assert r.status == 200
        assert r.read() == tree.content("hello.txt")
    finally:
        conn.close()


# ---- directories: redirects, index pages, listings -----------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target, location", [
    ("/sub", "/sub/"),
    ("/sub?a=1", "/sub/?a=1"),
    ("/sub?a=1&b=%20", "/sub/?a=1&b=%20"),
    ("/my%20dir", "/my%20dir/"),
    ("/my%20dir?q=x", "/my%20dir/?q=x"),
    ("/alias", "/alias/"),
    ("/home", "/home/"),
    ("/evil.example/dir", "/evil.example/dir/"),
    # CVE-2021-28861: "//host/..." in a Location is a redirect to another host.
    ("//evil.example/dir", "/evil.example/dir/"),
    ("///evil.example/dir", "/evil.example/dir/"),
    ("//evil.example/dir?next=//x", "/evil.example/dir/?next=//x"),
    ("http://127.0.0.1//evil.example/dir", "/evil.example/dir/"),
])
def test_directory_without_trailing_slash_redirects_to_it(
        start_server, tree, target, location, method):
    srv = start_server(tree.root)
    resp = fetch(srv, target, method)
    assert resp.status == 301, resp.raw[:300]
    assert resp.headers["location"] == location
    assert not resp.headers["location"].startswith("//")


@pytest.mark.parametrize("args, cache_control", [
    ((), "no-cache"),
    (("--max-age", "600"), "public, max-age=600"),
])
def test_directory_redirect_has_the_same_cache_control_as_files(start_server, tree, args,
                                                               cache_control):
    # A 301 without Cache-Control is cached as long as a browser likes (RFC 9110
    # §15.4.2); with the files' policy it is revalidated like them.
    srv = start_server(tree.root, *args)
    resp = fetch(srv, "/sub")
    assert resp.status == 301, resp.raw[:300]
    assert resp.headers["cache-control"] == cache_control
    assert fetch(srv, "/sub/page.txt").headers["cache-control"] == cache_control


def test_redirect_with_a_query_near_the_url_limit_keeps_it_whole(start_server, tree):
    # A Location of almost 8 KiB plus the other fields once overflowed the response head
    # buffer and went out cut short (found by fuzz_request).
    srv = start_server(tree.root)
    query = "q=" + "a" * (8192 - len("/sub?q=") - 1)
    resp = fetch(srv, f"/sub?{query}")
    assert resp.status == 301, resp.raw[:300]
    assert resp.headers["location"] == f"/sub/?{query}"
    assert int(resp.headers["content-length"]) == len(resp.body)


@pytest.mark.parametrize("target", ["/\\evil.example/dir", "//\\evil.example/dir"])
def test_redirect_location_never_starts_with_slash_backslash(start_server, tree, target):
    # Browsers read "\" as "/" in http URLs (WHATWG URL), so a Location of
    # "/\evil.example/dir/" sends them to the host evil.example: the same open
    # redirect as "//evil.example/dir/".
    srv = start_server(tree.root)
    resp = fetch(srv, target)
    assert resp.status == 301, resp.raw[:300]
    location = resp.headers["location"]
    assert location.startswith("/")
    assert location[1:2] not in ("/", "\\"), location
    # The Location still names that directory.
    followed = fetch(srv, location)
    assert followed.status == 200
    assert b"inside.txt" in followed.body


def test_curl_follows_directory_redirect_on_the_same_host(start_server, tree):
    srv = start_server(tree.root)
    out = subprocess.run(
        ["curl", "-sS", "--path-as-is", "--max-time", "10", "-o", "/dev/null",
         "-w", "%{http_code} %{redirect_url}", srv.url("//evil.example/dir")],
        capture_output=True, text=True, timeout=20, check=True).stdout
    assert out == f"301 {srv.url('/evil.example/dir/')}"
    out = subprocess.run(
        ["curl", "-sS", "-L", "--path-as-is", "--max-time", "10",
         "-w", "\n%{http_code} %{url_effective}", srv.url("//evil.example/dir")],
        capture_output=True, text=True, timeout=20, check=True).stdout
    assert out.endswith(f"\n200 {srv.url('/evil.example/dir/')}")
    assert "inside.txt" in out


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("args", [(), ("--no-listing",)])
def test_directory_with_index_html_serves_it(start_server, tree, args, method):
    srv = start_server(tree.root, *args)
    resp = fetch(srv, "/home/", method)
    assert_serves(resp, method, tree.content("home/index.html"))
    assert resp.content_type.startswith("text/html")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target, entry", [("/", "hello.txt"), ("/sub/", "page.txt"),
                                           ("/my%20dir/", "inside.txt")])
def test_directory_without_index_is_listed_by_default(start_server, tree, target, entry, method):
    srv = start_server(tree.root)
    resp = fetch(srv, target, method)
    assert resp.status == 200
    assert resp.content_type.startswith("text/html")
    if method == "GET":
        assert entry.encode() in resp.body


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", ["/", "/sub/", "/my%20dir/", "/alias/"])
def test_directory_without_index_is_forbidden_with_no_listing(start_server, tree, target, method):
    srv = start_server(tree.root, "--no-listing")
    assert fetch(srv, target, method).status == 403


# ---- dotfiles ------------------------------------------------------------------------

DOTFILES = [(".env", "/.env"), (".git/config", "/.git/config"),
            ("sub/.hidden", "/sub/.hidden"), (".env", "/%2eenv"),
            (".git/config", "/%2Egit/config"), (".env", "/.well-known/../.env")]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name, target", DOTFILES)
def test_dotfile_is_not_found_by_default(start_server, tree, name, target, method):
    srv = start_server(tree.root)
    resp = fetch(srv, target, method)
    assert resp.status == 404
    assert tree.content(name) not in resp.raw


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", ["/.git", "/.git/", "/sub/.nothere"])
def test_dot_directory_is_not_found_by_default(start_server, tree, target, method):
    srv = start_server(tree.root)
    assert fetch(srv, target, method).status == 404


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name, target", DOTFILES)
def test_dotfile_is_served_with_dotfiles_option(start_server, tree, name, target, method):
    srv = start_server(tree.root, "--dotfiles")
    assert_serves(fetch(srv, target, method), method, tree.content(name))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("args", [(), ("--dotfiles",)])
def test_well_known_is_always_served(start_server, tree, args, method):
    srv = start_server(tree.root, *args)
    assert_serves(fetch(srv, "/.well-known/security.txt", method), method,
                  tree.content(".well-known/security.txt"))


def test_listing_shows_dotfiles_only_with_dotfiles_option(start_server, tree):
    hidden = start_server(tree.root)
    body = fetch(hidden, "/").body
    assert b"hello.txt" in body
    assert b".env" not in body and b".git" not in body
    shown = start_server(tree.root, "--dotfiles")
    body = fetch(shown, "/").body
    assert b".env" in body and b".git" in body


@pytest.mark.parametrize("kind", ["symlink_out_of_root", "directory"])
def test_index_that_exists_but_cannot_be_served_is_403_not_a_listing(start_server, tmp_path, kind):
    # Only a missing index.html means "list the directory": one that is there but cannot
    # be served must not reveal what it stands in front of.
    root = tmp_path / "ix"
    (root / "d").mkdir(parents=True)
    (root / "d" / "private-name.txt").write_text("x")
    (tmp_path / "outside.html").write_text("outside")
    if kind == "symlink_out_of_root":
        (root / "d" / "index.html").symlink_to(tmp_path / "outside.html")
    else:
        (root / "d" / "index.html").mkdir()
    srv = start_server(root)
    resp = fetch(srv, "/d/")
    assert resp.status == 403
    assert b"private-name" not in resp.body and b"outside" not in resp.body
