"""The notebooks' install cell, and the ref it installs.

Integration: two throw-away venvs stand in for Colab, whose Python already holds torch, numpy, matplotlib
and ipywidgets. The first holds them in our ranges as Colab does, numpy 2.0.2 and ipywidgets 7.7.1, with
a numpy that a plain ``pip install dlcourse`` would upgrade (checked here with pip's dry run, so the test
can fail); the second holds ipywidgets 7.6.5, outside our range (>=7.7). The setup block (``nbtools.setup_block``, exactly as stamped)
runs in a real IPython shell (``InteractiveShell.run_cell``, what ipykernel calls) in each venv, against
a local clone of this repository (a ``file://`` URL and a real tag or commit of the clone). What is
installed is read before and after with ``importlib.metadata`` (version, dist-info folder, METADATA
time), independently of the pip the cell uses. The first venv also gets a current pip, as Colab has;
the second keeps the pip its Python bundles. Real venvs, not ``--system-site-packages``: pip would see
the base interpreter's packages as installed but could not touch them, which hides exactly the
upgrades and removals this file looks for.

Unit: the block's text (property-tested over refs and URLs), the ref a book build names (tagged HEAD,
untagged HEAD, dirty tree, no git), the staged copy of the book, ``dlcourse setup-cells --ref``, and the
built book's stamped notebooks and launch buttons.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import venv
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcourse
from dlcourse import bookstage, nbtools
from dlcourse.cli import main

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 900
ANSI = re.compile(r"\x1b\[[0-9;]*m")
NOW_MISSING = {"dlcourse", "scipy", "scikit-learn", "mlxtend", "tqdm", "threadpoolctl"}  # not on "Colab" here

# Run inside a venv: what is installed, by normalized name -> [version, dist-info folder, METADATA mtime].
SNAPSHOT = r"""
import importlib.metadata, json, os, re
seen = {}
for dist in importlib.metadata.distributions():
    folder = str(getattr(dist, "_path", ""))
    meta = os.path.join(folder, "METADATA")
    mtime = os.stat(meta).st_mtime_ns if os.path.exists(meta) else None
    name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
    seen.setdefault(name, [dist.version, os.path.basename(folder), mtime])
print(json.dumps(seen))
"""
# Run inside a venv: the cell in argv[1], argv[2] times, in one IPython shell, as a kernel runs cells.
RUN_CELLS = r"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
code = open(sys.argv[1], encoding="utf-8").read()
for _ in range(int(sys.argv[2])):
    result = shell.run_cell(code)
    error = result.error_in_exec or result.error_before_exec
    print("\n@@CELL " + json.dumps({"ok": result.success, "error": f"{type(error).__name__}: {error}" if error
                                    else None}), flush=True)
"""


@dataclass(frozen=True)
class Clone:
    url: str
    tag: str
    tag_commit: str


@dataclass(frozen=True)
class CellRun:
    ok: bool
    error: str | None
    output: str


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)
    if done.returncode:
        raise AssertionError(f"{cmd} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def _git(repo: Path, *args: str) -> str:
    return _run(["git", "-C", str(repo), *args]).stdout.strip()


def _python(env: Path) -> str:
    return str(env / "bin" / "python")


def _make_venv(path: Path, *requirements: str, upgrade_pip: bool = False) -> Path:
    venv.EnvBuilder(with_pip=True).create(path)
    pip = [_python(path), "-m", "pip", "install", "-q", "--no-compile"]  # no .pyc: faster, changes nothing
    if upgrade_pip:
        _run(pip + ["--upgrade", "pip"])
    _run(pip + list(requirements))
    return path


def _snapshot(env: Path) -> dict[str, list]:
    return json.loads(_run([_python(env), "-c", SNAPSHOT]).stdout)


def _run_cells(env: Path, code: str, tmp: Path, times: int) -> list[CellRun]:
    cell = tmp / "cell.py"
    cell.write_text(code, encoding="utf-8")
    done = subprocess.run([_python(env), "-c", RUN_CELLS, str(cell), str(times)], capture_output=True, text=True,
                          timeout=TIMEOUT)
    parts = re.split(r"^@@CELL (.*)$", ANSI.sub("", done.stdout), flags=re.MULTILINE)
    runs = [CellRun(output=out, **json.loads(marker)) for out, marker in zip(parts[0::2], parts[1::2])]
    assert len(runs) == times, f"the shell stopped early:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return runs


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Clone:
    """A local clone of this repository, with the release tag v<version> on its HEAD."""
    repo = tmp_path_factory.mktemp("clone") / "dlcourse"
    _run(["git", "clone", "--quiet", str(ROOT), str(repo)])
    tag = nbtools.release_ref(repo / "pyproject.toml")
    if not bookstage.has_tag(repo, tag):
        _git(repo, "tag", tag)
    return Clone(url=f"file://localhost{repo}", tag=tag, tag_commit=_git(repo, "rev-parse", f"{tag}^{{commit}}"))


@pytest.fixture(scope="module")
def venvs(tmp_path_factory) -> dict[str, Path]:
    """Both venvs, made at once (pip waits on the network and the disk as much as on the CPU).

    "colab": torch (this machine's CPU build), numpy 2.0.2, matplotlib and ipywidgets 7.7.1 (as Colab has),
    a current pip; "old_widgets": ipywidgets 7.6.5 (dlcourse needs >=7.7,<9), with the pip that the Python
    bundles.
    """
    base = tmp_path_factory.mktemp("venvs")
    torch = importlib.metadata.version("torch")
    with ThreadPoolExecutor(max_workers=2) as pool:
        colab = pool.submit(_make_venv, base / "colab", f"torch=={torch}", "numpy==2.0.2", "matplotlib",
                            "ipywidgets==7.7.1", upgrade_pip=True)
        old_widgets = pool.submit(_make_venv, base / "old-widgets", "ipywidgets==7.6.5")
        return {"colab": colab.result(), "old_widgets": old_widgets.result()}


def _plain_pip_would_install(env: Path, package: str) -> dict[str, str]:
    """What an unconstrained ``pip install package`` (the old cell) would install here: name -> version."""
    report = _run([_python(env), "-m", "pip", "install", "--dry-run", "-q", "--report", "-", package]).stdout
    return {re.sub(r"[-_.]+", "-", i["metadata"]["name"]).lower(): i["metadata"]["version"]
            for i in json.loads(report)["install"]}


@pytest.mark.slow
def test_the_cell_installs_what_is_missing_at_its_ref_and_changes_nothing_installed(venvs, clone, tmp_path):
    colab_like = venvs["colab"]
    before = _snapshot(colab_like)
    assert before["numpy"][0] == "2.0.2" and {"torch", "matplotlib", "ipywidgets"} <= set(before)
    assert not NOW_MISSING & set(before)
    package = f"dlcourse @ git+{clone.url}@{clone.tag}"
    plain = _plain_pip_would_install(colab_like, package)
    assert {n for n, v in plain.items() if n in before and before[n][0] != v}, \
        f"the old cell would change nothing here, so this environment proves nothing: {plain}"

    code = nbtools.setup_block(clone.url, clone.tag)
    first, second = _run_cells(colab_like, code, tmp_path, times=2)
    assert first.ok, first.output
    assert f"Installing {package}" in first.output
    assert second.ok and "Installing" not in second.output  # run twice: the second finds dlcourse
    after = _snapshot(colab_like)
    assert {name: after.get(name) for name in before} == before  # nothing upgraded, downgraded or removed
    assert NOW_MISSING <= set(after) - set(before)
    direct = json.loads(_run([_python(colab_like), "-c", "import importlib.metadata as m; "
                              "print(m.distribution('dlcourse').read_text('direct_url.json'))"]).stdout)
    assert direct["vcs_info"]["commit_id"] == clone.tag_commit
    assert direct["vcs_info"]["requested_revision"] == clone.tag

    (fresh,) = _run_cells(colab_like, code, tmp_path, times=1)  # a new session on the same environment
    assert fresh.ok and "Installing" not in fresh.output
    assert _snapshot(colab_like) == after


@pytest.mark.slow
def test_a_package_outside_the_ranges_stops_the_cell_with_a_clear_message_and_nothing_changed(
        venvs, clone, tmp_path):
    old_widgets = venvs["old_widgets"]
    before = _snapshot(old_widgets)
    assert before["ipywidgets"][0].startswith("7.") and "dlcourse" not in before
    code = nbtools.setup_block(clone.url, clone.tag_commit)
    (run,) = _run_cells(old_widgets, code, tmp_path, times=1)
    assert not run.ok
    assert run.error.startswith("RuntimeError: dlcourse was not installed, and nothing was changed")
    assert f'run: %pip install "dlcourse @ git+{clone.url}@{clone.tag_commit}"' in run.error
    assert re.search(r"conflict", run.output, re.IGNORECASE) and "ipywidgets" in run.output  # pip's report
    assert _snapshot(old_widgets) == before


# ---- the block's text -----------------------------------------------------------------------

def _assigned_strings(code: str) -> dict[str, str]:
    """Names assigned a string constant anywhere in code (Python's own parser)."""
    found = {}
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return found


@settings(max_examples=200, deadline=None)
@given(ref=st.text(alphabet=st.sampled_from("aZ09._/+-\"' \\\n@#{}é"), max_size=12))
def test_the_block_installs_exactly_the_ref_it_names_or_refuses_it(ref):
    url = "https://github.com/dlcourse/dlcourse"
    try:
        code = nbtools.setup_block(url, ref)
    except ValueError as err:
        assert "expected a git tag, branch or commit" in str(err) and repr(ref) in str(err)
        return
    # git itself accepts every ref the block takes (git check-ref-format, the independent reference).
    assert subprocess.run(["git", "check-ref-format", "--allow-onelevel", ref]).returncode == 0, ref
    assert _assigned_strings(code) == {"repository": f"git+{url}", "ref": ref}
    assert code.startswith(nbtools.SETUP_BEGIN) and code.endswith(nbtools.SETUP_END)


@pytest.mark.parametrize("url", ["", "github.com/a/b", "https://x/a b", 'https://x/a"b', "https://x/a\\b",
                                 "https://x/a#frag", "ftp://x/a"])
def test_a_url_pip_cannot_clone_or_that_breaks_the_string_is_refused(url):
    with pytest.raises(ValueError, match="expected the repository as an http"):
        nbtools.setup_block(url, "v1")


def test_the_block_fits_the_notebook_line_width_with_a_full_commit_and_defaults_to_the_release():
    url = nbtools.repository_url(ROOT / "_config.yml")
    code = nbtools.setup_block(url, "f" * 40)
    assert max(map(len, code.splitlines())) <= 100  # tests/test_learner_pages.py: MAX_CODE_LINE
    assert nbtools.setup_block(url) == nbtools.setup_block(url, f"v{dlcourse.__version__}")


def test_the_release_ref_is_the_version_of_pyproject_and_of_the_package(tmp_path):
    try:
        import tomllib
        version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    except ImportError:  # Python 3.10: the installed metadata, built from pyproject.toml
        import importlib.metadata
        version = importlib.metadata.version("dlcourse")
    assert nbtools.release_ref(ROOT / "pyproject.toml") == f"v{version}" == f"v{dlcourse.__version__}"
    for text in ('[tool.x]\nversion = "9"\n[project]\nname = "x"\n', 'version = "9"\n'):  # not [project]'s
        (tmp_path / "pyproject.toml").write_text(text)
        with pytest.raises(ValueError, match="expected a `version"):
            nbtools.release_ref(tmp_path / "pyproject.toml")


# ---- the ref a build names ------------------------------------------------------------------------

def _repo(path: Path, version: str = "1.2.3") -> Path:
    path.mkdir()
    (path / "pyproject.toml").write_text(f'[project]\nname = "x"\nversion = "{version}"\n')
    _git(path, "init", "--quiet")
    _git(path, "add", "-A")
    _git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "one")
    return path


def test_an_untagged_head_names_its_commit_and_a_dirty_tree_says_so(tmp_path):
    repo = _repo(tmp_path / "r")
    head = _git(repo, "rev-parse", "HEAD")
    assert bookstage.build_ref(repo) == bookstage.BuildRef(head, "commit", dirty=False)
    assert re.fullmatch(r"[0-9a-f]{40}", head)
    (repo / "pyproject.toml").write_text((repo / "pyproject.toml").read_text() + "# edited\n")
    # Dirty: still HEAD's commit (what the install can fetch), flagged so that the build warns.
    assert bookstage.build_ref(repo) == bookstage.BuildRef(head, "commit", dirty=True)
    (repo / "new.md").write_text("x")
    assert bookstage.build_ref(repo).dirty


def test_a_tagged_head_names_its_tag_the_release_tag_first(tmp_path):
    repo = _repo(tmp_path / "r")
    _git(repo, "tag", "docs-2")
    assert bookstage.build_ref(repo) == bookstage.BuildRef("docs-2", "tag", dirty=False)
    _git(repo, "tag", "v1.2.3")
    _git(repo, "tag", "zz-later")
    assert bookstage.build_ref(repo).ref == "v1.2.3" and bookstage.has_tag(repo, "v1.2.3")
    assert not bookstage.has_tag(repo, "v9")


def test_outside_git_the_build_names_the_release_tag(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "4.5"\n')
    assert bookstage.build_ref(tmp_path) == bookstage.BuildRef("v4.5", "release", dirty=False)


# ---- the staged book ---------------------------------------------------------------------------

CONFIG = """title: t
exclude_patterns:
  - src
  - _static
  - "**.ipynb_checkpoints"
repository:
  url: https://github.com/o/course
  branch: main  # launch buttons
  path_to_book: ""
"""


def _notebook(first_code: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# T\n"]},
                      {"cell_type": "code", "metadata": {}, "source": first_code, "outputs": [],
                       "execution_count": None}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _book(root: Path) -> Path:
    for folder in ("notebooks", "book", "_static", "src", ".hidden", "notebooks/.ipynb_checkpoints"):
        (root / folder).mkdir(parents=True)
    (root / "_config.yml").write_text(CONFIG)
    (root / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0.3.0"\n')
    chapter = _notebook("import numpy\n")
    nbtools.stamp_setup_cell(chapter, "https://github.com/o/course", "v0.3.0")
    nbtools.write_notebook(chapter, root / "notebooks" / "a.ipynb")
    nbtools.write_notebook(_notebook("x = 1\n"), root / "notebooks" / "plain.ipynb")
    for name in ("book/x.md", "_static/s.js", "src/mod.py", ".hidden/f", "notebooks/.ipynb_checkpoints/a.ipynb"):
        (root / name).write_text(name)
    return root


def _digests(root: Path, skip: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and skip not in p.parents}


def test_the_staged_book_installs_and_launches_the_ref_and_the_tree_is_not_written(tmp_path):
    root = _book(tmp_path / "root")
    dest = root / "_build" / "book-src"
    tree = _digests(root, dest.parent)
    ref = "0123456789abcdef0123456789abcdef01234567"
    bookstage.stage_book(root, dest, ref)
    assert _digests(root, dest.parent) == tree
    staged = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert staged == ["_config.yml", "_static/s.js", "book/x.md", "notebooks/a.ipynb", "notebooks/plain.ipynb",
                      "pyproject.toml"]
    config, original = yaml.safe_load((dest / "_config.yml").read_text()), yaml.safe_load(CONFIG)
    assert config["repository"] == {**original["repository"], "branch": ref} and config["title"] == "t"
    cells = [c for c in nbtools.read_notebook(dest / "notebooks" / "a.ipynb")["cells"] if c["cell_type"] == "code"]
    assert nbtools.cell_source(cells[0]) == nbtools.setup_block("https://github.com/o/course", ref) + "\nimport numpy\n"
    assert (dest / "notebooks" / "plain.ipynb").read_bytes() == (root / "notebooks" / "plain.ipynb").read_bytes()


def test_restaging_rewrites_only_what_changed_and_drops_what_is_gone(tmp_path):
    root = _book(tmp_path / "root")
    dest = tmp_path / "stage"
    assert len(bookstage.stage_book(root, dest, "v0.3.0")) == 6
    assert bookstage.stage_book(root, dest, "v0.3.0") == []
    assert sorted(bookstage.stage_book(root, dest, "v0.4.0")) == [dest / "_config.yml", dest / "notebooks" / "a.ipynb"]
    (root / "book" / "x.md").unlink()
    (root / "_static" / "s.js").write_text("changed")
    assert sorted(bookstage.stage_book(root, dest, "v0.4.0")) == [dest / "_static" / "s.js", dest / "book" / "x.md"]
    assert not (dest / "book").exists() and (dest / "_static" / "s.js").read_text() == "changed"


@pytest.mark.parametrize("text", ["title: t\n", "repository:\n  url: https://x/y\n"])
def test_the_branch_is_set_or_added_and_a_config_without_repository_is_refused(text):
    if "repository" not in text:
        with pytest.raises(ValueError, match="expected a 'repository:' section"):
            bookstage.with_branch(text, "v1")
    else:
        assert yaml.safe_load(bookstage.with_branch(text, "1.0"))["repository"] == {"url": "https://x/y",
                                                                                   "branch": "1.0"}


def test_setup_cells_stamps_the_release_of_pyproject_or_the_given_ref(tmp_path, capsys):
    root = _book(tmp_path / "root")
    (root / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0.5.1"\n')
    args = ["setup-cells", str(root / "notebooks"), "--config", str(root / "_config.yml")]
    def first_cell() -> str:
        cells = nbtools.read_notebook(root / "notebooks" / "a.ipynb")["cells"]
        return nbtools.cell_source(next(c for c in cells if c["cell_type"] == "code"))

    assert main(args + ["--check"]) == 1  # the notebook names v0.3.0
    assert main(args) == 0 and first_cell().startswith(nbtools.setup_block("https://github.com/o/course", "v0.5.1"))
    assert main(args + ["--check"]) == 0
    assert main(args + ["--ref", "abc123"]) == 0 and 'ref = "abc123"' in first_cell()
    capsys.readouterr()
    assert main(args + ["--ref", "a b"]) == 2
    assert "expected a git tag, branch or commit" in capsys.readouterr().err


def test_bookstage_main_stages_at_a_given_ref_and_reports_bad_input(tmp_path, capsys):
    root = _book(tmp_path / "root")
    assert bookstage.main(["--root", str(root), "--ref", "v0.3.0"]) == 0
    assert "at v0.3.0 (given)" in capsys.readouterr().out
    assert yaml.safe_load((root / bookstage.STAGE / "_config.yml").read_text())["repository"]["branch"] == "v0.3.0"
    assert bookstage.main(["--root", str(root), "--ref=-x"]) == 2
    assert "bookstage: expected a git tag" in capsys.readouterr().err


# ---- the built book ----------------------------------------------------------------------------

def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _toc_notebooks() -> list[str]:
    names = re.findall(r"^\s*(?:-\s*file|root):\s*(\S+)", (ROOT / "_toc.yml").read_text(), flags=re.MULTILINE)
    return [n for n in names if (ROOT / f"{n}.ipynb").is_file()]


def check_built_book(html: Path, staged_config: Path) -> str:
    """Assert that every notebook page of the book in html installs and launches the ref it was staged at."""
    repo = yaml.safe_load(staged_config.read_text())["repository"]
    ref, url = nbtools.check_ref(str(repo["branch"])), repo["url"]
    owner_name = url.removeprefix("https://github.com/")
    for docname in _toc_notebooks():
        page = (html / f"{docname}.html").read_text(encoding="utf-8")
        assert f"https://colab.research.google.com/github/{owner_name}/blob/{ref}/{docname}.ipynb" in page
        downloaded = nbtools.read_notebook(html / "_sources" / f"{docname}.ipynb")
        first = next(c for c in downloaded["cells"] if c["cell_type"] == "code")
        assert nbtools.cell_source(first).startswith(nbtools.setup_block(url, ref)), docname
        assert f"\"{ref}\"" in page, docname  # the page shows the block it offers
    return ref


def test_the_built_book_installs_and_launches_the_ref_it_was_built_at():
    html, staged = ROOT / "_build" / "html", ROOT / bookstage.STAGE / "_config.yml"
    if not (html / "index.html").is_file() or not staged.is_file():
        message = "the book is not built by scripts/build-book.sh (no _build/html or _build/book-src)"
        if _ci():
            pytest.fail(message + " (CI is set: a missing build is a failure)")
        pytest.skip(message)
    ref = check_built_book(html, staged)
    if _ci():  # a fresh clone, built by scripts/test.sh: the book names HEAD (its tag or commit), not main
        assert ref == bookstage.build_ref(ROOT).ref


def test_the_setup_page_shows_the_block_the_committed_notebooks_carry():
    page = (ROOT / "book" / "setup.md").read_text(encoding="utf-8")
    url, release = nbtools.repository_url(ROOT / "_config.yml"), nbtools.release_ref(ROOT / "pyproject.toml")
    block = nbtools.setup_block(url, release)
    assert f"```python\n{block}\n```" in page
