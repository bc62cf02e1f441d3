"""Best-of-several wall-clock timing with time.perf_counter."""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from time import perf_counter


@dataclass(frozen=True)
class Budget:
    """How long to keep repeating a measurement.

    Repeats until at least ``min_repeats`` runs and ``min_seconds`` have
    passed, but stops after ``max_repeats`` runs, or once ``max_seconds``
    have passed and at least one run is in (so slow calls run fewer times).
    """

    min_repeats: int = 5
    max_repeats: int = 200
    min_seconds: float = 0.5
    max_seconds: float = 6.0

    def done(self, runs: int, elapsed: float) -> bool:
        if runs >= self.max_repeats or elapsed >= self.max_seconds:
            return True
        return runs >= self.min_repeats and elapsed >= self.min_seconds


DEFAULT_BUDGET = Budget()


def best_time(call: Callable[[], object], budget: Budget = DEFAULT_BUDGET) -> float:
    """The fastest of several runs of ``call``, in seconds, with the collector paused."""
    best = float("inf")
    runs = 0
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = perf_counter()
        while True:
            before = perf_counter()
            call()
            best = min(best, perf_counter() - before)
            runs += 1
            if budget.done(runs, perf_counter() - start):
                return best
    finally:
        if was_enabled:
            gc.enable()


def best_times(
    calls: Mapping[str, Callable[[], object]], budget: Budget = DEFAULT_BUDGET
) -> dict[str, float]:
    """The fastest run of each call, in seconds, measured in interleaved rounds.

    Every round runs each call once, so a slow spell of the machine touches
    all of them alike and the ratios between them stay put. The budget's
    times apply per call (the round's time divided by the number of calls).
    """
    best = dict.fromkeys(calls, float("inf"))
    rounds = 0
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = perf_counter()
        while True:
            for name, call in calls.items():
                before = perf_counter()
                call()
                best[name] = min(best[name], perf_counter() - before)
            rounds += 1
            if budget.done(rounds, (perf_counter() - start) / len(calls)):
                return best
    finally:
        if was_enabled:
            gc.enable()


def time_once(call: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one run of ``call``."""
    before = perf_counter()
    result = call()
    return perf_counter() - before, result
