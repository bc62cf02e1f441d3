"""The figure: test entity F1 against tokens labeled, a line per strategy.

Each line is the mean over seeds, round by round (mean tokens, mean F1).
The right panel draws the same runs against sentences labeled: a strategy
that prefers long sentences looks better there than it is per token.
Least confidence is drawn in blues, entropy in reds, a line style per
aggregate; mnlp green; random dashed black; the targets and the full-pool
F1 grey.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from examples.ner.rank import BASELINE, PLANS_BY_NAME
from examples.ner.results import NerResult

STYLE_BY_AGGREGATE = {"max": "-", "mean": "-.", "sum": ":"}
SHADE_BY_AGGREGATE = {"max": 0.95, "mean": 0.7, "sum": 0.5}
COLOURMAP_BY_STRATEGY = {"least_confidence": "Blues", "entropy": "Reds"}
COLOUR_BY_STRATEGY = {"mnlp": "tab:green"}
OTHER_COLOURS = ("tab:purple", "tab:brown", "tab:olive", "tab:cyan", "tab:pink")


def style(name: str, position: int) -> dict[str, object]:
    """Line colour, style and width for strategy ``name`` (the ``position``-th drawn)."""
    if name == BASELINE.name:
        return {"color": "black", "linestyle": "--", "linewidth": 2.0, "zorder": 3}
    plan = PLANS_BY_NAME.get(name)
    if plan is not None and plan.aggregate and plan.strategy in COLOURMAP_BY_STRATEGY:
        colours = matplotlib.colormaps[COLOURMAP_BY_STRATEGY[plan.strategy]]
        return {
            "color": colours(SHADE_BY_AGGREGATE[plan.aggregate]),
            "linestyle": STYLE_BY_AGGREGATE[plan.aggregate],
            "linewidth": 1.6,
            "zorder": 2,
        }
    colour = COLOUR_BY_STRATEGY.get(name, OTHER_COLOURS[position % len(OTHER_COLOURS)])
    return {"color": colour, "linestyle": "-", "linewidth": 1.8, "zorder": 2}


def plot_curves(result: NerResult, path: Path) -> None:
    """Save the figure as PNG: F1 against tokens (left) and against sentences (right)."""
    # A bare Figure draws with Agg: no display and no pyplot state are needed.
    figure = Figure(figsize=(13.5, 5.4), layout="constrained")
    by_tokens, by_sentences = figure.subplots(1, 2, sharey=True)
    for position, name in enumerate(result.curves):
        tokens, sentences, f1, _ = result.mean_curve(name)
        by_tokens.plot(tokens, f1, label=name, **style(name, position))
        by_sentences.plot(sentences, f1, label=name, **style(name, position))
    for axis, unit in ((by_tokens, "tokens labeled"), (by_sentences, "sentences labeled")):
        _references(axis, result)
        axis.set_xlabel(unit)
        axis.grid(alpha=0.3)
    by_tokens.set_ylabel("test entity F1 (seqeval)")
    by_tokens.set_ylim(0.0, result.full_f1 * 1.1 or 1.0)
    by_tokens.set_title("F1 against the labeling cost: tokens")
    by_sentences.set_title("the same runs against sentences")
    by_tokens.legend(loc="lower right", fontsize="small")
    schedule = result.schedule
    figure.suptitle(
        f"NER active learning through alrank: CRF on {result.pool_size:,} tweets, "
        f"{schedule.initial} random sentences then {schedule.batch} per round for "
        f"{schedule.rounds} rounds; mean over {len(result.seeds)} seeds",
        fontsize="large",
    )
    figure.savefig(path, dpi=100)


def _references(axis: Axes, result: NerResult) -> None:
    """The full-pool F1 and the targets, as labeled horizontal lines."""
    lines = [(result.full_f1, "full pool", "-")]
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
