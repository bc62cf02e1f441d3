"""Row-wise reductions over the class axis, computed on class columns.

numpy reduces a short last axis slowly: ``x.max(axis=1)`` over 10 classes calls
its inner loop once per row. Copied once into its class columns, (c, n) with
each column contiguous, a chunk reduces over axis 0 instead: c - 1 vectorized
passes over whole columns. The copy is the one pass that gathers every row;
the reductions after it run on cache-resident columns. The copy of a
C-contiguous float32 or float64 chunk and the reductions are compiled loops
(see kernels); the reductions take only such columns, which ``columns``
always makes from the working dtypes (see decoding.dtypes).

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

    ``cols`` must hold no NaN, and be as ``require_columns`` says (c >= 2).
    """
    require_columns(cols)
    largest = np.empty(cols.shape[1], cols.dtype)
    kernels.max_into(cols, largest)
    return largest


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
        summed: np.ndarray = np.add.reduce(values, axis=axis)
        return summed
    total: np.ndarray = np.take(values, 0, axis=axis).copy()
    for k in range(1, values.shape[axis]):
        total += np.take(values, k, axis=axis)
    return total


def column_top_two(cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest and second-largest value of each row, from class columns.

    (c, n) with c >= 2 -> ((n,), (n,)), new arrays of the same dtype. A tie for
    the top gives equal values, so ``first - second`` is 0 there. ``cols``
    must hold no NaN.
    """
    require_columns(cols)
    first = np.empty(cols.shape[1], cols.dtype)
    second = np.empty(cols.shape[1], cols.dtype)
    kernels.top_two_into(cols, first, second)
    return first, second


def require_columns(cols: np.ndarray) -> None:
    """Check ``cols`` is what the compiled scores take: class columns (c, n) with
    c >= 2, C-contiguous float32 or float64, as ``columns`` makes them.

    A programming error otherwise (input kinds lay every chunk out this way),
    so TypeError rather than InvalidInput.
    """
    if not kernels.compiled_layout(cols, min_rows=2):
        raise TypeError(
            f"expected C-contiguous float class columns (c >= 2, n), got {cols.dtype} "
            f"{cols.shape} (contiguous: {cols.flags.c_contiguous})"
        )
