"""Spending a budget of money: greedy by score per unit cost, against a slow reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ranking.costs import CostPlan, keys_per_cost, spend


def reference(scores, costs, eligible, budget, max_items=None):
    """The rule written out: sort by (-key, cost, index), walk, take what fits."""
    items = [i for i in range(len(scores)) if eligible[i]]
    key = {i: scores[i] / costs[i] if scores[i] >= 0 else scores[i] * costs[i] for i in items}
    taken, spent = [], 0.0
    for i in sorted(items, key=lambda i: (-key[i], costs[i], i)):
        if max_items is not None and len(taken) == max_items:
            break
        if spent + costs[i] <= budget:
            spent += costs[i]
            taken.append(i)
    return taken, spent


def test_a_hand_worked_budget():
    scores = np.array([0.9, 0.5, 0.8, 0.1])
    costs = np.array([3.0, 1.0, 1.0, 1.0])
    # Keys 0.3, 0.5, 0.8, 0.1: item 2, then 1; item 0 (3.0) and item 3 no longer fit 0.5.
    spent = spend(scores, np.ones(4, bool), CostPlan(costs, 2.5))
    assert spent.indices.tolist() == [2, 1]
    assert spent.scores.tolist() == [0.8, 0.5]
    assert spent.cost_used == 2.0


def test_a_cheaper_item_further_down_still_fits():
    scores = np.array([0.9, 0.2, 0.05])
    costs = np.array([1.0, 5.0, 0.5])
    # Keys 0.9, 0.04, 0.1: item 0, then item 2 (0.1) before item 1, which never fits.
    assert spend(scores, np.ones(3, bool), CostPlan(costs, 2.0)).indices.tolist() == [0, 2]


def test_equal_keys_go_to_the_cheaper_item_then_the_lower_index():
    scores = np.array([0.4, 0.2, 0.2, 0.2])
    costs = np.array([2.0, 1.0, 1.0, 1.0])
    spent = spend(scores, np.ones(4, bool), CostPlan(costs, 10.0))
    assert spent.indices.tolist() == [1, 2, 3, 0]


def test_a_dearer_item_never_ranks_higher_for_a_negative_score():
    keys = keys_per_cost(np.array([-1.0, -1.0]), np.array([1.0, 3.0]))
    assert keys[0] > keys[1]


def test_excluded_items_and_the_item_cap():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    costs = np.ones(4)
    eligible = np.array([False, True, True, True])
    spent = spend(scores, eligible, CostPlan(costs, 10.0, max_items=2))
    assert spent.indices.tolist() == [1, 2]
    assert spent.cost_used == 2.0


@st.composite
def pools(draw: st.DrawFn):
    n = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scores = (
        rng.choice([-0.5, 0.0, 0.25, 0.5, 1.0], n) if draw(st.booleans()) else rng.normal(size=n)
    )
    costs = rng.choice([0.5, 1.0, 2.0], n) if draw(st.booleans()) else rng.uniform(0.1, 3, n)
    eligible = rng.random(n) < 0.8
    budget = draw(st.floats(0.1, 40))
    max_items = draw(st.none() | st.integers(1, 60))
    return scores, costs, eligible, budget, max_items


@settings(max_examples=200, deadline=None)
@given(pools())
def test_matches_the_reference_and_never_exceeds_the_budget(pool):
    scores, costs, eligible, budget, max_items = pool
    spent = spend(scores, eligible, CostPlan(costs, budget, max_items))
    expected, expected_spent = reference(scores, costs, eligible, budget, max_items)
    assert spent.indices.tolist() == expected
    assert spent.cost_used == pytest.approx(expected_spent)
    assert spent.cost_used <= budget
    assert float(costs[spent.indices].sum()) <= budget * (1 + 1e-12)
