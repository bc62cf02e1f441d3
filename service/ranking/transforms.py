"""Turn model outputs into class probabilities."""

from __future__ import annotations

import numpy as np

from service.ranking.rowops import column_max, column_sum, require_columns


def softmax_of_columns(cols: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``, in place on class columns.

    ``cols`` (c, n) holds the logits' class columns (see rowops.columns) and
    gets the probabilities' class columns; it is returned. Stable: the row
    maximum is subtracted before exponentiating, so no entry overflows and
    the largest entry of each row is exp(0) = 1 before scaling.
    """
    require_columns(cols)  # before changing anything
    if temperature != 1.0:
        cols /= np.asarray(temperature, dtype=cols.dtype)
    # A gap wider than the float's range overflows to -inf, whose exp is the
    # right answer, 0.
    with np.errstate(over="ignore"):
        cols -= column_max(cols)
    np.exp(cols, out=cols)
    cols /= column_sum(cols)
    return cols
