"""Links of the built book, offline: internal targets and anchors resolve, launch buttons name the notebook.

The real book (_build/html, built by scripts/build-book.sh) must have no broken link; its external
links are written, per page and unfetched, to _build/link-report.json and _build/link-report.md. A
small book made in tmp_path shows that a dead link, a dead anchor and a wrong launch URL each fail.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from dlcourse.booklinks import (Repository, book_pages, check_book, parse_page, repository_from_config,
                                write_report)

ROOT = Path(__file__).resolve().parents[1]
HTML_DIR = ROOT / "_build" / "html"
REPORT = ROOT / "_build" / "link-report.json"
# scripts/build-book.sh builds from a staged copy whose _config.yml names the built ref as the branch
# (src/dlcourse/bookstage.py); the launch buttons follow that copy, the repository URL is the root's.
STAGED_CONFIG = ROOT / "_build" / "book-src" / "_config.yml"


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _toc_notebooks() -> list[str]:
    """Docnames in _toc.yml whose .ipynb exists: the pages that must carry launch buttons."""
    text = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    names = re.findall(r"^\s*(?:-\s*file|root):\s*(\S+)", text, flags=re.MULTILINE)
    return sorted(n for n in names if (ROOT / f"{n}.ipynb").is_file())


@pytest.fixture(scope="module")
def built() -> Path:
    if not (HTML_DIR / "index.html").is_file():
        message = f"the book is not built ({HTML_DIR} has no index.html); run scripts/build-book.sh"
        if _ci():
            pytest.fail(message + " (CI is set: a missing build is a failure)")
        pytest.skip(message)
    return HTML_DIR


def _config(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_built_book_has_no_broken_link_and_its_external_links_are_listed(built):
    repo = repository_from_config(_config(ROOT / "_config.yml"))
    if STAGED_CONFIG.is_file():
        staged = repository_from_config(_config(STAGED_CONFIG))
        assert staged.url == repo.url, f"{STAGED_CONFIG} names {staged.url}, _config.yml {repo.url}"
        repo = staged
    report = check_book(built, ROOT, repo)
    write_report(report, REPORT)
    assert not report.problems, f"{len(report.problems)} broken links:\n" + "\n".join(report.problems[:50])
    assert report.pages == len(book_pages(built)) and report.pages >= len(_toc_notebooks())
    # Every notebook page of the table of contents had its launch buttons checked.
    assert sorted(p.removesuffix(".html") for p in report.notebook_pages) == _toc_notebooks()
    assert report.launch_links >= 4 * len(report.notebook_pages)  # Colab, Binder, repository, download
    assert report.internal_links > report.pages and report.anchors > 0
    saved = json.loads(REPORT.read_text(encoding="utf-8"))
    assert saved["external_links"] == sum(len(v) for v in report.external.values()) > 0
    listed = REPORT.with_suffix(".md").read_text(encoding="utf-8")
    assert all(f"<{link['url']}>" in listed for links in report.external.values() for link in links)


# ---- a small book in tmp_path --------------------------------------------------------------

REPO = Repository(url="https://github.com/example/course", branch="main",
                  colab_url="https://colab.research.google.com", binderhub_url="https://mybinder.org")
# Launch buttons as jupyter-book 1.x writes them, for notebooks/ch.ipynb of example/course.
LAUNCH = """
<a href="https://mybinder.org/v2/gh/example/course/main?urlpath=lab/tree/notebooks/ch.ipynb">Binder</a>
<a href="https://colab.research.google.com/github/example/course/blob/main/notebooks/ch.ipynb">Colab</a>
<a href="https://github.com/example/course" class="btn btn-source-repository-button">Repository</a>
<a href="../_sources/notebooks/ch.ipynb" class="btn btn-download-source-button">.ipynb</a>
"""
CHAPTER = f"""<html><body>{LAUNCH}<h1 id="top">Chapter</h1><p id="part-2">x</p>
<a href="../index.html#welcome">home</a> <a href="#part-2">below</a> <a href="https://example.org/paper">paper</a>
<img src="../_images/fig.png" alt="a figure"></body></html>"""
INDEX = '<html><body><a name="welcome"></a><a href="notebooks/ch.html#top">chapter</a></body></html>'


def _book(tmp_path: Path, chapter: str = CHAPTER, index: str = INDEX) -> tuple[Path, Path]:
    """A built book (html) and its repository (source) with one notebook, notebooks/ch.ipynb."""
    html, source = tmp_path / "html", tmp_path / "repo"
    for folder in (html / "notebooks", html / "_images", html / "_sources" / "notebooks", source / "notebooks"):
        folder.mkdir(parents=True)
    (html / "index.html").write_text(index, encoding="utf-8")
    (html / "notebooks" / "ch.html").write_text(chapter, encoding="utf-8")
    (html / "_images" / "fig.png").write_bytes(b"\x89PNG")
    (html / "_sources" / "notebooks" / "ch.ipynb").write_text("{}", encoding="utf-8")
    (source / "notebooks" / "ch.ipynb").write_text("{}", encoding="utf-8")
    return html, source


def test_a_sound_small_book_passes_and_is_counted(tmp_path):
    report = check_book(*_book(tmp_path), REPO)
    assert report.problems == []
    assert report.pages == 2 and report.notebook_pages == ["notebooks/ch.html"]
    # index -> chapter#top; chapter -> index#welcome, #part-2, the download, the image
    assert (report.internal_links, report.anchors, report.launch_links) == (5, 3, 4)
    assert report.external == {"notebooks/ch.html": [
        {"url": "https://mybinder.org/v2/gh/example/course/main?urlpath=lab/tree/notebooks/ch.ipynb",
         "tag": "a", "text": "Binder"},
        {"url": "https://colab.research.google.com/github/example/course/blob/main/notebooks/ch.ipynb",
         "tag": "a", "text": "Colab"},
        {"url": "https://github.com/example/course", "tag": "a", "text": "Repository"},
        {"url": "https://example.org/paper", "tag": "a", "text": "paper"}]}


@pytest.mark.parametrize("old, new, expected", [
    ('href="../index.html#welcome"', 'href="../gone.html"', "points at a missing file gone.html"),
    ('src="../_images/fig.png"', 'src="../_images/other.png"', "missing file _images/other.png"),
    ('href="#part-2"', 'href="#part-3"', "has no element id 'part-3'"),
    ('href="../index.html#welcome"', 'href="../index.html#welcom"', "index.html has no element id 'welcom'"),
    ('href="../index.html#welcome"', 'href="../../outside.html"', "points outside the book"),
    ("blob/main/notebooks/ch.ipynb", "blob/main/notebooks/other.ipynb", "expected Colab link"),
    ("example/course/blob", "example/fork/blob", "expected Colab link"),
    ("tree/notebooks/ch.ipynb", "tree/ch.ipynb", "expected Binder link"),
    ("gh/example/course/main", "gh/example/course/dev", "expected Binder link"),
    ('href="https://github.com/example/course"', 'href="https://github.com/other/course"',
     "expected repository button"),
    ('href="../_sources/notebooks/ch.ipynb"', 'href="../_sources/notebooks/ch.md"', "expected download button"),
])
def test_each_broken_link_fails_the_check(tmp_path, old, new, expected):
    assert old in CHAPTER
    html, source = _book(tmp_path, chapter=CHAPTER.replace(old, new))
    if new.endswith('ch.md"'):
        (html / "_sources" / "notebooks" / "ch.md").write_text("", encoding="utf-8")
    problems = check_book(html, source, REPO).problems
    assert len(problems) == 1 and expected in problems[0], problems
    assert problems[0].startswith("notebooks/ch.html: ")


def test_a_second_launch_link_to_another_notebook_fails(tmp_path):
    extra = '<a href="https://colab.research.google.com/github/example/course/blob/main/notebooks/x.ipynb">x</a>'
    problems = check_book(*_book(tmp_path, chapter=CHAPTER.replace("</body>", extra + "</body>")), REPO).problems
    assert len(problems) == 1 and "expected Colab link" in problems[0], problems


def test_a_missing_launch_button_fails_and_a_dead_link_on_another_page_is_found(tmp_path):
    chapter = CHAPTER.replace('<a href="https://colab', '<a data-x="https://colab')
    index = INDEX.replace("ch.html#top", "ch.html#nowhere")
    problems = check_book(*_book(tmp_path, chapter=chapter, index=index), REPO).problems
    assert len(problems) == 2
    assert any(p.startswith("notebooks/ch.html: expected Colab link") for p in problems)
    assert any(p.startswith("index.html: ") and "'nowhere'" in p for p in problems)


def test_a_page_without_a_notebook_needs_no_launch_buttons(tmp_path):
    html, source = _book(tmp_path, chapter=CHAPTER.replace(LAUNCH, ""))
    (source / "notebooks" / "ch.ipynb").unlink()
    (source / "notebooks" / "ch.md").write_text("# Chapter", encoding="utf-8")
    report = check_book(html, source, REPO)
    assert report.problems == [] and report.notebook_pages == []


@given(st.text(min_size=1, max_size=20).filter(lambda s: s.strip() == s and '"' not in s and "&" not in s
                                                and "<" not in s and not any(c.isspace() for c in s)))
def test_any_percent_encoded_anchor_resolves_to_its_id(name):
    page = f'<html><body><span id="{name}"></span><a href="#{quote(name)}">x</a></body></html>'
    assert name in parse_page(page).ids
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp)
        (html / "index.html").write_text(page, encoding="utf-8")
        report = check_book(html, html, REPO)
        assert report.problems == [] and report.anchors == 1
        (html / "index.html").write_text(page.replace('id="', 'id="x'), encoding="utf-8")
        assert len(check_book(html, html, REPO).problems) == 1


@pytest.mark.parametrize("config", [{}, {"repository": {}}, {"repository": {"url": "https://gitlab.com/a/b"}},
                                    {"repository": {"url": "https://github.com/only-owner"}}, []])
def test_a_config_without_a_github_repository_is_a_clear_error(config):
    with pytest.raises(ValueError, match="expected `repository: url: https://github.com/OWNER/NAME`"):
        repository_from_config(config)


def test_a_folder_that_is_not_a_built_book_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="expected a built book"):
        check_book(tmp_path, tmp_path, REPO)
