"""The built book in headless Chromium: every notebook page of _toc.yml as a reader sees it.

The book must already be built into _build/html (scripts/test.sh builds it first). Each notebook
page is opened from disk in headless Chromium, its scripts run (MathJax, the ipywidgets HTML
manager), and the resulting DOM is checked: no error output, math typeset by MathJax, the Colab
launch link for that notebook, no asset loaded from another site, widget views rendered from the
saved widget state. Then every page of the book is opened in Chromium through Playwright, with every
request outside the built book refused (the network is off): the console must stay clean, and
every explorer (dlcourse.widgets) must swap to the frame the notebook computed for each position
its controls are moved to by real keyboard and mouse events.

The pages and the expected Colab paths come from _toc.yml and _config.yml, so a chapter added to
the book is tested without touching this file.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from bs4 import BeautifulSoup

from dlcourse.widgets import MAX_EXPLORER_BYTES, MAX_FRAMES, MAX_PAGE_BYTES

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
HTML_DIR = ROOT / "_build" / "html"
COLAB = "https://colab.research.google.com/github"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# Virtual time for each page: MathJax and the widget manager finish well inside it; Chromium
# fast-forwards idle virtual time, so a page rarely takes more than a few real seconds.
VIRTUAL_TIME_MS = 20_000
PAGE_TIMEOUT_S = 90
# An exception name followed by a colon, as in a traceback's last line ("NameError: name 'x' ...").
EXCEPTION_TEXT = re.compile(r"\b[A-Z]\w*(?:Error|Exception):")
# Math in a notebook's markdown: $...$, $$...$$ or an amsmath environment.
MATH_SOURCE = re.compile(r"\$\$|\$[^$\n]+\$|\\begin\{")
CODE_IN_MARKDOWN = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.DOTALL)
# The frame data of an explorer's kernel-free player, in its text/html output.
PLAYER_DATA = re.compile(r'<script type="application/json" class="dlx-data">(.*?)</script>', re.DOTALL)


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _toc_docnames(entry: dict) -> list[str]:
    """Every docname under a _toc.yml entry (root, parts, chapters, sections), in book order."""
    names = [entry["file"]] if "file" in entry else []
    for key in ("parts", "chapters", "sections"):
        for child in entry.get(key, []) or []:
            names += _toc_docnames(child)
    return names


@lru_cache(maxsize=1)
def toc_docnames() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    names = ([toc["root"]] if "root" in toc else []) + _toc_docnames(toc)
    # _toc.yml may name a file with its extension; docnames have none.
    return [re.sub(r"\.(ipynb|md)$", "", name) for name in names]


def notebook_pages() -> list[str]:
    return [name for name in toc_docnames() if (ROOT / f"{name}.ipynb").is_file()]


@lru_cache(maxsize=1)
def colab_prefix() -> str:
    """Colab's URL for the repository root: owner/name from _config.yml, the ref the book was built at.

    scripts/build-book.sh builds a staged copy (_build/book-src) whose `branch:` is the ref being built;
    its url must be the root _config.yml's.
    """
    root = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
    staged = ROOT / "_build" / "book-src" / "_config.yml"
    repo = yaml.safe_load(staged.read_text(encoding="utf-8"))["repository"] if staged.is_file() else root
    assert repo["url"] == root["url"], (repo["url"], root["url"])
    owner_repo = urlsplit(repo["url"]).path.strip("/").removesuffix(".git")
    return f"{COLAB}/{owner_repo}/blob/{repo.get('branch', 'main')}/"


def chromium_binary() -> str | None:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass
class Page:
    docname: str
    notebook: dict
    static: BeautifulSoup  # the HTML file as built
    dom: BeautifulSoup  # the DOM after Chromium ran the page's scripts


def render(chromium: str, html_file: Path) -> str:
    """Open a built page in headless Chromium; return the DOM after its scripts ran."""
    with tempfile.TemporaryDirectory(prefix="dlcourse-chromium-") as profile:
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            f"--virtual-time-budget={VIRTUAL_TIME_MS}",
            "--dump-dom", html_file.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=PAGE_TIMEOUT_S)
    if done.returncode != 0 or "<html" not in done.stdout:
        raise RuntimeError(f"chromium failed on {html_file} (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


@pytest.fixture(scope="module")
def pages() -> dict[str, Page]:
    """All notebook pages of the book, rendered in parallel Chromium processes."""
    if not (HTML_DIR / "index.html").is_file():
        message = f"the book is not built ({HTML_DIR} has no index.html); run scripts/build-book.sh"
        if _ci():
            pytest.fail(message + " (CI is set: a missing build is a failure)")
        pytest.skip(message)
    chromium = chromium_binary()
    if chromium is None:
        pytest.fail("the book is built but Chromium is missing (scripts/setup.sh installs the Debian package 'chromium')")
    names = notebook_pages()
    missing = [name for name in names if not (HTML_DIR / f"{name}.html").is_file()]
    assert not missing, f"pages in _toc.yml missing from {HTML_DIR} (stale build?): {missing}"
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(names)))) as pool:
        rendered = list(pool.map(lambda name: render(chromium, HTML_DIR / f"{name}.html"), names))
    result = {}
    for name, dom in zip(names, rendered):
        result[name] = Page(
            docname=name,
            notebook=json.loads((ROOT / f"{name}.ipynb").read_text(encoding="utf-8")),
            static=BeautifulSoup((HTML_DIR / f"{name}.html").read_text(encoding="utf-8"), "html.parser"),
            dom=BeautifulSoup(dom, "html.parser"),
        )
    return result


# ---- the page list itself -------------------------------------------------------------------

def test_toc_lists_chapter_and_exercise_notebooks():
    names = toc_docnames()
    for name in names:
        if name.startswith(("notebooks/", "exercises/")):
            assert (ROOT / f"{name}.ipynb").is_file(), f"_toc.yml lists {name}, but {name}.ipynb does not exist"
    assert any(n.startswith("notebooks/") for n in notebook_pages()), "_toc.yml lists no chapter notebook"
    assert any(n.startswith("exercises/") for n in notebook_pages()), "_toc.yml lists no exercise notebook"


# ---- per page ------------------------------------------------------------------------------

def _code_outputs(notebook: dict) -> list[dict]:
    return [out for cell in notebook["cells"] if cell["cell_type"] == "code" for out in cell.get("outputs", [])]


def _has_math(notebook: dict) -> bool:
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if MATH_SOURCE.search(CODE_IN_MARKDOWN.sub("", text)):
                return True
    return False


def _widget_state(notebook: dict) -> dict:
    return notebook.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def _shown_models(state: dict, roots: list[str]) -> set[str]:
    """Models reachable from the displayed views through "IPY_MODEL_<id>" references."""
    seen, todo = set(), list(roots)
    while todo:
        model_id = todo.pop()
        if model_id in seen or model_id not in state:
            continue
        seen.add(model_id)
        todo += re.findall(r"IPY_MODEL_(\w+)", json.dumps(state[model_id].get("state", {})))
    return seen


@pytest.fixture(params=notebook_pages())
def page(request, pages) -> Page:
    return pages[request.param]


def test_page_shows_no_error_output(page):
    dom = page.dom
    bad = dom.select("div.cell_output .traceback, div.cell_output .stderr, "
                     '[data-mime-type="application/vnd.jupyter.stderr"], .jupyter-widgets-error-widget')
    assert not bad, f"{page.docname}: error or stderr output shown: {bad[0].get_text()[:500]!r}"
    outputs = "\n".join(area.get_text() for area in dom.select("div.cell_output"))
    assert "Traceback" not in outputs, f"{page.docname}: a traceback is printed in an output"
    found = EXCEPTION_TEXT.search(outputs)
    assert not found, f"{page.docname}: output mentions an exception: {outputs[max(0, found.start() - 200):found.end() + 200]!r}"


def test_page_math_is_typeset_by_mathjax(page):
    math_nodes = page.static.select(".math")
    if _has_math(page.notebook):
        assert math_nodes, f"{page.docname}: the notebook has $...$ math but the page has no math element (MyST dollarmath?)"
    if not math_nodes:
        pytest.skip(f"{page.docname} has no math")
    rendered = page.dom.select(".math")
    assert len(rendered) == len(math_nodes)
    untypeset = [node.get_text()[:80] for node in rendered if node.find("mjx-container") is None]
    assert not untypeset, f"{page.docname}: {len(untypeset)} of {len(rendered)} math elements not typeset by MathJax, e.g. {untypeset[0]!r}"
    errors = page.dom.select("mjx-merror")
    assert not errors, f"{page.docname}: MathJax could not typeset: {errors[0].get('data-mjx-error') or errors[0].get_text()!r}"


def test_page_has_colab_launch_link(page):
    # The docname is the notebook's path from ROOT, the repository root; not derived from
    # `path_to_book`, so that a wrong value there shows here.
    expected = colab_prefix() + f"{page.docname}.ipynb"
    links = [a["href"] for a in page.dom.select("a[href]") if a["href"].startswith(COLAB)]
    assert expected in links, f"{page.docname}: no Colab link {expected}; Colab links found: {links}"


def test_page_loads_only_local_assets(page):
    html_file = HTML_DIR / f"{page.docname}.html"
    for tag, attribute in (("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src")):
        for element in page.dom.find_all(tag, attrs={attribute: True}):
            url = element[attribute]
            parts = urlsplit(url)
            assert not (parts.scheme in ("http", "https") or url.startswith("//")), (
                f"{page.docname}: <{tag} {attribute}={url!r}> is loaded from another site; the book must work offline")
            if parts.scheme in ("", "file") and tag in ("script", "link") and parts.path:
                # A local script or stylesheet that is missing fails as silently as a CDN.
                target = Path(unquote(parts.path)) if parts.scheme == "file" else html_file.parent / unquote(parts.path)
                assert target.exists(), f"{page.docname}: <{tag} {attribute}={url!r}> points at a missing file"


def _player(output: dict) -> dict | None:
    """The frame data of an explorer output's kernel-free player, or None for another output."""
    html = output.get("data", {}).get("text/html")
    found = PLAYER_DATA.search("".join(html) if isinstance(html, list) else html or "")
    return json.loads(found.group(1)) if found else None


def explorers(notebook: dict) -> list[dict]:
    """The players of the notebook's explorer outputs, in page order."""
    return [data for out in _code_outputs(notebook) if (data := _player(out)) is not None]


def test_page_renders_saved_widget_views(page):
    widget_outputs = [out for out in _code_outputs(page.notebook) if WIDGET_VIEW in out.get("data", {})]
    if not widget_outputs:
        pytest.skip(f"{page.docname} has no widget output")
    state = _widget_state(page.notebook)
    roots = [out["data"][WIDGET_VIEW]["model_id"] for out in widget_outputs]
    unsaved = [model_id for model_id in roots if model_id not in state]
    assert not unsaved, f"{page.docname}: widget views without saved widget state (execute with store_widget_state): {unsaved}"

    # An explorer's output shows its kernel-free player (text/html wins over the widget view in the
    # book, see nb_mime_priority_overrides); any other widget output renders from the saved state.
    players = [out for out in widget_outputs if _player(out) is not None]
    views = [out for out in widget_outputs if _player(out) is None]
    shown_players = page.static.select("div.dlcourse-explorer")
    assert len(shown_players) == len(players), (
        f"{page.docname}: {len(players)} explorer outputs in the notebook, {len(shown_players)} players on the page")
    tags = page.dom.find_all("script", type=WIDGET_VIEW)
    assert len(tags) == len(views), f"{page.docname}: {len(views)} plain widget outputs in the notebook, {len(tags)} on the page"
    scripts = [tag.get("src", "") for tag in page.static.find_all("script")]
    if not views:  # no widget view left on the page: no widget manager and no state to load
        assert not any("html-manager" in src for src in scripts), f"{page.docname}: loads the unused widget manager"
        assert not page.static.find_all("script", type=WIDGET_STATE), f"{page.docname}: embeds unused widget state"
        return
    for tag in tags:
        view = tag.find_previous_sibling()  # the manager renders each view just before its tag
        assert view is not None and "widget-subarea" in view.get("class", []) and view.select_one(".jupyter-widgets"), (
            f"{page.docname}: widget view {tag.get_text()[:100]} was not rendered by the HTML manager")

    # Figures that the widgets' Output areas captured must show as images.
    shown = _shown_models(state, [out["data"][WIDGET_VIEW]["model_id"] for out in views])
    expected_images = sum(
        1
        for model_id in shown if state[model_id].get("model_name") == "OutputModel"
        for out in state[model_id]["state"].get("outputs", [])
        if any(mime.startswith("image/") for mime in out.get("data", {}))
    )
    images = page.dom.select(".widget-output img")
    assert len(images) >= expected_images, (
        f"{page.docname}: {expected_images} images saved in widget Output areas, {len(images)} rendered")


def test_page_explorers_carry_both_renderings_within_the_caps(page):
    outputs = [out for out in _code_outputs(page.notebook) if _player(out) is not None]
    if not outputs:
        pytest.skip(f"{page.docname} has no explorer")
    total = 0
    for out in outputs:
        assert WIDGET_VIEW in out["data"], f"{page.docname}: an explorer output without its live widget view"
        data, html = _player(out), out["data"]["text/html"]
        size = len(("".join(html) if isinstance(html, list) else html).encode())
        assert len(data["frames"]) == math.prod(data["sizes"]) <= MAX_FRAMES, f"{page.docname}: {data['sizes']}"
        assert size <= MAX_EXPLORER_BYTES, f"{page.docname}: an explorer of {size / 1e6:.2f} MB"
        total += size
    assert total <= MAX_PAGE_BYTES, f"{page.docname}: explorers of {total / 1e6:.2f} MB in all"


# ---- in a real browser, with the network off -----------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (no browser download: executable_path)."""
    if not (HTML_DIR / "index.html").is_file():
        message = f"the book is not built ({HTML_DIR} has no index.html); run scripts/build-book.sh"
        if _ci():
            pytest.fail(message + " (CI is set: a missing build is a failure)")
        pytest.skip(message)
    chromium = chromium_binary()
    assert chromium, "Chromium is missing (scripts/setup.sh installs the Debian package 'chromium')"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: scripts/setup.sh installs it with the dev extras")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@dataclass
class LivePage:
    page: Any
    problems: list[str]  # console errors, uncaught exceptions, refused requests


def open_page(browser, docname: str) -> LivePage:
    """Open a built page from disk; any request that leaves the built book is refused and recorded."""
    context = browser.new_context()
    problems: list[str] = []
    root = HTML_DIR.resolve().as_uri() + "/"

    def route(request_route):
        url = request_route.request.url
        if url.startswith(root) or url.startswith("data:"):
            request_route.continue_()
        else:
            problems.append(f"request outside the book: {url}")
            request_route.abort()

    context.route("**/*", route)
    live = context.new_page()
    live.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    live.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    live.goto((HTML_DIR / f"{docname}.html").as_uri(), wait_until="load")
    live.wait_for_timeout(300)  # the theme's and MathJax's deferred work
    return LivePage(live, problems)


@pytest.mark.parametrize("docname", toc_docnames())
def test_page_console_is_clean_and_nothing_is_fetched_from_outside(browser, docname):
    live = open_page(browser, docname)
    live.page.context.close()
    assert not live.problems, f"{docname}:\n" + "\n".join(live.problems)


def _expected_src(data: dict, positions: list[int]) -> str:
    index = 0
    for size, i in zip(data["sizes"], positions):
        index = index * size + i  # itertools.product order: the last control varies fastest
    return "data:image/png;base64," + data["images"][data["frames"][index]]


def _moves(live, control, kind: str, size: int, start: int):
    """Move one control with real keyboard and mouse events; after each, yield the position it must
    have reached (None after a click on a slider's track: wherever the click put the thumb)."""
    if kind == "checkbox":
        control.click()
        yield 1 - start
        control.click()
        yield start
        return
    control.focus()
    live.keyboard.press("End")
    yield size - 1
    live.keyboard.press("ArrowUp" if kind == "select" else "ArrowLeft")
    yield size - 2
    live.keyboard.press("Home")
    yield 0
    if kind == "range":
        box = control.bounding_box()
        live.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        yield None


def _position(control) -> int:
    return int(control.evaluate("e => e.type === 'checkbox' ? +e.checked : +e.value"))


@pytest.mark.parametrize("docname", [name for name in notebook_pages() if name.startswith("notebooks/")])
def test_page_explorers_swap_to_the_computed_frame(browser, docname):
    notebook = json.loads((ROOT / f"{docname}.ipynb").read_text(encoding="utf-8"))
    players = explorers(notebook)
    if not players:
        pytest.skip(f"{docname} has no explorer")
    live = open_page(browser, docname)
    try:
        roots = live.page.locator("div.dlcourse-explorer")
        assert roots.count() == len(players), f"{docname}: {len(players)} explorers, {roots.count()} players shown"
        for n, data in enumerate(players):
            root = roots.nth(n)
            root.scroll_into_view_if_needed()
            image = root.locator("img.dlx-frame")
            inputs = root.locator("[data-dlx-axis]")
            assert inputs.count() == len(data["sizes"])
            positions = [_position(inputs.nth(k)) for k in range(len(data["sizes"]))]
            assert image.get_attribute("src") == _expected_src(data, positions), f"{docname} explorer {n}: start frame"
            for k, size in enumerate(data["sizes"]):
                if size < 2:
                    continue
                control = inputs.nth(k)
                kind = "checkbox" if control.get_attribute("type") == "checkbox" else (
                    "select" if control.evaluate("e => e.tagName") == "SELECT" else "range")
                for expected in _moves(live.page, control, kind, size, positions[k]):
                    moved = _position(control)
                    assert expected is None or moved == expected, (
                        f"{docname} explorer {n}: control {data['names'][k]!r} at {moved}, expected {expected}")
                    positions[k] = moved
                    assert image.get_attribute("src") == _expected_src(data, positions), (
                        f"{docname} explorer {n}, {data['names'][k]!r} = {data['readouts'][k][moved]!r}: "
                        "the frame shown is not the one the notebook computed for these positions")
                    readout = root.locator(f'output[data-dlx-readout="{k}"]')
                    if readout.count():
                        assert readout.inner_text() == data["readouts"][k][moved]
        assert not live.problems, f"{docname}:\n" + "\n".join(live.problems)
    finally:
        live.page.context.close()
