"""``dlcourse gradescope-bundle``: the autograder zip that runs ``dlcourse grade`` inside Gradescope.

Gradescope's autograder specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/,
source: https://github.com/gradescope/autograder_samples/blob/master/docs/specs.md): the zip holds
``setup.sh`` (run once, as root, when the image is built; network available) and ``run_autograder``
(copied to ``/autograder/run_autograder``, run as root per submission, working directory
``/autograder``). The zip is unpacked in ``/autograder/source``; the student's files arrive in
``/autograder/submission``; the run must leave ``/autograder/results/results.json``, whose fields are
``score``, ``execution_time``, ``output``, ``output_format``, ``visibility``, ``stdout_visibility``,
``extra_data``, ``tests`` (each: ``score``, ``max_score``, ``status``, ``name``, ``number``, ``output``,
``output_format``, ``tags``, ``visibility``, ``extra_data``) and ``leaderboard`` (``name``, ``value``,
``order``; https://gradescope-autograders.readthedocs.io/en/latest/leaderboards/). What run_autograder
prints goes to ``/autograder/results/stdout``, shown to instructors only unless ``stdout_visibility``
says otherwise. The default base image is Ubuntu 22.04
(https://github.com/gradescope/autograder_samples/blob/master/docs/base_images.md), whose ``python3``
is 3.10 (a course's report of its image: https://6112-fa25.github.io/autograder); torch 2.13.0 has
cp310 wheels.

The bundle holds this package as a wheel built from the current checkout (so Gradescope grades with
the course version that made it), the instructor's banks, and ``dlcourse-autograder.json`` with the
assignment and the hidden-case seed. Students never see ``/autograder/source``: run_autograder makes
it root-only (the sandbox runs as uid 65534) and works from it, so it is one of the folders that
``dlcourse grade`` masks (``grade._secrets``: the working directory), and the sandbox mounts nothing
under ``/autograder`` at all. Every string that reaches results.json is escaped
(:func:`~dlcourse.grading.sinks.feedback_text`) and marked ``output_format: "text"`` (shown verbatim).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any

from .records import VISIBILITIES, atomic_write
from .sinks import feedback_text, terminal_text

CONFIG = "dlcourse-autograder.json"
FORMAT = "dlcourse-gradescope-1"
VENV = "/opt/dlcourse-venv"  # outside /autograder: the sandbox mounts the venv's site-packages, never /autograder
TORCH_PIN = "torch==2.13.0"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
ROOT_ENV = "DLCOURSE_AUTOGRADER_ROOT"  # a test's throw-away root instead of /autograder
LEADERBOARDS = ("score", "time")
GRADER_ERROR = "grader error, your instructor has been told; your submission will be graded again."
_WHEN = {"after_due_date": "after the due date (the late due date, if late submissions are allowed)",
         "after_published": "when your instructor publishes the grades", "hidden": "to your instructor only"}

SETUP_SH = f"""#!/usr/bin/env bash
# setup.sh: run once, as root, when Gradescope builds the autograder image (Ubuntu 22.04 base image).
set -euo pipefail
SRC="$(cd "$(dirname "$0")" && pwd)"  # /autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get update
# bubblewrap: the sandbox of `dlcourse grade`; python3-venv: a venv outside /autograder
apt-get install -y --no-install-recommends bubblewrap python3 python3-venv
python3 -m venv {VENV}
{VENV}/bin/python -m pip install --upgrade pip
# The CPU build of torch, pinned as in the course's own setup (the default index pulls CUDA wheels).
{VENV}/bin/python -m pip install "{TORCH_PIN}" --index-url {TORCH_INDEX}
# This course's package, exactly the version that built this bundle (its dependencies come from PyPI).
{VENV}/bin/python -m pip install "$SRC/__WHEEL__"
{VENV}/bin/dlcourse --help >/dev/null
chmod -R go-rwx "$SRC"  # the seed and the banks: root only
"""

RUN_AUTOGRADER = f"""#!/usr/bin/env bash
# run_autograder: grade the submission with `dlcourse grade` (sandboxed); always leave a valid results.json.
set -u
ROOT="${{{ROOT_ENV}:-/autograder}}"
RESULTS="$ROOT/results/results.json"
if [ -d {VENV}/bin ]; then PATH="{VENV}/bin:$PATH"; fi
export PATH
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
chmod -R go-rwx "$ROOT/source"  # root only: the sandbox runs as uid 65534
cd "$ROOT/source" && dlcourse gradescope-run --root "$ROOT"
status=$?
if [ ! -s "$RESULTS" ]; then  # the grader itself failed before writing anything
  echo "run_autograder: dlcourse gradescope-run ended with status $status and wrote no results.json" >&2
  cat > "$RESULTS" <<'EOF'
{{"score": 0.0, "output": "{GRADER_ERROR}", "output_format": "text", "visibility": "visible",
 "stdout_visibility": "hidden", "tests": [], "extra_data": {{"dlcourse": {{"grader_error": true}}}}}}
EOF
fi
exit 0
"""


# ----------------------------------------------------------------------------- building the bundle

def checkout_root() -> Path:
    """The source checkout this package runs from (``pyproject.toml`` next to ``src/dlcourse``)."""
    package = Path(__file__).resolve().parents[1]
    root = package.parents[1]
    if package.parent.name != "src" or not (root / "pyproject.toml").is_file():
        raise ValueError(f"gradescope-bundle builds the course package into the bundle from a source checkout "
                         f"(pyproject.toml next to src/dlcourse); this dlcourse is installed at {package}")
    return root


def build_wheel(dest: Path) -> Path:
    """A wheel of the current checkout, built from a clean copy (no build files left in the checkout)."""
    root = checkout_root()
    with tempfile.TemporaryDirectory(prefix="dlcourse-wheel-") as tmp:
        copy = Path(tmp) / "src-copy"
        shutil.copytree(root / "src", copy / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        for name in ("pyproject.toml", "README.md", "LICENSE", "LICENSE.md", "MANIFEST.in", "setup.cfg"):
            if (root / name).is_file():
                shutil.copy(root / name, copy / name)
        # The project's PEP 517 backend (pyproject.toml), called directly: no network, and seconds faster than pip.
        build = "import sys; from setuptools import build_meta; build_meta.build_wheel(sys.argv[1])"
        done = subprocess.run([sys.executable, "-c", build, str(dest)], cwd=copy, capture_output=True, text=True)
        wheels = sorted(dest.glob("dlcourse-*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            raise ValueError(f"could not build the dlcourse wheel (setuptools and wheel must be installed): "
                             f"{done.stderr.strip()[-800:]}")
    return wheels[0]


def bundle_config(assignment: str, registry: Any, seed: int | None, hidden_visibility: str,
                  leaderboard: list[str], timeout: float, memory_mb: int, sandbox: bool) -> dict[str, Any]:
    """What run_autograder needs to know, checked: the assignment exists, the options make sense."""
    exercises = registry.of(assignment)
    if not exercises:
        raise KeyError(f"no exercises registered for assignment {assignment!r}; "
                       f"known: {', '.join(sorted(registry.notebooks()))}")
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"--hidden-visibility must be one of {', '.join(VISIBILITIES)}, got {hidden_visibility!r}")
    unknown = sorted(set(leaderboard) - set(LEADERBOARDS))
    if unknown:
        raise ValueError(f"--leaderboard takes {' or '.join(LEADERBOARDS)}, got {', '.join(unknown)}")
    if "score" in leaderboard and hidden_visibility != "visible":
        raise ValueError(f"a score leaderboard would show the hidden cases' results, which --hidden-visibility "
                         f"{hidden_visibility} keeps back; use --leaderboard time, or --hidden-visibility visible")
    if not 0 < timeout < float("inf") or memory_mb <= 0:
        raise ValueError(f"--timeout and --memory-mb must be positive (and finite), got {timeout:g} and {memory_mb}")
    if seed is not None and not 0 <= seed < 2 ** 63:
        raise ValueError(f"--seed must be a non-negative integer below 2**63, got {seed}")
    return {"format": FORMAT, "assignment": assignment,
            "seed": secrets.randbelow(2 ** 31) if seed is None else seed,
            "hidden_visibility": hidden_visibility, "leaderboard": list(dict.fromkeys(leaderboard)),
            "timeout_s": float(timeout), "memory_mb": int(memory_mb), "sandbox": bool(sandbox),
            "exercises": [ex.id for ex in exercises],
            "max_score": round(sum(ex.points for ex in exercises), 6)}


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions (unzip keeps them)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def write_bundle(out: Path, config: dict[str, Any], banks: list[Path]) -> dict[str, Any]:
    """Write the autograder zip: scripts, config (with the seed), the wheel and the banks."""
    config = dict(config, banks=[])
    with tempfile.TemporaryDirectory(prefix="dlcourse-bundle-") as tmp:
        wheel = build_wheel(Path(tmp))
        config["wheel"] = f"wheels/{wheel.name}"
        config["version"] = wheel.name.split("-")[1]
        files: list[tuple[str, bytes, int]] = [("wheels/" + wheel.name, wheel.read_bytes(), 0o644)]
        for index, bank in enumerate(banks):
            base = f"banks/{index}_{bank.stem if bank.is_file() else bank.name}"
            config["banks"].append(base + (".py" if bank.is_file() else ""))
            if bank.is_file():
                files.append((base + ".py", bank.read_bytes(), 0o644))
                continue
            for path in sorted(bank.rglob("*.py")):
                if "__pycache__" not in path.parts:
                    files.append((f"{base}/{path.relative_to(bank).as_posix()}", path.read_bytes(), 0o644))
        files += [("setup.sh", SETUP_SH.replace("__WHEEL__", config["wheel"]).encode(), 0o755),
                  ("run_autograder", RUN_AUTOGRADER.encode(), 0o755),
                  (CONFIG, (json.dumps(config, indent=1) + "\n").encode(), 0o600)]
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        try:
            with zipfile.ZipFile(partial, "w") as archive:
                for name, data, mode in files:
                    _add(archive, name, data, mode)
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
    return config


# ----------------------------------------------------------------------------- inside Gradescope

def find_notebooks(folder: Path, limit: int = 10_000) -> tuple[list[Path], list[str]]:
    """The ``.ipynb`` files of a submission folder (links not followed), and the other files' names."""
    notebooks, others, seen = [], [], 0
    for here, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")  # checkpoints, macOS zips
        for name in sorted(files):
            seen += 1
            if seen > limit:
                return notebooks, others
            if name.startswith("."):
                continue
            path = Path(here, name)
            if name.endswith(".ipynb"):
                notebooks.append(path)
            else:
                others.append(path.relative_to(folder).as_posix())
    return notebooks, others


def _names(items: list[str], most: int = 5) -> str:
    shown = [repr(item[:80]) for item in items[:most]]  # repr escapes controls and lone surrogates
    return ", ".join(shown) + (f" and {len(items) - most} more" if len(items) > most else "")


def refusal(config: dict[str, Any], message: str, error: str | None = None) -> dict[str, Any]:
    """A valid result that scores 0 of the assignment's points and says why (an ungraded submission)."""
    return {"score": 0.0, "execution_time": 0.0, "output": feedback_text(message), "output_format": "text",
            "visibility": "visible", "stdout_visibility": "hidden",
            "tests": [{"name": "submission", "score": 0.0, "max_score": float(config.get("max_score", 0.0)),
                       "status": "failed", "output": feedback_text(message), "output_format": "text",
                       "visibility": "visible", "tags": ["submission"]}],
            "extra_data": {"dlcourse": {"grader": FORMAT, "assignment": config.get("assignment"),
                                        "graded": False, "grader_error": error is not None}}}


def _test(test: dict[str, Any]) -> dict[str, Any]:
    """One test of ``dlcourse grade``'s result in Gradescope's documented fields only."""
    extra = dict(test.get("extra_data") or {})
    if "execution_time" in test:
        extra["execution_time"] = test["execution_time"]
    out = {key: test[key] for key in ("name", "score", "max_score", "status", "visibility") if key in test}
    out.update(output=feedback_text(str(test.get("output", ""))), output_format="text",
               tags=[extra.get("cases", "submission")], extra_data=extra)
    return out


def gradescope_results(data: dict[str, Any], config: dict[str, Any], seconds: float,
                       grader_error: str | None = None) -> dict[str, Any]:
    """``dlcourse grade``'s result for one submission as Gradescope's results.json (no seed inside)."""
    visibility = config["hidden_visibility"]
    tests = [_test(t) for t in data["tests"]]
    public = [t["extra_data"] for t in tests if t["extra_data"].get("cases") == "public"]
    head, *notes = data["output"].split("\n")
    if visibility != "visible":  # the first line tells the score, which the hidden cases decide
        passed, total = sum(p["passed"] for p in public), sum(p["total"] for p in public)
        head = (f"Assignment {config['assignment']}: your notebook was graded; {passed}/{total} public cases passed. "
                f"The hidden cases' results and your score are shown {_WHEN[visibility]}.")
    if grader_error:
        notes.append("Part of the grading failed (a grader error): your instructor has been told and will "
                      "grade it again.")
    meta = {k: v for k, v in data["extra_data"]["dlcourse"].items() if k not in ("seed", "student", "file")}
    result = {"score": data["score"], "execution_time": round(seconds, 3),
              "output": feedback_text("\n".join([head, *notes])), "output_format": "text",
              "visibility": "visible", "stdout_visibility": "hidden", "tests": tests,
              "extra_data": {"dlcourse": dict(meta, bundle=FORMAT, version=config.get("version"), graded=True,
                                              grader_error=grader_error is not None, max_score=data["max_score"],
                                              sandbox_seconds=data["execution_time"])}}
    board = {"score": {"name": "Score", "value": data["score"]},
             "time": {"name": "Grading time (s)", "value": round(data["execution_time"], 2), "order": "asc"}}
    if config.get("leaderboard"):
        result["leaderboard"] = [board[name] for name in config["leaderboard"]]
    return result


def grade_here(root: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Grade the one notebook in ``root/submission``; a missing, doubled or non-notebook upload is refused."""
    from .grade import GradeOptions, grade
    from .registry import Registry
    from .sandbox import Limits, SandboxUnavailable

    start = time.monotonic()
    want = f"your completed {config['assignment']}.ipynb"
    notebooks, others = find_notebooks(root / "submission")
    if not notebooks:
        found = f" (found: {_names(others)})" if others else ""
        return refusal(config, f"Your submission holds no Jupyter notebook{found}. Upload {want}, the .ipynb file "
                               "itself: a .py or PDF export cannot be graded.")
    if len(notebooks) > 1:
        names = [p.relative_to(root / "submission").as_posix() for p in notebooks]
        return refusal(config, f"Your submission holds {len(notebooks)} notebooks ({_names(names)}); upload exactly "
                               f"one, {want}.")
    source = root / "source"
    registry = Registry.load([source / bank for bank in config["banks"]])
    with tempfile.TemporaryDirectory(prefix="dlcourse-gradescope-") as out:
        options = GradeOptions(out=Path(out), seed=int(config["seed"]), assignment=config["assignment"], jobs=1,
                               force=True, sandbox=bool(config["sandbox"]), progress=False, registry=registry,
                               limits=Limits(wall_s=float(config["timeout_s"]), memory_mb=int(config["memory_mb"])),
                               hidden_visibility=config["hidden_visibility"])
        try:
            (report,) = grade([notebooks[0]], options)
        except SandboxUnavailable as err:
            print(f"dlcourse gradescope-run: {err}\nRebuild the bundle with `dlcourse gradescope-bundle ... "
                  "--no-sandbox` only if you accept Gradescope's container as the only barrier.")
            return refusal(config, "The grader could not start its sandbox in this container, so your notebook "
                                   "was not run. Your instructor has been told.", error=str(err))
        data = json.loads((Path(out) / f"{report.key}.json").read_text(encoding="utf-8"))
    if report.error:
        print(f"dlcourse gradescope-run: grader error: {terminal_text(report.error)}")
    if others:
        data["output"] += "\n" + feedback_text(f"Ignored the other files of your submission: {_names(others)}.")
    return gradescope_results(data, config, time.monotonic() - start, report.error)


def load_config(path: Path) -> dict[str, Any]:
    config = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} configuration")
    return config


def run_autograder(root: Path) -> int:
    """Write ``root/results/results.json`` for the submission; a grader crash still writes a valid one."""
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {}
    try:
        config = load_config(root / "source" / CONFIG)
        if config.get("version") and config["version"] != _installed_version():
            print(f"WARNING: this bundle was built with dlcourse {config['version']}, "
                  f"but dlcourse {_installed_version()} is installed")
        if not config["sandbox"]:
            print("WARNING: built with --no-sandbox: student code runs unconfined in Gradescope's container")
        data, status = grade_here(root, config), 0
    except Exception:  # noqa: BLE001 - whatever fails, Gradescope must get a results.json
        traceback.print_exc(file=sys.stdout)
        data, status = refusal(config, GRADER_ERROR, error="crash"), 1
    atomic_write(results, json.dumps(data, indent=1) + "\n")
    return status


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dlcourse")
    except PackageNotFoundError:
        from .. import __version__
        return __version__


# ----------------------------------------------------------------------------- command line

def _cmd_bundle(args: argparse.Namespace) -> int:
    from .registry import Registry

    banks = [Path(b).resolve() for b in args.bank or []]
    if Path(args.out).is_dir():
        raise ValueError(f"--out must name the zip file to write, got the folder {args.out}")
    registry = Registry.load(banks)
    config = bundle_config(args.assignment, registry, args.seed, args.hidden_visibility, args.leaderboard or [],
                           args.timeout, args.memory_mb, not args.no_sandbox)
    config = write_bundle(Path(args.out), config, banks)
    print(f"wrote {args.out}: {args.assignment}, {len(config['exercises'])} exercises "
          f"({config['max_score']:g} points), "
          f"dlcourse {config['version']}, hidden cases {config['hidden_visibility']}; the seed is inside: keep the "
          "zip away from students")
    if args.no_sandbox:
        print("WARNING: --no-sandbox: student code will run unconfined in Gradescope's container", file=sys.stderr)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    return run_autograder(Path(args.root or os.environ.get(ROOT_ENV) or "/autograder"))


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gradescope-bundle`` (instructors) and ``gradescope-run`` (run_autograder's own step)."""
    bundle = sub.add_parser("gradescope-bundle", help="write a Gradescope autograder zip for one assignment")
    bundle.add_argument("assignment", help="exercise notebook stem, e.g. 01_perceptron")
    bundle.add_argument("--out", required=True, help="the zip to write, e.g. autograder.zip")
    bundle.add_argument("--seed", type=int, default=None, help="seed of the hidden cases (default: a random one, "
                                                               "stored in the bundle)")
    bundle.add_argument("--bank", action="append", metavar="PATH", help="an instructor's exercise bank (a folder "
                        "or a .py file), copied into the bundle; may be repeated")
    bundle.add_argument("--hidden-visibility", default="after_due_date", choices=list(VISIBILITIES),
                        help="when students see the hidden cases' results (default after_due_date; public cases "
                             "are always visible)")
    bundle.add_argument("--leaderboard", action="append", choices=list(LEADERBOARDS),
                        help="add a leaderboard column: score (needs --hidden-visibility visible) or time")
    bundle.add_argument("--timeout", type=float, default=60.0, help="wall-clock seconds per exercise (default 60)")
    bundle.add_argument("--memory-mb", type=int, default=2048, help="address space per process (default 2048)")
    bundle.add_argument("--no-sandbox", action="store_true", help="run student code unconfined in Gradescope's "
                        "container (ONLY where bubblewrap cannot run there and you accept that)")
    bundle.set_defaults(func=_cmd_bundle)
    run = sub.add_parser("gradescope-run", help="(run by run_autograder in Gradescope) grade /autograder/submission")
    run.add_argument("--root", default=None, help=f"the autograder folder (default ${ROOT_ENV} or /autograder)")
    run.set_defaults(func=_cmd_run)
