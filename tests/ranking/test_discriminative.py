"""Discriminative active learning against a reference loop written from small-text's
DiscriminativeActiveLearning with scikit-learn's LogisticRegression as the
classifier, drawing the same seeded samples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from service.ranking.discriminative import discriminative, fit_logistic, round_sizes


def _pool(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # The labeled items cover one region; the pool spreads over three.
    labeled = rng.normal(size=(6, 4))
    pool = np.concatenate(
        [rng.normal(size=(30, 4)), rng.normal(size=(30, 4)) + np.array([4.0, 0, 0, 0])]
    )
    return pool, labeled


def reference(pool, labeled, budget, eligible, rng, rounds, factor):
    known = [labeled]
    available = eligible.copy()
    picks, scores = [], []
    for size in round_sizes(budget, rounds):
        positives = np.concatenate(known)
        candidates = np.flatnonzero(available)
        drawn = np.sort(
            rng.choice(
                candidates, size=min(len(candidates), len(positives) * factor), replace=False
            )
        )
        model = LogisticRegression(C=1.0, tol=1e-10, max_iter=2000)
        model.fit(
            np.concatenate([positives, pool[drawn]]),
            np.r_[np.zeros(len(positives)), np.ones(len(drawn))],
        )
        probability = model.predict_proba(pool[candidates])[:, 1]
        ranked = sorted(range(len(candidates)), key=lambda i: (-probability[i], candidates[i]))
        chosen = [int(candidates[i]) for i in ranked[:size]]
        picks += chosen
        scores += [float(probability[i]) for i in ranked[:size]]
        available[chosen] = False
        known.append(pool[chosen])
    return picks, scores


@pytest.mark.parametrize(("rounds", "factor", "seed"), [(1, 10, 0), (3, 2, 1), (4, 10, 2)])
def test_the_rounds_pick_as_the_reference_loop(rounds, factor, seed):
    pool, labeled = _pool(seed)
    eligible = np.ones(len(pool), bool)
    eligible[[0, 40]] = False
    indices, scores = discriminative(
        pool,
        labeled,
        8,
        eligible=eligible,
        rng=np.random.default_rng(seed),
        rounds=rounds,
        unlabeled_factor=factor,
    )
    expected, expected_scores = reference(
        pool, labeled, 8, eligible, np.random.default_rng(seed), rounds, factor
    )
    assert indices.tolist() == expected
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_the_first_picks_come_from_the_region_no_labeled_item_covers():
    pool, labeled = _pool(3)
    indices, _ = discriminative(
        pool, labeled, 5, eligible=np.ones(60, bool), rng=np.random.default_rng(0), rounds=1
    )
    assert all(index >= 30 for index in indices)


def test_the_classifier_is_scikit_learns_logistic_regression():
    rng = np.random.default_rng(4)
    labeled, unlabeled = rng.normal(size=(20, 3)) + 1, rng.normal(size=(200, 3))
    weights, intercept = fit_logistic(labeled, unlabeled)
    model = LogisticRegression(C=1.0, tol=1e-10, max_iter=2000).fit(
        np.concatenate([labeled, unlabeled]), np.r_[np.zeros(20), np.ones(200)]
    )
    np.testing.assert_allclose(weights, model.coef_[0], atol=1e-4)
    assert intercept == pytest.approx(model.intercept_[0], abs=1e-4)


@pytest.mark.parametrize(("budget", "rounds", "sizes"), [(10, 3, [3, 3, 4]), (5, 5, [1] * 5)])
def test_round_sizes_give_the_rest_to_the_last_round(budget, rounds, sizes):
    assert round_sizes(budget, rounds) == sizes


def test_the_same_seed_gives_the_same_batch():
    pool, labeled = _pool(5)
    runs = [
        discriminative(pool, labeled, 6, eligible=np.ones(60, bool), rng=np.random.default_rng(9))
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
