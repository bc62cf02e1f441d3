import math

import numpy as np
import pytest

from service.ranking.selection import (
    SELECTION_METHODS,
    Selection,
    power_log_weights,
    softmax_log_weights,
)
from tests.ranking.helpers import normalized, rank

STOCHASTIC = [method for method in SELECTION_METHODS if method != "top"]


def margin_pool(n=40, seed=0):
    # Distinct margins 1 - |2 p - 1| for p spread over (0.5, 1).
    p = 0.5 + (np.random.default_rng(seed).permutation(n) + 1) / (2 * n + 2)
    return np.column_stack([p, 1 - p])


def test_power_log_weights_are_beta_log_score_with_zero_scores_last():
    weights = power_log_weights(np.array([1.0, 0.5, 0.0, 0.25], dtype=np.float32), 2.0)
    assert weights.dtype == np.float64
    assert weights[[0, 1, 3]].tolist() == pytest.approx(
        [0.0, 2 * math.log(0.5), 2 * math.log(0.25)]
    )
    assert weights[2] < 2 * math.log(np.finfo(np.float64).tiny) - 100


def test_power_with_beta_zero_weighs_every_item_alike():
    assert power_log_weights(np.array([0.9, 0.0, 0.1]), 0.0).tolist() == [0.0, 0.0, 0.0]


def test_softmax_log_weights_are_beta_times_score():
    assert softmax_log_weights(np.array([0.5, 0.25]), 4.0).tolist() == [2.0, 1.0]


def test_selection_describes_itself():
    assert Selection().describe() == {"method": "top"}
    assert not Selection().randomized
    assert Selection("power", 2.0).describe() == {"method": "power", "beta": 2.0}
    assert Selection("power", 2.0).randomized


@pytest.mark.parametrize("method", STOCHASTIC)
def test_a_seeded_draw_is_repeatable_and_chunk_independent(method):
    pool = margin_pool()
    selection = Selection(method, 1.0)
    answers = [
        rank(pool, "margin", 8, seed=99, selection=selection, chunk=size)
        for size in (1, 2, 7, None)
    ]
    for answer in answers:
        assert answer.seed == 99
        np.testing.assert_array_equal(answer.indices, answers[0].indices)
        np.testing.assert_array_equal(answer.scores, answers[0].scores)


@pytest.mark.parametrize("method", STOCHASTIC)
def test_a_draw_returns_distinct_eligible_items_with_their_own_scores(method):
    pool = margin_pool()
    exclude = list(range(0, 40, 3))
    for seed in range(5):
        answer = rank(pool, "margin", 20, seed=seed, exclude=exclude, selection=Selection(method))
        drawn = answer.indices.tolist()
        assert len(set(drawn)) == 20
        assert not set(drawn) & set(exclude)
        np.testing.assert_array_equal(answer.scores, answer.all_scores[answer.indices])


@pytest.mark.parametrize(("method", "beta"), [("softmax", 1e6), ("power", 1e4), ("softrank", 1e3)])
def test_a_very_large_beta_draws_the_top_k(method, beta):
    pool = margin_pool()
    top = rank(pool, "margin", 10, exclude=[5, 6]).indices.tolist()
    drawn = rank(pool, "margin", 10, exclude=[5, 6], seed=3, selection=Selection(method, beta))
    assert drawn.indices.tolist() == top


def test_power_draws_zero_scores_only_after_every_positive_one():
    probs = normalized(np.eye(2)[np.zeros(13, dtype=int)])  # one-hot rows: margin 0
    probs[[2, 7, 11]] = [[0.6, 0.4], [0.9, 0.1], [0.99, 0.01]]
    for seed in range(10):
        answer = rank(probs, "margin", 3, seed=seed, selection=Selection("power", 1.0))
        assert sorted(answer.indices.tolist()) == [2, 7, 11]
