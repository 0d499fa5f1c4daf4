#!/usr/bin/env bash
# Run the whole test suite (unit, quality, notebooks, exercises, grader, book in Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-book.sh
.venv/bin/python -m pytest "$@"
