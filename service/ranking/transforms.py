"""Turn model outputs into class probabilities."""

from __future__ import annotations

import numpy as np

from service.ranking.rowops import column_max, column_sum, columns


def softmax_of_columns(cols: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``, in place on class columns.

    ``cols`` (c, n) holds the logits' class columns (see rowops.columns) and
    gets the probabilities' class columns; it is returned. Stable: the row
    maximum is subtracted before exponentiating, so no entry overflows and
    the largest entry of each row is exp(0) = 1 before scaling.
    """
    if temperature != 1.0:
        cols /= np.asarray(temperature, dtype=cols.dtype)
    # A gap wider than the float's range overflows to -inf, whose exp is the
    # right answer, 0.
    with np.errstate(over="ignore"):
        cols -= column_max(cols)
    np.exp(cols, out=cols)
    cols /= column_sum(cols)
    return cols


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``: (n, c) -> (n, c), same dtype.

    The answer is a new array, laid out by class columns (its transpose is
    C-contiguous); see softmax_of_columns.
    """
    return softmax_of_columns(columns(logits), temperature).T
