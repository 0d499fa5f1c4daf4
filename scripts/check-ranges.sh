#!/usr/bin/env bash
# Prove one end of the dependency ranges in pyproject.toml: install the package into a fresh venv with
# every [project] dependency at its lowest allowed version (oldest) or at the newest available (newest),
# and run the unit tests there against the installed package.
#
# Usage: bash scripts/check-ranges.sh PYTHON oldest|newest
#   e.g. bash scripts/check-ranges.sh /root/.pyenv/versions/3.10.13/bin/python oldest
#
# oldest: each dependency whose environment marker holds for PYTHON is pinned (pip constraints file) to
#         the version of its ">=" (or "==", "~=") bound; their own dependencies resolve freely.
# newest: no pin; pip takes the newest release that fits the ranges and PYTHON.
# Only binary wheels are accepted: a floor that installs only by compiling from source is not proven.
# torch comes from PyPI as it is (on Linux x86_64 a CUDA build plus its nvidia-* packages, about 3-4 GB
# installed); it runs on CPU. The test tools (pytest, hypothesis, mpmath, pycocotools: the dev extra's
# ranges) take their newest fitting release in both modes.
# The unit tests: the files in UNIT_TESTS below, with -m "not quality and not browser and not slow".
# Extra arguments after the mode go to pytest. The venv is deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: bash scripts/check-ranges.sh PYTHON oldest|newest [PYTEST_ARGS...]"
PYTHON=${1:?$usage}
END=${2:?$usage}
shift 2
case "$END" in
  oldest|newest) ;;
  *) echo "check-ranges: expected 'oldest' or 'newest' as the second argument, got '$END'" >&2; exit 2 ;;
esac
command -v "$PYTHON" >/dev/null 2>&1 || { echo "check-ranges: no Python interpreter at '$PYTHON'" >&2; exit 2; }

# The unit tests: the tests of the package's modules against their references. Not here: the book,
# notebooks, exercises, grader and quality tests, which need the book build, Chromium, the sandbox or
# minutes of training (the whole suite covers them, in the pinned environment). A new unit test file
# joins by its name here.
UNIT_TESTS=(
  tests/test_properties_*.py
  tests/test_{activations,architectures,attention,autoencoders,autograd,boltzmann,cli,cnn,cnn_training}.py
  tests/test_{config,data,data_cifar,data_scenes,data_text,deep_dynamics,deep_training,detection}.py
  tests/test_{detection_diagrams,detector,diagrams,embedding_diagrams,embeddings,gan_training,gans}.py
  tests/test_{hebbian,intro,metric_learning,metric_training,mlp,mlp_training,normalization,optim}.py
  tests/test_{perceptron,plotting,regularization,rnn,rnn_diagrams,rnn_training,saliency,scoring_types}.py
  tests/test_{segmentation,training,training_diagrams,transformer,unet,vae,widgets,word2vec}.py
)
TEST_TOOLS=(pytest hypothesis mpmath pycocotools)

# Only PyPI and this script decide what "oldest" and "newest" are: a site-wide pip.conf (a local mirror,
# a cap such as torch<=X) or a PIP_CONSTRAINT would silently move either end.
export PIP_CONFIG_FILE=/dev/null
unset PIP_CONSTRAINT PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_NO_INDEX
export PIP_DISABLE_PIP_VERSION_CHECK=1 DLCOURSE_MODE=fast MPLBACKEND=Agg

WORK=$(mktemp -d "${TMPDIR:-/tmp}/check-ranges.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS

"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --upgrade pip
# packaging and (before 3.11) tomli read pyproject.toml below; pytest depends on both anyway.
"$VPY" -m pip install -q packaging 'tomli>=1; python_version < "3.11"'

# Write the pins (oldest) and the test tools' requirements; print the dependency names.
"$VPY" - "$END" "$WORK" "${TEST_TOOLS[@]}" > "$WORK/names.txt" <<'PYEOF'
"""Lower-bound pins for the [project] dependencies that apply here, and the dev extra's test tools."""
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

end, work, tools = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
pins, names = [], []
for line in project["dependencies"]:
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate():
        continue
    names.append(canonicalize_name(req.name))
    floors = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
    if len(floors) != 1:
        sys.exit(f"check-ranges: {line!r}: expected one lower bound (>=, == or ~=), found {len(floors)}")
    pins.append(f"{req.name}=={floors[0]}")
dev = {canonicalize_name(Requirement(r).name): r for r in project["optional-dependencies"]["dev"]}
missing = [t for t in tools if canonicalize_name(t) not in dev]
if missing:
    sys.exit(f"check-ranges: test tools {missing} are not in the dev extra of pyproject.toml")
(work / "pins.txt").write_text("\n".join(pins if end == "oldest" else []) + "\n", encoding="utf-8")
(work / "tools.txt").write_text("\n".join(dev[canonicalize_name(t)] for t in tools) + "\n", encoding="utf-8")
print("\n".join(names))
PYEOF

# Install from a copy, so that building the package leaves nothing in the working tree.
mkdir "$WORK/pkg"
cp -r pyproject.toml README.md src "$WORK/pkg/"
"$VPY" -m pip install -q --only-binary=:all: -c "$WORK/pins.txt" "$WORK/pkg" -r "$WORK/tools.txt"
# The installed version of each dependency; at the oldest end, proof that each pin holds (from what is
# installed, not from what was asked) and that dlcourse is the installed copy, not the working tree.
installed=$(cd "$WORK" && "$VPY" - "$WORK/names.txt" "$WORK/pins.txt" <<'PYEOF'
"""Print name==version for each dependency; exit non-zero if a pin does not hold."""
import sys
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

import dlcourse

if "site-packages" not in dlcourse.__file__:
    sys.exit(f"check-ranges: dlcourse imported from {dlcourse.__file__}, not from the venv")
names = Path(sys.argv[1]).read_text(encoding="utf-8").split()
for line in Path(sys.argv[2]).read_text(encoding="utf-8").split():
    pin = Requirement(line)
    if not pin.specifier.contains(version(pin.name), prereleases=True):
        sys.exit(f"check-ranges: asked {line}, installed {pin.name}=={version(pin.name)}")
print(" ".join(f"{n}=={version(n)}" for n in names))
PYEOF
)
install_s=$((SECONDS - start))

for f in "${UNIT_TESTS[@]}"; do
  [ -f "$f" ] || { echo "check-ranges: unit test file $f is missing" >&2; exit 2; }
done
set +e
"$VPY" -m pytest -q -p no:cacheprovider -o addopts="-ra" -m "not quality and not browser and not slow" \
  "${UNIT_TESTS[@]}" "$@" > "$WORK/pytest.log" 2>&1
rc=$?
set -e
tail -n 40 "$WORK/pytest.log"
pyver=$("$VPY" -c 'import platform; print(platform.python_version())')
echo "check-ranges: python $pyver $END: $installed"
echo "check-ranges: install ${install_s} s, tests $((SECONDS - start - install_s)) s, pytest exit $rc:" \
  "$(grep -E '^[=]* ?[0-9]+ (passed|failed)' "$WORK/pytest.log" | tail -n 1)"
exit $rc
