"""Compile the ranking core's compiled loops before any request needs them."""

from __future__ import annotations

import numpy as np

from service.ranking.inputs import INPUT_KINDS
from service.ranking.kernels import BLOCK
from service.ranking.pipeline import RankPlan, rank_chunks
from service.ranking.registry import STRATEGIES

# Enough rows for a full block and a remainder; three classes, two passes.
_ROWS, _CLASSES, _PASSES = BLOCK + 3, 3, 2


def warm_up() -> None:
    """Rank a tiny pool of every input kind, in float32 and float64, with every
    pointwise strategy that takes it.

    The compiled loops (see kernels) are compiled for each dtype, or loaded
    from their disk cache, on first use: a few seconds when nothing is
    cached. Calling this when a worker starts keeps that off every request.
    """
    for dtype in (np.float32, np.float64):
        for kind in INPUT_KINDS.values():
            pool = _tiny_pool(kind.name, dtype)
            for strategy in STRATEGIES.values():
                if strategy.pointwise and kind.name in strategy.inputs:
                    plan = RankPlan(strategy=strategy, input_kind=kind, budget=1, seed=0)
                    rank_chunks([(0, pool)], pool_size=_ROWS, plan=plan)


def _tiny_pool(kind: str, dtype: type) -> np.ndarray:
    """A valid pool of the input kind ``kind``: uniform probabilities, or zero logits."""
    if kind == "logits":
        return np.zeros((_ROWS, _CLASSES), dtype)
    shape = (_ROWS, _PASSES, _CLASSES) if kind == "samples" else (_ROWS, _CLASSES)
    return np.full(shape, 1 / _CLASSES, dtype)
