#!/usr/bin/env bash
# Build the rendered book into _build/html from the committed notebook outputs.
# The build reads a staged copy of the sources, _build/book-src (src/dlcourse/bookstage.py), whose
# notebooks install dlcourse at the ref this tree is at (HEAD's tag, else HEAD's commit; BOOK_REF=...
# overrides) and whose launch buttons open the notebooks at that ref. The working tree is not written.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m dlcourse.bookstage --dest _build/book-src ${BOOK_REF:+--ref "$BOOK_REF"}
.venv/bin/jupyter-book build _build/book-src --path-output . --warningiserror --keep-going
echo "Book built: open _build/html/index.html"
