"""The built book's own search page works offline: a term from each chapter finds that chapter.

search.html?q=TERM is opened in headless Chromium (the book served on localhost, every other request
refused); Sphinx's searchtools.js loads searchindex.js and lists the matching pages. For each chapter
00-12 a term from its own text must list the chapter's page; a word that is in no page lists none.
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from book_browser import HTML_DIR, ROOT, book_browser, offline_page

pytestmark = pytest.mark.browser

# One distinctive term per chapter, taken from the chapter's text (the test checks it is there).
TERMS = {
    "notebooks/00_introduction": "bandit",
    "notebooks/01_perceptron": "Hebbian",
    "notebooks/02_mlp": "backpropagation",
    "notebooks/03_training": "dropout",
    "notebooks/04_cnn": "LeNet",
    "notebooks/05_segmentation": "unpooling",
    "notebooks/06_detection": "RoI",
    "notebooks/07_metric_learning": "triplet",
    "notebooks/08_autoencoders": "ELBO",
    "notebooks/09_gans": "discriminator",
    "notebooks/10_rnn": "LSTM",
    "notebooks/11_word_embeddings": "skip-gram",
    "notebooks/12_attention": "transformer",
}
NOWHERE = "zqxjvwkplm"  # a word in no page
FINISHED = "Search finished"


def _markdown_text(docname: str) -> str:
    notebook = json.loads((ROOT / f"{docname}.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in notebook["cells"] if c["cell_type"] == "markdown")


@pytest.fixture(scope="module")
def search():
    """search(term) -> docnames the book's search page lists for it, from one Chromium."""
    with book_browser() as (browser, base):
        refused: list[str] = []
        live = offline_page(browser, base, refused)

        def run(term: str) -> list[str]:
            live.goto(f"{base}search.html?q={quote(term)}", wait_until="load")
            # searchtools.js writes the summary ("Search finished, found N page(s) ..." or "Your search did
            # not match any documents ...") once every result is listed.
            live.wait_for_function("() => document.querySelector('#search-results .search-summary')"
                                   "?.innerText.trim().length > 0", timeout=60_000)
            summary = live.inner_text("#search-results .search-summary")
            hrefs = live.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
            assert not refused, f"the search page fetched from outside the book: {refused}"
            found = [urlsplit(h).path.removeprefix(urlsplit(base).path).removesuffix(".html") for h in hrefs]
            assert (FINISHED in summary) == bool(found), f"{term!r}: summary {summary!r} with results {found}"
            return found

        yield run
        live.context.close()


def test_every_chapter_has_a_term():
    chapters = sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(TERMS) == chapters


@pytest.mark.parametrize("docname, term", TERMS.items())
def test_a_term_of_the_chapter_finds_the_chapter(search: Any, docname: str, term: str):
    assert re.search(rf"\b{re.escape(term)}\b", _markdown_text(docname), flags=re.IGNORECASE), (
        f"{term!r} is not in the text of {docname}: choose a term from the chapter")
    found = search(term)
    assert docname in found, f"searching {term!r} lists {found}, not {docname}"


def test_a_word_in_no_page_finds_nothing(search: Any):
    assert not any(NOWHERE in p.read_text(encoding="utf-8", errors="replace") for p in HTML_DIR.rglob("*.html"))
    assert search(NOWHERE) == []
