"""Class quotas and the balanced selector against hand-worked splits and a slow
reference, and a prefilter in the pipeline against running the batch strategy
on the survivors by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InvalidInput
from service.ranking import diversity
from service.ranking.composition import (
    Balance,
    BalancedSelector,
    class_quotas,
    prefilter_positions,
)
from service.ranking.inputs import INPUT_KINDS
from service.ranking.items import item_chunks
from service.ranking.pipeline import PrefilterPlan, RankPlan, rank_pool
from service.ranking.registry import STRATEGIES
from service.ranking.selection import Selection
from tests.ranking import reference
from tests.ranking.helpers import chunked


@pytest.mark.parametrize(
    ("budget", "available", "targets", "expected"),
    [
        (9, [10, 10, 10], [1, 1, 1], [3, 3, 3]),
        (10, [10, 10, 10], [1, 1, 1], [4, 3, 3]),  # the remainder to the lower class
        (10, [1, 10, 10], [1, 1, 1], [1, 5, 4]),  # class 0's rest split between the others
        (10, [1, 2, 10], [1, 1, 1], [1, 2, 7]),
        (10, [10, 10, 10], [0.5, 0.3, 0.2], [5, 3, 2]),
        (10, [10, 10, 10], [2, 0, 0], [10, 0, 0]),
        (10, [4, 10, 10], [1, 0, 0], [4, 3, 3]),  # once target classes are full, the rest
        (3, [0, 5, 5], [1, 1, 1], [0, 2, 1]),
        (4, [5, 5], [1e308, 1e308], [2, 2]),  # sums that would overflow
        (4, [5, 5], [1e-320, 3e-320], [1, 3]),
    ],
)
def test_class_quotas_by_hand(budget, available, targets, expected):
    quotas = class_quotas(budget, np.array(available), np.array(targets, dtype=float))
    assert quotas.tolist() == expected


def test_equal_remainders_go_to_the_classes_of_higher_priority():
    available, targets = np.full(5, 10), np.ones(5)
    quotas = class_quotas(2, available, targets, np.array([0.1, 0.9, 0.5, 0.9, 0.2]))
    assert quotas.tolist() == [0, 1, 0, 1, 0]
    assert class_quotas(7, available, targets, np.arange(5.0)).tolist() == [1, 1, 1, 2, 2]


@settings(max_examples=200, deadline=None)
@given(
    available=st.lists(st.integers(0, 30), min_size=1, max_size=8),
    weights=st.lists(st.integers(0, 5), min_size=8, max_size=8),
    fraction=st.floats(0, 1),
)
def test_class_quotas_fill_the_budget_within_each_class(available, weights, fraction):
    available_items = np.array(available)
    targets = np.array(weights[: len(available)], dtype=float)
    if not targets.any():
        targets[0] = 1
    budget = int(fraction * available_items.sum())
    quotas = class_quotas(budget, available_items, targets)
    assert quotas.sum() == budget
    assert (quotas >= 0).all()
    assert (quotas <= available_items).all()
    # A class with room left never gets less than its proportional floor.
    ideal = budget * targets / targets.sum()
    roomy = quotas < available_items
    assert (quotas[roomy] >= np.floor(ideal[roomy])).all()


def _balanced_reference(scores, classes, excluded, budget, targets):
    """Each class's best scores (ties: lower index), as many as its quota."""
    eligible = [i for i in range(len(scores)) if i not in excluded]
    n_classes = len(targets)
    available = np.array([sum(1 for i in eligible if classes[i] == c) for c in range(n_classes)])
    best = [
        max((scores[i] for i in eligible if classes[i] == c), default=-np.inf)
        for c in range(n_classes)
    ]
    quotas = class_quotas(budget, available, np.array(targets, dtype=float), np.array(best))
    picks = []
    for c in range(n_classes):
        members = sorted((i for i in eligible if classes[i] == c), key=lambda i: (-scores[i], i))
        picks += members[: quotas[c]]
    return sorted(picks, key=lambda i: (-scores[i], i))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    c=st.integers(1, 5),
    chunk=st.integers(1, 25),
    data=st.data(),
)
def test_top_balanced_selection_is_the_reference_whatever_the_chunks(seed, n, c, chunk, data):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 5, n).astype(float)  # ties on purpose
    classes = rng.integers(0, c, n)
    excluded = {i for i in range(n) if rng.random() < 0.2}
    budget = data.draw(st.integers(1, max(1, n - len(excluded)))) if n > len(excluded) else 0
    if budget == 0:
        return
    targets = rng.integers(1, 4, c).tolist()
    selector = BalancedSelector(
        budget, Selection(), rng, c, Balance(targets=tuple(float(t) for t in targets))
    )
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        positions = np.array([i - start for i in range(start, stop) if i in excluded], np.int64)
        selector.push(scores[start:stop], start, positions, classes[start:stop])
    indices, picked_scores = selector.result()
    assert indices.tolist() == _balanced_reference(scores, classes, excluded, budget, targets)
    assert picked_scores.tolist() == scores[indices].tolist()


def test_stochastic_balanced_selection_keeps_the_quotas_and_is_chunk_invariant():
    rng = np.random.default_rng(3)
    scores = rng.random(300)
    classes = np.repeat([0, 1, 2], [200, 60, 40])
    draws = []
    for chunk in (300, 7):
        selector = BalancedSelector(
            30, Selection("softmax", 5.0), np.random.default_rng(11), 3, Balance()
        )
        for start in range(0, 300, chunk):
            stop = min(start + chunk, 300)
            selector.push(scores[start:stop], start, np.empty(0, np.int64), classes[start:stop])
        draws.append(selector.result())
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    assert np.bincount(classes[draws[0][0]], minlength=3).tolist() == [10, 10, 10]


def test_strict_balance_refuses_a_class_short_of_its_quota():
    selector = BalancedSelector(6, Selection(), np.random.default_rng(0), 2, Balance(strict=True))
    selector.push(np.arange(10.0), 0, np.empty(0, np.int64), np.array([0] * 8 + [1] * 2))
    with pytest.raises(InvalidInput, match="class 1 is predicted for 2") as caught:
        selector.result()
    assert caught.value.field == "balance.strict"


def test_prefilter_positions_keep_the_best_eligible_ascending():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.7, 0.2])
    eligible = np.array([True, True, True, False, True, True])
    assert prefilter_positions(scores, eligible, 3).tolist() == [1, 2, 4]
    assert prefilter_positions(scores, eligible, 10).tolist() == [0, 1, 2, 4, 5]


def test_a_prefiltered_coreset_is_coreset_on_the_smallest_margins_mapped_back():
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(4), size=200)
    embeddings = rng.normal(size=(200, 6))
    plan = RankPlan(
        strategy=STRATEGIES["coreset"],
        input_kind=INPUT_KINDS["probabilities"],
        budget=8,
        exclude=np.array([3, 50], np.int64),
        prefilter=PrefilterPlan(STRATEGIES["margin"], 40),
    )
    chunks = item_chunks(chunked(probs, 16))
    ranking = rank_pool(chunks, {"embeddings": embeddings}, pool_size=200, plan=plan)
    margins = np.array([reference.margin(list(row)) for row in probs])
    margins[[3, 50]] = -np.inf
    survivors = np.sort(np.argsort(-margins, kind="stable")[:40])
    expected, scores = diversity.coreset(embeddings[survivors], 8, eligible=np.ones(40, bool))
    assert ranking.indices.tolist() == survivors[expected].tolist()
    np.testing.assert_allclose(ranking.scores, scores)
