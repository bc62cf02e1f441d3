"""The figure: test micro-F1 (left) and macro-F1 (right) against items labeled.

Each line is the mean over seeds, round by round; random, dashed black, has
its ± one standard deviation shaded. Per-label uncertainty strategies are
solid, the multi-label ones dash-dotted; the targets and the full-pool F1
are grey.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from examples.multilabel.rank import BASELINE, PLANS_BY_NAME
from examples.multilabel.results import MultilabelResult

COLOURS = {
    "entropy/mean": "tab:red",
    "margin/mean": "tab:orange",
    "least_confidence/max": "tab:brown",
    "min_confidence": "tab:blue",
    "avg_confidence": "tab:purple",
    "max_score": "tab:green",
    "avg_score": "tab:olive",
    "label_cardinality_inconsistency": "tab:cyan",
}
OTHER_COLOURS = ("tab:pink", "tab:gray")


def style(name: str, position: int) -> dict[str, object]:
    """Line colour, style and width for strategy ``name`` (the ``position``-th drawn)."""
    if name == BASELINE.name:
        return {"color": "black", "linestyle": "--", "linewidth": 2.0, "zorder": 3}
    plan = PLANS_BY_NAME.get(name)
    linestyle = "-." if plan is not None and plan.family == "multi-label" else "-"
    colour = COLOURS.get(name, OTHER_COLOURS[position % len(OTHER_COLOURS)])
    return {"color": colour, "linestyle": linestyle, "linewidth": 1.7, "zorder": 2}


def plot_curves(result: MultilabelResult, path: Path) -> None:
    """Save the figure as PNG: micro-F1 (left) and macro-F1 (right) against items labeled."""
    # A bare Figure draws with Agg: no display and no pyplot state are needed.
    figure = Figure(figsize=(13.5, 5.6), layout="constrained")
    micro_axis, macro_axis = figure.subplots(1, 2)
    for position, name in enumerate(result.curves):
        curve = result.mean_curve(name)
        for axis, key in ((micro_axis, "micro"), (macro_axis, "macro")):
            axis.plot(curve["labels"], curve[key], label=name, **style(name, position))
            if name == BASELINE.name:
                axis.fill_between(
                    curve["labels"],
                    curve[key] - curve[f"{key}_sd"],
                    curve[key] + curve[f"{key}_sd"],
                    color="black",
                    alpha=0.08,
                    linewidth=0,
                )
    _references(micro_axis, result.full_micro, result)
    _references(macro_axis, result.full_macro, None)
    for axis in (micro_axis, macro_axis):
        axis.set_xlabel("items labeled (each with its whole label set)")
        axis.grid(alpha=0.3)
    micro_axis.set_ylabel("test micro-F1")
    macro_axis.set_ylabel("test macro-F1")
    micro_axis.set_title("micro-F1 (the measure the targets use)")
    macro_axis.set_title("macro-F1 (every label weighs the same)")
    micro_axis.legend(loc="lower right", fontsize="small")
    schedule = result.schedule
    figure.suptitle(
        f"Multi-label active learning through alrank on synthetic data "
        f"(make_multilabel_classification, {result.pool_size:,} pool items, {result.labels} "
        f"labels)\none-vs-rest logistic regression, {schedule.initial} random items then "
        f"{schedule.batch} per round for {schedule.rounds} rounds; mean over "
        f"{len(result.seeds)} seeds, random's ± 1 sd shaded",
        fontsize="medium",
    )
    figure.savefig(path, dpi=100)


def _references(axis: Axes, full: float, result: MultilabelResult | None) -> None:
    """The full-pool F1 and, given ``result``, the targets, as labeled horizontal lines."""
    lines = [(full, "full pool", "-")]
    if result is not None:
        lines += [(result.target(f), f"{f:.0%} of full", ":") for f in result.fractions]
    for value, text, linestyle in lines:
        axis.axhline(value, color="grey", linestyle=linestyle, linewidth=1)
        axis.annotate(
            f"{text} {value:.3f}",
            (0, value),
            xycoords=("axes fraction", "data"),
            xytext=(4, 3),
            textcoords="offset points",
            color="grey",
            fontsize="small",
        )
