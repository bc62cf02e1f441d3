"""POST /v1/rank with a budget of money: every pointwise strategy spends it
greedily by score per unit cost, never more than it, and bad costs are refused."""

from __future__ import annotations

import numpy as np
import pytest

from service.ranking.inputs import INPUT_KINDS
from service.ranking.registry import STRATEGIES
from tests.web.helpers import assert_problem, assert_ranked, dirichlet_pool, send

POOL = dirichlet_pool(200, 4, seed=31)
COSTS = np.random.default_rng(31).uniform(0.5, 4.0, 200)
_RNG = np.random.default_rng(32)
# One pool of 200 items per input kind a pointwise strategy may take.
INPUTS = {
    "probabilities": POOL,
    "samples": np.stack([dirichlet_pool(200, 4, seed=s) for s in range(3)], axis=1),
    "token_probabilities": [
        _RNG.dirichlet(np.ones(4), size=int(n)).tolist() for n in _RNG.integers(1, 6, 200)
    ],
    "label_probabilities": _RNG.random((200, 3)),
}
POINTWISE = sorted(name for name, strategy in STRATEGIES.items() if strategy.pointwise)


def _greedy(scores: np.ndarray, costs: np.ndarray, budget: float, excluded=()) -> list[int]:
    """The documented rule, written out: by score per cost, then cost, then index."""
    items = [i for i in range(len(scores)) if i not in set(excluded)]
    key = {i: scores[i] / costs[i] if scores[i] >= 0 else scores[i] * costs[i] for i in items}
    taken, spent = [], 0.0
    for i in sorted(items, key=lambda i: (-key[i], costs[i], i)):
        if spent + costs[i] <= budget:
            spent += costs[i]
            taken.append(i)
    return taken


@pytest.mark.parametrize("strategy", POINTWISE)
def test_every_pointwise_strategy_spends_by_score_per_cost(client, strategy):
    kind = next(name for name in INPUTS if STRATEGIES[strategy].accepts(INPUT_KINDS[name]))
    fields = {"strategy": strategy, "budget_cost": 20.0, "seed": 3, "return_all_scores": True}
    if strategy == "label_cardinality_inconsistency":
        fields["params"] = {"label_cardinality": 1.5}
    body = assert_ranked(send(client, "json", {kind: INPUTS[kind], "costs": COSTS}, **fields))
    scores = np.asarray(body["all_scores"])
    assert body["indices"] == _greedy(scores, COSTS, 20.0)
    assert body["cost_used"] == pytest.approx(COSTS[body["indices"]].sum())
    assert body["cost_used"] <= 20.0
    assert (body["budget"], body["budget_cost"]) == (len(body["indices"]), 20.0)
    assert body["scores"] == scores[body["indices"]].tolist()


def test_multipart_and_json_agree_and_exclusions_hold(client):
    arrays = {"probabilities": POOL, "costs": COSTS}
    fields = {"strategy": "margin", "budget_cost": 15.5, "exclude": [0, 1, 2]}
    by_json = assert_ranked(send(client, "json", arrays, **fields))
    by_form = assert_ranked(send(client, "multipart", arrays, **fields))
    assert {k: v for k, v in by_json.items() if k != "diagnostics"} == {
        k: v for k, v in by_form.items() if k != "diagnostics"
    }
    assert not {0, 1, 2} & set(by_json["indices"])


def test_costs_as_token_counts_for_sentences(client):
    sequences = [[[0.5, 0.5]] * 4, [[0.6, 0.4]], [[0.9, 0.1], [0.5, 0.5]]]
    lengths = np.array([4.0, 1.0, 2.0])
    body = assert_ranked(
        send(
            client,
            "json",
            {"token_probabilities": sequences, "costs": lengths},
            strategy="least_confidence",
            budget_cost=3,
            params={"aggregate": "sum"},
            return_token_scores=True,
        )
    )
    # Sums 2.0, 0.4, 0.6 over 4, 1 and 2 tokens: keys 0.5, 0.4, 0.3; the 4-token
    # sentence does not fit 3, then 1 and 2 do (3 tokens).
    assert body["indices"] == [1, 2]
    assert body["cost_used"] == 3.0
    assert len(body["token_scores"]) == 2


@pytest.mark.parametrize(
    ("arrays", "fields", "field", "says"),
    [
        ({"costs": COSTS}, {"budget": 3}, "costs", "budget_cost"),
        ({"costs": COSTS}, {"budget": 3, "budget_cost": 5}, "budget_cost", "not both"),
        ({}, {}, "budget", "budget_cost"),
        ({}, {"budget_cost": 5}, "costs", "send costs"),
        ({"costs": COSTS[:-1]}, {"budget_cost": 5}, "costs", "199 entries"),
        (
            {"costs": np.where(np.arange(200) == 7, 0.0, COSTS)},
            {"budget_cost": 5},
            "costs",
            "item 7",
        ),
        (
            {"costs": np.where(np.arange(200) == 9, -1.0, COSTS)},
            {"budget_cost": 5},
            "costs",
            "item 9",
        ),
        ({"costs": COSTS}, {"budget_cost": 0}, "budget_cost", ""),
        ({"costs": COSTS}, {"budget_cost": -2}, "budget_cost", ""),
        ({"costs": COSTS}, {"budget_cost": 0.1}, "budget_cost", "buys nothing"),
        (
            {"costs": COSTS},
            {"budget_cost": 5, "selection": {"method": "softmax"}},
            "selection",
            "top",
        ),
        ({"costs": COSTS}, {"budget_cost": 5, "balance": {}}, "balance", ""),
    ],
)
def test_bad_budgets_of_money_are_refused_by_name(client, arrays, fields, field, says):
    response = send(client, "json", {"probabilities": POOL, **arrays}, strategy="margin", **fields)
    assert_problem(response, 422, field, says=(says,) if says else ())


def test_a_nan_cost_is_refused_by_name(client):
    costs = COSTS.copy()
    costs[4] = np.nan
    response = send(
        client,
        "multipart",
        {"probabilities": POOL, "costs": costs},
        strategy="margin",
        budget_cost=5,
    )
    assert_problem(response, 422, "costs", says=("item 4",))


def test_batch_strategies_refuse_a_budget_of_money(client):
    response = send(
        client,
        "json",
        {"probabilities": POOL, "embeddings": POOL, "costs": COSTS},
        strategy="badge",
        budget_cost=5,
    )
    assert_problem(response, 422, "budget_cost", says=("by count",))
