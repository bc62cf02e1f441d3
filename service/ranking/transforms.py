"""Turn model outputs into class probabilities."""

from __future__ import annotations

import numpy as np

from service.ranking.rowops import row_max, row_sum


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``: (n, c) -> (n, c), same dtype.

    Stable: the row maximum is subtracted before exponentiating, so no entry
    overflows and the largest entry of each row is exp(0) = 1 before scaling.
    """
    scaled = logits / np.asarray(temperature, dtype=logits.dtype)
    # A gap wider than the float's range overflows to -inf, whose exp is the
    # right answer, 0.
    with np.errstate(over="ignore"):
        scaled -= row_max(scaled)[:, None]
    np.exp(scaled, out=scaled)
    scaled /= row_sum(scaled)[:, None]
    return scaled
