"""Uncertainty scores of class-probability rows.

Each function maps ``probs`` of shape (n, c), rows summing to 1, to scores of
shape (n,) in the same float dtype, where higher means "label first".

Rows are accepted when they sum to 1 within a tolerance, so a top
probability may exceed 1 by a rounding residue; scores are clipped at 0 so
they stay in their documented range.
"""

from __future__ import annotations

import numpy as np

from service.ranking.rowops import row_max, row_sum, row_top_two


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """1 - p1, where p1 is the row's largest probability. Range [0, 1 - 1/c]."""
    scores = np.subtract(1, row_max(probs), dtype=probs.dtype)
    return np.maximum(scores, 0, out=scores)


def margin(probs: np.ndarray) -> np.ndarray:
    """1 - (p1 - p2), p1 and p2 the two largest probabilities. Range [0, 1]."""
    first, second = row_top_two(probs)
    np.subtract(first, second, out=first)
    np.subtract(1, first, out=first)
    return np.maximum(first, 0, out=first)


def ratio(probs: np.ndarray) -> np.ndarray:
    """p2 / p1, the second-largest over the largest probability. Range [0, 1]."""
    first, second = row_top_two(probs)
    return np.divide(second, first, out=second)


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy -sum_c p_c log p_c in nats, with 0 log 0 = 0. Range [0, log c]."""
    # log(max(p, tiny)) is finite, and 0 * finite = 0 gives the 0 log 0 = 0 rule
    # without a branch or a NaN.
    logs = np.maximum(probs, np.finfo(probs.dtype).tiny)
    np.log(logs, out=logs)
    np.multiply(logs, probs, out=logs)
    scores = np.negative(row_sum(logs))
    # max(-0.0, 0) is +0.0: one-hot rows score 0, not -0.
    return np.maximum(scores, 0, out=scores)
