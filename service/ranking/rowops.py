"""Row-wise reductions over the class axis, computed on class columns.

numpy reduces a short last axis slowly: ``x.max(axis=1)`` over 10 classes calls
its inner loop once per row. Copied once into its class columns, (c, n) with
each column contiguous, a chunk reduces over axis 0 instead: c - 1 vectorized
passes over whole columns. The copy is the one pass that gathers every row;
the reductions after it run on cache-resident columns. For C-contiguous
float32 and float64 arrays the copy and the reductions are compiled loops
(see kernels) giving the same results as the numpy code here.

A row's result depends on that row alone (sums add the classes in order), so
equal rows give equal results in any chunk, whatever its size.
"""

from __future__ import annotations

import math

import numpy as np

from service.ranking import kernels


def columns(values: np.ndarray) -> np.ndarray:
    """The class columns of ``values`` (n, c): a new C-contiguous array (c, n)."""
    if not kernels.compiled_layout(values):
        return values.T.copy()
    cols = np.empty(values.shape[::-1], values.dtype)
    kernels.transpose_into(values, cols)
    return cols


def pass_columns(samples: np.ndarray) -> np.ndarray:
    """The pass columns of ``samples`` (n, t, c): a new C-contiguous array (t, c, n).

    For each pass and class, the pool items' probabilities, contiguous; sums
    over classes reduce axis 1, over passes axis 0.
    """
    return samples.transpose(1, 2, 0).copy()


def pass_rows(cols: np.ndarray) -> np.ndarray:
    """The rows (n * t, c), item-major, of samples given as pass columns (t, c, n)."""
    t, c, n = cols.shape
    return cols.transpose(2, 0, 1).reshape(n * t, c)


def column_max(cols: np.ndarray) -> np.ndarray:
    """Maximum of each row, from class columns: (c, n) -> (n,), same dtype.

    ``cols`` must hold no NaN.
    """
    if kernels.compiled_layout(cols, min_rows=1):
        largest = np.empty(cols.shape[1], cols.dtype)
        kernels.max_into(cols, largest)
        return largest
    return np.maximum.reduce(cols, axis=0)


def column_sum(cols: np.ndarray) -> np.ndarray:
    """Sum of each row, from C-contiguous class columns: (c, n) -> (n,), same dtype.

    Each row is summed in class order, ((x0 + x1) + x2) + ..., for any n.
    (A BLAS matrix-vector product does not promise this: its blocking changes
    with the row count.)
    """
    return ordered_sum(cols, axis=0)


def ordered_sum(values: np.ndarray, axis: int) -> np.ndarray:
    """Sum of C-contiguous ``values`` over ``axis``, its entries added in order.

    ((v0 + v1) + v2) + ..., whatever the sizes of the other axes: the result
    for one position never depends on how many positions are summed at once.
    """
    if math.prod(values.shape[axis + 1 :]) > 1:
        # numpy sums pairwise only along its innermost loop, which here runs
        # over a kept axis: each position gets one addition per entry, in order.
        return np.add.reduce(values, axis=axis)
    total = np.take(values, 0, axis=axis).copy()
    for k in range(1, values.shape[axis]):
        total += np.take(values, k, axis=axis)
    return total


def column_top_two(cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest and second-largest value of each row, from class columns.

    (c, n) with c >= 2 -> ((n,), (n,)), new arrays of the same dtype. A tie for
    the top gives equal values, so ``first - second`` is 0 there. ``cols``
    must hold no NaN.

    Compiled for the float arrays kernels take. Otherwise a knockout
    tournament: the columns play in pairs and the winners play on, an odd
    column out waiting for the final. The second largest lost exactly one
    match, to the largest, and no loser beats it, so it is the largest of all
    losers. Each round is a few whole-block numpy calls.
    """
    if kernels.compiled_layout(cols, min_rows=2):
        first = np.empty(cols.shape[1], cols.dtype)
        second = np.empty(cols.shape[1], cols.dtype)
        kernels.top_two_into(cols, first, second)
        return first, second
    players = cols
    waiting: list[np.ndarray] = []
    second: np.ndarray | None = None
    while players.shape[0] > 1:
        if players.shape[0] % 2:
            waiting.append(players[-1])
            players = players[:-1]
        half = players.shape[0] // 2
        home, away = players[:half], players[half:]
        losers = np.minimum(home, away)
        players = np.maximum(home, away)
        best_loser = losers[0] if half == 1 else np.maximum.reduce(losers, axis=0)
        second = best_loser if second is None else np.maximum(second, best_loser, out=second)
    first = players[0]
    if second is None:
        raise ValueError(f"expected at least 2 columns, got {cols.shape[0]}")
    for column in waiting:
        np.maximum(second, np.minimum(first, column), out=second)
        first = np.maximum(first, column)
    return first, second


def row_max(values: np.ndarray) -> np.ndarray:
    """Maximum of each row: (n, c) -> (n,), same dtype."""
    return column_max(columns(values))


def row_top_two(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest and second-largest value of each row: (n, c) -> ((n,), (n,)).

    A tie for the top gives equal values, so ``first - second`` is 0 there.
    """
    return column_top_two(columns(values))


def row_sum(values: np.ndarray) -> np.ndarray:
    """Sum of each row: (n, c) -> (n,), same dtype.

    A row's sum depends on that row alone, never on how many rows share the
    array, so equal rows score equally in any chunk.
    """
    return column_sum(columns(values))
