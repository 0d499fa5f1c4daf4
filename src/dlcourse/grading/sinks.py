"""Neutralise untrusted text (student ids, printed output, messages) where an instructor reads it.

Each sink gets its own rule, applied when the text is written, never earlier (the JSON result
keeps the exact original):

* a spreadsheet cell (:func:`csv_cell`): a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return is a formula to Excel, LibreOffice and Google Sheets; it gets a leading ``'``
  (OWASP's advice), and so does a cell that starts with ``'`` itself, so that removing one leading
  ``'`` always gives the original back;
* a terminal line (:func:`terminal_text`): every character that is not printable (C0 and C1
  controls such as ESC, newlines, DEL, bidirectional overrides, lone surrogates) is shown as a
  Python escape (``\\x1b``), so no escape sequence or line break reaches the terminal;
* Gradescope feedback (:func:`feedback_text`): the same, except that newlines are kept.
"""
from __future__ import annotations

import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_SURROGATES = re.compile("[\ud800-\udfff]")


def csv_cell(text: str) -> str:
    """``text`` as a spreadsheet cell that no spreadsheet runs as a formula; drop one leading ``'`` to undo."""
    text = _SURROGATES.sub("\ufffd", text)  # undecodable bytes of a file name cannot be written as UTF-8
    return "'" + text if text.startswith(_FORMULA_START) else text


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def terminal_text(text: str) -> str:
    """``text`` with every non-printable character written as an escape: safe on one terminal line."""
    return "".join(ch if ch.isprintable() else _NAMED.get(ch) or _escape(ch) for ch in text)


def feedback_text(text: str) -> str:
    """``text`` for Gradescope's ``output`` fields: controls escaped as in :func:`terminal_text`, newlines kept."""
    return "\n".join(terminal_text(line) for line in text.split("\n"))
