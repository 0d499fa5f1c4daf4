"""Self-contained HTML pages for grading results: one escaping sink and one page shell.

Every string that reaches a page goes through :func:`esc` where it is written: control characters,
bidirectional overrides and lone surrogates are shown as Python escapes (as on a terminal,
:func:`~dlcourse.grading.sinks.feedback_text`), then ``& < > " '`` become character references, so a
student's id, printed output or exception message is shown as text, in element content and in
quoted attribute values alike. The shell's Content-Security-Policy forbids every script and every
load from anywhere (images only from ``data:`` URLs, styles only inline), so even a missed escape
could neither run code nor send a request.
"""
from __future__ import annotations

import html
from typing import Any

from .sinks import feedback_text

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

CSS = """
:root { color-scheme: light; --ok: #1a7f37; --bad: #b3261e; --warn: #8a5a00; --line: #c8ccd2; }
* { box-sizing: border-box; }
body { font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1d21;
       background: #fff; margin: 0 auto; padding: 1rem; max-width: 60rem; }
h1 { font-size: 1.6rem; margin: .5rem 0; } h2 { font-size: 1.3rem; margin-top: 2rem;
     border-bottom: 1px solid var(--line); } h3 { font-size: 1.1rem; } h4 { font-size: 1rem; margin-bottom: .25rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; width: 100%; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #eef0f3; } th[scope=row] { background: #f6f7f9; font-weight: 600; }
table.case th[scope=row] { width: 9rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .value { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9rem;
               white-space: pre-wrap; overflow-wrap: anywhere; }
.ok { color: var(--ok); font-weight: 600; } .bad { color: var(--bad); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; } .meta { color: #555; font-size: .9rem; }
.hint { border-left: 4px solid var(--warn); background: #fff8e6; padding: .25rem .5rem; margin: .25rem 0; }
.note { border: 1px solid var(--warn); background: #fff8e6; padding: .5rem .75rem; }
.wrap { overflow-wrap: anywhere; white-space: pre-wrap; }
.scroll { overflow-x: auto; max-width: 100%; }
th .wrap { overflow-wrap: break-word; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: .95rem; }
@media (max-width: 36rem) { body { padding: .5rem; } table.case th[scope=row] { width: 6rem; } }
@media print { body { max-width: none; padding: 0; } .scroll { overflow: visible; }
               section, table, figure { break-inside: avoid; }
               .hint, .note { background: none; } }
"""


def esc(value: Any) -> str:
    """``value`` as HTML text, safe in element content and in a quoted attribute (newlines kept).

    Non-printable characters (controls, bidirectional overrides, lone surrogates) are written as
    Python escapes first, so the page can always be encoded as UTF-8 and shows what is really there.
    """
    return html.escape(feedback_text(str(value)), quote=True)


def page(title: str, body: str) -> str:
    """A whole HTML document: ``title`` (plain text, escaped here) and ``body`` (HTML, already escaped)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
            "<meta name=\"referrer\" content=\"no-referrer\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
            "</body>\n</html>\n")


def points(value: float) -> str:
    """A score as shown on the pages: at most four significant digits (0.2857, 3.486, 5)."""
    return f"{value:.4g}"


def mark(passed: bool) -> str:
    """A pass/fail marker that does not rely on colour: an icon and a word."""
    return '<span class="ok">&#10004; passed</span>' if passed else '<span class="bad">&#10008; failed</span>'
