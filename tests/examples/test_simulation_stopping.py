"""The simulation's stopping rule: the local rule and kappa, the report and figure, a live run."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from examples.simulation import learner, loop
from examples.simulation.datasets import DATASETS, Split, make_split
from examples.simulation.loop import Curve
from examples.simulation.plans import StrategyPlan, plan_strategies
from examples.simulation.results import DatasetResult, write_json
from examples.simulation.starts import STARTS
from examples.simulation.stopping import (
    LOCAL,
    SERVICE,
    SERVICE_COMMITTEE,
    STOP_KAPPA,
    STOP_ROUNDS,
    first_stop,
    kappa,
    predicted,
    rule_stops,
    stop_suggested,
)
from examples.simulation.stopping_plot import mean_kappa, plot_stopping
from examples.simulation.stopping_report import (
    StopRow,
    extreme_text,
    row_cells,
    stop_row,
    stop_rows,
    stopping_markdown,
    summarize,
)
from service.app import create_app
from service.client import AlrankClient
from service.ranking.agreement import StoppingRule, cohen_kappa
from tests.servers import serve

# --- the rule and kappa ------------------------------------------------------------------


def test_the_rule_is_the_papers_by_default() -> None:
    assert (STOP_KAPPA, STOP_ROUNDS) == (0.99, 3)


@pytest.mark.parametrize(
    ("kappas", "rounds", "expected"),
    [
        ([], 3, False),
        ([1.0, 1.0], 3, False),  # two kappas cannot fill a window of three
        ([0.98, 1.0, 1.0], 3, True),  # mean 0.9933
        ([1.0, 1.0, 0.96], 3, False),  # mean 0.9867
        ([0.5, 1.0, 0.99, 0.99], 3, True),  # only the last three count: mean 0.9933
        ([1.0, 1.0, 1.0, 0.5], 3, False),  # mean 0.8333
        ([0.98, 1.0], 2, True),  # mean 0.99 exactly: reaching the threshold stops
        ([0.97, 1.0], 2, False),  # mean 0.985
        ([0.2, 0.99], 1, True),
        ([0.2, 0.98], 1, False),
    ],
)
def test_the_local_rule_on_hand_worked_windows(
    kappas: list[float], rounds: int, expected: bool
) -> None:
    assert stop_suggested(kappas, STOP_KAPPA, rounds) is expected
    if kappas:
        # The service's rule, given the earlier kappas as its history.
        advice = StoppingRule(STOP_KAPPA, rounds, tuple(kappas[:-1])).advise(kappas[-1])
        assert advice.suggested is expected


def test_the_local_rule_agrees_with_the_services_on_random_windows() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        kappas = list(1 - rng.exponential(0.01, rng.integers(1, 7)))
        rounds = int(rng.integers(1, 5))
        rule = StoppingRule(STOP_KAPPA, rounds, tuple(kappas[:-1]))
        assert stop_suggested(kappas, STOP_KAPPA, rounds) == rule.advise(kappas[-1]).suggested
    with pytest.raises(ValueError, match="at least 1 round"):
        stop_suggested([1.0], STOP_KAPPA, 0)


def test_a_runs_verdicts_and_its_first_stop() -> None:
    kappas = [None, 0.9, 1.0, 1.0, 1.0, 0.9]
    assert rule_stops(kappas) == [False, False, False, False, True, False]
    assert first_stop(rule_stops(kappas)) == 4
    assert first_stop([False, False]) is None
    assert Curve([1, 2], [0.5, 0.6], stop=[False, True]).stop_round == 1
    assert Curve([1, 2], [0.5, 0.6]).stop_round is None


def test_kappa_on_a_hand_worked_case() -> None:
    previous = np.array([0, 0, 0, 1, 1, 2])
    current = np.array([0, 0, 1, 1, 1, 2])
    # Observed agreement 5/6; chance (3*2 + 2*3 + 1*1) / 36 = 13/36; kappa 17/23.
    assert kappa(previous, current) == pytest.approx(17 / 23)
    assert kappa(previous, current) == pytest.approx(cohen_kappa_score(previous, current))
    confusion = np.zeros((3, 3), dtype=np.int64)
    np.add.at(confusion, (previous, current), 1)
    assert kappa(previous, current) == pytest.approx(cohen_kappa(confusion))
    # Where sklearn's kappa is undefined (one class throughout), the service's convention.
    assert kappa(np.array([1, 1, 1]), np.array([1, 1, 1])) == 1.0
    assert kappa(np.array([0, 0]), np.array([1, 1])) == 0.0
    assert predicted(np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])).tolist() == [1, 0, 0]


def _line_split() -> Split:
    """Eight pool items on a line, two classes; two items of each labeled at first."""
    x = np.array([[-3.0], [-2.0], [-1.0], [-0.2], [0.2], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    return Split(x, y, x, y, initial=np.array([0, 1, 6, 7]), classes=np.array([0, 1]))


def test_the_recorded_local_kappa_is_cohen_kappa_score_of_the_two_models() -> None:
    split = _line_split()
    before = np.zeros(8, dtype=bool)
    before[[0, 6]] = True
    after = np.zeros(8, dtype=bool)
    after[[0, 3, 4, 6]] = True
    previous = loop.Fitted(learner.fit(split.x_pool[before], split.y_pool[before]))
    current = loop.Fitted(learner.fit(split.x_pool[after], split.y_pool[after]))
    unlabeled = np.flatnonzero(~after)
    pool = split.x_pool[unlabeled]
    expected = cohen_kappa_score(previous.model.predict(pool), current.model.predict(pool))
    recorded, model_kappa, stop = loop.judge(
        split, unlabeled, current, previous, [1.0, 1.0], None, LOCAL
    )
    assert recorded == model_kappa == pytest.approx(expected)
    assert stop is stop_suggested([1.0, 1.0, expected])


# --- the report and the figure -----------------------------------------------------------


def _curve(accuracy: list[float], stops: list[bool], source: str = SERVICE) -> Curve:
    kappas: list[float | None] = [None, 0.8, 0.95, 1.0, 1.0, 1.0]
    return Curve(
        labels=[4, 6, 8, 10, 12, 14],
        accuracy=accuracy,
        kappa=kappas,
        model_kappa=kappas,
        stop=stops,
        kappa_source=source,
    )


NEVER = [False] * 6
AT_3 = [False, False, False, True, True, True]
AT_4 = [False, False, False, False, True, True]


def _synthetic() -> DatasetResult:
    result = DatasetResult(
        name="toy",
        title="toy: a synthetic result",
        start=STARTS["cold"],
        fraction=0.95,
        pool_size=40,
        test_size=20,
        classes=2,
        initial=4,
        batch=2,
        rounds=5,
        seeds=[0, 1],
        full_accuracy=[0.9, 0.9],
    )
    result.families = {"margin": "uncertainty", "random": "baseline", "coreset": "diversity"}
    result.curves = {
        "margin": [
            _curve([0.5, 0.6, 0.7, 0.8, 0.85, 0.9], AT_3),
            _curve([0.5, 0.6, 0.7, 0.75, 0.8, 0.85], NEVER),
        ],
        "random": [
            _curve([0.5, 0.55, 0.6, 0.65, 0.7, 0.75], AT_4),
            _curve([0.5, 0.55, 0.6, 0.65, 0.7, 0.8], AT_4),
        ],
        "coreset": [
            _curve([0.5, 0.6, 0.65, 0.7, 0.7, 0.7], AT_3, LOCAL),
            _curve([0.5, 0.6, 0.65, 0.7, 0.7, 0.7], AT_3, LOCAL),
        ],
    }
    return result


def test_stop_rows_from_a_synthetic_result() -> None:
    result = _synthetic()
    margin = stop_row(result, "margin")
    # Seed 0 stops at round 3 (10 labels, 0.8); seed 1 never does: its end counts (14, 0.85).
    assert (margin.stopped, margin.runs) == (1, 2)
    assert margin.labels_at_stop == 12
    assert margin.labels_at_end == 14
    assert margin.saved == 2
    assert margin.accuracy_at_stop == pytest.approx(0.825)
    assert margin.accuracy_at_end == pytest.approx(0.875)
    assert margin.given_up == pytest.approx(0.05)
    random = stop_row(result, "random")
    assert (random.stopped, random.labels_at_stop, random.saved) == (2, 12, 2)
    assert random.given_up == pytest.approx(0.775 - 0.7)
    coreset = stop_row(result, "coreset")
    assert (coreset.labels_at_stop, coreset.given_up) == (10, 0)
    assert [row.strategy for row in stop_rows(result)] == ["coreset", "margin", "random"]
    assert row_cells(margin) == [
        "margin",
        "uncertainty",
        "service",
        "1/2",
        "12 ± 2",
        "14",
        "2 (14%)",
        "82.5%",
        "87.5%",
        "5.0 pts",
    ]
    summary = summarize(stop_rows(result))
    assert (summary.strategies, summary.all_stopped, summary.never_stopped) == (3, 2, 0)
    assert summary.median_saved == 2
    # Margin gave up less than random, but the rule stopped only one of its seeds.
    assert summary.least_given_up == stop_row(result, "coreset")
    assert summary.most_given_up == random
    unstopped = summarize([margin, stop_row(result, "margin")])
    assert unstopped.least_given_up == unstopped.most_given_up == margin
    assert extreme_text(summarize([_never_stopped(margin)]).least_given_up) == "none"


def _never_stopped(row: StopRow) -> StopRow:
    return dataclasses.replace(row, stopped=0, labels_at_stop=row.labels_at_end)


def test_the_stopping_markdown_and_figure_from_a_synthetic_result(tmp_path: Path) -> None:
    result = _synthetic()
    text = stopping_markdown([result])
    assert "| margin | uncertainty | service | 1/2 | 12 ± 2 | 14 | 2 (14%) |" in text
    assert "| **random** | baseline | service | 2/2 | 12 ± 0 | 14 | 2 (14%) |" in text
    assert "| coreset | diversity | local | 2/2 | 10 ± 0 | 14 | 4 (29%) |" in text
    assert "## Cold start" in text
    assert "### toy: a synthetic result" in text
    assert (
        "| cold start | toy | 14 | 2/3 | 2 (14%) | 5.0 pts | coreset: 4 saved, 0.0 pts "
        "| random: 2 saved, 7.5 pts |"
    ) in text
    labels, kappas = mean_kappa(result, "margin")
    assert labels.tolist() == [6, 8, 10, 12, 14]
    np.testing.assert_allclose(kappas, [0.8, 0.95, 1.0, 1.0, 1.0])
    path = tmp_path / "stopping.png"
    plot_stopping([result], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_committee_strategies_are_also_judged_on_the_models_kappas() -> None:
    result = _synthetic()
    committee = [
        Curve(
            labels=[4, 6, 8, 10, 12, 14],
            accuracy=[0.5, 0.6, 0.7, 0.8, 0.85, 0.9],
            kappa=[None, 0.8, 0.9, 0.9, 0.9, 0.9],
            model_kappa=[None, 1.0, 1.0, 1.0, 1.0, 1.0],
            stop=NEVER,
            kappa_source=SERVICE_COMMITTEE,
        )
    ] * 2
    result.curves["bald"] = committee
    result.families["bald"] = "bayesian"
    assert stop_row(result, "bald").stopped == 0
    own = stop_row(result, "bald", own_model=True)
    assert (own.stopped, own.labels_at_stop) == (2, 10)  # kappas 1, 1, 1 by round 3
    text = stopping_markdown([result])
    assert "| bald | bayesian | service (committee) | 0/2 | 14 ± 0 | 14 | 0 (0%) |" in text
    assert "bald at 10 labels (2/2 seeds, 10.0 pts given up)" in text


def test_results_json_holds_the_kappas_and_the_stops(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_json(path, [_synthetic()], {})
    margin = json.loads(path.read_text(encoding="utf-8"))["datasets"][0]["strategies"]["margin"]
    assert margin["kappa_source"] == SERVICE
    assert margin["kappa"][0] == [None, 0.8, 0.95, 1.0, 1.0, 1.0]
    assert margin["stop_suggested"][1] == NEVER
    assert margin["stop_round"] == [3, None]
    assert margin["labels_at_stop"] == [10, None]
    assert "model_kappa" not in margin  # the same as its kappa


# --- a live run through the service ------------------------------------------------------


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from serve(create_app({"TESTING": True}))


@pytest.fixture(scope="module")
def plans(url: str) -> dict[str, StrategyPlan]:
    with AlrankClient(url, timeout=30) as client:
        return {plan.name: plan for plan in plan_strategies(client.strategies())[0]}


ROUNDS = 3


def _rounds(url: str, plan: StrategyPlan) -> tuple[Split, list[loop.Round]]:
    split = make_split(DATASETS["wine"], 0, STARTS["cold"])
    with AlrankClient(url, timeout=30) as client:
        steps = list(loop.run_rounds(client, split, plan, batch=3, rounds=ROUNDS, seed=0))
    return split, steps


def _check_rounds(steps: list[loop.Round]) -> None:
    assert [step.index for step in steps] == list(range(ROUNDS + 1))
    assert [step.labels for step in steps] == [3, 6, 9, 12]
    assert steps[0].kappa is None
    assert steps[0].stop is False
    history: list[float] = []
    for step in steps[1:]:
        assert step.kappa is not None
        assert step.model_kappa is not None
        assert -1.0 <= step.kappa <= 1.0
        assert -1.0 <= step.model_kappa <= 1.0
        history.append(step.kappa)
        assert step.stop is stop_suggested(history)


def test_a_live_run_takes_its_kappa_from_the_service(
    url: str, plans: dict[str, StrategyPlan]
) -> None:
    split, steps = _rounds(url, plans["margin"])
    _check_rounds(steps)
    history: list[float] = []
    for before, after in pairwise(steps):
        pool = split.x_pool[after.unlabeled]
        expected = cohen_kappa_score(
            before.fitted.model.predict(pool), after.fitted.model.predict(pool)
        )
        assert after.result is not None
        agreement = after.result.diagnostics["agreement"]
        assert agreement["compared"] == len(after.unlabeled)
        assert after.kappa == agreement["kappa"] == pytest.approx(expected)
        assert after.model_kappa == pytest.approx(expected)
        stopping = after.result.diagnostics["stopping"]
        assert (stopping["kappa"], stopping["rounds"]) == (STOP_KAPPA, STOP_ROUNDS)
        assert stopping["window"] == pytest.approx([*history[-(STOP_ROUNDS - 1) :], expected])
        assert after.result.diagnostics["stop_suggested"] is after.stop
        history.append(agreement["kappa"])
    # The last round still asks, for its verdict; the first has nothing to compare.
    assert steps[0].result is not None
    assert "agreement" not in steps[0].result.diagnostics


def test_a_live_committee_run_compares_consecutive_committees(
    url: str, plans: dict[str, StrategyPlan]
) -> None:
    split, steps = _rounds(url, plans["bald"])
    _check_rounds(steps)
    for before, after in pairwise(steps):
        pool = split.x_pool[after.unlabeled]
        previous = predicted(loop.distribution(before.fitted, pool, split.classes))
        current = predicted(loop.distribution(after.fitted, pool, split.classes))
        assert after.result is not None
        assert after.kappa == pytest.approx(cohen_kappa_score(previous, current))
        models = [step.fitted.model.predict(pool) for step in (before, after)]
        assert after.model_kappa == pytest.approx(cohen_kappa_score(*models))


def test_a_live_embedding_run_computes_its_kappa_here(
    url: str, plans: dict[str, StrategyPlan]
) -> None:
    split, steps = _rounds(url, plans["coreset"])
    _check_rounds(steps)
    for before, after in pairwise(steps):
        pool = split.x_pool[after.unlabeled]
        models = [step.fitted.model.predict(pool) for step in (before, after)]
        assert after.kappa == after.model_kappa == pytest.approx(cohen_kappa_score(*models))
    assert steps[-1].result is None  # nothing to ask the service after the last round
    with AlrankClient(url, timeout=30) as client:
        curve = loop.run(client, split, plans["coreset"], batch=3, rounds=ROUNDS, seed=0)
    assert curve.labels == [step.labels for step in steps]
    assert curve.accuracy == [step.accuracy for step in steps]
    assert curve.kappa == [step.kappa for step in steps]
    assert curve.kappa_source == LOCAL
