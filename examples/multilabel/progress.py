"""Progress on the terminal: a live counter per run, a summary line per strategy."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from examples.multilabel.report import items_text
from examples.multilabel.results import MultilabelResult, needed


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

    def run_finished(self, strategy: str, seed: int) -> None:
        """Count a finished run; on a terminal, show the counter and the time left."""
        self.done += 1
        if self.live:
            elapsed = time.monotonic() - self.started
            left = elapsed / self.done * (self.total - self.done)
            text = f"[{self.done}/{self.total}] {strategy} seed {seed}, ~{left:.0f} s left"
            print(f"\r{text:<78}", end="", file=self.stream, flush=True)

    def strategy_finished(self, result: MultilabelResult, strategy: str) -> None:
        """One line per strategy: F1s after the last round, items to each target."""
        now = time.monotonic()
        curve = result.mean_curve(strategy)
        reach = "   ".join(
            f"{fraction:.0%}: {items_text(need)} ({need.reached}/{need.runs})"
            for fraction in result.fractions
            for need in [needed(result, strategy, fraction)]
        )
        self.say(
            f"  [{self.done:>3}/{self.total}] {strategy:<32} micro-F1 {curve['micro'][-1]:.3f} "
            f"± {curve['micro_sd'][-1]:.3f}, macro {curve['macro'][-1]:.3f} at "
            f"{curve['labels'][-1]:,.0f} items   items to {reach}"
            f"   {now - self.strategy_started:5.1f} s"
        )
        self.strategy_started = now

    def _clear(self) -> None:
        if self.live:
            print(f"\r{'':<78}\r", end="", file=self.stream, flush=True)
