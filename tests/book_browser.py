"""The built book served on localhost to one headless Chromium, with every other request refused.

Used by tests/test_accessibility.py and tests/test_search.py. The book is served over http (not
file://) so that the search page can load its index and the pages it lists as a reader's browser does;
Debian's Chromium is driven by Playwright (executable_path: no browser download).
"""
from __future__ import annotations

import functools
import os
import shutil
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML_DIR = ROOT / "_build" / "html"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # a line per request would bury the test output


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_built_book() -> None:
    """Skip (fail on CI) when the book is not built."""
    if not (HTML_DIR / "index.html").is_file():
        message = f"the book is not built ({HTML_DIR} has no index.html); run scripts/build-book.sh"
        if _ci():
            pytest.fail(message + " (CI is set: a missing build is a failure)")
        pytest.skip(message)


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve a folder on 127.0.0.1 (a free port) while in the block; yield its base URL ending in '/'."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def book_browser(directory: Path = HTML_DIR) -> Iterator[tuple[Any, str]]:
    """(Playwright browser, base URL of the served folder, the book by default); open pages with offline_page()."""
    require_built_book()
    chromium = next((shutil.which(c) for c in ("/usr/bin/chromium", "chromium", "chromium-browser")
                     if shutil.which(c)), None)
    assert chromium, "Chromium is missing (scripts/setup.sh installs the Debian package 'chromium')"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: scripts/setup.sh installs it with the dev extras")
    with serve(directory) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser, base
        finally:
            browser.close()


def offline_page(browser: Any, base: str, refused: list[str]) -> Any:
    """A new page in its own context: requests outside `base` (and data: URLs) are refused and recorded."""
    context = browser.new_context()

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(base) or url.startswith("data:"):
            request_route.continue_()
        else:
            refused.append(url)
            request_route.abort()

    context.route("**/*", route)
    return context.new_page()
