"""Stochastic selections draw from their target distribution.

Pick frequencies over many seeds are compared with the target with a
chi-square goodness-of-fit test; the master seed is fixed, so the test is
deterministic, and the threshold (p > 0.001) leaves room for honest noise
while catching a wrong distribution, which gives p-values near 0 at these
sample sizes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import chisquare

from service.ranking.selection import Selection
from tests.ranking.helpers import rank

DRAWS = 4000
# least_confidence scores of these rows: 0.5, 0.4, 0.3, 0.1, 0.0
POOL = np.array([[0.5, 0.5], [0.6, 0.4], [0.7, 0.3], [0.9, 0.1], [1.0, 0.0]])
SCORES = np.array([0.5, 0.4, 0.3, 0.1, 0.0])


def target_weights(method: str, beta: float) -> np.ndarray:
    """The unnormalized draw probabilities, computed independently of the service."""
    if method == "power":
        return SCORES**beta
    if method == "softmax":
        return np.exp(beta * SCORES)
    ranks = np.arange(1, len(SCORES) + 1)  # SCORES are already in rank order
    return ranks ** (-beta)


def draw(method: str, beta: float, budget: int, seed: int) -> tuple[int, ...]:
    ranking = rank(POOL, "least_confidence", budget, seed=seed, selection=Selection(method, beta))
    return tuple(int(i) for i in ranking.indices)


CASES = [("power", 1.0), ("power", 2.0), ("softmax", 3.0), ("softrank", 1.0), ("power", 0.0)]


@pytest.mark.parametrize(("method", "beta"), CASES)
def test_first_pick_frequencies_match_the_target(method, beta):
    seeds = np.random.default_rng(2024).integers(0, 2**53, size=DRAWS)
    counts = np.bincount([draw(method, beta, 1, int(s))[0] for s in seeds], minlength=5)
    weights = target_weights(method, beta)
    expected = DRAWS * weights / weights.sum()
    possible = expected > 0
    assert counts[~possible].sum() == 0
    assert chisquare(counts[possible], expected[possible]).pvalue > 1e-3


def pair_probabilities(weights: np.ndarray) -> dict[frozenset[int], float]:
    """P(the batch of two is {i, j}) for a draw without replacement ∝ weights."""
    p = weights / weights.sum()
    pairs = {}
    for i, j in itertools.combinations(range(len(p)), 2):
        first_i = p[i] * p[j] / (1 - p[i]) if p[i] < 1 else 0.0
        first_j = p[j] * p[i] / (1 - p[j]) if p[j] < 1 else 0.0
        pairs[frozenset((i, j))] = first_i + first_j
    return pairs


@pytest.mark.parametrize(("method", "beta"), [("softmax", 2.0), ("softrank", 1.5)])
def test_batches_of_two_follow_sampling_without_replacement(method, beta):
    seeds = np.random.default_rng(7).integers(0, 2**53, size=DRAWS)
    batches = [frozenset(draw(method, beta, 2, int(s))) for s in seeds]
    probabilities = pair_probabilities(target_weights(method, beta))
    observed = np.array([batches.count(pair) for pair in probabilities])
    expected = DRAWS * np.array(list(probabilities.values()))
    assert chisquare(observed, expected).pvalue > 1e-3


@pytest.mark.parametrize(("method", "beta"), CASES)
def test_the_same_seed_gives_the_same_batch(method, beta):
    assert draw(method, beta, 3, 11) == draw(method, beta, 3, 11)
