"""Row-wise reductions over a short class axis.

numpy's reductions along a short last axis (``x.max(axis=1)`` with 10 columns)
run several times slower than a loop over the columns, which streams whole
contiguous-stride columns through one ufunc each. Above ``COLUMN_LOOP_LIMIT``
columns the per-call overhead wins and the axis reduction is used instead.
"""

from __future__ import annotations

import numpy as np

COLUMN_LOOP_LIMIT = 32


def row_max(values: np.ndarray) -> np.ndarray:
    """Maximum of each row: (n, c) -> (n,), same dtype."""
    n_cols = values.shape[1]
    if n_cols > COLUMN_LOOP_LIMIT:
        return values.max(axis=1)
    best = values[:, 0].copy()
    for j in range(1, n_cols):
        np.maximum(best, values[:, j], out=best)
    return best


def row_top_two(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest and second-largest value of each row: (n, c) -> ((n,), (n,)).

    A tie for the top gives equal values, so ``first - second`` is 0 there.
    """
    n_cols = values.shape[1]
    if n_cols > COLUMN_LOOP_LIMIT:
        part = np.partition(values, n_cols - 2, axis=1)
        return part[:, -1].copy(), part[:, -2].copy()
    first = np.maximum(values[:, 0], values[:, 1])
    second = np.minimum(values[:, 0], values[:, 1])
    smaller = np.empty_like(first)
    for j in range(2, n_cols):
        column = values[:, j]
        np.minimum(first, column, out=smaller)
        np.maximum(second, smaller, out=second)
        np.maximum(first, column, out=first)
    return first, second


def row_sum(values: np.ndarray) -> np.ndarray:
    """Sum of each row: (n, c) -> (n,), same dtype.

    A row's sum depends on that row alone, never on how many rows share the
    array, so equal rows score equally in any chunk. (A BLAS matrix-vector
    product does not promise this: its blocking changes with the row count.)
    """
    n_cols = values.shape[1]
    if n_cols > COLUMN_LOOP_LIMIT:
        return values.sum(axis=1)
    total = values[:, 0].copy()
    for j in range(1, n_cols):
        total += values[:, j]
    return total
