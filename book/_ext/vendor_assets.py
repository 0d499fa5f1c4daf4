"""Keep the vendored libraries in _static/vendor/ out of every page's <head>.

jupyter-book 1.x adds each .js and .css file it finds under _static/ to ``html_js_files`` and
``html_css_files``, which would make every page load all of MathJax's component files and the
widget manager. These libraries are loaded where needed instead: MathJax through ``mathjax_path``
on pages with math, the widget manager through ``nb_ipywidgets_js`` on pages with widget state.
"""
from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

VENDOR_PREFIX = "vendor/"


def _is_vendored(entry: Any) -> bool:
    # Entries are a file name, or a (file name, attributes) pair.
    name = entry[0] if isinstance(entry, (tuple, list)) else entry
    return str(name).startswith(VENDOR_PREFIX)


def drop_vendored_assets(app: Sphinx, config: Config) -> None:
    config.html_js_files = [e for e in config.html_js_files if not _is_vendored(e)]
    config.html_css_files = [e for e in config.html_css_files if not _is_vendored(e)]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", drop_vendored_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
