"""FALCUN against a loop written from Gilhuber et al. (2024) as scikit-activeml's
Falcun runs it, with the same seeded draws."""

from __future__ import annotations

import numpy as np
import pytest

from service.ranking.representative import falcun


def reference(probs, budget, eligible, rng, gamma):
    candidates = [i for i in range(len(probs)) if eligible[i]]
    rows = probs[candidates]
    uncertainty = []
    for row in rows:
        first, second = sorted(row, reverse=True)[:2]
        uncertainty.append(1 - (first - second))
    uncertainty = np.array(uncertainty)
    diversity = uncertainty.copy()
    picked: list[int] = []
    scores = []
    for b in range(budget):
        if b > 0:
            last = rows[picked[-1]]
            new = np.array(
                [sum(abs(a - c) for a, c in zip(row, last, strict=True)) for row in rows]
            )
            diversity = np.minimum(new, diversity)
            low, high = diversity.min(), diversity.max()
            diversity = diversity - low
            if high - low > 0:
                diversity = diversity / (high - low)
        relevance = (uncertainty + diversity) ** gamma
        relevance[picked] = 0
        if relevance.sum() == 0:
            relevance = np.ones_like(relevance)
            relevance[picked] = 0
        choice = int(rng.choice(len(candidates), p=relevance / relevance.sum()))
        scores.append(((uncertainty + diversity) ** gamma)[choice])
        picked.append(choice)
    return [candidates[i] for i in picked], scores


@pytest.mark.parametrize(("gamma", "seed"), [(1.0, 0), (3.0, 1), (0.0, 2)])
def test_falcun_draws_as_the_reference_with_the_same_seed(gamma, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(4) * 0.7, size=50)
    eligible = np.ones(50, bool)
    eligible[[2, 30]] = False
    indices, scores = falcun(
        probs, 8, eligible=eligible, rng=np.random.default_rng(seed + 7), gamma=gamma
    )
    expected, expected_scores = reference(
        probs, 8, eligible, np.random.default_rng(seed + 7), gamma
    )
    assert indices.tolist() == expected
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-12)


def test_a_large_gamma_takes_the_most_uncertain_item_first():
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3], [0.99, 0.01]])
    indices, scores = falcun(
        probs, 1, eligible=np.ones(4, bool), rng=np.random.default_rng(0), gamma=60.0
    )
    # u = 0.2, 1.0, 0.6, 0.02, doubled at the start: 2.0^60 dwarfs 1.2^60.
    assert indices.tolist() == [1]
    assert scores[0] == pytest.approx(2.0**60)


def test_draws_are_distinct_and_repeat_with_the_seed():
    probs = np.random.default_rng(4).dirichlet(np.ones(3), size=20)
    runs = [
        falcun(probs, 20, eligible=np.ones(20, bool), rng=np.random.default_rng(9))[0]
        for _ in range(2)
    ]
    assert sorted(runs[0].tolist()) == list(range(20))
    np.testing.assert_array_equal(runs[0], runs[1])
