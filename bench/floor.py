"""The memory floor: what one read pass and one copy of an array cost, in this run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from bench.timing import Budget, best_time

READ, COPY = "read pass", "copy"
# The floor is cheap to measure and the ratios hinge on it: repeat it more.
FLOOR_BUDGET = Budget(min_repeats=10, min_seconds=0.5, max_seconds=8.0)


@dataclass(frozen=True)
class Floor:
    """Best times, in seconds, of one read pass (a sum over every element) and one copy."""

    read_s: float
    copy_s: float

    def best(self, other: Floor) -> Floor:
        """The faster of two measurements of the same array, per pass."""
        return Floor(min(self.read_s, other.read_s), min(self.copy_s, other.copy_s))

    def ratios(self, seconds: float) -> tuple[float, float]:
        """``seconds`` as multiples of (the read pass, the copy)."""
        return seconds / self.read_s, seconds / self.copy_s


def read_pass(array: np.ndarray) -> float:
    """Sum every element once: the least work that reads the whole array."""
    return float(np.add.reduce(array.reshape(-1)))


def floor_calls(array: np.ndarray) -> dict[str, Callable[[], object]]:
    """The floor's two passes over ``array``, by name, for best_times."""
    return {READ: lambda: read_pass(array), COPY: array.copy}


def floor_from(times: Mapping[str, float]) -> Floor:
    """The floor from best_times over floor_calls (among other calls)."""
    return Floor(read_s=times[READ], copy_s=times[COPY])


def measure_floor(array: np.ndarray, budget: Budget = FLOOR_BUDGET) -> Floor:
    """Time one read pass and one copy of ``array``."""
    return Floor(
        read_s=best_time(lambda: read_pass(array), budget),
        copy_s=best_time(array.copy, budget),
    )


def timing_fields(
    floor: Floor, scoring_s: float, full_s: float, checks_s: float
) -> dict[str, float]:
    """A table row's times in milliseconds and their ratios to ``floor``."""
    scoring_x_read, scoring_x_copy = floor.ratios(scoring_s)
    full_x_read, full_x_copy = floor.ratios(full_s)
    return {
        "scoring_ms": scoring_s * 1e3,
        "full_ms": full_s * 1e3,
        "read_ms": floor.read_s * 1e3,
        "copy_ms": floor.copy_s * 1e3,
        "checks_ms": checks_s * 1e3,
        "checks_x_read": checks_s / floor.read_s,
        "scoring_x_read": scoring_x_read,
        "scoring_x_copy": scoring_x_copy,
        "full_x_read": full_x_read,
        "full_x_copy": full_x_copy,
    }
