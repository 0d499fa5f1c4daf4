#!/usr/bin/env bash
# Build the rendered book into _build/html from the committed notebook outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/jupyter-book build . --warningiserror --keep-going
echo "Book built: open _build/html/index.html"
