"""The stopping figure: kappa between consecutive rounds beside the learning curve, with the
rule's stop marked.

Per dataset and start, each group of strategies (as in the learning-curve
figure) gets two panels side by side: the mean over seeds of Cohen's kappa
between consecutive rounds' models against the labels, with the rule's
threshold; and the mean learning curve, shaded ± one standard deviation.
Both mark each strategy's mean stop (stopping_report.StopRow): filled where
the rule stopped every seed, hollow where it stopped some (the others count
at their last round), none where it stopped none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from examples.simulation.plot import PALETTE, identical_runs, strategy_groups
from examples.simulation.report import BASELINE
from examples.simulation.results import DatasetResult
from examples.simulation.stopping import STOP_KAPPA, STOP_ROUNDS
from examples.simulation.stopping_report import StopRow, stop_row

# Groups side by side in a row of the figure: a kappa and an accuracy panel each.
GROUPS_PER_ROW = 2
PANEL_SIZE = (5.2, 4.0)


def mean_kappa(result: DatasetResult, strategy: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, mean kappa over seeds), from round 1 on, on the rounds all runs have (R,)."""
    curves = result.curves[strategy]
    length = min(len(curve.labels) for curve in curves)
    kappas = np.array(
        [[np.nan if k is None else k for k in curve.kappa[1:length]] for curve in curves],
        dtype=np.float64,
    )
    return np.array(curves[0].labels[1:length]), kappas.mean(axis=0)


def plot_stopping(results: list[DatasetResult], path: Path) -> None:
    """Save the figure as PNG: per dataset and start, a kappa and an accuracy panel per group."""
    groups = list(strategy_groups(results).items())
    lines = math.ceil(len(groups) / GROUPS_PER_ROW)
    rows, columns = len(results) * lines, 2 * min(GROUPS_PER_ROW, len(groups))
    figure = Figure(figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for position, result in enumerate(results):
        stops = {name: stop_row(result, name) for name in result.curves}
        for index in range(lines * GROUPS_PER_ROW):
            row = axes[position * lines + index // GROUPS_PER_ROW]
            pair = row[2 * (index % GROUPS_PER_ROW) : 2 * (index % GROUPS_PER_ROW) + 2]
            if index >= len(groups):
                for axis in pair:
                    axis.set_visible(False)
                continue
            group, strategies = groups[index]
            title = f"{result.name}, {result.start.short}: {group}"
            _kappa_panel(pair[0], result, strategies, stops, f"{title}, kappa")
            _accuracy_panel(pair[1], result, strategies, stops, f"{title}, accuracy")
    figure.suptitle(
        "Stabilizing predictions: Cohen's kappa between consecutive rounds' models on the "
        f"unlabeled pool, mean over seeds; stop once the mean of the last {STOP_ROUNDS} "
        f"reaches {STOP_KAPPA} (dotted)\nMarker: the mean stop, filled when the rule stopped "
        "every seed, hollow when it stopped some (the others count at their last round)",
        fontsize="large",
    )
    figure.savefig(path, dpi=100)


def _drawn(result: DatasetResult, strategies: Sequence[str]) -> list[tuple[list[str], object]]:
    """(names sharing a line, colour) per line of a group's panels, random last in black."""
    names = [name for name in strategies if name in result.curves]
    lines: list[tuple[list[str], object]] = [
        (same, PALETTE[position % len(PALETTE)])
        for position, same in enumerate(identical_runs(result, names))
    ]
    if BASELINE in result.curves:
        lines.append(([BASELINE], "black"))
    return lines


def _mark(axis: Axes, x: np.ndarray, y: np.ndarray, stop: StopRow, colour: object) -> None:
    """The mean stop on a line through (x, y): filled if every seed stopped, hollow if some."""
    if stop.stopped == 0:
        return
    filled = stop.stopped == stop.runs
    axis.plot(
        [stop.labels_at_stop],
        [float(np.interp(stop.labels_at_stop, x, y))],
        marker="o",
        markersize=8,
        markeredgewidth=1.5,
        color=colour,
        markerfacecolor=colour if filled else "white",
        zorder=4,
    )


def _kappa_panel(
    axis: Axes,
    result: DatasetResult,
    strategies: Sequence[str],
    stops: dict[str, StopRow],
    title: str,
) -> None:
    lowest = 1.0
    for names, colour in _drawn(result, strategies):
        labels, kappa = mean_kappa(result, names[0])
        _line(axis, labels, kappa, names, colour)
        _mark(axis, labels, kappa, stops[names[0]], colour)
        lowest = min(lowest, float(np.nanmin(kappa, initial=1.0)))
    axis.axhline(STOP_KAPPA, color="grey", linestyle=":", linewidth=1)
    axis.set_ylim(max(-0.05, lowest - 0.03), 1.01)
    axis.set_title(title, fontsize="medium")
    axis.set_xlabel("labels")
    axis.set_ylabel("kappa vs previous round")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", fontsize="small")


def _line(
    axis: Axes, labels: np.ndarray, values: np.ndarray, names: Sequence[str], colour: object
) -> None:
    """One strategy's curve (``names``: it and the strategies that share it); the
    baseline dashed and on top."""
    baseline = names[0] == BASELINE
    axis.plot(
        labels,
        values,
        color=colour,
        linestyle="--" if baseline else "-",
        linewidth=2.0 if baseline else 1.5,
        label=" = ".join(names),
        zorder=3 if baseline else 2,
    )


def _accuracy_panel(
    axis: Axes,
    result: DatasetResult,
    strategies: Sequence[str],
    stops: dict[str, StopRow],
    title: str,
) -> None:
    lowest = 1.0
    for names, colour in _drawn(result, strategies):
        labels, mean, std = result.mean_curve(names[0])
        _line(axis, labels, mean, names, colour)
        axis.fill_between(labels, mean - std, mean + std, color=colour, alpha=0.12, linewidth=0)
        _mark(axis, labels, mean, stops[names[0]], colour)
        lowest = min(lowest, float(mean[1:].min(initial=1.0)))
    axis.set_ylim(max(0.0, lowest - 0.04), 1.0)
    axis.set_title(title, fontsize="medium")
    axis.set_xlabel("labels")
    axis.set_ylabel("test accuracy")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", fontsize="small")
