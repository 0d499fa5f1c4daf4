"""Accessibility fixes of the theme and of docutils' HTML that axe-core flags as serious or critical.

1. Two pydata-sphinx-theme buttons had an accessible name that leaves out their visible text (axe's
   ``label-content-name-mismatch``): the search field and the colour-mode switch. Overrides of their
   templates are in ``templates/``, put ahead of the theme's on ``templates_path``.
2. docutils writes the bibliography as ``<div role="list">`` of ``<div role="doc-biblioentry">``: a
   list whose children are not list items (``aria-required-children``, critical) with a deprecated
   role. Each entry becomes ``role="listitem"``.

Loaded by page_scripts.py (``app.setup_extension``), since ``_config.yml`` lists the local extensions.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

TEMPLATES = Path(__file__).resolve().parent / "templates"
BIBLIOENTRY = 'role="doc-biblioentry"'


def add_templates(app: Sphinx, config: Config) -> None:
    if str(TEMPLATES) not in config.templates_path:
        config.templates_path = [str(TEMPLATES), *config.templates_path]


def fix_bibliography_roles(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    body = context.get("body")
    if isinstance(body, str) and BIBLIOENTRY in body:
        context["body"] = body.replace(BIBLIOENTRY, 'role="listitem"')


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", add_templates)
    app.connect("html-page-context", fix_bibliography_roles)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
