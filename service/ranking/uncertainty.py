"""Uncertainty scores of class distributions, given as class columns.

Each function maps the class columns ``cols`` of shape (c, n) (see
rowops.columns: a C-contiguous float32 or float64 array, c >= 2) of
distributions summing to 1 to scores of shape (n,) in the same float dtype,
where higher means "label first"; it leaves ``cols`` alone.

Rows are accepted when they sum to 1 within a tolerance, so a top
probability may exceed 1 by a rounding residue; scores are clipped at 0 so
they stay in their documented range.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from service.ranking import kernels
from service.ranking.rowops import column_max, require_columns


def least_confidence_of_columns(cols: np.ndarray) -> np.ndarray:
    """1 - p1, where p1 is the row's largest probability. Range [0, 1 - 1/c]."""
    return _compiled_scores(kernels.least_confidence_into, cols)


def margin_of_columns(cols: np.ndarray) -> np.ndarray:
    """1 - (p1 - p2), p1 and p2 the two largest probabilities. Range [0, 1]."""
    return _compiled_scores(kernels.margin_into, cols)


def ratio_of_columns(cols: np.ndarray) -> np.ndarray:
    """p2 / p1, the second-largest over the largest probability. Range [0, 1]."""
    return _compiled_scores(kernels.ratio_into, cols)


def entropy_of_columns(cols: np.ndarray) -> np.ndarray:
    """Shannon entropy -sum_c p_c log p_c in nats, with 0 log 0 = 0. Range [0, log c]."""
    require_columns(cols)
    with np.errstate(divide="ignore"):  # log 0 = -inf is not used: see entropy_into
        logs = np.log(cols)
    return _compiled_scores(kernels.entropy_into, cols, logs, np.finfo(cols.dtype).tiny)


def neg_log_confidence_of_columns(cols: np.ndarray) -> np.ndarray:
    """-log p1 in nats, the surprise of the most likely class: (c, n) -> (n,).
    Range [0, log c]: p1 >= 1 / c for a distribution, so the log is finite."""
    scores: np.ndarray = np.log(column_max(cols))
    np.negative(scores, out=scores)
    return scores


def _compiled_scores(loop: Callable[..., None], cols: np.ndarray, *args: object) -> np.ndarray:
    """The scores (n,) a compiled ``loop`` writes for class columns ``cols`` (c, n),
    called as loop(cols, *args, scores)."""
    require_columns(cols)
    scores = np.empty(cols.shape[1], cols.dtype)
    loop(cols, *args, scores)
    return scores
