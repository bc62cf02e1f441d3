"""ranked_batch and information_density against slow references written from
their formulas (Cardoso et al. 2017 as modAL computes it; Settles & Craven
2008), and hand-worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ranking.representative import information_density, ranked_batch
from tests.ranking import reference


def _pool(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n, d))
    probs = rng.dirichlet(np.ones(4), size=n)
    return embeddings, probs


def _uncertainty(probs: np.ndarray) -> np.ndarray:
    return np.array([reference.least_confidence(list(row)) for row in probs])


def ranked_batch_reference(uncertainty, embeddings, budget, eligible, labeled):
    """modAL's loop: every pick recomputes the distances to all of L and S."""
    n = len(embeddings)
    chosen: list[int] = []
    scores: list[float] = []
    centers = [list(row) for row in labeled] if labeled is not None else []
    if not centers:
        mean = [math.fsum(column) / n for column in zip(*embeddings, strict=True)]
        first = min(
            (i for i in range(n) if eligible[i]), key=lambda i: (math.dist(embeddings[i], mean), i)
        )
        chosen.append(first)
        scores.append(1.0)
        centers.append(list(embeddings[first]))
    while len(chosen) < budget:
        unlabeled = [i for i in range(n) if eligible[i] and i not in chosen]
        alpha = len(unlabeled) / (len(unlabeled) + len(centers))
        best, best_score = None, -math.inf
        for i in unlabeled:
            distance = min(math.dist(embeddings[i], center) for center in centers)
            score = alpha * (1 - 1 / (1 + distance)) + (1 - alpha) * uncertainty[i]
            if score > best_score:
                best, best_score = i, score
        chosen.append(best)
        scores.append(best_score)
        centers.append(list(embeddings[best]))
    return chosen, scores


def density_reference(embeddings):
    """Mean cosine similarity to every item, by pairs."""
    n = len(embeddings)
    out = []
    for x in embeddings:
        total = []
        for y in embeddings:
            nx, ny = math.hypot(*x), math.hypot(*y)
            total.append(0.0 if nx == 0 or ny == 0 else float(np.dot(x, y)) / (nx * ny))
        out.append(max(0.0, math.fsum(total) / n))
    return out


@pytest.mark.parametrize("labeled_rows", [0, 1, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranked_batch_picks_as_the_reference_pick_for_pick(labeled_rows, seed):
    embeddings, probs = _pool(40, 3, seed)
    labeled = np.random.default_rng(seed + 10).normal(size=(labeled_rows, 3))
    eligible = np.ones(40, dtype=bool)
    eligible[[3, 17]] = False
    u = _uncertainty(probs)
    indices, scores = ranked_batch(u, embeddings, 8, eligible=eligible, labeled=labeled)
    expected, expected_scores = ranked_batch_reference(u, embeddings, 8, eligible, labeled)
    assert indices.tolist() == expected
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-10)


def test_ranked_batch_by_hand():
    # Three items on a line, one labeled item at 0; least confidence u as given.
    embeddings = np.array([[1.0], [3.0], [0.5]])
    u = np.array([0.1, 0.0, 0.6])
    labeled = np.array([[0.0]])
    indices, scores = ranked_batch(u, embeddings, 2, eligible=np.ones(3, bool), labeled=labeled)
    # Pick 1: alpha = 3/4. Scores 3/4 (1 - 1/2) + 1/4 0.1 = 0.4, 3/4 (3/4) = 0.5625,
    # 3/4 (1 - 1/1.5) + 1/4 0.6 = 0.4: item 1.
    # Pick 2: alpha = 2/4; item 0 is 1 from the labeled point, item 2 is 0.5 from it.
    # 1/2 (1/2) + 1/2 0.1 = 0.3 and 1/2 (1/3) + 1/2 0.6 = 0.4667: item 2.
    assert indices.tolist() == [1, 2]
    np.testing.assert_allclose(scores, [0.5625, 0.5 / 3 + 0.3])


def test_ranked_batch_starts_cold_from_the_item_nearest_the_mean():
    embeddings = np.array([[0.0, 0.0], [10.0, 0.0], [4.0, 0.1], [-3.0, 0.0]])
    u = np.zeros(4)
    indices, scores = ranked_batch(u, embeddings, 2, eligible=np.ones(4, bool))
    assert indices[0] == 2  # the mean is (2.75, 0.025)
    assert scores[0] == 1.0
    assert indices[1] == 3  # the farthest from item 2: u is 0 everywhere


def test_ranked_batch_float32_stays_float32():
    embeddings, probs = _pool(30, 4, 5)
    u = _uncertainty(probs).astype(np.float32)
    indices, scores = ranked_batch(u, embeddings.astype(np.float32), 5, eligible=np.ones(30, bool))
    assert scores.dtype == np.float32
    expected, _ = ranked_batch_reference(u, embeddings.astype(np.float32), 5, [True] * 30, None)
    assert indices.tolist() == expected


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_ranked_batch_is_permutation_equivariant(seed, budget):
    embeddings, probs = _pool(25, 3, seed)
    u = _uncertainty(probs)
    eligible = np.ones(25, bool)
    labeled = embeddings[:2] + 0.5
    order = np.random.default_rng(seed).permutation(25)
    indices, _ = ranked_batch(u, embeddings, budget, eligible=eligible, labeled=labeled)
    shuffled, _ = ranked_batch(
        u[order], embeddings[order], budget, eligible=eligible, labeled=labeled
    )
    # Continuous scores tie with probability 0, so the picks follow the items.
    assert order[shuffled].tolist() == indices.tolist()


@pytest.mark.parametrize("power", [0.0, 1.0, 2.5])
def test_information_density_is_the_reference_product(power):
    embeddings, probs = _pool(30, 5, 3)
    embeddings[4] = 0.0  # no direction: density 0
    u = _uncertainty(probs)
    eligible = np.ones(30, bool)
    eligible[7] = False
    indices, scores = information_density(u, embeddings, 6, eligible=eligible, power=power)
    density = density_reference(embeddings)
    expected = [u[i] * density[i] ** power for i in range(30)]
    ranked = reference.top_k(expected, 6, exclude=(7,))
    assert indices.tolist() == ranked
    np.testing.assert_allclose(scores, [expected[i] for i in ranked], rtol=1e-9)
    assert 4 not in indices or power == 0.0


def test_information_density_by_hand():
    # Two items along x, one along y: mean unit vector (2/3, 1/3).
    embeddings = np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    u = np.array([0.5, 0.4, 0.9])
    indices, scores = information_density(u, embeddings, 3, eligible=np.ones(3, bool))
    # Densities 2/3, 2/3, 1/3: scores 1/3, 0.2667, 0.3.
    assert indices.tolist() == [0, 2, 1]
    np.testing.assert_allclose(scores, [0.5 * 2 / 3, 0.9 / 3, 0.4 * 2 / 3])
