"""Progress on the terminal: a live counter per run, a summary line per strategy."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from examples.simulation.report import needed
from examples.simulation.results import DatasetResult
from examples.simulation.stopping_report import stop_row


class Progress:
    """Reports runs as they finish, with the time left estimated from the time spent."""

    def __init__(self, total_runs: int, stream: TextIO | None = None) -> None:
        self.total = total_runs
        self.done = 0
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.started = time.monotonic()
        self.strategy_started = self.started

    def say(self, text: str) -> None:
        """Print a line, clearing the live counter first."""
        self._clear()
        print(text, file=self.stream, flush=True)

    def dataset(self, result: DatasetResult) -> None:
        """Announce a dataset and start, its ceiling and its target."""
        ceiling = sum(result.full_accuracy) / len(result.full_accuracy)
        self.say(
            f"\n{result.title}, {result.start.title} ({result.initial} labels): "
            f"pool {result.pool_size}, test {result.test_size}; "
            f"all pool labels give {ceiling:.1%}, target {result.target():.1%}"
        )

    def run_finished(self, result: DatasetResult, strategy: str, seed: int) -> None:
        """Count a finished run; on a terminal, show the counter and the time left."""
        self.done += 1
        if self.live:
            elapsed = time.monotonic() - self.started
            left = elapsed / self.done * (self.total - self.done)
            text = (
                f"[{self.done}/{self.total}] {result.name} {result.start.name} {strategy} "
                f"seed {seed}, ~{left:.0f} s left"
            )
            print(f"\r{text:<78}", end="", file=self.stream, flush=True)

    def strategy_finished(self, result: DatasetResult, strategy: str) -> None:
        """One line per strategy: accuracy after the last round, labels to the target,
        labels at the stopping rule's stop."""
        now = time.monotonic()
        _, mean, std = result.mean_curve(strategy)
        need = needed(result, strategy)
        stop = stop_row(result, strategy)
        self.say(
            f"  [{self.done:>3}/{self.total}] {strategy:<20}"
            f" accuracy {mean[-1]:.3f} ± {std[-1]:.3f}"
            f"   labels to target {need.text():>12} ({need.reached}/{need.runs} seeds)"
            f"   stop at {stop.labels_at_stop:4.0f} ({stop.stopped}/{stop.runs})"
            f"   {now - self.strategy_started:5.1f} s"
        )
        self.strategy_started = now

    def _clear(self) -> None:
        if self.live:
            print(f"\r{'':<78}\r", end="", file=self.stream, flush=True)
