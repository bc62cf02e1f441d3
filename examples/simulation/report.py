"""The labels-to-target table: how many labels each strategy needed, and the saving vs random."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from examples.simulation.results import DatasetResult, labels_to_target

BASELINE = "random"


@dataclass(frozen=True)
class Needed:
    """Labels a strategy needed to reach the target, over seeds.

    A run that never reached the target counts as its last label count, so
    ``mean`` is then a lower bound (``bounded``). ``at_start`` runs met the
    target with the seed set alone and count its labels.
    """

    mean: float
    std: float
    reached: int
    runs: int
    at_start: int = 0

    @property
    def bounded(self) -> bool:
        """Some run never reached the target: the true mean is higher."""
        return self.reached < self.runs

    def text(self) -> str:
        """e.g. "112 ± 9", or "≥ 300 ± 0" when some run never reached the target."""
        prefix = "≥ " if self.bounded else ""
        return f"{prefix}{self.mean:.0f} ± {self.std:.0f}"


def needed(result: DatasetResult, strategy: str) -> Needed:
    """How many labels ``strategy``'s runs needed to reach the result's target."""
    target = result.target()
    curves = result.curves[strategy]
    counts = [labels_to_target(curve, target) for curve in curves]
    values = [
        curve.labels[-1] if count is None else count
        for count, curve in zip(counts, curves, strict=True)
    ]
    reached = sum(count is not None for count in counts)
    at_start = sum(curve.accuracy[0] >= target for curve in curves)
    return Needed(float(np.mean(values)), float(np.std(values)), reached, len(counts), at_start)


def saving_text(strategy: Needed, baseline: Needed) -> str:
    """The share of random's labels a strategy saved, e.g. "38%" or "-5%"; bounds marked.

    When the seed set met the target on every seed, no strategy had labels to save.
    """
    if baseline.at_start == baseline.runs:
        return "none possible (met at start)"
    if strategy.bounded and baseline.bounded:
        return "unknown"
    saving = 100.0 * (1.0 - strategy.mean / baseline.mean)
    if strategy.bounded:
        return f"≤ {saving:.0f}%"
    if baseline.bounded:
        return f"≥ {saving:.0f}%"
    return f"{saving:.0f}%"


def setting(result: DatasetResult) -> str:
    """The paragraph above a table: pool, ceiling, target, schedule and the seed set's accuracy."""
    target = result.target()
    ceiling = float(np.mean(result.full_accuracy))
    return (
        f"Pool {result.pool_size} items, test set {result.test_size}. Logistic regression "
        f"trained on the whole labeled pool: {ceiling:.1%} test accuracy (mean over "
        f"{len(result.seeds)} seeds). Target: {result.fraction:.0%} of that, **{target:.1%}**. "
        f"Start from {result.initial} labels ({seed_set_text(result)}), "
        f"then {result.batch} per round for {result.rounds} rounds. {at_start_text(result)}"
    )


def seed_set_text(result: DatasetResult) -> str:
    """How the seed set was drawn, e.g. "2 per class" or "a stratified random 10% of the pool"."""
    if result.start.pool_fraction is None:
        return f"{result.initial // result.classes} per class"
    return f"a stratified random {result.start.pool_fraction:.0%} of the pool"


def at_start_text(result: DatasetResult) -> str:
    """The seed set's own accuracy, and on how many seeds it already meets the target."""
    accuracy = result.start_accuracy()
    met = sum(value >= result.target() for value in accuracy)
    text = f"The seed set alone gives {np.mean(accuracy):.1%}"
    if met == 0:
        return f"{text}, below the target on every seed."
    if met < len(accuracy):
        return (
            f"{text} and already meets the target on {met} of {len(accuracy)} seeds, "
            f"whose runs count {result.initial} labels for every strategy."
        )
    return (
        f"{text} and already meets the target on every seed: labels to target cannot tell "
        "the strategies apart here, the accuracy column can."
    )


def dataset_table(result: DatasetResult) -> str:
    """One dataset's section: the setting, the target, then a row per strategy, fewest first."""
    target = result.target()
    rows = {name: needed(result, name) for name in result.curves}
    baseline = rows.get(BASELINE)
    last = result.curves[next(iter(result.curves))][0].labels[-1]
    lines = [
        f"### {result.title}",
        "",
        setting(result),
        "",
        f"| strategy | family | labels to reach {target:.1%} (mean ± sd) | saving vs random "
        f"| seeds reaching it | accuracy at {last} labels |",
        "|---|---|---|---|---|---|",
    ]
    for name in sorted(rows, key=lambda item: (rows[item].bounded, rows[item].mean)):
        row = rows[name]
        saving = (
            "(baseline)" if name == BASELINE or baseline is None else saving_text(row, baseline)
        )
        _, mean_accuracy, _ = result.mean_curve(name)
        label = f"**{name}**" if name == BASELINE else name
        lines.append(
            f"| {label} | {result.families[name]} | {row.text()} | {saving} "
            f"| {row.reached}/{row.runs} | {mean_accuracy[-1]:.1%} |"
        )
    for name, answer in result.failed.items():
        lines += ["", f"Left out: **{name}**, the service answered {answer}"]
    return "\n".join(lines)


def markdown(results: list[DatasetResult], skipped: Mapping[str, str] | None = None) -> str:
    """The whole table file: a short key, then per start a section per dataset.

    ``skipped`` maps a strategy the simulation could not run to the reason.
    """
    key = (
        "# Labels needed to reach the target accuracy\n\n"
        "Each run starts from the same seed set per seed and start, retrains a "
        "logistic regression after every round and asks POST /v1/rank for the next "
        "batch. Labels to target: the first label count at which the run's test "
        "accuracy reached the target, mean ± standard deviation over seeds (≥ when "
        "some run never reached it: it counts as its last label count; a run whose "
        "seed set already meets the target counts the seed set's labels). Saving vs "
        "random: 1 - labels / random's labels. Accuracy: mean over seeds after the "
        "last round."
    )
    if len({result.fraction for result in results}) > 1:
        key += (
            " The target is a fraction of the full-pool accuracy that depends on the "
            "start: a stricter one where the seed set alone already comes close to the "
            "ceiling (examples/README.md says why)."
        )
    parts = [key]
    if skipped:
        parts.append(
            "Not simulated: " + "; ".join(f"{name} ({why})" for name, why in skipped.items()) + "."
        )
    for start in dict.fromkeys(result.start for result in results):
        parts.append(f"## {start.title[:1].upper()}{start.title[1:]}")
        parts.extend(dataset_table(result) for result in results if result.start == start)
    return "\n\n".join(parts) + "\n"
