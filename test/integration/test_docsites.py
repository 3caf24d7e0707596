"""Real documentation sites, built during the test run with Debian's python3-sphinx (html
builder) and mkdocs, served by sluice and used in headless Chromium (test/integration/cdp.py):
pages load with their stylesheets, the site's own search finds the page with a distinctive
word, a missing page gets the site's own 404 page, and a rebuild from scratch (rm -rf the
output, build again) while sluice runs is answered with 503 while the output is missing and
served again within 2 s of the build finishing. Screenshots go into the test artifacts.

Needs Debian's python3-sphinx, mkdocs and chromium (./dev test installs them); when one is
missing the tests fail."""

import os
import shutil
import subprocess
import time

import pytest

import cdp
from conftest import SLOWDOWN, wait_for
from test_browser import html_title, save_artifact

SPHINX_BUILD = "/usr/bin/sphinx-build"  # Debian's python3-sphinx
MKDOCS = "/usr/bin/mkdocs"              # Debian's mkdocs
WORD = "sluicewidget"                   # in one page of each site, nowhere else
# sluice re-checks its root at most once a second (per event loop).
ROOT_CHECK_S = 1.0
SERVED_AGAIN_S = 2.0 * SLOWDOWN

# Status of the page's own navigation response (what the browser got for the document).
NAV_STATUS = "performance.getEntriesByType('navigation')[0].responseStatus"
# Every stylesheet of the page: [path, number of CSS rules] (a sheet that did not arrive
# or did not parse as CSS has none).
STYLESHEETS = ("[...document.styleSheets].map(s => [new URL(s.href || location).pathname,"
               " s.cssRules.length])")
# The decoded paths of the links in the elements matching a selector.
LINK_PATHS = ("(sel) => [...document.querySelectorAll(sel + ' a')]"
              ".map(a => decodeURIComponent(new URL(a.href).pathname))")


def run_tool(cmd, package, cwd):
    """Runs a documentation build; fails the test with its output when it does not succeed."""
    assert os.access(cmd[0], os.X_OK), f"{cmd[0]} not found: apt-get install -y {package}"
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n"
                                  f"{done.stdout}{done.stderr}")


class SphinxSite:
    """A small Sphinx project in src, built with the html builder into out. Sphinx's html
    builder makes no 404 page of its own."""
    kind = "sphinx"
    site_name = "Sluice Sphinx Test"
    word_page = "/widgets.html"          # the page with WORD
    unvisited_page = "/genindex.html"    # a page the tests never load before a rebuild
    missing_page = "/no/such/page.html"

    def __init__(self, base):
        self.src, self.out = base / "src", base / "out"
        self.src.mkdir(parents=True)

    def build(self, edition):
        """Writes the sources (the word page says which edition it is) and builds them."""
        (self.src / "conf.py").write_text(f'project = "{self.site_name}"\n'
                                          'html_theme = "alabaster"\n')
        (self.src / "index.rst").write_text(
            f"{self.site_name}\n{'=' * len(self.site_name)}\n\n"
            ".. toctree::\n\n   widgets\n\nHome page of the Sphinx test site.\n")
        (self.src / "widgets.rst").write_text(
            f"Widgets\n=======\n\nThe {WORD} lives here. This is edition {edition}.\n")
        run_tool([SPHINX_BUILD, "-q", "-b", "html", self.src, self.out], "python3-sphinx",
                 self.src)


class MkDocsSite:
    """A small MkDocs project (default theme "mkdocs": search plugin, 404.html) in src,
    built into out."""
    kind = "mkdocs"
    site_name = "Sluice MkDocs Test"
    word_page = "/other/"
    unvisited_page = "/sitemap.xml"
    missing_page = "/no/such/page/"

    def __init__(self, base):
        self.src, self.out = base / "project", base / "project" / "site"
        (self.src / "docs").mkdir(parents=True)

    def build(self, edition):
        # The theme loads highlight.js from a CDN unless told not to; the site must not
        # need the network.
        (self.src / "mkdocs.yml").write_text(
            f"site_name: {self.site_name}\ntheme:\n  name: mkdocs\n  highlightjs: false\n")
        (self.src / "docs" / "index.md").write_text(
            "# Welcome\n\nHome page of the MkDocs test site.\n")
        (self.src / "docs" / "other.md").write_text(
            f"# Other\n\nThe {WORD} lives here. This is edition {edition}.\n")
        run_tool([MKDOCS, "build", "-q", "-d", self.out], "mkdocs", self.src)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium for the module, its HTTP cache off so that every navigation
    reaches sluice; closed (with all its helpers) at the end."""
    chromium = cdp.Chromium(tmp_path_factory.mktemp("chromium"))
    try:
        chromium.call("Page.enable")
        chromium.call("Runtime.enable")
        chromium.call("Network.enable")
        chromium.call("Network.setCacheDisabled", cacheDisabled=True)
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def sphinx_site(tmp_path):
    site = SphinxSite(tmp_path / "sphinx")
    site.build(edition=1)
    return site


@pytest.fixture
def mkdocs_site(tmp_path):
    site = MkDocsSite(tmp_path / "mkdocs")
    site.build(edition=1)
    return site


@pytest.fixture(params=["sphinx", "mkdocs"])
def docsite(request):
    """Each kind of site, built once (edition 1)."""
    return request.getfixturevalue(f"{request.param}_site")


def page_text(browser):
    return browser.evaluate("document.body.innerText")


def assert_stylesheets_loaded(browser, root):
    """Every stylesheet of the page arrived and parsed as CSS: it has rules unless its file
    under root has none (the alabaster theme's custom.css is only a comment)."""
    sheets = browser.evaluate(STYLESHEETS)
    assert sheets, "the page has no stylesheets"
    for path, rules in sheets:
        has_rules = "{" in (root / path.lstrip("/")).read_text(encoding="utf-8")
        assert (rules > 0) == has_rules, (path, rules, sheets)


def get(srv, path):
    """(status, Retry-After or None) of a plain GET on a new connection."""
    conn = srv.http()
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After")
    finally:
        conn.close()


def test_built_site_home_page_renders_in_chromium_with_its_title_and_stylesheets(
        browser, start_server, docsite):
    srv = start_server(docsite.out)
    browser.navigate(srv.url("/"))

    assert browser.evaluate(NAV_STATUS) == 200
    title = browser.evaluate("document.title")
    assert title == html_title(docsite.out / "index.html")
    assert docsite.site_name in title
    assert_stylesheets_loaded(browser, docsite.out)

    save_artifact(f"docsites-{docsite.kind}-home.png", browser.screenshot())


def test_sphinx_search_page_lists_the_page_with_the_word_and_a_summary_from_it(
        browser, start_server, sphinx_site):
    srv = start_server(sphinx_site.out)
    # search.html loads searchindex.js, searches it, then fetches each hit for its summary.
    browser.navigate(srv.url(f"/search.html?q={WORD}"))

    wait_for(lambda: browser.evaluate(
        "(document.querySelector('#search-results p.search-summary') || {}).innerText || ''"
    ).startswith("Search finished"), what="Sphinx search to finish")
    assert browser.evaluate(f"({LINK_PATHS})('#search-results li')") == [sphinx_site.word_page]
    summary = wait_for(lambda: browser.evaluate(
        "(document.querySelector('#search-results li p.context') || {}).textContent"),
        what="the summary of the hit")
    assert WORD in summary and "edition 1" in summary, summary

    save_artifact("docsites-sphinx-search.png", browser.screenshot())


def test_mkdocs_search_modal_lists_the_page_with_the_word_typed_into_it(
        browser, start_server, mkdocs_site):
    srv = start_server(mkdocs_site.out)
    browser.navigate(srv.url("/"))
    # The navbar's Search link opens the theme's search modal.
    browser.evaluate("document.querySelector('a[data-target=\"#mkdocs_search_modal\"]').click()")
    wait_for(lambda: browser.evaluate(
        "document.getElementById('mkdocs_search_modal').classList.contains('show')"),
        what="the search modal to open")
    browser.evaluate("document.getElementById('mkdocs-search-query').focus()")
    for ch in WORD:
        browser.call("Input.dispatchKeyEvent", type="keyDown", key=ch, text=ch)
        browser.call("Input.dispatchKeyEvent", type="keyUp", key=ch)
    assert browser.evaluate("document.getElementById('mkdocs-search-query').value") == WORD

    def hits():
        found = browser.evaluate(f"({LINK_PATHS})('#mkdocs-search-results article')")
        if not found:
            # The theme listens for keyup only once its worker has fetched lunr.js and
            # search/search_index.json; a key pressed before that is not seen, so press
            # one that leaves the text as it is, as a user would.
            browser.call("Input.dispatchKeyEvent", type="keyDown", key="End", code="End",
                         windowsVirtualKeyCode=35)
            browser.call("Input.dispatchKeyEvent", type="keyUp", key="End", code="End",
                         windowsVirtualKeyCode=35)
        return found

    found = wait_for(hits, interval=0.1, what="MkDocs search results")
    assert set(found) == {mkdocs_site.word_page}, found

    save_artifact("docsites-mkdocs-search.png", browser.screenshot())


def open_missing_page(browser, start_server, site):
    """Serves site and opens a page it does not have: the navigation's status is 404."""
    srv = start_server(site.out)
    browser.navigate(srv.url(site.missing_page))
    assert browser.evaluate(NAV_STATUS) == 404


def test_mkdocs_missing_page_shows_the_site_own_404_page_with_status_404(
        browser, start_server, mkdocs_site):
    open_missing_page(browser, start_server, mkdocs_site)
    assert browser.evaluate("document.title") == html_title(mkdocs_site.out / "404.html")
    assert browser.evaluate("document.querySelector('h1').innerText") == "404"
    assert "Page not found" in page_text(browser)
    # The theme's 404 page links its stylesheets by absolute path, so they load from any
    # depth of missing URL.
    assert_stylesheets_loaded(browser, mkdocs_site.out)

    save_artifact("docsites-mkdocs-404.png", browser.screenshot())


def test_sphinx_missing_page_gets_status_404_from_sluice_as_sphinx_builds_no_404_page(
        browser, start_server, sphinx_site):
    assert not (sphinx_site.out / "404.html").exists()
    open_missing_page(browser, start_server, sphinx_site)
    assert browser.evaluate("document.contentType") == "text/html"

    save_artifact("docsites-sphinx-404.png", browser.screenshot())


def serve_first_edition(browser, start_server, docsite):
    """Serves docsite's output and shows one of its pages, of edition 1, in the browser."""
    srv = start_server(docsite.out)
    browser.navigate(srv.url(docsite.word_page))
    assert browser.evaluate(NAV_STATUS) == 200
    assert "edition 1" in page_text(browser)
    return srv


def test_every_request_gets_503_with_retry_after_while_the_output_directory_is_missing(
        browser, start_server, docsite):
    srv = serve_first_edition(browser, start_server, docsite)

    shutil.rmtree(docsite.out)
    gone = time.monotonic()
    # Requests right after the removal (before sluice's once-a-second check of its root
    # can have run) and after it: a page just loaded, one never loaded, a missing one.
    # Holding the gap open past one check is the point here, so the loop runs for a time.
    seen = []
    while (elapsed := time.monotonic() - gone) < ROOT_CHECK_S * SLOWDOWN + 0.5:
        for path in (docsite.word_page, docsite.unvisited_page, docsite.missing_page):
            seen.append((round(elapsed, 3), path, *get(srv, path)))
        time.sleep(0.05)
    # A page served a moment ago may still come from sluice's file cache (a hit does not
    # check the root: at most once a second), but only until the first 503: a request
    # that misses the cache checks the root at once, so nothing is ever a 404.
    first_503 = next((i for i, s in enumerate(seen) if s[2:] == (503, "1")), len(seen))
    wrong = [s for i, s in enumerate(seen) if s[2:] != (503, "1") and not (
        i < first_503 and s[1] == docsite.word_page and s[2] == 200)]
    assert not wrong, (f"{len(wrong)} of {len(seen)} requests while {docsite.out} was missing "
                       f"did not get 503 with Retry-After: 1 (seconds after removal, path, "
                       f"status, Retry-After): {wrong}")
    assert first_503 < 3, seen[:6]  # the first page never served before already says 503

    browser.navigate(srv.url(docsite.word_page))
    assert browser.evaluate(NAV_STATUS) == 503


def test_site_rebuilt_from_scratch_is_served_again_within_2_s_of_the_build_finishing(
        browser, start_server, docsite):
    srv = serve_first_edition(browser, start_server, docsite)

    shutil.rmtree(docsite.out)
    docsite.build(edition=2)
    built = time.monotonic()
    last = []

    def served_again():
        browser.navigate(srv.url(docsite.word_page))
        last[:] = [browser.evaluate(NAV_STATUS), page_text(browser)]
        return last[0] == 200 and "edition 2" in last[1]

    try:
        wait_for(served_again, timeout=SERVED_AGAIN_S, interval=0.02,
                 what=f"{docsite.word_page} of the new build")
    except AssertionError as e:
        raise AssertionError(f"{e}; last answer: status {last[0]}, text {last[1][:300]!r}")
    took = time.monotonic() - built
    assert took <= SERVED_AGAIN_S, took
    assert_stylesheets_loaded(browser, docsite.out)
    # The rest of the new tree is served too: its home page and a page not loaded before.
    browser.navigate(srv.url("/"))
    assert browser.evaluate(NAV_STATUS) == 200
    assert get(srv, docsite.unvisited_page)[0] == 200


# ---- what a docs tree holds besides HTML ----

SOURCE_FILES = {
    "config.yaml": b"site_name: sluice\nnav:\n  - Home: index.md\n",
    "build.py": b"#!/usr/bin/env python3\nprint('building the docs')\n",
    "pyproject.toml": b"[project]\nname = \"sluice-docs\"\n",
    "README.md": b"# sluice docs\n\nRead *me* first.\n",
}


@pytest.mark.parametrize("name", sorted(SOURCE_FILES))
def test_chromium_shows_source_and_config_files_instead_of_downloading_them(
        browser, start_server, tmp_path, name):
    root = tmp_path / "root"
    root.mkdir()
    (root / name).write_bytes(SOURCE_FILES[name])
    srv = start_server(root)
    browser.call("Browser.setDownloadBehavior", browser=True, behavior="deny",
                 eventsEnabled=True)
    try:
        browser.events.clear()
        browser.navigate(srv.url("/" + name))
        shown = page_text(browser)
    finally:
        browser.call("Browser.setDownloadBehavior", browser=True, behavior="default")
    assert not [e for e in browser.events if e.get("method") == "Browser.downloadWillBegin"]
    assert browser.evaluate(NAV_STATUS) == 200
    assert shown.strip() == SOURCE_FILES[name].decode().strip()


def test_chromium_decodes_a_latin1_page_with_the_charset_it_declares(
        browser, start_server, tmp_path):
    # The shape of Debian's libxslt docs: an old page that declares ISO-8859-1 in a meta
    # and is written in it; a header saying utf-8 would show "St\ufffdphane".
    root = tmp_path / "root"
    root.mkdir()
    (root / "old.html").write_bytes(
        b'<html><head><meta http-equiv="Content-Type" content="text/html; '
        b'charset=ISO-8859-1"><title>old</title></head><body>St\xe9phane</body></html>')
    srv = start_server(root)
    browser.navigate(srv.url("/old.html"))
    assert browser.evaluate("document.characterSet") == "windows-1252"
    assert page_text(browser).strip() == "St\u00e9phane"
