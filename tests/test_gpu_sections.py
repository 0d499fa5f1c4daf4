"""The GPU-section script finds every chapter's recipe and runs each at tiny size on the CPU."""
from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_sections.py"


def _module():
    return runpy.run_path(str(SCRIPT))


def test_every_chapter_with_a_gpu_section_registers_a_recipe():
    names = set(_module()["find_recipes"]())
    assert "02_mlp.full_mnist_mlp" in names
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if "Full run on a GPU" in notebook.read_text(encoding="utf-8") and notebook.stem >= "02":
            assert any(name.startswith(notebook.stem + ".") for name in names), \
                f"{notebook.name} has a GPU section but no GPU_RECIPES entry"


@pytest.mark.slow
def test_the_script_runs_every_recipe_tiny_on_cpu_and_writes_its_report(tmp_path, monkeypatch):
    out = tmp_path / "report.json"
    monkeypatch.setattr(sys, "argv", ["gpu_sections.py"])
    code = _module()["main"](["--tiny", "--device", "cpu", "--out", str(out)])
    report = json.loads(out.read_text())
    assert code == 0, report
    assert report["device"] == "cpu" and report["tiny"] is True
    for name, result in report["recipes"].items():
        assert result["ok"], (name, result.get("error"))
        assert 0.0 <= result["test_accuracy"] <= 1.0 and result["seconds"] > 0
