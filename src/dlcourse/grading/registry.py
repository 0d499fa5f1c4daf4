"""Find exercises by id (``"01_perceptron.perceptron_train"``) or by function name.

The built-in bank is :mod:`dlcourse.grading.bank`. An instructor may add a bank of their own, kept
outside the package (``dlcourse grade --bank PATH``): a folder of Python modules, or one ``.py``
file, each defining ``EXERCISES`` like the built-in bank modules; the notebook of an exercise is
the stem in its id. A :class:`Registry` is the built-in bank plus such banks. It is an ordinary
object, built per run: loading a bank changes no global state, so nothing leaks between runs.
Bank code is trusted instructor code; the grader imports it on the trusted side only.
"""
from __future__ import annotations

import hashlib
import importlib
import sys
import types
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from .bank import MODULES
from .spec import Exercise

BUILT_IN = "built-in"


class BankError(ValueError):
    """An instructor bank cannot be used: missing, unreadable, broken, or ambiguous; the message says why."""


@dataclass(frozen=True)
class Registry:
    """Exercises by id, in order, with where each comes from (``"built-in"`` or a bank file)."""

    exercises: Mapping[str, Exercise]
    origins: Mapping[str, str] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()  # built-in ids that an instructor bank replaces
    fingerprint: str = ""  # SHA-256 of the bank files ("" for the built-in bank alone)
    banks: tuple[Path, ...] = ()  # the instructor banks as given (folders or files), resolved

    @classmethod
    def load(cls, banks: Sequence[str | Path] = ()) -> "Registry":
        """The built-in bank, plus the instructor banks at ``banks`` (their exercises win over built-in ones)."""
        base = builtin_registry()
        if not banks:
            return base
        external, digest = load_banks(banks)
        exercises, origins = dict(base.exercises), dict(base.origins)
        overrides = tuple(ex_id for ex_id in external if ex_id in exercises)
        for ex_id, (exercise, path) in external.items():
            exercises[ex_id] = exercise  # an override keeps the built-in position; a new id goes last
            origins[ex_id] = str(path)
        return cls(exercises, origins, overrides, digest, tuple(Path(b).resolve() for b in banks))

    def is_external(self, exercise_id: str) -> bool:
        return self.origins.get(exercise_id, BUILT_IN) != BUILT_IN

    @property
    def bank_files(self) -> list[Path]:
        return sorted({Path(o) for o in self.origins.values() if o != BUILT_IN})

    def get(self, key: str) -> Exercise:
        """The exercise with this id, or with this function name when the name is unique."""
        if key in self.exercises:
            return self.exercises[key]
        matches = [ex for ex in self.exercises.values() if ex.name == key]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise KeyError(f"no exercise named {key!r}; known exercises: {', '.join(self.exercises)}")
        raise KeyError(f"{key!r} names several exercises ({', '.join(m.id for m in matches)}): pass the full id")

    def of(self, notebook: str) -> list[Exercise]:
        """The exercises of one notebook (by stem), in order."""
        return [ex for ex in self.exercises.values() if ex.notebook == notebook]

    def notebooks(self) -> list[str]:
        return list(dict.fromkeys(ex.notebook for ex in self.exercises.values()))

    def summary(self) -> str:
        """One line for the instructor: what the extra banks add and which built-in exercises they replace."""
        external = [ex_id for ex_id in self.exercises if self.is_external(ex_id)]
        if not external:
            return "exercise bank: built-in only"
        builtin_notebooks = {ex.notebook for ex_id, ex in builtin_registry().exercises.items()}
        new_notebooks = sorted({self.exercises[e].notebook for e in external} - builtin_notebooks)
        parts = [f"instructor bank: {len(external)} exercise(s) from {len(self.bank_files)} file(s)"]
        if new_notebooks:
            parts.append("new notebook(s) " + ", ".join(new_notebooks))
        if self.overrides:
            parts.append("replacing built-in " + ", ".join(self.overrides))
        added = [e for e in external if e not in self.overrides and self.exercises[e].notebook in builtin_notebooks]
        if added:
            parts.append("added to built-in notebooks: " + ", ".join(added))
        return "; ".join(parts)


@lru_cache(maxsize=None)
def builtin_registry() -> Registry:
    """The exercises of the package's own bank (:data:`dlcourse.grading.bank.MODULES`)."""
    found: dict[str, Exercise] = {}
    for notebook, module_name in MODULES.items():
        module = importlib.import_module(module_name)
        for exercise in module.EXERCISES:
            if exercise.notebook != notebook:
                raise ValueError(f"{module_name} registers {exercise.id!r}, which is not in notebook {notebook!r}")
            if exercise.id in found:
                raise ValueError(f"exercise {exercise.id!r} is registered twice")
            found[exercise.id] = exercise
    return Registry(found, {ex_id: BUILT_IN for ex_id in found})


# ----------------------------------------------------------------------------- instructor banks

def bank_files(path: str | Path) -> list[Path]:
    """The module files of one bank: the ``.py`` file itself, or the ``*.py`` files of a folder (not ``_*``)."""
    path = Path(path)
    if not path.exists():
        raise BankError(f"exercise bank {path} does not exist (give a folder of Python modules or one .py file)")
    if path.is_dir():
        files = sorted(p for p in path.glob("*.py") if p.is_file() and not p.name.startswith(("_", ".")))
        if not files:
            raise BankError(f"exercise bank {path} holds no Python module (*.py files defining EXERCISES)")
        return files
    if path.suffix != ".py":
        raise BankError(f"exercise bank {path} is neither a folder nor a .py file")
    return [path]


def _import_bank_module(path: Path, index: int) -> types.ModuleType:
    """Run one bank file as a fresh module that is not left in ``sys.modules``."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BankError(f"exercise bank module {path} cannot be read: {err}") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as err:
        raise BankError(f"exercise bank module {path} has a syntax error at line {err.lineno}: {err.msg}") from None
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module = types.ModuleType(f"dlcourse_instructor_bank_{digest}_{index}_{path.stem}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # dataclasses and pickling look the module up while it runs
    try:
        exec(code, module.__dict__)  # noqa: S102 - an instructor bank is trusted code, run on the trusted side
    except (Exception, SystemExit) as err:  # noqa: BLE001 - any failure is reported as a bank error
        raise BankError(f"importing exercise bank module {path} raised {type(err).__name__}: {err}") from None
    finally:
        sys.modules.pop(module.__name__, None)
    return module


def _exercises_of_module(module: types.ModuleType, path: Path) -> list[Exercise]:
    exercises = getattr(module, "EXERCISES", None)
    if exercises is None:
        raise BankError(f"exercise bank module {path} defines no EXERCISES (a list of dlcourse.grading.Exercise)")
    if not isinstance(exercises, (list, tuple)) or not exercises:
        raise BankError(f"EXERCISES in {path} must be a non-empty list of Exercise, got {type(exercises).__name__}")
    wrong = [type(ex).__name__ for ex in exercises if not isinstance(ex, Exercise)]
    if wrong:
        raise BankError(f"EXERCISES in {path} must hold dlcourse.grading.Exercise objects, got {', '.join(wrong)}")
    return list(exercises)


def load_banks(banks: Sequence[str | Path]) -> tuple[dict[str, tuple[Exercise, Path]], str]:
    """Every exercise of the instructor banks, keyed by id, with its file; and a fingerprint of the files.

    An id defined twice across the banks is ambiguous and refused.
    """
    found: dict[str, tuple[Exercise, Path]] = {}
    digest = hashlib.sha256()
    files = [f for bank in banks for f in bank_files(bank)]
    for index, path in enumerate(files):
        module = _import_bank_module(path, index)
        digest.update(str(path.resolve()).encode() + b"\0" + path.read_bytes() + b"\0")
        for exercise in _exercises_of_module(module, path):
            if exercise.id in found:
                other = found[exercise.id][1]
                where = f"{other} and {path}" if other != path else f"{path} (twice)"
                raise BankError(f"exercise {exercise.id!r} is defined twice in the instructor banks: {where}. "
                                "A bank may replace a built-in exercise, but one id needs one definition.")
            found[exercise.id] = (exercise, path)
    return found, digest.hexdigest()


# ----------------------------------------------------------------------------- module-level shortcuts

def all_exercises(banks: Sequence[str | Path] = ()) -> dict[str, Exercise]:
    """Every registered exercise, keyed by id, in notebook order (the built-in bank, plus ``banks``)."""
    return dict(Registry.load(banks).exercises)


def get_exercise(key: str, banks: Sequence[str | Path] = ()) -> Exercise:
    """Return the exercise with this id, or with this function name when the name is unique."""
    return Registry.load(banks).get(key)


def exercises_of(notebook: str, banks: Sequence[str | Path] = ()) -> list[Exercise]:
    """The exercises of one notebook (by stem), in order."""
    return Registry.load(banks).of(notebook)
