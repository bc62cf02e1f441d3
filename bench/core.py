"""Figure "core": pointwise strategies on class probabilities, against the memory floor.

For each strategy, pool size N, class count C and dtype, on one array:
the scoring function alone over cache-sized chunks, the full service path
(checks, scoring, top-k with budget 100), one read pass and one copy. The
input preparation alone (each chunk laid out by columns and checked, as the
full path does it) is timed once per array, to show where the full path's
time goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from bench import pools
from bench.floor import FLOOR_BUDGET, Floor, floor_from, measure_floor, timing_fields
from bench.results import Figure, new_figure, progress
from bench.service_path import CHECKS, in_process_calls, pointwise_strategies
from bench.timing import DEFAULT_BUDGET, Budget, best_times

SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
CLASSES = (2, 10, 100)
# float64 is measured at this one pool size.
FLOAT64_SIZE = 1_000_000

Config = tuple[int, int, type]


def default_configs(sizes: Sequence[int] = SIZES, classes: Sequence[int] = CLASSES) -> list[Config]:
    """float32 at every size and class count, float64 at FLOAT64_SIZE."""
    configs: list[Config] = [(n, c, np.float32) for n in sizes for c in classes]
    configs += [(n, c, np.float64) for n in sizes if n == FLOAT64_SIZE for c in classes]
    return configs


def run(
    configs: Iterable[Config] | None = None,
    budget: Budget = DEFAULT_BUDGET,
    floor_budget: Budget = FLOOR_BUDGET,
) -> Figure:
    """Measure every pointwise strategy on every (N, C, dtype) that fits in memory."""
    figure = new_figure("core")
    for n, c, dtype in default_configs() if configs is None else configs:
        n_bytes = n * c * np.dtype(dtype).itemsize
        if not pools.fits_in_memory(n_bytes):
            figure["notes"].append(
                f"N={n}, C={c}, {np.dtype(dtype).name} skipped: {n_bytes / 1e9:.1f} GB "
                "does not fit comfortably in memory"
            )
            continue
        figure["rows"] += measure_config(n, c, dtype, budget, floor_budget)
    return figure


def measure_config(
    n: int, c: int, dtype: type, budget: Budget, floor_budget: Budget
) -> list[dict[str, object]]:
    """Rows for every strategy on one array of shape (n, c).

    Every call is timed in interleaved rounds with the read pass and the
    copy (see best_times); the floor is also measured on its own first, and
    the faster of the two kept.
    """
    array = pools.probabilities(n, c, dtype)
    floor = measure_floor(array, floor_budget)
    names = [strategy.name for strategy in pointwise_strategies("probabilities")]
    times = best_times(in_process_calls(array, "probabilities", names), budget)
    floor = floor.best(floor_from(times))
    rows = []
    for name in names:
        scoring_s, full_s = times[f"scoring {name}"], times[f"full {name}"]
        rows.append(core_row(name, array, floor, scoring_s, full_s, times[CHECKS]))
        progress(
            f"core {name:>16} N={n:>8} C={c:>3} {array.dtype.name}: "
            f"scoring {scoring_s / floor.read_s:5.2f}x read, full {full_s / floor.read_s:5.2f}x"
        )
    return rows


def core_row(
    strategy: str,
    array: np.ndarray,
    floor: Floor,
    scoring_s: float,
    full_s: float,
    checks_s: float,
) -> dict[str, object]:
    """One table row: times in milliseconds and ratios to the floor."""
    n, c = array.shape
    return {
        "strategy": strategy,
        "n": n,
        "c": c,
        "dtype": array.dtype.name,
        **timing_fields(floor, scoring_s, full_s, checks_s),
    }
