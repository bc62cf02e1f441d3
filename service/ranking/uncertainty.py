"""Uncertainty scores of class-probability rows.

Each ``*_of_columns`` function maps the class columns ``cols`` of shape (c, n)
(see rowops.columns) of rows summing to 1 to scores of shape (n,) in the same
float dtype, where higher means "label first"; it leaves ``cols`` alone. The
function of the plain name takes the rows themselves, ``probs`` of shape
(n, c).

Rows are accepted when they sum to 1 within a tolerance, so a top
probability may exceed 1 by a rounding residue; scores are clipped at 0 so
they stay in their documented range.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from service.ranking import kernels
from service.ranking.rowops import column_max, column_sum, column_top_two, columns


def least_confidence_of_columns(cols: np.ndarray) -> np.ndarray:
    """1 - p1, where p1 is the row's largest probability. Range [0, 1 - 1/c]."""
    if kernels.compiled_layout(cols, min_rows=2):
        return _compiled_scores(kernels.least_confidence_into, cols)
    scores = column_max(cols)
    np.subtract(1, scores, out=scores)
    return np.maximum(scores, 0, out=scores)


def margin_of_columns(cols: np.ndarray) -> np.ndarray:
    """1 - (p1 - p2), p1 and p2 the two largest probabilities. Range [0, 1]."""
    if kernels.compiled_layout(cols, min_rows=2):
        return _compiled_scores(kernels.margin_into, cols)
    first, second = column_top_two(cols)
    np.subtract(first, second, out=first)
    np.subtract(1, first, out=first)
    return np.maximum(first, 0, out=first)


def ratio_of_columns(cols: np.ndarray) -> np.ndarray:
    """p2 / p1, the second-largest over the largest probability. Range [0, 1]."""
    if kernels.compiled_layout(cols, min_rows=2):
        return _compiled_scores(kernels.ratio_into, cols)
    first, second = column_top_two(cols)
    return np.divide(second, first, out=second)


def entropy_of_columns(cols: np.ndarray) -> np.ndarray:
    """Shannon entropy -sum_c p_c log p_c in nats, with 0 log 0 = 0. Range [0, log c]."""
    tiny = np.finfo(cols.dtype).tiny
    if kernels.compiled_layout(cols, min_rows=2):
        with np.errstate(divide="ignore"):  # log 0 = -inf is not used: see entropy_into
            logs = np.log(cols)
        return _compiled_scores(kernels.entropy_into, cols, logs, tiny)
    # log(max(p, tiny)) is finite, and 0 * finite = 0 gives the 0 log 0 = 0 rule
    # without a branch or a NaN.
    terms = np.maximum(cols, tiny)
    np.log(terms, out=terms)
    np.multiply(terms, cols, out=terms)
    scores = column_sum(terms)
    np.negative(scores, out=scores)
    # max(-0.0, 0) is +0.0: one-hot rows score 0, not -0.
    return np.maximum(scores, 0, out=scores)


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """1 - p1 of each row of ``probs`` (n, c); see least_confidence_of_columns."""
    return least_confidence_of_columns(columns(probs))


def margin(probs: np.ndarray) -> np.ndarray:
    """1 - (p1 - p2) of each row of ``probs`` (n, c); see margin_of_columns."""
    return margin_of_columns(columns(probs))


def ratio(probs: np.ndarray) -> np.ndarray:
    """p2 / p1 of each row of ``probs`` (n, c); see ratio_of_columns."""
    return ratio_of_columns(columns(probs))


def entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy in nats of each row of ``probs`` (n, c); see entropy_of_columns."""
    return entropy_of_columns(columns(probs))


def _compiled_scores(loop: Callable[..., None], cols: np.ndarray, *args: object) -> np.ndarray:
    """The scores (n,) a compiled ``loop`` writes for class columns ``cols`` (c, n),
    called as loop(cols, *args, scores)."""
    scores = np.empty(cols.shape[1], cols.dtype)
    loop(cols, *args, scores)
    return scores
