#!/usr/bin/env bash
# Fetch pinned copies of MathJax 3 and the ipywidgets HTML manager into _static/vendor/ (gitignored),
# so that the built book loads no script from a CDN: it works offline, and the browser test sees
# math and widgets rendered exactly as a reader does. Also fetch axe-core, which only the accessibility
# test injects into the pages, into _build/.tools/ (gitignored, and outside _build/html: not published).
# Idempotent: when the pinned versions are already in place it only checks and exits.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned versions, with the npm registry's integrity hashes: a changed tarball fails the fetch.
# html-manager 1.0.x is the embedder that matches ipywidgets 8 (controls 5.x, base 6.x, output 1.x).
MATHJAX="mathjax@3.2.2"
MATHJAX_SHA512="Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
HTML_MANAGER="@jupyter-widgets/html-manager@1.0.15"
HTML_MANAGER_SHA512="5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA=="
# axe-core: the accessibility rules tests/test_accessibility.py runs in Chromium over every page.
AXE="axe-core@4.14.1"
AXE_SHA512="FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="

VENDOR=_static/vendor
STAMP="$VENDOR/.versions"
WANT="$MATHJAX $HTML_MANAGER"

TOOLS=_build/.tools
TOOLS_STAMP="$TOOLS/.versions"

vendor_ok() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
    && [ -f "$VENDOR/mathjax/tex-chtml.js" ] && [ -f "$VENDOR/html-manager/embed.js" ]
}
tools_ok() {
  [ -f "$TOOLS_STAMP" ] && [ "$(cat "$TOOLS_STAMP")" = "$AXE" ] && [ -f "$TOOLS/axe-core/axe.min.js" ]
}

if vendor_ok && tools_ok; then
  echo "fetch-static: $WANT already in $VENDOR, $AXE in $TOOLS"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "fetch-static: installing npm from Debian" >&2
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null
  else
    echo "fetch-static: npm is needed to fetch MathJax and the ipywidgets HTML manager for the book;" \
         "install it (Debian: sudo apt-get install npm) and run scripts/setup.sh again" >&2
    exit 1
  fi
fi

work=$(mktemp -d)
new="$VENDOR.new"
trap 'rm -rf "$work" "$new"' EXIT

# `npm pack` downloads one package's tarball, without dependencies: both packages ship
# self-contained browser bundles (MathJax's es5/ components, the html manager's dist/embed.js).
fetch() {  # fetch SPEC SHA512 DEST: unpack the tarball of SPEC into DEST after checking its hash
  local spec=$1 sha=$2 dest=$3 tarball got
  tarball=$(cd "$work" && npm pack --loglevel=error --cache "$work/npm-cache" "$spec" 2>"$work/npm.log" | tail -n 1) || true
  if [ -z "$tarball" ] || [ ! -f "$work/$tarball" ]; then
    cat "$work/npm.log" >&2
    echo "fetch-static: 'npm pack $spec' failed (is the npm registry reachable?)" >&2
    exit 1
  fi
  got=$(python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$work/$tarball")
  if [ "$got" != "$sha" ]; then
    echo "fetch-static: $spec: sha512 $got, expected $sha" >&2
    exit 1
  fi
  mkdir -p "$dest"
  tar -xzf "$work/$tarball" -C "$dest"
}

if ! tools_ok; then
  fetch "$AXE" "$AXE_SHA512" "$work/axe-core"
  rm -rf "$TOOLS/axe-core"
  mkdir -p "$TOOLS/axe-core"
  cp "$work/axe-core/package/axe.min.js" "$work/axe-core/package/LICENSE" "$TOOLS/axe-core/"
  echo "$AXE" > "$TOOLS_STAMP"
  echo "fetch-static: installed $AXE into $TOOLS"
fi
if vendor_ok; then
  exit 0
fi

fetch "$MATHJAX" "$MATHJAX_SHA512" "$work/mathjax"
fetch "$HTML_MANAGER" "$HTML_MANAGER_SHA512" "$work/html-manager"

# Assemble beside the target and swap it in, so an interrupted run never leaves half a vendor folder.
rm -rf "$new"
mkdir -p "$new/mathjax" "$new/html-manager"
# MathJax's es5/ folder: the combined component (tex-chtml.js) loads its fonts, TeX extensions and
# the accessibility tools from the folder beside it on demand.
cp -R "$work/mathjax/package/es5/." "$new/mathjax/"
cp "$work/mathjax/package/LICENSE" "$new/mathjax/"
# The html manager's standalone bundle (no require.js needed) with the icon fonts it references
# relative to its own location; the AMD variants and source maps are not used.
find "$work/html-manager/package/dist" -maxdepth 1 -type f \
  ! -name '*.map' ! -name 'embed-amd.js' ! -name 'libembed-amd.js' \
  -exec cp {} "$new/html-manager/" \;
echo "$WANT" > "$new/.versions"

rm -rf "$VENDOR.old"
[ -d "$VENDOR" ] && mv "$VENDOR" "$VENDOR.old"
mv "$new" "$VENDOR"
rm -rf "$VENDOR.old"
echo "fetch-static: installed $WANT into $VENDOR"
