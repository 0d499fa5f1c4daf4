"""Accessibility of the built book: axe-core in headless Chromium over every page, and figure alt text.

axe-core (pinned by scripts/fetch-static.sh into _build/.tools/, not published with the book) is
injected into each page of _build/html, served on localhost with the network off. Any violation of
impact `serious` or `critical` fails; the counts per impact of every page are written to
_build/accessibility.json. Every figure a notebook output shows must carry real alternative text
(cell metadata `mystnb: image: alt:`), not the file name myst-nb puts there by default.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from book_browser import HTML_DIR, ROOT, book_browser, offline_page, require_built_book
from dlcourse.booklinks import book_pages

pytestmark = pytest.mark.browser

AXE = ROOT / "_build" / ".tools" / "axe-core" / "axe.min.js"
SUMMARY = ROOT / "_build" / "accessibility.json"
FAILING = ("serious", "critical")
IMPACTS = ("minor", "moderate", "serious", "critical")
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.html.slice(0, 160))}));
}"""


def _redirect(page: str) -> bool:
    """A page that is only a meta refresh (jupyter-book's index.html): its target is scanned instead."""
    head = (HTML_DIR / page).read_text(encoding="utf-8", errors="replace")[:500].lower()
    return 'http-equiv="refresh"' in head and "<body" not in head


def scan(browser, base: str, page: str) -> list[dict]:
    """axe-core's violations on one served page."""
    refused: list[str] = []
    live = offline_page(browser, base, refused)
    try:
        live.goto(base + page, wait_until="load")
        live.add_script_tag(path=str(AXE))
        return live.evaluate(RUN_AXE)
    finally:
        live.context.close()


@pytest.fixture(scope="module")
def axe_results() -> dict[str, list[dict]]:
    """Violations per page of the book, from one Chromium; writes the per-page summary."""
    require_built_book()
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: scripts/fetch-static.sh (run by scripts/setup.sh) fetches axe-core")
    pages = [page for page in book_pages(HTML_DIR) if not _redirect(page)]
    with book_browser() as (browser, base):
        results = {page: scan(browser, base, page) for page in pages}
    summary = {page: {"counts": {impact: sum(len(v["nodes"]) for v in found if v["impact"] == impact)
                                 for impact in IMPACTS},
                      "rules": {v["id"]: v["impact"] for v in found}}
               for page, found in results.items()}
    SUMMARY.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return results


def test_axe_scanned_every_page_of_the_book(axe_results):
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    listed = {f"{name}.html" for name in re.findall(r"^\s*(?:-\s*file|root):\s*(\S+)", toc, flags=re.MULTILINE)}
    assert listed and listed <= set(axe_results), f"pages of _toc.yml not scanned: {sorted(listed - set(axe_results))}"
    # A redirect page is skipped only because its target, a page of the book, is scanned.
    for page in book_pages(HTML_DIR):
        if _redirect(page):
            target = re.search(r"url=([^\"' >]+)", (HTML_DIR / page).read_text(encoding="utf-8"), flags=re.IGNORECASE)
            assert target and target.group(1) in axe_results, f"{page} redirects to an unscanned page"
    assert json.loads(SUMMARY.read_text(encoding="utf-8")).keys() == axe_results.keys()


def test_no_page_has_a_serious_or_critical_violation(axe_results):
    bad = [f"{page}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes'][:3]}"
           for page, found in axe_results.items() for v in found if v["impact"] in FAILING]
    assert not bad, f"{len(bad)} serious/critical axe violations:\n" + "\n".join(bad[:40])


def test_axe_finds_what_it_must_on_a_broken_page(tmp_path):
    """The scan itself can fail: an image without alt, low contrast, a button with no name."""
    require_built_book()
    (tmp_path / "index.html").write_text(
        '<!doctype html><html lang="en"><head><title>t</title></head><body><main>'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        '<p style="color:#bbb;background:#fff">faint</p><button></button></main></body></html>', encoding="utf-8")
    with book_browser(tmp_path) as (browser, base):
        found = {v["id"]: v["impact"] for v in scan(browser, base, "index.html")}
    assert found.get("image-alt") == "critical" and found.get("button-name") == "critical"
    assert found.get("color-contrast") == "serious"


# ---- headings -------------------------------------------------------------------------------

def heading_problems(html: str) -> list[str]:
    """Where the headings of a page's article do not nest: not one h1 first, or a level skipped."""
    article = BeautifulSoup(html, "html.parser").select_one("article") or BeautifulSoup(html, "html.parser")
    levels = [int(h.name[1]) for h in article.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])]
    problems = [] if levels[:1] == [1] and levels.count(1) == 1 else [f"expected one h1 first, got levels {levels[:6]}"]
    return problems + [f"h{a} followed by h{b}" for a, b in zip(levels, levels[1:]) if b > a + 1]


def test_headings_nest_on_every_page():
    require_built_book()
    bad = {page: found for page in book_pages(HTML_DIR) if not _redirect(page)
           if (found := heading_problems((HTML_DIR / page).read_text(encoding="utf-8")))}
    assert not bad, f"headings that do not nest: {bad}"


@pytest.mark.parametrize("html, expected", [
    ("<article><h1>a</h1><h2>b</h2><h3>c</h3><h2>d</h2></article>", []),
    ("<article><h1>a</h1><h3>c</h3></article>", ["h1 followed by h3"]),
    ("<article><h2>a</h2></article>", ["expected one h1 first, got levels [2]"]),
    ("<article><h1>a</h1><h1>b</h1></article>", ["expected one h1 first, got levels [1, 1]"]),
])
def test_heading_check_finds_skipped_levels(html, expected):
    assert heading_problems(html) == expected


# ---- alternative text of the notebooks' figures ---------------------------------------------

class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "img":
            self.images.append({k: v or "" for k, v in attrs})


def output_images(page: str) -> list[dict[str, str]]:
    """The <img> of a page that show a notebook output (myst-nb writes them under _images/)."""
    parser = _Images()
    parser.feed((HTML_DIR / page).read_text(encoding="utf-8", errors="replace"))
    return [img for img in parser.images if "_images/" in img.get("src", "")]


def _notebook_pages() -> list[str]:
    return sorted(p.relative_to(ROOT).with_suffix(".html").as_posix() for p in (ROOT / "notebooks").glob("*.ipynb"))


def _figure_alts(notebook: dict) -> list[str | None]:
    """The alt text each image output of a notebook must show with, in page order (None: none set)."""
    alts = []
    for cell in notebook["cells"]:
        alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt")
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if any(m.startswith("image/") for m in data) and "text/html" not in data:
                alts.append(alt)
    return alts


@pytest.mark.parametrize("page", _notebook_pages())
def test_every_figure_of_a_chapter_has_real_alternative_text(page):
    require_built_book()
    notebook = json.loads((ROOT / page).with_suffix(".ipynb").read_text(encoding="utf-8"))
    expected = _figure_alts(notebook)
    missing = sum(alt is None for alt in expected)
    assert not missing, f"{page}: {missing} figures without `mystnb: image: alt:` in their cell's metadata"
    # A sentence that says what the figure shows, not a file name; one cell's alt is shared by its images.
    short = [alt for alt in expected if len(alt.split()) < 8 or alt.rstrip()[-1:] != "."]
    assert not short, f"{page}: alt texts should be a sentence saying what the figure shows: {short[:3]}"
    assert len(set(expected)) == len({id(c) for c in notebook["cells"]
                                      if c.get("metadata", {}).get("mystnb", {}).get("image")}), (
        f"{page}: two figure cells share one alt text")
    shown = [img.get("alt", "") for img in output_images(page)]
    assert shown == expected, f"{page}: the built page's figures show other alt texts (stale build?): {shown[:2]}"
