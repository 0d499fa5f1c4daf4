#!/usr/bin/env bash
# Re-run notebooks in CPU ("fast") mode and rewrite their committed outputs; prints each run time.
# Usage: bash scripts/execute.sh [NOTEBOOK...]   (default: notebooks/*.ipynb solutions/*.ipynb)
set -euo pipefail
cd "$(dirname "$0")/.."
export DLCOURSE_MODE=fast
.venv/bin/dlcourse setup-cells
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(notebooks/*.ipynb solutions/*.ipynb)
for nb in "${files[@]}"; do
  TIMEFORMAT="$nb: %R s wall"
  time .venv/bin/jupyter execute --inplace --timeout=600 "$nb"
done
.venv/bin/dlcourse assign
