"""Clean up each page's <script> list: no duplicate inline script, no unused widget manager.

1. sphinx-thebe 0.3 adds its settings (``const THEBE_JS_URL = ...; const thebe_selector = ...``) as
   an inline script, with ``app.add_js_file(None, body=...)``, after the HTML builder is set up. The
   builder then holds it once with the file name ``None``; when it prepares writing, Sphinx 7 adds
   every registered script again as ``filename or ''``, and since ``None != ''`` its duplicate check
   misses this one. Every page so carried the ``const`` declarations twice, and the second copy threw
   ``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared``. Here identical scripts
   (same file, or same inline body, same attributes) are kept once.
2. myst-nb adds the ipywidgets HTML manager and the saved widget state to every page whose notebook
   holds widget state. When every widget output of the page is shown by its text/html rendering
   (the explorers' kernel-free players, see ``dlcourse.widgets``), no widget view is left on the
   page, and the manager (several MB with its fonts) and the state are dropped.
"""
from __future__ import annotations

import os
from typing import Any

from sphinx.application import Sphinx

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _identity(script: Any) -> tuple:
    filename = getattr(script, "filename", script)
    attributes = getattr(script, "attributes", {})
    return (os.fspath(filename or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _is_widget_script(app: Sphinx, script: Any) -> bool:
    attributes = getattr(script, "attributes", {})
    if attributes.get("type") == WIDGET_STATE:
        return True
    filename = os.fspath(getattr(script, "filename", script) or "").split("?")[0]
    manager_files = getattr(app.config, "nb_ipywidgets_js", None) or {}
    return any(filename.endswith(path) for path in manager_files)


def clean_page_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    has_widget_view = WIDGET_VIEW in context.get("body", "")
    kept, seen = [], set()
    for script in scripts:
        identity = _identity(script)
        if identity in seen or (not has_widget_view and _is_widget_script(app, script)):
            continue
        seen.add(identity)
        kept.append(script)
    scripts[:] = kept  # in place: this list is the builder's, restored before the next page


def setup(app: Sphinx) -> dict[str, Any]:
    # The accessibility fixes (book_a11y.py, beside this file) load with this extension.
    app.setup_extension("book_a11y")
    # After myst-nb (priority 500) has added the page's own scripts.
    app.connect("html-page-context", clean_page_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
