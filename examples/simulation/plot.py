"""The learning-curve figure: test accuracy against labels, a row of panels per dataset and start.

Twenty curves in one panel cannot be told apart, so each row splits the
strategies by family (uncertainty; Bayesian and committee; diversity; hybrid),
with the random baseline drawn in every panel. Lines are the mean over seeds,
shaded ± one standard deviation; strategies whose runs coincide on every seed
share one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from examples.simulation.report import BASELINE
from examples.simulation.results import DatasetResult

GROUPS: tuple[tuple[str, frozenset[str]], ...] = (
    ("uncertainty", frozenset({"uncertainty"})),
    ("Bayesian and committee", frozenset({"bayesian", "committee"})),
    ("diversity", frozenset({"diversity"})),
    ("hybrid", frozenset({"hybrid"})),
)
OTHER = "other"
PALETTE = matplotlib.colormaps["tab10"].colors


def plot_curves(results: list[DatasetResult], path: Path) -> None:
    """Save the figure as PNG: a row per dataset and start, a column per group of strategies."""
    groups = strategy_groups(results)
    rows, columns = len(results), len(groups)
    # A bare Figure draws with Agg: no display and no pyplot state are needed.
    figure = Figure(figsize=(5.2 * columns, 4.2 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False, sharey="row")
    for row, result in zip(axes, results, strict=True):
        for axis, (group, strategies) in zip(row, groups.items(), strict=True):
            _panel(axis, result, strategies)
            axis.set_title(f"{result.name}, {result.start.short}: {group}", fontsize="medium")
        row[0].set_ylabel("test accuracy")
        row[0].set_ylim(_floor(result), 1.0)
    figure.suptitle(
        "Active learning through alrank: logistic regression, mean ± sd over seeds; "
        "committees of 5 bootstrap models",
        fontsize="large",
    )
    figure.savefig(path, dpi=100)


def strategy_groups(results: Sequence[DatasetResult]) -> dict[str, list[str]]:
    """Group name -> the strategies drawn in its panels (random in all); empty groups dropped."""
    families: dict[str, str] = {}
    for result in results:
        families |= result.families
    groups: dict[str, list[str]] = {}
    for name, family in families.items():
        if name == BASELINE:
            continue
        group = next((title for title, members in GROUPS if family in members), OTHER)
        groups.setdefault(group, []).append(name)
    order = [title for title, _ in GROUPS] + [OTHER]
    ordered = {group: groups[group] for group in order if group in groups}
    return ordered or {"baseline": []}


def _panel(axis: Axes, result: DatasetResult, strategies: list[str]) -> None:
    drawn = [name for name in strategies if name in result.curves]
    for position, names in enumerate(identical_runs(result, drawn)):
        colour = PALETTE[position % len(PALETTE)]
        _curve(axis, result, names[0], colour, label=" = ".join(names))
    if BASELINE in result.curves:
        _curve(axis, result, BASELINE, "black", label=BASELINE, baseline=True)
    target = result.target()
    axis.axhline(target, color="grey", linestyle=":", linewidth=1)
    axis.annotate(
        f"target {target:.1%}",
        (1, target),
        xycoords=("axes fraction", "data"),
        xytext=(-4, -12),
        textcoords="offset points",
        ha="right",
        color="grey",
        fontsize="small",
    )
    axis.set_xlabel("labels")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", fontsize="small")


def identical_runs(result: DatasetResult, names: list[str]) -> list[list[str]]:
    """``names`` grouped by identical learning curves on every seed, in order.

    With two classes least confidence, margin, ratio and entropy order the
    pool the same way, so their runs coincide; they are drawn as one line.
    """
    groups: list[list[str]] = []
    for name in names:
        same = next((group for group in groups if _same_runs(result, group[0], name)), None)
        if same is None:
            groups.append([name])
        else:
            same.append(name)
    return groups


def _same_runs(result: DatasetResult, first: str, second: str) -> bool:
    return all(
        a.labels == b.labels and a.accuracy == b.accuracy
        for a, b in zip(result.curves[first], result.curves[second], strict=True)
    )


def _curve(
    axis: Axes,
    result: DatasetResult,
    name: str,
    colour: object,
    *,
    label: str,
    baseline: bool = False,
) -> None:
    labels, mean, std = result.mean_curve(name)
    axis.plot(
        labels,
        mean,
        color=colour,
        linestyle="--" if baseline else "-",
        linewidth=2.0 if baseline else 1.5,
        label=label,
        zorder=3 if baseline else 2,
    )
    axis.fill_between(labels, mean - std, mean + std, color=colour, alpha=0.12, linewidth=0)


def _floor(result: DatasetResult) -> float:
    """The y-axis bottom: a little below the lowest mean accuracy after the first round."""
    lowest = min(float(result.mean_curve(name)[1][1:].min(initial=1.0)) for name in result.curves)
    return max(0.0, lowest - 0.04)
