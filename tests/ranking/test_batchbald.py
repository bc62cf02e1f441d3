"""BatchBALD against a brute-force reference written from Kirsch et al.
(2019): every label configuration of the batch enumerated, p(y_1..y_i) as the
mean over passes of the product of the items' probabilities."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from service.ranking.batchbald import (
    _every_configuration,
    batchbald,
    exact_configurations,
    joint_entropies,
    sampled_configurations,
    sampled_log_joint,
)
from tests.ranking import reference


def _samples(n: int, passes: int, classes: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Items that range from confident agreement to confident disagreement.
    concentration = rng.choice([0.3, 1.0, 5.0], size=(n, 1, 1))
    return rng.dirichlet(np.ones(classes), size=(n, passes)) ** (1 / concentration)


def _normalized(samples: np.ndarray) -> np.ndarray:
    return samples / samples.sum(axis=2, keepdims=True)


def joint_mutual_information(samples, batch) -> float:
    """H(y_batch) - sum_j E_t H(y_j | t), by enumeration."""
    _, passes, classes = samples.shape
    joint = 0.0
    terms = []
    for labels in itertools.product(range(classes), repeat=len(batch)):
        p = (
            math.fsum(
                math.prod(samples[j, t, y] for j, y in zip(batch, labels, strict=True))
                for t in range(passes)
            )
            / passes
        )
        terms.append(-p * math.log(p) if p > 0 else 0.0)
    joint = math.fsum(terms)
    conditional = math.fsum(
        math.fsum(reference.entropy(list(samples[j, t])) for t in range(passes)) / passes
        for j in batch
    )
    return joint - conditional


def greedy_reference(samples, budget, eligible):
    batch: list[int] = []
    scores: list[float] = []
    for _ in range(budget):
        candidates = [i for i in range(len(samples)) if eligible[i] and i not in batch]
        gains = [(joint_mutual_information(samples, [*batch, i]), -i) for i in candidates]
        best, negative_index = max(gains)
        batch.append(-negative_index)
        scores.append(best)
    return batch, scores


@pytest.mark.parametrize(("passes", "classes", "seed"), [(4, 2, 0), (5, 3, 1), (3, 4, 2)])
def test_exact_batchbald_picks_as_the_brute_force_reference(passes, classes, seed):
    samples = _normalized(_samples(14, passes, classes, seed))
    eligible = np.ones(14, bool)
    eligible[5] = False
    indices, scores = batchbald(
        samples, 4, eligible=eligible, rng=np.random.default_rng(0), joint_samples=10_000
    )
    expected, expected_scores = greedy_reference(samples, 4, eligible)
    assert indices.tolist() == expected
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-9, atol=1e-12)


def test_a_budget_of_one_is_the_bald_top_one():
    samples = _normalized(_samples(30, 6, 3, 4))
    bald = [reference.bald([list(row) for row in item]) for item in samples]
    indices, scores = batchbald(
        samples, 1, eligible=np.ones(30, bool), rng=np.random.default_rng(0)
    )
    assert indices.tolist() == reference.top_k(bald, 1)
    assert scores[0] == pytest.approx(max(bald), rel=1e-9)


def test_a_copy_adds_less_than_its_bald_score():
    base = _normalized(_samples(6, 5, 3, 7))
    bald = [reference.bald([list(row) for row in item]) for item in base]
    top = int(np.argmax(bald))
    # Three copies of BALD's top item: BALD counts each in full, BatchBALD
    # counts what a copy's label adds to the labels already in the batch.
    samples = np.concatenate([np.repeat(base[top : top + 1], 3, axis=0), np.delete(base, top, 0)])
    indices, scores = batchbald(
        samples, 2, eligible=np.ones(len(samples), bool), rng=np.random.default_rng(0)
    )
    assert indices[0] == 0
    assert scores[1] - scores[0] < bald[top] - 1e-6
    assert scores[1] == pytest.approx(joint_mutual_information(samples, indices.tolist()), rel=1e-9)


def test_the_sampled_joint_entropy_estimates_the_exact_one():
    samples = _normalized(_samples(8, 10, 3, 9))
    chosen = samples[:4]
    want = joint_entropies(samples, exact_configurations(_every_configuration(chosen), np.float64))
    log_joint = sampled_log_joint(chosen, 20_000, np.random.default_rng(3))
    got = joint_entropies(samples, sampled_configurations(log_joint, np.float64))
    np.testing.assert_allclose(got, want, rtol=0.02)


def test_float32_samples_score_as_float64_ones_within_float32_rounding():
    samples = _normalized(_samples(60, 8, 4, 12))
    eligible = np.ones(60, bool)
    wide = batchbald(samples, 6, eligible=eligible, rng=np.random.default_rng(1), joint_samples=64)
    narrow = batchbald(
        samples.astype(np.float32),
        6,
        eligible=eligible,
        rng=np.random.default_rng(1),
        joint_samples=64,
    )
    assert narrow[1].dtype == np.float32
    np.testing.assert_allclose(narrow[1], wide[1], rtol=1e-4)
    assert narrow[0].tolist() == wide[0].tolist()


def test_past_the_exact_limit_the_picks_are_seeded_and_close_to_exact():
    samples = _normalized(_samples(40, 8, 3, 11))
    eligible = np.ones(40, bool)
    first = batchbald(samples, 5, eligible=eligible, rng=np.random.default_rng(5), joint_samples=9)
    again = batchbald(samples, 5, eligible=eligible, rng=np.random.default_rng(5), joint_samples=9)
    np.testing.assert_array_equal(first[0], again[0])
    exact = batchbald(
        samples, 5, eligible=eligible, rng=np.random.default_rng(5), joint_samples=10**5
    )
    # The first two picks need at most 3^1 = 3 configurations: still exact.
    assert first[0][:2].tolist() == exact[0][:2].tolist()
    assert len(set(first[0].tolist())) == 5


def test_scores_keep_the_float32_dtype():
    samples = _normalized(_samples(10, 4, 3, 2)).astype(np.float32)
    _, scores = batchbald(samples, 3, eligible=np.ones(10, bool), rng=np.random.default_rng(0))
    assert scores.dtype == np.float32
