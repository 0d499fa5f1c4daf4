"""What an exercise is: its reference, its public cases and how its hidden cases are drawn."""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

Inputs = Mapping[str, Any]  # argument name -> NumPy array, Python scalar or fixture name, in call order


@dataclass(frozen=True)
class Case:
    """One call of the exercise function: its arguments (in signature order) and a short label.

    ``expected`` pins the answer by hand (e.g. a worked value from the notes); when it is ``None``
    the expected answer comes from the exercise's reference implementation.
    """

    inputs: Inputs
    label: str = ""
    expected: tuple | None = None


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong version of an exercise and the hint a learner gets when a result matches it.

    ``compute`` takes the exercise's arguments (in signature order) and returns what the wrong version
    returns; when a received result agrees with it (and not with the reference), the feedback adds
    ``hint``. Hints name the mistake, never an expected value, so they are safe on hidden cases too.
    """

    hint: str
    compute: Callable[..., Any]


@dataclass(frozen=True)
class Exercise:
    """A graded exercise. ``id`` is ``"<notebook stem>.<function name>"``."""

    id: str
    reference: Callable[..., Any]
    public_cases: Sequence[Case]
    hidden_cases: Callable[[np.random.Generator], Sequence[Inputs]]
    output_names: tuple[str, ...] = ("result",)
    points: float = 1.0
    rtol: float = 1e-6
    atol: float = 1e-8
    description: str = ""
    mistakes: Sequence[Mistake] = ()
    # The task says the function must not modify its arguments; a result that did is marked wrong.
    pure: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        notebook, _, name = self.id.partition(".")
        if not notebook or not name.isidentifier():
            raise ValueError(f"exercise id must look like '<notebook stem>.<function name>', got {self.id!r}")

    @property
    def name(self) -> str:
        return self.id.partition(".")[2]

    @property
    def notebook(self) -> str:
        return self.id.partition(".")[0]

    def draw_hidden(self, seed: int) -> list[dict]:
        """The hidden inputs for ``seed``: the same seed always gives the same cases."""
        rng = np.random.default_rng([int(seed) % 2**32, zlib.crc32(self.id.encode())])
        return [dict(case) for case in self.hidden_cases(rng)]
