"""The stopping table: where the stabilizing-predictions rule stops each strategy's runs,
the labels that saves and the test accuracy it gives up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from examples.simulation.loop import Curve
from examples.simulation.report import BASELINE
from examples.simulation.results import DatasetResult
from examples.simulation.stopping import (
    LOCAL,
    SERVICE,
    SERVICE_COMMITTEE,
    SOURCES,
    STOP_KAPPA,
    STOP_ROUNDS,
    first_stop,
    rule_stops,
)

SOURCE_NAMES = {SERVICE: "service", SERVICE_COMMITTEE: "service (committee)", LOCAL: "local"}


@dataclass(frozen=True)
class StopRow:
    """One strategy's stop on one dataset and start, over seeds.

    A run whose rule never fired is counted at its last round, where it
    ended anyway: it saved no labels and gave up no accuracy. ``stopped``
    of ``runs`` fired. Labels and accuracies are means over seeds.
    """

    strategy: str
    family: str
    source: str | None
    stopped: int
    runs: int
    labels_at_stop: float
    labels_at_stop_std: float
    labels_at_end: float
    accuracy_at_stop: float
    accuracy_at_end: float

    @property
    def saved(self) -> float:
        """Labels not bought by stopping where the rule said, mean over seeds."""
        return self.labels_at_end - self.labels_at_stop

    @property
    def saved_share(self) -> float:
        """``saved`` as a share of the labels at the end of the run."""
        return self.saved / self.labels_at_end

    @property
    def given_up(self) -> float:
        """Test accuracy at the end minus at the stop (a fraction; negative if it fell)."""
        return self.accuracy_at_end - self.accuracy_at_stop


def stop_index(stops: Sequence[bool]) -> int:
    """The round a run stops at: the rule's first stop, else its last round."""
    first = first_stop(stops)
    return len(stops) - 1 if first is None else first


def stop_row(result: DatasetResult, strategy: str, *, own_model: bool = False) -> StopRow:
    """Where the rule stops ``strategy``'s runs, over seeds.

    With ``own_model``, the rule judges the evaluated model's kappas
    (Curve.model_kappa, computed here) instead of the ones it was given.
    """
    curves = result.curves[strategy]
    verdicts = [_verdicts(curve, own_model) for curve in curves]
    stops = [stop_index(verdict) for verdict in verdicts]
    labels = [curve.labels[index] for curve, index in zip(curves, stops, strict=True)]
    accuracy = [curve.accuracy[index] for curve, index in zip(curves, stops, strict=True)]
    return StopRow(
        strategy=strategy,
        family=result.families[strategy],
        source=LOCAL if own_model else curves[0].kappa_source,
        stopped=sum(first_stop(verdict) is not None for verdict in verdicts),
        runs=len(curves),
        labels_at_stop=float(np.mean(labels)),
        labels_at_stop_std=float(np.std(labels)),
        labels_at_end=float(np.mean([curve.labels[-1] for curve in curves])),
        accuracy_at_stop=float(np.mean(accuracy)),
        accuracy_at_end=float(np.mean([curve.accuracy[-1] for curve in curves])),
    )


def _verdicts(curve: Curve, own_model: bool) -> list[bool]:
    if own_model:
        return rule_stops(curve.model_kappa)
    return curve.stop or [False] * len(curve.labels)


def stop_rows(result: DatasetResult) -> list[StopRow]:
    """A row per strategy, the earliest mean stop first (ties by name)."""
    rows = [stop_row(result, name) for name in result.curves]
    return sorted(rows, key=lambda row: (row.labels_at_stop, row.strategy))


@dataclass(frozen=True)
class Summary:
    """A dataset and start's stops across strategies (random included).

    ``median_saved`` and ``median_given_up`` are medians over strategies of
    the rows' means. ``least_given_up`` and ``most_given_up`` are the
    strategies whose stop gave up the least and the most accuracy, among
    those the rule stopped on every seed (on some seed, when it stopped none
    on every seed; None when it stopped nothing); ties go to the one that
    saved more labels.
    """

    strategies: int
    all_stopped: int
    never_stopped: int
    median_saved: float
    median_saved_share: float
    median_given_up: float
    least_given_up: StopRow | None
    most_given_up: StopRow | None


def summarize(rows: Sequence[StopRow]) -> Summary:
    """The medians and the extremes of ``rows`` (at least one)."""
    if not rows:
        raise ValueError("expected at least one strategy")
    judged = [row for row in rows if row.stopped == row.runs] or [
        row for row in rows if row.stopped > 0
    ]
    ordered = sorted(judged, key=lambda row: (round(row.given_up, 9), -row.saved, row.strategy))
    worst = sorted(judged, key=lambda row: (-round(row.given_up, 9), -row.saved, row.strategy))
    return Summary(
        strategies=len(rows),
        all_stopped=sum(row.stopped == row.runs for row in rows),
        never_stopped=sum(row.stopped == 0 for row in rows),
        median_saved=float(np.median([row.saved for row in rows])),
        median_saved_share=float(np.median([row.saved_share for row in rows])),
        median_given_up=float(np.median([row.given_up for row in rows])),
        least_given_up=ordered[0] if ordered else None,
        most_given_up=worst[0] if worst else None,
    )


def extreme_text(row: StopRow | None) -> str:
    """e.g. "margin: 148 saved, 1.9 pts", or "none" when the rule stopped nothing."""
    if row is None:
        return "none"
    return f"{row.strategy}: {row.saved:.0f} saved, {points(row.given_up)}"


def points(value: float) -> str:
    """An accuracy difference in percentage points, e.g. "1.2 pts" or "-0.3 pts"."""
    return f"{100 * value:.1f} pts"


def row_cells(row: StopRow) -> list[str]:
    """A table row's cells, in the order of ``TABLE_HEADER``."""
    name = f"**{row.strategy}**" if row.strategy == BASELINE else row.strategy
    return [
        name,
        row.family,
        SOURCE_NAMES.get(row.source or "", str(row.source)),
        f"{row.stopped}/{row.runs}",
        f"{row.labels_at_stop:.0f} ± {row.labels_at_stop_std:.0f}",
        f"{row.labels_at_end:.0f}",
        f"{row.saved:.0f} ({row.saved_share:.0%})",
        f"{row.accuracy_at_stop:.1%}",
        f"{row.accuracy_at_end:.1%}",
        points(row.given_up),
    ]


TABLE_HEADER = (
    "| strategy | family | kappa from | seeds stopped | labels at stop (mean ± sd) "
    "| labels at end | labels saved | accuracy at stop | accuracy at end | accuracy given up |"
)


def setting(result: DatasetResult) -> str:
    """The paragraph above a table: the schedule, and the earliest round the rule can stop."""
    end = result.initial + result.rounds * result.batch
    text = (
        f"Pool {result.pool_size} items, test set {result.test_size}. Start from "
        f"{result.initial} labels, then {result.batch} per round for {result.rounds} rounds "
        f"({end} labels at the end); {len(result.seeds)} seeds. The rule needs {STOP_ROUNDS} "
        "kappas, "
    )
    if result.rounds < STOP_ROUNDS:
        return text + f"more than {result.rounds} rounds give: it cannot stop these runs."
    first = result.initial + STOP_ROUNDS * result.batch
    return text + f"so it can stop at round {STOP_ROUNDS} ({first} labels) at the earliest."


def summary_text(summary: Summary) -> str:
    """A short paragraph: the medians and the extremes."""
    among = "on every seed" if summary.all_stopped else "on some seed"
    return (
        f"Over {summary.strategies} strategies: the rule stopped every seed of "
        f"{summary.all_stopped} and no seed of {summary.never_stopped}; median "
        f"{summary.median_saved:.0f} labels saved ({summary.median_saved_share:.0%} of the "
        f"run's), median accuracy given up {points(summary.median_given_up)}. Of the "
        f"strategies stopped {among}, the least accuracy given up: "
        f"{_extreme_phrase(summary.least_given_up)}; the most: "
        f"{_extreme_phrase(summary.most_given_up)}."
    )


def _extreme_phrase(row: StopRow | None) -> str:
    if row is None:
        return "none"
    return f"{row.strategy} ({points(row.given_up)}, {row.saved:.0f} labels saved)"


def committee_text(result: DatasetResult) -> str | None:
    """For the committee strategies: where the rule would stop on the evaluated model's kappas."""
    names = [
        name
        for name, curves in result.curves.items()
        if curves[0].kappa_source == SERVICE_COMMITTEE
    ]
    if not names:
        return None
    parts = []
    for name in names:
        row = stop_row(result, name, own_model=True)
        parts.append(
            f"{name} at {row.labels_at_stop:.0f} labels ({row.stopped}/{row.runs} seeds, "
            f"{points(row.given_up)} given up)"
        )
    return (
        "Judged on the evaluated model's own kappas (computed here) instead of the "
        "committee's, the rule would stop the committee strategies: " + "; ".join(parts) + "."
    )


def dataset_section(result: DatasetResult) -> str:
    """One dataset and start: the setting, the summary, a row per strategy, earliest stop first."""
    rows = stop_rows(result)
    lines = [
        f"### {result.title}",
        "",
        setting(result),
        "",
        summary_text(summarize(rows)),
        "",
        TABLE_HEADER,
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row_cells(row)) + " |" for row in rows]
    committee = committee_text(result)
    if committee:
        lines += ["", committee]
    return "\n".join(lines)


def overview(results: Sequence[DatasetResult]) -> str:
    """The headline table: a row per start and dataset."""
    lines = [
        "| start | dataset | labels at end | strategies stopped on every seed "
        "| median labels saved | median accuracy given up | least given up | most given up |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        rows = stop_rows(result)
        summary = summarize(rows)
        lines.append(
            f"| {result.start.short} | {result.name} | {rows[0].labels_at_end:.0f} "
            f"| {summary.all_stopped}/{summary.strategies} "
            f"| {summary.median_saved:.0f} ({summary.median_saved_share:.0%}) "
            f"| {points(summary.median_given_up)} "
            f"| {extreme_text(summary.least_given_up)} "
            f"| {extreme_text(summary.most_given_up)} |"
        )
    return "\n".join(lines)


def stopping_markdown(results: Sequence[DatasetResult]) -> str:
    """The whole file: the rule, where the kappas came from, the overview, then per start
    a section per dataset."""
    key = (
        "# When to stop labeling: stabilizing predictions\n\n"
        "After every round the simulation compares the new model's predicted classes on "
        "the unlabeled pool with the previous round's model's predictions on the same "
        "items, as Cohen's kappa, and applies the stabilizing-predictions rule "
        "(Bloodgood and Vijay-Shanker, CoNLL 2009): stop once the mean of the last "
        f"{STOP_ROUNDS} kappas reaches {STOP_KAPPA}. The runs go on to the last round "
        "regardless, so the table compares stopping where the rule first said so with "
        "labeling to the end. Labels at stop: mean ± sd over seeds, a run whose rule never "
        "fired counting at its last round (no labels saved, no accuracy given up). Labels "
        "saved: the labels at the end minus at the stop (and their share of the labels at "
        "the end). Accuracy given up: test accuracy at the end minus at the stop, in "
        "percentage points, means over seeds (negative: the model was better at the stop). "
        "Least and most given up: among the strategies the rule stopped on every seed."
    )
    sources = (
        "Where the kappas came from:\n\n"
        + "\n".join(f"- **{SOURCE_NAMES[name]}**: {text}." for name, text in SOURCES.items())
        + "\n\nThe service's kappa and verdict come back in `diagnostics.agreement` and "
        "`diagnostics.stop_suggested` of the round's POST /v1/rank, given "
        "`previous_probabilities` and the earlier kappas as `stopping.history`. For the "
        "local ones the simulation applies the same rule (examples/simulation/stopping.py, "
        "`stop_suggested`) to cohen_kappa_score of the two models' predictions."
    )
    parts = [key, sources, "## Overview", overview(results)]
    for start in dict.fromkeys(result.start for result in results):
        parts.append(f"## {start.title[:1].upper()}{start.title[1:]}")
        parts.extend(dataset_section(result) for result in results if result.start == start)
    return "\n\n".join(parts) + "\n"
