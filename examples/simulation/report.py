"""The labels-to-target table: how many labels each strategy needed, and the saving vs random."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from examples.simulation.results import DatasetResult, labels_to_target

BASELINE = "random"


@dataclass(frozen=True)
class Needed:
    """Labels a strategy needed to reach the target, over seeds.

    A run that never reached the target counts as its last label count, so
    ``mean`` is then a lower bound (``bounded``).
    """

    mean: float
    std: float
    reached: int
    runs: int

    @property
    def bounded(self) -> bool:
        """Some run never reached the target: the true mean is higher."""
        return self.reached < self.runs

    def text(self) -> str:
        """e.g. "112 ± 9", or "≥ 300 ± 0" when some run never reached the target."""
        prefix = "≥ " if self.bounded else ""
        return f"{prefix}{self.mean:.0f} ± {self.std:.0f}"


def needed(result: DatasetResult, strategy: str, target: float) -> Needed:
    """How many labels ``strategy``'s runs needed to reach ``target``."""
    curves = result.curves[strategy]
    counts = [labels_to_target(curve, target) for curve in curves]
    values = [
        curve.labels[-1] if count is None else count
        for count, curve in zip(counts, curves, strict=True)
    ]
    reached = sum(count is not None for count in counts)
    return Needed(float(np.mean(values)), float(np.std(values)), reached, len(counts))


def saving_text(strategy: Needed, baseline: Needed) -> str:
    """The share of random's labels a strategy saved, e.g. "38%" or "-5%"; bounds marked."""
    if strategy.bounded and baseline.bounded:
        return "unknown"
    saving = 100.0 * (1.0 - strategy.mean / baseline.mean)
    if strategy.bounded:
        return f"≤ {saving:.0f}%"
    if baseline.bounded:
        return f"≥ {saving:.0f}%"
    return f"{saving:.0f}%"


def dataset_table(result: DatasetResult, fraction: float) -> str:
    """One dataset's section: the setting, the target, then a row per strategy, fewest first."""
    target = result.target(fraction)
    ceiling = float(np.mean(result.full_accuracy))
    rows = {name: needed(result, name, target) for name in result.curves}
    baseline = rows.get(BASELINE)
    last = result.curves[next(iter(result.curves))][0].labels[-1]
    lines = [
        f"### {result.title}",
        "",
        f"Pool {result.pool_size} items, test set {result.test_size}. Logistic regression "
        f"trained on the whole labeled pool: {ceiling:.1%} test accuracy (mean over "
        f"{len(result.seeds)} seeds). Target: {fraction:.0%} of that, **{target:.1%}**. "
        f"Start from {result.initial} labels ({result.initial // result.classes} per class), "
        f"then {result.batch} per round for {result.rounds} rounds.",
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
    return "\n".join(lines)


def markdown(results: list[DatasetResult], fraction: float) -> str:
    """The whole table file: a short key, then one section per dataset."""
    key = (
        "# Labels needed to reach the target accuracy\n\n"
        "Each run starts from the same stratified seed set per seed, retrains a "
        "logistic regression after every round and asks POST /v1/rank for the next "
        "batch. Labels to target: the first label count at which the run's test "
        "accuracy reached the target, mean ± standard deviation over seeds (≥ when "
        "some run never reached it: it counts as its last label count). Saving vs "
        "random: 1 - labels / random's labels. Accuracy: mean over seeds after the "
        "last round."
    )
    sections = [dataset_table(result, fraction) for result in results]
    return "\n\n".join([key, *sections]) + "\n"
