"""Compile the ranking core's compiled loops before any request needs them."""

from __future__ import annotations

import numpy as np

from service.decoding.sources import ArraySource
from service.jobs.request import RankRequest
from service.jobs.run import rank
from service.ranking.inputs import AGGREGATE, AGGREGATES, INPUT_KINDS
from service.ranking.kernels import BLOCK
from service.ranking.registry import STRATEGIES

# Enough rows for a full block and a remainder.
_ROWS = BLOCK + 3


def warm_up() -> None:
    """Rank a tiny pool of every input kind, in float32 and float64, with every
    pointwise strategy that takes it, through the service's own entry point.

    The compiled loops (see kernels) are compiled for each dtype, or loaded
    from their disk cache, on first use: a few seconds when nothing is
    cached. Calling this when a worker starts keeps that off every request.
    """
    for dtype in (np.float32, np.float64):
        for kind in INPUT_KINDS.values():
            pool = kind.example(_ROWS, dtype)
            for strategy in STRATEGIES.values():
                # The multi-label strategies are plain numpy: nothing to compile.
                if strategy.pointwise and strategy.accepts(kind) and strategy.form != "labels":
                    # Each aggregate of units has its own pass (max a compiled one).
                    aggregates = AGGREGATES if strategy.unit_scores == "aggregated" else ()
                    choices: list[dict[str, object]] = [{}]
                    choices += [{AGGREGATE.name: how} for how in aggregates]
                    for params in choices:
                        if params and not kind.has_units:
                            continue
                        arrays = {
                            name: ArraySource(array, name=name) for name, array in pool.items()
                        }
                        rank(
                            RankRequest(
                                strategy.name, budget=1, arrays=arrays, seed=0, params=params
                            )
                        )
