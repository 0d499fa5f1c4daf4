"""Check the links of a built book offline: internal targets and anchors, launch buttons, external list.

Every ``.html`` file of the built book (outside ``_static/``) is parsed with :mod:`html.parser`; nothing
is fetched. A link inside the book must name a file that exists and, when it has a ``#fragment``, an
element of that file with that ``id`` (or an ``<a name=...>``). On a notebook page (a docname whose
``.ipynb`` is in the repository), the launch buttons must point at that notebook's own path in the
repository that ``_config.yml`` names. Links to other sites are only collected, per page.
"""
from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# Which attribute of which tag names a URL the reader's browser follows or loads.
URL_ATTRIBUTES = {"a": "href", "area": "href", "link": "href", "img": "src", "script": "src",
                  "iframe": "src", "source": "src", "video": "src", "audio": "src"}
# Schemes that never point into the book and are not web pages: not checked, not listed.
IGNORED_SCHEMES = ("data", "javascript", "blob")
GITHUB = "https://github.com/"


@dataclass
class Link:
    """One URL found on a page: the tag and attribute it came from, the raw value, the anchor text."""
    tag: str
    value: str
    text: str = ""
    classes: tuple[str, ...] = ()


@dataclass
class ParsedPage:
    """What the link check needs from one HTML file: its links and the ids it defines."""
    links: list[Link] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


class _PageParser(HTMLParser):
    """Collect every URL attribute, every id (and <a name>), and the text of each <a>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self._open_anchor: Link | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if values.get("id"):
            self.page.ids.add(values["id"])
        if tag == "a" and values.get("name"):
            self.page.ids.add(values["name"])
        attribute = URL_ATTRIBUTES.get(tag)
        if attribute and attribute in values:
            link = Link(tag, values[attribute].strip(), classes=tuple(values.get("class", "").split()))
            self.page.links.append(link)
            if tag == "a":
                self._open_anchor = link

    def handle_data(self, data: str) -> None:
        if self._open_anchor is not None:
            self._open_anchor.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open_anchor is not None:
            self._open_anchor.text = " ".join(self._open_anchor.text.split())
            self._open_anchor = None


def parse_page(html: str) -> ParsedPage:
    """Links and ids of one HTML document."""
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.page


@dataclass(frozen=True)
class Repository:
    """Where the notebooks live, as _config.yml says: the repository URL, its branch, the launch hosts."""
    url: str
    branch: str
    colab_url: str = ""
    binderhub_url: str = ""

    @property
    def owner_name(self) -> str:
        return urlsplit(self.url).path.strip("/").removesuffix(".git")


def repository_from_config(config: dict[str, Any]) -> Repository:
    """The Repository of a parsed _config.yml; ValueError when `repository.url` is missing or not GitHub."""
    repo = config.get("repository") if isinstance(config, dict) else None
    url = repo.get("url") if isinstance(repo, dict) else None
    if not isinstance(url, str) or not url.startswith(GITHUB) or len(url[len(GITHUB):].strip("/").split("/")) != 2:
        raise ValueError(f"_config.yml: expected `repository: url: https://github.com/OWNER/NAME`, got {url!r}")
    launch = config.get("launch_buttons") or {}
    return Repository(url=url.rstrip("/"), branch=str(repo.get("branch") or "main"),
                      colab_url=str(launch.get("colab_url") or "").rstrip("/"),
                      binderhub_url=str(launch.get("binderhub_url") or "").rstrip("/"))


@dataclass
class Report:
    """The result of a check: problems found, external links per page, and how much was checked."""
    problems: list[str] = field(default_factory=list)
    external: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    pages: int = 0
    notebook_pages: list[str] = field(default_factory=list)
    internal_links: int = 0
    anchors: int = 0
    launch_links: int = 0

    def summary(self) -> dict[str, Any]:
        unique = {link["url"] for links in self.external.values() for link in links}
        return {"pages": self.pages, "notebook_pages": len(self.notebook_pages),
                "internal_links": self.internal_links, "anchors": self.anchors, "launch_links": self.launch_links,
                "external_links": sum(map(len, self.external.values())), "external_unique": len(unique), "problems": self.problems, "external": self.external}


def book_pages(html_dir: Path) -> list[str]:
    """Every HTML page of the built book (paths relative to html_dir, '/'-separated), theme files excepted."""
    return sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                  if not p.relative_to(html_dir).parts[0].startswith("_"))


def _is_external(parts) -> bool:
    return bool(parts.scheme) or parts.netloc != "" or parts.path.startswith("//")


def _check_internal(page: str, link: Link, html_dir: Path, ids_of, report: Report) -> None:
    parts = urlsplit(link.value)
    target = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(parts.path))) if parts.path else page
    if target.startswith("../") or target == "..":
        report.problems.append(f"{page}: <{link.tag}> {link.value!r} points outside the book")
        return
    path = html_dir / target
    if path.is_dir():
        path, target = path / "index.html", posixpath.join(target, "index.html")
    report.internal_links += 1
    if not path.is_file():
        report.problems.append(f"{page}: <{link.tag}> {link.value!r} points at a missing file {target}")
        return
    fragment = unquote(parts.fragment)
    if fragment and target.endswith(".html"):
        report.anchors += 1
        if fragment not in ids_of(target):
            report.problems.append(f"{page}: <{link.tag}> {link.value!r}: {target} has no element id {fragment!r}")


def expected_launch_urls(repo: Repository, notebook_path: str) -> dict[str, str]:
    """The launch URLs a notebook page must carry, keyed by button, for a notebook at a repository path."""
    urls = {"repository": repo.url}
    if repo.colab_url:
        urls["colab"] = f"{repo.colab_url}/github/{repo.owner_name}/blob/{repo.branch}/{notebook_path}"
    if repo.binderhub_url:
        urls["binder"] = f"{repo.binderhub_url}/v2/gh/{repo.owner_name}/{repo.branch}"
    return urls


def _binder_path(url: str) -> tuple[str, str]:
    """The (prefix before '?', notebook path in urlpath) of a Binder launch URL."""
    parts = urlsplit(url)
    urlpath = parse_qs(parts.query).get("urlpath", [""])[0]
    tree = urlpath.split("tree/", 1)[1] if "tree/" in urlpath else urlpath.split("notebooks/", 1)[-1]
    return url.split("?", 1)[0], tree


def _launch_problems(links: list[Link], repo: Repository, notebook_path: str) -> tuple[list[str], int]:
    """What is wrong with a notebook page's Colab and Binder buttons, and how many there are."""
    expected = expected_launch_urls(repo, notebook_path)
    hrefs = [link.value for link in links if link.tag == "a"]
    wrong, count = [], 0
    if "colab" in expected:
        colab = [h for h in hrefs if h.startswith(repo.colab_url + "/")]
        if not colab or any(h != expected["colab"] for h in colab):
            wrong.append(f"Colab link {expected['colab']} (found {colab})")
        count += len(colab)
    if "binder" in expected:
        binder = [h for h in hrefs if h.startswith(repo.binderhub_url + "/")]
        if not binder or any(_binder_path(h) != (expected["binder"], notebook_path) for h in binder):
            wrong.append(f"Binder link {expected['binder']}?urlpath=...tree/{notebook_path} (found {binder})")
        count += len(binder)
    return wrong, count


def _source_problems(page: str, links: list[Link], repo: Repository, notebook_path: str) -> tuple[list[str], int]:
    """What is wrong with a notebook page's repository, source and download buttons, and how many there are."""
    wrong = []
    source = [link.value for link in links if "btn-source-repository-button" in link.classes]
    if source != [repo.url]:
        wrong.append(f"repository button {repo.url} (found {source})")
    hrefs = [link.value for link in links if link.tag == "a"]
    blob = [h for h in hrefs if h.startswith((repo.url + "/blob/", repo.url + "/edit/"))]
    if any(not h.split("?")[0].endswith(f"/{repo.branch}/{notebook_path}") for h in blob):
        wrong.append(f"source links ending in /{repo.branch}/{notebook_path} (found {blob})")
    # The download button serves the page's own notebook, copied by Sphinx into _sources/.
    downloads = [link.value for link in links if "btn-download-source-button" in link.classes]
    resolved = [posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(urlsplit(h).path)))
                for h in downloads]
    if not downloads or any(path != f"_sources/{notebook_path}" for path in resolved):
        wrong.append(f"download button for _sources/{notebook_path} (found {downloads})")
    return wrong, len(source) + len(blob) + len(downloads)


def _check_launch(page: str, links: list[Link], repo: Repository, notebook_path: str, report: Report) -> None:
    """Colab, Binder, repository and download buttons of a notebook page name that notebook."""
    for wrong, count in (_launch_problems(links, repo, notebook_path),
                         _source_problems(page, links, repo, notebook_path)):
        report.problems += [f"{page}: expected {item}" for item in wrong]
        report.launch_links += count


def check_book(html_dir: Path, source_dir: Path, repo: Repository) -> Report:
    """Check every page under html_dir; notebook pages are those whose docname.ipynb is in source_dir.

    source_dir is the root of the repository that `repo` names.
    """
    if not (html_dir / "index.html").is_file():
        raise ValueError(f"expected a built book in {html_dir} (no index.html there)")
    pages = book_pages(html_dir)
    cache: dict[str, set[str]] = {}

    def ids_of(target: str) -> set[str]:
        if target not in cache:
            cache[target] = parse_page((html_dir / target).read_text(encoding="utf-8", errors="replace")).ids
        return cache[target]

    report = Report(pages=len(pages))
    for page in pages:
        parsed = parse_page((html_dir / page).read_text(encoding="utf-8", errors="replace"))
        cache[page] = parsed.ids
        for link in parsed.links:
            parts = urlsplit(link.value)
            if not link.value or parts.scheme in IGNORED_SCHEMES:
                continue
            if _is_external(parts):
                entry = {"url": link.value, "tag": link.tag, "text": link.text}
                report.external.setdefault(page, []).append(entry)
            elif link.value != "#":  # the theme's "#" buttons are handled by scripts, not followed
                _check_internal(page, link, html_dir, ids_of, report)
        # The notebook's path in the repository is its path under source_dir (the repository root), not
        # one derived from `path_to_book`, so that a wrong value there shows here.
        docname = page.removesuffix(".html")
        if (source_dir / f"{docname}.ipynb").is_file():
            report.notebook_pages.append(page)
            _check_launch(page, parsed.links, repo, f"{docname}.ipynb", report)
    return report


def write_report(report: Report, json_path: Path) -> Path:
    """Write the summary as JSON and the external links per page as Markdown beside it; return the JSON path."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report.summary(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = ["# External links of the built book (listed, not fetched)", ""]
    for page, links in sorted(report.external.items()):
        lines += [f"## {page}", ""] + [f"- <{link['url']}> ({link['tag']}: {link['text'] or '-'})" for link in links]
        lines.append("")
    json_path.with_suffix(".md").write_text("\n".join(lines), encoding="utf-8")
    return json_path
