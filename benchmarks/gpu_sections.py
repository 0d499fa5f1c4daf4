"""Run every chapter's GPU ("full" mode) recipe once and write a JSON report of times and accuracies.

Not a test. Each chapter module that has a GPU section exposes ``GPU_RECIPES``, a dict of
``name -> recipe(device, offline, tiny) -> dict of metrics``; this script finds them all, so a new
chapter's recipes are picked up without editing it. On the GPU machine:

    .venv/bin/python benchmarks/gpu_sections.py --out gpu_report.json            # real data (downloads)
    .venv/bin/python benchmarks/gpu_sections.py --offline --out gpu_report.json  # no network: offline sets
    .venv/bin/python benchmarks/gpu_sections.py --tiny --device cpu              # the path, in seconds, on a CPU

Record in the notebooks only what such a report measured.
"""
from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
import time
import traceback

import torch

import dlcourse


def find_recipes() -> dict:
    """Every ``GPU_RECIPES`` entry of every ``dlcourse`` module, by name."""
    recipes = {}
    for info in pkgutil.iter_modules(dlcourse.__path__, prefix="dlcourse."):
        if info.name.endswith("__main__"):  # importing it would run the command line
            continue
        module = importlib.import_module(info.name)
        for name, recipe in getattr(module, "GPU_RECIPES", {}).items():
            if name in recipes:
                raise ValueError(f"GPU recipe {name!r} is defined twice")
            recipes[name] = recipe
    return dict(sorted(recipes.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--offline", action="store_true", help="use only data that needs no network")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: check the code path, not the figures")
    parser.add_argument("--only", default="", help="comma-separated substrings of recipe names to run")
    parser.add_argument("--out", default="gpu_report.json", help="where to write the JSON report")
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    wanted = [s for s in args.only.split(",") if s]
    report = {"torch": torch.__version__, "python": platform.python_version(), "device": str(device),
              "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
              "offline": args.offline, "tiny": args.tiny, "recipes": {}}
    failed = 0
    for name, recipe in find_recipes().items():
        if wanted and not any(w in name for w in wanted):
            continue
        print(f"{name} ...", flush=True)
        start = time.perf_counter()
        try:
            result = {"ok": True, **recipe(device=device, offline=args.offline, tiny=args.tiny)}
        except Exception as err:  # noqa: BLE001 - one failed recipe must not lose the others' figures
            failed += 1
            result = {"ok": False, "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
        result["wall_seconds"] = time.perf_counter() - start
        report["recipes"][name] = result
        print(f"  {json.dumps({k: v for k, v in result.items() if k != 'traceback'})}", flush=True)
        with open(args.out, "w", encoding="utf-8") as handle:  # after each recipe: a killed run keeps its figures
            json.dump(report, handle, indent=2)
    print(f"wrote {args.out}: {len(report['recipes'])} recipes, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
