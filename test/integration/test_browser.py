"""A real browser against sluice: headless Chromium, driven over the DevTools protocol
(test/integration/cdp.py), renders the project's own www/ docs and a directory listing,
screenshots them into the test artifacts, and downloads a 64 MiB file, and a directory
as one .tar from its listing's link, through its download manager, which must save
exactly the bytes on disk.

Needs Debian's chromium package; when it is missing or cannot start, the tests fail."""

import hashlib
import html
import json
import os
import re
import shutil
import struct
import tarfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import cdp
from conftest import ARTIFACTS

WWW = Path(__file__).resolve().parents[2] / "www"
DOCS_PAGES = sorted(p.name for p in WWW.glob("*.html"))
DOWNLOAD_SIZE = 64 * 1024 * 1024
VIEWPORT_WIDTH = int(re.search(r"--window-size=(\d+)", " ".join(cdp.FLAGS)).group(1))

# Fetches the target of the page's link to a (decoded) path: [status, sha256 hex].
FETCH_LINK_SHA256 = """(async (path) => {
  const link = [...document.querySelectorAll('a')]
      .find(a => decodeURIComponent(new URL(a.href).pathname) === path);
  const response = await fetch(link.href);
  const digest = await crypto.subtle.digest('SHA-256', await response.arrayBuffer());
  return [response.status,
          [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('')];
})"""


@pytest.fixture
def www(tmp_path):
    """A copy of the repository's www/ site."""
    return Path(shutil.copytree(WWW, tmp_path / "www"))


def save_artifact(name, png):
    """Writes a screenshot into the artifacts directory after checking it is a PNG of
    the viewport's width; returns its path."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "screenshot is not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    assert width == VIEWPORT_WIDTH and height > 0, (width, height)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(png)
    return path


def html_title(path):
    """The text of a page's <title>, as a browser reports document.title."""
    m = re.search(r"<title>(.*?)</title>", path.read_text(encoding="utf-8"), re.S)
    return " ".join(html.unescape(m.group(1)).split())


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def chromium_download(browser, saved_dir, start):
    """Lets Chromium save downloads into saved_dir, calls start() to begin one, and waits
    for it to end: returns the Browser.downloadWillBegin and final downloadProgress
    events' parameters."""
    browser.call("Browser.setDownloadBehavior", browser=True, behavior="allow",
                 downloadPath=str(saved_dir), eventsEnabled=True)
    try:
        browser.events.clear()
        start()
        begin = browser.wait_event("Browser.downloadWillBegin", timeout=30)
        done = browser.wait_event(
            "Browser.downloadProgress", timeout=60,
            where=lambda p: p["guid"] == begin["guid"] and p["state"] != "inProgress")
    finally:
        browser.call("Browser.setDownloadBehavior", browser=True, behavior="default")
    return begin, done


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_docs_page_renders_in_chromium_with_its_title_stylesheet_and_images(
        browser, start_server, www, page):
    srv = start_server(www)
    url = srv.url("/") if page == "index.html" else srv.url(f"/{page}")
    browser.navigate(url)

    assert browser.evaluate("document.title") == html_title(www / page)
    assert browser.evaluate("document.contentType") == "text/html"
    # Every stylesheet arrived and parsed as CSS (a wrong type or body leaves no rules).
    sheets = browser.evaluate(
        "[...document.styleSheets].map(s => [new URL(s.href || location).pathname,"
        " s.cssRules.length])")
    linked = re.findall(r'<link rel="stylesheet" href="([^"]+)"', (www / page).read_text())
    assert sorted(p for p, _ in sheets) == sorted(f"/{h}" for h in linked)
    assert all(rules > 0 for _, rules in sheets), sheets
    # Every image decoded (an SVG served with the wrong type does not).
    images = browser.evaluate(
        "Promise.all([...document.images].map(i => i.decode().then(() => [i.src, true],"
        " () => [i.src, false])))")
    assert all(ok for _, ok in images), images

    save_artifact(f"browser-docs-{Path(page).stem}.png", browser.screenshot())


def test_directory_listing_renders_in_chromium_with_working_links_to_every_entry(
        browser, start_server, www):
    downloads = www / "downloads"
    assert not (downloads / "index.html").exists()
    (downloads / "nightly builds").mkdir()
    (downloads / "notes & ünïcode #1.txt").write_text("release notes\n", encoding="utf-8")
    entries = {p.name: p for p in downloads.iterdir()}
    srv = start_server(www)
    browser.navigate(srv.url("/downloads/"))

    assert browser.evaluate("document.title") == "Index of /downloads/"
    links = browser.evaluate("[...document.querySelectorAll('a')].map(a => a.href)")
    paths = {unquote(urlsplit(href).path) for href in links}
    assert "/" in paths, "no link to the parent directory"
    for name, path in entries.items():
        assert f"/downloads/{name}" + ("/" if path.is_dir() else "") in paths, (name, links)
    # The archive's link: this directory with the query "tar".
    assert srv.url("/downloads/?tar") in links, links
    assert len(paths) == len(entries) + 2, links
    # Following each file link from the page gets that file's bytes.
    for name, path in entries.items():
        if path.is_file():
            got = browser.evaluate(f"{FETCH_LINK_SHA256}({json.dumps('/downloads/' + name)})")
            assert got == [200, sha256_of(path)], name

    save_artifact("browser-listing.png", browser.screenshot())


def test_chromium_download_manager_saves_64_mib_file_byte_for_byte(
        browser, start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    original = root / "big.bin"
    with open(original, "wb") as f:
        for _ in range(DOWNLOAD_SIZE // (1 << 20)):
            f.write(os.urandom(1 << 20))
    saved_dir = tmp_path / "saved"
    saved_dir.mkdir()
    srv = start_server(root)
    url = srv.url("/big.bin?download")
    begin, done = chromium_download(
        browser, saved_dir, lambda: browser.call("Page.navigate", url=url))
    assert begin["suggestedFilename"] == "big.bin"
    assert done["state"] == "completed", done
    assert done["receivedBytes"] == done["totalBytes"] == DOWNLOAD_SIZE, done
    assert sorted(p.name for p in saved_dir.iterdir()) == ["big.bin"]
    assert sha256_of(saved_dir / "big.bin") == sha256_of(original)


def test_chromium_saves_a_directory_as_tar_from_the_listing_link(browser, start_server,
                                                                 tmp_path):
    """The listing's "Download as .tar" link, clicked: the download manager saves
    album.tar, of the announced length, byte for byte the archive, whose members are the
    files."""
    root = tmp_path / "root"
    album = root / "album"
    (album / "sub").mkdir(parents=True)
    files = {"photo.jpg": os.urandom(3 << 20), "sub/notes.txt": b"notes\n",
             "\u00fcn\u00efcode.txt": "caf\u00e9\n".encode()}
    for rel, data in files.items():
        (album / rel).write_bytes(data)
    saved_dir = tmp_path / "saved"
    saved_dir.mkdir()
    srv = start_server(root)
    browser.navigate(srv.url("/album/"))
    begin, done = chromium_download(
        browser, saved_dir, lambda: browser.evaluate("document.querySelector('p.tar a').click()"))
    assert begin["suggestedFilename"] == "album.tar"

    conn = srv.http()
    conn.request("GET", "/album/?tar")
    archive = conn.getresponse().read()
    conn.close()
    assert done["state"] == "completed", done
    assert done["receivedBytes"] == done["totalBytes"] == len(archive), done
    assert sorted(p.name for p in saved_dir.iterdir()) == ["album.tar"]
    assert (saved_dir / "album.tar").read_bytes() == archive
    with tarfile.open(saved_dir / "album.tar") as t:
        for rel, data in files.items():
            assert t.extractfile(f"album/{rel}").read() == data, rel
