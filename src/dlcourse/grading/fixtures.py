"""Named functions that exercises may take as an argument (e.g. a gradient checker's ``f``).

Hidden cases cross into the sandbox as data, so a function argument travels as the string
``"fixture:<name>"`` and is looked up here on the student's side. Each takes a float array and
returns a float.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

PREFIX = "fixture:"


def sum_of_squares(x: np.ndarray) -> float:
    return float(np.sum(x**2))


def rosenbrock(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float).ravel()
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def log_sum_exp(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    m = np.max(x)
    return float(m + np.log(np.sum(np.exp(x - m))))


def sin_product(x: np.ndarray) -> float:
    return float(np.sum(np.sin(x) * np.cos(2.0 * x)))


FIXTURES: dict[str, Callable[[np.ndarray], float]] = {
    f.__name__: f for f in (sum_of_squares, rosenbrock, log_sum_exp, sin_product)
}


def resolve(value: Any) -> Any:
    """Replace a ``"fixture:<name>"`` string by the named function; leave anything else alone."""
    if isinstance(value, str) and value.startswith(PREFIX):
        name = value[len(PREFIX):]
        if name not in FIXTURES:
            raise KeyError(f"unknown fixture {name!r}; known: {sorted(FIXTURES)}")
        return FIXTURES[name]
    return value
