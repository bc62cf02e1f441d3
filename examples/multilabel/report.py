"""The labels-to-target file: the setting, then per target the items each strategy needed."""

from __future__ import annotations

from examples.multilabel.model import THRESHOLD
from examples.multilabel.rank import BASELINE, PLANS_BY_NAME
from examples.multilabel.results import MultilabelResult, needed
from examples.multilabel.task import SPLIT_SEED, TEST_FRACTION
from examples.simulation.report import Needed, saving_text


def setting(result: MultilabelResult) -> str:
    """Data, split, model, metric, schedule, requests and ceiling, as a list."""
    schedule = result.schedule
    seeds = result.seeds
    last = schedule.initial + schedule.batch * schedule.rounds
    return "\n".join(
        [
            f"- **Data: synthetic.** `{result.data}` from scikit-learn: items with "
            f"{result.labels} labels, {result.cardinality:.2f} of them per item on average in "
            "the pool, and word-count features drawn from their labels' word distributions. "
            "No real multi-label dataset ships with scikit-learn, so these figures say how the "
            "strategies compare on this generator, not on text or images.",
            f"- **Split**: fixed (seed {SPLIT_SEED}), {TEST_FRACTION:.0%} of the items held "
            f"out: pool {result.pool_size:,} items, test {result.test_size:,}. Features "
            "standardized with the pool's mean and scale.",
            f"- **Model**: `{result.settings.describe()}`, a label predicted when its "
            f"probability is at least {THRESHOLD:g}; a label with one class among the labeled "
            "items gets a constant predictor.",
            "- **Metric**: **micro-F1** on the test set (every item-label decision pooled), and "
            "macro-F1 (the mean of the labels' own F1) beside it.",
            f"- **Rounds**: {schedule.initial} random items first, holding a positive and a "
            "negative of every label (the same for every strategy on a seed), then "
            f"**{schedule.batch} items per round** for **{schedule.rounds} rounds**, chosen "
            f"by POST /v1/rank over the unlabeled pool: {last:,} items at the end, "
            f"{last / result.pool_size:.0%} of the pool. "
            f"{_count(len(seeds), 'seed')} ({', '.join(map(str, seeds))}).",
            "- **Requests**: the unlabeled items' N x L probabilities as "
            "`label_probabilities`; `params.aggregate` for the per-label strategies, the "
            "labeled items' 0/1 label sets as `labeled_labels` for "
            "`label_cardinality_inconsistency`, a seed for `random`.",
            "- **Cost**: items labeled, each with its whole label set, the seed set included.",
            f"- **Ceiling**: the model trained on the whole pool reaches **micro-F1 "
            f"{result.full_micro:.3f}** (macro-F1 {result.full_macro:.3f}) on the test set. "
            "Targets: "
            + "; ".join(
                f"{fraction:.0%} of it, micro-F1 {result.target(fraction):.3f}"
                for fraction in result.fractions
            )
            + ".",
        ]
    )


def family(name: str) -> str:
    """The strategy's family for the tables."""
    plan = PLANS_BY_NAME.get(name)
    return plan.family if plan is not None else ""


def target_table(result: MultilabelResult, fraction: float) -> str:
    """Items to reach ``fraction`` of the ceiling, per strategy, fewest first."""
    rows = {name: needed(result, name, fraction) for name in result.curves}
    baseline = rows.get(BASELINE.name)
    lines = [
        f"## Items to reach {fraction:.0%} of the full-pool micro-F1 "
        f"({result.target(fraction):.3f})",
        "",
        "| strategy | family | items labeled (mean ± sd) | saving vs random | seeds reaching it |",
        "|---|---|---|---|---|",
    ]
    for name in sorted(rows, key=lambda item: (rows[item].bounded, rows[item].mean)):
        row = rows[name]
        saving = _saving(name, row, baseline)
        label = f"**{name}**" if name == BASELINE.name else name
        lines.append(
            f"| {label} | {family(name)} | {items_text(row)} | {saving} "
            f"| {row.reached}/{row.runs} |"
        )
    if baseline is not None and baseline.bounded:
        lines += [
            "",
            f"Random did not reach it on {baseline.runs - baseline.reached} of "
            f"{baseline.runs} seeds within the rounds: those runs count their last item "
            "count, so its figure, and every saving against it, is a lower bound.",
        ]
    return "\n".join(lines)


def items_text(row: Needed) -> str:
    """e.g. "212 ± 31", or "≥ 520 ± 0" when some run never reached the target."""
    prefix = "≥ " if row.bounded else ""
    return f"{prefix}{row.mean:,.0f} ± {row.std:,.0f}"


def _saving(name: str, row: Needed, baseline: Needed | None) -> str:
    if name == BASELINE.name or baseline is None:
        return "(baseline)"
    return saving_text(row, baseline)


def end_table(result: MultilabelResult) -> str:
    """Where each strategy ends: micro- and macro-F1, and how many labels its picks carry."""
    lines = [
        f"## After the last round ({result.schedule.rounds} rounds)",
        "",
        "| strategy | micro-F1 (mean ± sd) | macro-F1 (mean ± sd) | items labeled "
        "| labels per chosen item |",
        "|---|---|---|---|---|",
    ]
    means = {name: result.mean_curve(name) for name in result.curves}
    for name in sorted(means, key=lambda item: -means[item]["micro"][-1]):
        curve = means[name]
        label = f"**{name}**" if name == BASELINE.name else name
        lines.append(
            f"| {label} | {curve['micro'][-1]:.3f} ± {curve['micro_sd'][-1]:.3f} "
            f"| {curve['macro'][-1]:.3f} ± {curve['macro_sd'][-1]:.3f} "
            f"| {curve['labels'][-1]:,.0f} | {result.chosen_cardinality(name):.2f} |"
        )
    lines += [
        "",
        f"Labels per chosen item: the mean size of the true label sets of the items the "
        f"strategy bought after the seed set; the pool's mean is {result.cardinality:.2f}.",
    ]
    return "\n".join(lines)


def markdown(
    result: MultilabelResult, elapsed_s: float | None = None, jobs: int | None = None
) -> str:
    """The whole file: what was run, a table per target, and where each strategy ended."""
    key = (
        "# Multi-label active learning: items labeled to reach a target micro-F1\n\n"
        "Pool-based active learning through the alrank service on **synthetic** data: every "
        "round the classifier's per-label probabilities over the unlabeled items go to POST "
        "/v1/rank as `label_probabilities`, the items it returns are labeled with their "
        "true label sets, and the classifier is retrained. Items to target: the items "
        "labeled when the run's test micro-F1 first reached the target, linear between the "
        "two rounds around it; mean ± standard deviation over seeds (≥ when some run never "
        "reached it: it counts its last item count). Saving vs random: 1 - items / "
        "random's items (≥ when random never got there, so its figure is a lower bound; "
        "negative when the strategy needed more). The per-label strategies score each "
        "label as the two classes (p, 1 - p) and take the mean or max over labels "
        "(`params.aggregate`, after the slash); the multi-label ones read the row whole: "
        "`min_confidence` 1 - min_k p_k, `avg_confidence` mean_k p_k, `max_score` and "
        "`avg_score` the max and mean of p_k (y_k - 1/2) with y_k the predicted labels "
        "(modAL's definitions), and `label_cardinality_inconsistency` the gap between an "
        "item's predicted number of labels and the labeled items' mean (small-text's). "
        "By their formulas `avg_confidence`, `max_score` and `avg_score` are not uncertainty "
        "measures: they rank first the items with many likely labels (`avg_confidence`) or "
        "with labels predicted present at probabilities near 1 (`max_score`, `avg_score`)."
    )
    parts = [key, setting(result)]
    parts += [target_table(result, fraction) for fraction in result.fractions]
    parts.append(end_table(result))
    for name, answer in result.failed.items():
        parts.append(f"Left out: **{name}**, the service answered {answer}")
    if elapsed_s is not None:
        took = f"{elapsed_s / 60:.1f} minutes" if elapsed_s >= 120 else f"{elapsed_s:.0f} s"
        at_once = f" with {_count(jobs, 'run')} at once" if jobs else ""
        parts.append(f"Figure: `multilabel_f1_vs_labels.png`. The whole run took {took}{at_once}.")
    return "\n\n".join(parts) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
