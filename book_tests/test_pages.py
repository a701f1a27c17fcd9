"""The built book in a real browser (headless Chromium): every page displays offline and is complete.

Run after ``make book``: ``python -m pytest -q book_tests``. For every HTML
page of ``_build/html``: MathJax has typeset every formula (no TeX delimiter
is left in the text), every image has loaded, nothing was logged as an error,
every link into the book reaches a file, and no table or code block is wider
than the page at 1400 px. No table shows a column's code name, a bare
True/False or a header row holding only the index's name (``mgmtn.tables``).
Every executed page opens with its reproduce box. The search page finds "mask".
``BOOK_HTML`` points elsewhere; ``CHROMIUM`` names the browser binary.
"""

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright to check the book in a browser")

HTML = Path(os.environ.get("BOOK_HTML", Path(__file__).resolve().parents[1] / "build" / "_build" / "html"))
BROWSER = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts and "Refresh" not in p.read_text()[:200])
TEX_LEFT = ("$$", "\\(", "\\[", "\\begin{", "\\frac")
WIDTH = 1400
# Column names of the code that a reader's table must not show (mgmtn.tables.HEADERS words them).
CODE_NAMES = ("tuned_accuracy", "tuned_mA", "midpoint_accuracy", "midpoint_mA", "train_images", "train_minutes",
              "mean_f1", "image_size", "select_by_person", "mask_scale", "celeba_accuracy", "lfwa_accuracy", "acc @0.5")
NOTEBOOK_PAGES = [p for p in PAGES if p.parent.name == "notebooks"]

pytestmark = [pytest.mark.skipif(not PAGES, reason=f"no built book at {HTML} (make book)"),
              pytest.mark.skipif(BROWSER is None, reason="no chromium on PATH (apt-get install chromium)")]


@pytest.fixture(scope="module")
def site():
    """The book served on the loopback interface, as a reader's local server would (search needs HTTP)."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(site):
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
        chromium.site = site
        yield chromium
        chromium.close()


def open_page(browser, path: Path, query: str = ""):
    """The page loaded (math typeset where it has any) and the errors it logged."""
    page = browser.new_page(viewport={"width": WIDTH, "height": 900})
    errors = []
    # A failed load is reported with its address by the response listener; the browser's own favicon probe is not
    # the book's.
    page.on("console", lambda message: errors.append(message.text) if message.type == "error"
            and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"{request.url}: {request.failure}"))
    page.on("response", lambda response: errors.append(f"{response.url}: {response.status}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico") else None)
    page.goto(browser.site + path.relative_to(HTML).as_posix() + query, wait_until="load")
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    return page, errors


@pytest.mark.parametrize("path", PAGES, ids=[str(p.relative_to(HTML)) for p in PAGES])
def test_page_displays_completely_offline(browser, path):
    page, errors = open_page(browser, path)
    text = page.evaluate("""() => { const copy = document.body.cloneNode(true);
        copy.querySelectorAll('pre, code, script, style, mjx-container').forEach(node => node.remove());
        return copy.innerText; }""")
    left = [mark for mark in TEX_LEFT if mark in text]
    broken = page.evaluate("() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                           ".map(i => i.getAttribute('src'))")
    links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    # At the book's width no table or code block is cut or scrolls sideways: it fits its own box and the column.
    wide = page.evaluate("""() => { const main = document.querySelector('main') || document.body;
        const edge = main.getBoundingClientRect().right + 1;
        return [...main.querySelectorAll('table, pre')]
            .filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > edge)
            .map(e => `${e.tagName} ${e.scrollWidth}px in ${e.clientWidth}px: ${e.innerText.slice(0, 60)}`); }""")
    page.close()
    own = [urlparse(link) for link in links if link.startswith(browser.site)]
    missing = sorted({url.path for url in own if not (HTML / unquote(url.path).lstrip("/")).exists()})
    assert not left, f"TeX left untypeset: {left}"
    assert not broken, f"images that did not load: {broken}"
    assert not errors, f"errors logged: {errors}"
    assert not missing, f"links to missing files: {missing}"
    assert not wide, f"wider than the page at {WIDTH} px: {wide}"


def test_the_front_page_leads_into_the_book(browser):
    page = browser.new_page()
    page.goto(browser.site + "index.html")
    page.wait_for_url(lambda url: not url.endswith("/index.html"), timeout=10_000)  # its refresh to the first page
    landed = page.url
    page.close()
    assert (HTML / unquote(urlparse(landed).path).lstrip("/")).is_file()


def test_search_finds_mask(browser):
    page, errors = open_page(browser, HTML / "search.html", "?q=mask")
    page.wait_for_selector("#search-results li", timeout=20_000)
    hits = page.locator("#search-results li").count()
    page.close()
    assert hits > 0 and not errors


def test_the_method_page_typesets_its_equations(browser):
    page, errors = open_page(browser, HTML / "book" / "method.html")
    formulas = page.locator("mjx-container").count()
    page.screenshot(path=str(HTML.parent / "method_page.png"), full_page=False)  # kept beside the build for a look
    page.close()
    assert formulas >= 5 and not errors


@pytest.mark.parametrize("path", PAGES, ids=[str(p.relative_to(HTML)) for p in PAGES])
def test_tables_speak_to_readers(browser, path):
    page, _ = open_page(browser, path)
    tables = page.evaluate("""() => [...document.querySelectorAll('main table')].map(table => ({
        head: [...table.querySelectorAll('thead tr')].map(row => [...row.cells].map(cell => cell.innerText.trim())),
        cells: [...table.querySelectorAll('tbody td, tbody th')].map(cell => cell.innerText.trim())}))""")
    page.close()
    for number, table in enumerate(tables, 1):
        headers = [text for row in table["head"] for text in row]
        coded = [text for text in headers if any(name in text for name in CODE_NAMES)]
        assert not coded, f"table {number} has code names for headers: {coded}"
        assert not {"True", "False"} & set(table["cells"]), f"table {number} shows a bare True/False"
        name_rows = [row for row in table["head"] if len(row) > 1 and row[0] and not any(row[1:])]
        assert not name_rows, f"table {number} has a header row holding only an index name: {name_rows}"


@pytest.mark.parametrize("path", NOTEBOOK_PAGES, ids=[p.stem for p in NOTEBOOK_PAGES])
def test_each_page_says_how_to_reproduce_it(browser, path):
    page, _ = open_page(browser, path)
    box = page.locator(".admonition", has_text="Reproduce this page").first.inner_text()
    download = page.locator(".admonition a.download").first.get_attribute("href")
    page.close()
    assert f"notebooks/{path.stem}.py" in box and "-p profile cpu" in box
    assert download.endswith(f"{path.stem}.ipynb")  # the executed notebook; the offline test checks the link resolves
