"""The same values in other memory layouts, for property tests: a result must not depend on the layout."""
from __future__ import annotations

import numpy as np

LAYOUTS = ("C", "F", "transposed", "strided", "reversed", "list")


def relayout(A: np.ndarray, how: str):
    """The same values as A in another memory layout (or as nested lists)."""
    A = np.asarray(A)
    if how == "F":
        return np.asfortranarray(A)
    if how == "transposed":
        return np.ascontiguousarray(A.T).T  # a transposed view of a C array
    if how == "strided":
        if not A.ndim:
            return A
        big = np.zeros(A.shape[:-1] + (2 * A.shape[-1],), dtype=A.dtype)
        big[..., ::2] = A
        return big[..., ::2]
    if how == "reversed":
        return np.flip(np.flip(A).copy())  # negative strides
    if how == "list":
        return A.tolist()
    return np.ascontiguousarray(A)
