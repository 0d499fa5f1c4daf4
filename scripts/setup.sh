#!/usr/bin/env bash
# Set up everything the book and the tests need on a fresh machine (Python, pip and git only).
# Idempotent: a second run only checks. Creates .venv/ in the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PY=.venv/bin/python
$PY -m pip install -q --upgrade pip
# The CPU build of torch, pinned: an unpinned torch pulls several GB of CUDA packages.
$PY -m pip install -q "torch==2.13.0"
$PY -m pip install -q -e ".[book,dev]"

# System packages: Chromium for the browser test of the book (driven by the dev extra playwright,
# which uses this binary and downloads no browser of its own), bubblewrap for the grader's sandbox.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  else
    echo "setup: please install the Debian packages: ${need[*]} (needed by the browser test and the grader)" >&2
  fi
fi

# Static copies of MathJax and the ipywidgets HTML manager, so the built book needs no CDN.
bash scripts/fetch-static.sh
