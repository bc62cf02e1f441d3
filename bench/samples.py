"""Figure "samples": strategies over Monte-Carlo or committee samples (N x T x C).

Same measurements as the core figure, on one samples array: the scoring
function alone over chunks, the full service path with the samples input
(every pass's row checked), the input preparation alone, one read pass and
one copy.
"""

from __future__ import annotations

import numpy as np

from bench import pools
from bench.floor import FLOOR_BUDGET, Floor, floor_from, measure_floor, timing_fields
from bench.results import Figure, new_figure, progress
from bench.service_path import CHECKS, in_process_calls, pointwise_strategies
from bench.timing import DEFAULT_BUDGET, Budget, best_times

N, T, C = 100_000, 20, 10


def run(
    shape: tuple[int, int, int] = (N, T, C),
    budget: Budget = DEFAULT_BUDGET,
    floor_budget: Budget = FLOOR_BUDGET,
) -> Figure:
    """Measure every strategy that scores samples on one float32 array of ``shape``."""
    figure = new_figure("samples")
    array = pools.samples(*shape, np.float32)
    floor = measure_floor(array, floor_budget)
    names = [strategy.name for strategy in pointwise_strategies("samples", form="samples")]
    times = best_times(in_process_calls(array, "samples", names), budget)
    floor = floor.best(floor_from(times))
    for name in names:
        scoring_s, full_s = times[f"scoring {name}"], times[f"full {name}"]
        figure["rows"].append(samples_row(name, array, floor, scoring_s, full_s, times[CHECKS]))
        progress(
            f"samples {name:>20}: scoring {scoring_s / floor.read_s:6.2f}x read, "
            f"full {full_s / floor.read_s:6.2f}x"
        )
    return figure


def samples_row(
    strategy: str,
    array: np.ndarray,
    floor: Floor,
    scoring_s: float,
    full_s: float,
    checks_s: float,
) -> dict[str, object]:
    """One table row: times in milliseconds and ratios to the floor."""
    n, t, c = array.shape
    return {
        "strategy": strategy,
        "n": n,
        "t": t,
        "c": c,
        "dtype": array.dtype.name,
        **timing_fields(floor, scoring_s, full_s, checks_s),
    }
