"""The GitHub Actions workflows: actionlint accepts them (and rejects broken copies), and they do what matters.

What matters: a push to main runs the README's test command and deploys the book folder that
scripts/build-book.sh builds; a pull request runs the same tests and can never deploy; the dependency
ranges run at both ends on the oldest and the newest Python that pyproject.toml claims.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
BOOK = WORKFLOWS / "book.yml"
RANGES = WORKFLOWS / "ranges.yml"


def actionlint() -> str:
    """The actionlint binary of the dev extra (next to this Python), else the one on PATH."""
    here = Path(sys.executable).parent / "actionlint"
    found = str(here) if here.exists() else shutil.which("actionlint")
    assert found, "actionlint is missing: install the dev extra (pip install -e '.[dev]')"
    return found


def lint(*files: Path) -> subprocess.CompletedProcess[str]:
    # Shellcheck and pyflakes are off: whether they are on PATH must not change the verdict.
    return subprocess.run([actionlint(), "-no-color", "-shellcheck=", "-pyflakes=", *map(str, files)],
                          capture_output=True, text=True, timeout=60)


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    return {name: {} for name in on} if isinstance(on, list) else on


def holds(condition: str | None, event: str, ref: str) -> bool:
    """Evaluate a job's or step's `if:` for one event and ref (only github.event_name and github.ref)."""
    if condition is None:
        return True
    expr = condition.strip().removeprefix("${{").removesuffix("}}")
    allowed = r"\s+|github\.event_name|github\.ref|'[^']*'|==|!=|&&|\|\||!|\(|\)"
    leftover = re.sub(allowed, "", expr)
    assert not leftover, f"unexpected parts in if: {condition!r}: {leftover!r}"
    python = (expr.replace("github.event_name", repr(event)).replace("github.ref", repr(ref))
              .replace("&&", " and ").replace("||", " or ").replace("!=", " <> ").replace("!", " not ")
              .replace(" <> ", " != "))
    return bool(eval(python, {"__builtins__": {}}, {}))  # only literals and operators remain


def uses(step: dict, action: str) -> bool:
    return str(step.get("uses", "")).split("@")[0] == action


def readme_test_command() -> str:
    """The command that the README's "two commands" block gives for running the test suite."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL).group(1)
    lines = [line for line in block.splitlines() if "test suite" in line]
    assert len(lines) == 1, f"expected one test-suite command in the README block, found {lines}"
    return lines[0].split("#", 1)[0].strip()


def book_build_dir() -> str:
    """The folder that scripts/build-book.sh builds the book into (from the path it tells you to open)."""
    text = (ROOT / "scripts" / "build-book.sh").read_text(encoding="utf-8")
    return re.search(r"open (\S+)/index\.html", text).group(1)


PUSH_MAIN = ("push", "refs/heads/main")
PULL_REQUEST = ("pull_request", "refs/pull/7/merge")
PUSH_BRANCH = ("push", "refs/heads/feature")


def test_actionlint_accepts_every_workflow():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"book.yml", "ranges.yml"}
    result = lint(*files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


BREAKAGES = {
    "job-needs": ("needs: test", "needs: tests"),
    "expression": ("steps.deployment.outputs.page_url", "steps.deploy.outputs.page_url"),
    "permissions": ("pages: write", "page: write"),
    "syntax-check": ("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04"),
}


@pytest.mark.parametrize("rule", sorted(BREAKAGES))
def test_actionlint_rejects_a_broken_copy(tmp_path, rule):
    old, new = BREAKAGES[rule]
    text = BOOK.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / ".github" / "workflows" / "book.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = lint(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"[{rule}]" in result.stdout


def test_push_to_main_and_pull_requests_trigger_the_book_workflow():
    on = triggers(load(BOOK))
    assert on["push"]["branches"] == ["main"]
    assert "pull_request" in on
    assert not (on.get("pull_request") or {}).get("branches"), "every pull request is tested"


def test_the_test_job_runs_the_readme_test_command_on_every_trigger():
    command = readme_test_command()
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_job = load(BOOK)["jobs"]["test"]
    runs = [s for s in test_job["steps"] if s.get("run", "").strip() == command]
    assert len(runs) == 1, f"no step runs {command!r}"
    for event, ref in (PUSH_MAIN, PULL_REQUEST, PUSH_BRANCH):
        assert holds(test_job.get("if"), event, ref) and holds(runs[0].get("if"), event, ref)


def test_push_to_main_deploys_the_book_build_folder_and_pull_requests_never_deploy():
    jobs = load(BOOK)["jobs"]
    deployers = {name: job for name, job in jobs.items()
                 if any(uses(s, "actions/deploy-pages") for s in job.get("steps", []))}
    assert list(deployers) == ["deploy"]
    deploy = deployers["deploy"]
    assert holds(deploy.get("if"), *PUSH_MAIN)
    assert not holds(deploy.get("if"), *PULL_REQUEST)
    assert not holds(deploy.get("if"), *PUSH_BRANCH)
    assert "test" in ([deploy["needs"]] if isinstance(deploy["needs"], str) else deploy["needs"])
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["concurrency"]["group"] and deploy["concurrency"]["cancel-in-progress"] is False
    assert any(uses(s, "actions/configure-pages") for s in deploy["steps"])

    uploads = [s for s in jobs["test"]["steps"] if uses(s, "actions/upload-pages-artifact")]
    assert len(uploads) == 1
    assert uploads[0]["with"]["path"] == book_build_dir()
    assert holds(uploads[0].get("if"), *PUSH_MAIN)
    # No job but deploy may write to Pages.
    for name, job in jobs.items():
        if name != "deploy":
            assert "pages" not in (job.get("permissions") or {}), name
    assert load(BOOK)["permissions"] == {"contents": "read"}


def test_every_action_is_pinned_to_a_full_version():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in load(path)["jobs"].items():
            for step in job.get("steps", []):
                if "uses" in step:
                    ref = step["uses"].split("@", 1)[1]
                    assert re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", ref), f"{path.name}:{name}: {step['uses']}"


def test_the_ranges_matrix_runs_both_ends_on_the_oldest_and_newest_claimed_python():
    workflow = load(RANGES)
    job = workflow["jobs"]["ranges"]
    matrix = job["strategy"]["matrix"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    floor = re.fullmatch(r">=\s*(3\.\d+)", requires).group(1)
    versions = sorted(matrix["python"], key=lambda v: tuple(map(int, v.split("."))))
    assert versions[0] == floor
    assert versions[-1] == "3.13"
    assert sorted(matrix["end"]) == ["newest", "oldest"]
    assert job["strategy"]["fail-fast"] is False
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert any(r.startswith("bash scripts/check-ranges.sh ") and "matrix.end" in r for r in runs)
    assert "pull_request" in triggers(workflow) and triggers(workflow)["push"]["branches"] == ["main"]


def test_the_readme_names_the_pages_address_of_the_configured_repository():
    from dlcourse.nbtools import repository_url

    url = repository_url(ROOT / "_config.yml")
    owner, repo = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)/?", url).groups()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`{url}`" in text
    assert f"`https://{owner.lower()}.github.io/{repo}/`" in text
    assert "GitHub Actions" in text and "dlcourse setup-cells" in text


@pytest.mark.parametrize("args, message", [
    ([sys.executable, "sideways"], "expected 'oldest' or 'newest' as the second argument, got 'sideways'"),
    (["/nonexistent/python3", "oldest"], "no Python interpreter at '/nonexistent/python3'"),
])
def test_check_ranges_refuses_bad_arguments_before_making_anything(args, message):
    result = subprocess.run(["bash", str(ROOT / "scripts" / "check-ranges.sh"), *args],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr
