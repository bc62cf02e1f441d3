"""Figure "selections": how a batch is drawn from the scores (top-k and stochastic draws).

One probability array, one strategy; the full service path with each
selection method, as multiples of one read pass and of plain top-k.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from bench import pools
from bench.floor import FLOOR_BUDGET, floor_calls, floor_from, measure_floor
from bench.results import Figure, new_figure, progress
from bench.service_path import make_plan, rank_array
from bench.timing import DEFAULT_BUDGET, Budget, best_times
from service.ranking.selection import SELECTION_METHODS, Selection

N, C = 1_000_000, 10
STRATEGY = "entropy"
BETA = 1.0


def run(
    shape: tuple[int, int] = (N, C),
    strategy: str = STRATEGY,
    budget: Budget = DEFAULT_BUDGET,
    floor_budget: Budget = FLOOR_BUDGET,
) -> Figure:
    """Time every selection method on one (n, c) float32 array."""
    figure = new_figure("selections")
    n, c = shape
    array = pools.probabilities(n, c, np.float32)
    floor = measure_floor(array, floor_budget)
    calls = floor_calls(array)
    for method in SELECTION_METHODS:
        plan = make_plan(strategy, selection=Selection(method, BETA))
        calls[method] = partial(rank_array, array, plan)
    times = best_times(calls, budget)
    floor = floor.best(floor_from(times))
    for method in SELECTION_METHODS:
        seconds = times[method]
        figure["rows"].append(
            {
                "selection": method,
                "beta": None if method == "top" else BETA,
                "strategy": strategy,
                "n": n,
                "c": c,
                "dtype": array.dtype.name,
                "full_ms": seconds * 1e3,
                "read_ms": floor.read_s * 1e3,
                "x_read": seconds / floor.read_s,
                "x_top": seconds / times["top"],
            }
        )
        progress(f"selection {method:>8}: {seconds / floor.read_s:6.2f}x read")
    return figure
