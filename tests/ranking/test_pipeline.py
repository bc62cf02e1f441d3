import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from service.ranking.pipeline import SEED_BITS, draw_seed
from service.ranking.registry import STRATEGIES
from tests.ranking import reference
from tests.ranking.helpers import (
    ALL,
    ATOL,
    CLASS_KINDS,
    DETERMINISTIC,
    DTYPES,
    PASSES,
    normalized,
    random_pool,
    rank,
    shape_for,
)

CHUNK_SIZES = (1, 2, 7, None)  # None: the whole pool in one chunk


def test_margin_through_the_pipeline_with_exclusions():
    probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.6, 0.4], [0.55, 0.45], [0.7, 0.3]])
    # margins: 1 - 0, 1 - 0.8, 1 - 0.2, 1 - 0.1, 1 - 0.4
    ranking = rank(probs, "margin", 3, exclude=[0])
    assert ranking.indices.tolist() == [3, 2, 4]
    assert ranking.scores.tolist() == [1 - (0.55 - 0.45), 1 - (0.6 - 0.4), 1 - (0.7 - 0.3)]
    assert ranking.pool_size == 5
    assert ranking.seed is None


def test_all_scores_are_in_pool_order_and_include_excluded_items():
    probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]])
    ranking = rank(probs, "least_confidence", 1, exclude=[0], chunk=2)
    assert ranking.all_scores.tolist() == [1 - 0.5, 1 - 0.9, 1 - 0.6]
    assert ranking.indices.tolist() == [2]


def test_probability_strategies_average_samples_over_passes():
    samples = np.array([[[0.9, 0.1], [0.1, 0.9]], [[0.8, 0.2], [0.6, 0.4]]])
    # mean rows: [0.5, 0.5] and [0.7, 0.3]; margins 1 - 0 and 1 - 0.4
    ranking = rank(samples, "margin", 2, kind="samples")
    assert ranking.indices.tolist() == [0, 1]
    assert ranking.scores.tolist() == pytest.approx([1.0, 1 - 0.4])


def test_logits_go_through_softmax_with_the_temperature():
    logits = np.array([[0.0, 0.0], [math.log(9), 0.0], [math.log(3), 0.0]])
    # probabilities [0.5, 0.5], [0.9, 0.1], [0.75, 0.25]
    ranking = rank(logits, "least_confidence", 3, kind="logits")
    assert ranking.indices.tolist() == [0, 2, 1]
    assert ranking.scores.tolist() == pytest.approx([0.5, 0.25, 0.1])
    # temperature 2: [0.5, 0.5], [0.75, 0.25], [sqrt 3 / (sqrt 3 + 1), ...]
    hot = rank(logits, "least_confidence", 3, kind="logits", options={"temperature": 2.0})
    assert hot.all_scores.tolist() == pytest.approx([0.5, 0.25, 1 / (math.sqrt(3) + 1)])


@pytest.mark.parametrize("name", DETERMINISTIC)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scores_keep_the_input_float_dtype(name, dtype):
    pool = random_pool(np.random.default_rng(0), name, 9, 3, dtype)
    ranking = rank(pool, name, 4, chunk=4, seed=7)
    assert ranking.scores.dtype == dtype
    assert ranking.all_scores.dtype == dtype


def test_a_tie_straddling_a_chunk_boundary_goes_to_the_lower_index():
    probs = np.tile([0.9, 0.1], (10, 1))
    probs[6] = probs[7] = [0.5, 0.5]
    for chunk in CHUNK_SIZES:
        assert rank(probs, "margin", 1, chunk=chunk).indices.tolist() == [6]
        assert rank(probs, "margin", 3, chunk=chunk).indices.tolist() == [6, 7, 0]
        assert rank(probs, "margin", 2, chunk=chunk, exclude=[6]).indices.tolist() == [7, 0]


def test_budget_equal_to_the_items_left_returns_every_one_of_them():
    pool = normalized(np.random.default_rng(3).random((12, 4)))
    ranking = rank(pool, "entropy", 9, exclude=[0, 5, 11], chunk=5)
    assert sorted(ranking.indices.tolist()) == [1, 2, 3, 4, 6, 7, 8, 9, 10]


def test_a_deterministic_strategy_draws_no_seed():
    pool = normalized(np.eye(3) + 1)
    assert rank(pool, "entropy", 1, seed=5).seed is None


def pools(draw, name, max_n=30, max_weight=2):
    """A pool of rows normalized from small integer weights: many exact ties."""
    n = draw(st.integers(1, max_n))
    c = draw(st.sampled_from([2, 3, 10, 33]))
    dtype = draw(st.sampled_from(DTYPES))
    weights = draw(arrays(np.int8, shape_for(name, n, c), elements=st.integers(0, max_weight)))
    return normalized(weights, dtype)


@settings(max_examples=30)
@given(data=st.data())
@pytest.mark.parametrize("name", DETERMINISTIC)
def test_permuting_the_pool_permutes_the_answer(name, data):
    pool = pools(data.draw, name)
    n = len(pool)
    perm = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    k = data.draw(st.integers(1, n))
    before = rank(pool, name, k)
    after = rank(pool[perm], name, k)
    np.testing.assert_array_equal(after.all_scores, before.all_scores[perm])
    assert after.indices.tolist() == reference.top_k(before.all_scores[perm].tolist(), k)


@settings(max_examples=30)
@given(data=st.data())
@pytest.mark.parametrize("name", ALL)
def test_the_answer_is_the_same_for_every_chunk_size(name, data):
    pool = pools(data.draw, name)
    n = len(pool)
    exclude = data.draw(st.sets(st.integers(0, n - 1), max_size=n - 1))
    k = data.draw(st.integers(1, n - len(exclude)))
    answers = [rank(pool, name, k, exclude=exclude, chunk=size, seed=1234) for size in CHUNK_SIZES]
    whole = answers[-1]
    for answer in answers[:-1]:
        np.testing.assert_array_equal(answer.all_scores, whole.all_scores)
        np.testing.assert_array_equal(answer.indices, whole.indices)
        np.testing.assert_array_equal(answer.scores, whole.scores)
    assert whole.indices.tolist() == reference.top_k(whole.all_scores.tolist(), k, exclude)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_answer_on_logits_is_the_same_for_every_chunk_size(dtype):
    rng = np.random.default_rng(4)
    prototypes = rng.normal(scale=3, size=(5, 10))
    logits = prototypes[rng.integers(5, size=60)].astype(dtype)
    for name in ("least_confidence", "margin", "ratio", "entropy"):
        answers = [rank(logits, name, 30, kind="logits", chunk=size) for size in CHUNK_SIZES]
        for answer in answers[:-1]:
            np.testing.assert_array_equal(answer.all_scores, answers[-1].all_scores)
            np.testing.assert_array_equal(answer.indices, answers[-1].indices)


@pytest.mark.parametrize("kind", ["probabilities", "samples"])
def test_random_with_a_fixed_seed_is_deterministic_and_chunk_independent(kind):
    rng = np.random.default_rng(5)
    pool = normalized(rng.random((50, PASSES, 3) if kind == "samples" else (50, 3)))
    answers = [rank(pool, "random", 10, kind=kind, seed=42, chunk=size) for size in CHUNK_SIZES]
    answers.append(rank(pool, "random", 10, kind=kind, seed=42))
    for answer in answers:
        assert answer.seed == 42
        np.testing.assert_array_equal(answer.indices, answers[0].indices)
        np.testing.assert_array_equal(answer.all_scores, answers[0].all_scores)
    other = rank(pool, "random", 10, kind=kind, seed=43)
    assert other.indices.tolist() != answers[0].indices.tolist()


def test_random_scores_are_uniform_on_zero_one_and_ignore_the_probabilities():
    pool = normalized(np.random.default_rng(6).random((400, 3)))
    scores = rank(pool, "random", 1, seed=9).all_scores
    shuffled = rank(pool[::-1].copy(), "random", 1, seed=9).all_scores
    np.testing.assert_array_equal(scores, shuffled)
    assert scores.min() >= 0
    assert scores.max() < 1
    assert abs(scores.mean() - 0.5) < 0.05


def test_random_without_a_seed_draws_one_that_reproduces_the_answer():
    pool = normalized(np.random.default_rng(7).random((30, 4)))
    first = rank(pool, "random", 5, chunk=7)
    assert isinstance(first.seed, int)
    assert 0 <= first.seed < 2**SEED_BITS
    again = rank(pool, "random", 5, seed=first.seed)
    np.testing.assert_array_equal(again.indices, first.indices)


def test_drawn_seeds_fit_in_53_bits():
    assert SEED_BITS == 53
    assert all(0 <= draw_seed() < 2**53 for _ in range(100))


def pool_for(kind, dtype, rng):
    if kind == "logits":
        return rng.normal(scale=3, size=(40, 6)).astype(dtype)
    shape = (40, PASSES, 6) if kind == "samples" else (40, 6)
    weights = rng.integers(0, 3, size=shape)  # many exact ties
    return normalized(weights, dtype)


@pytest.mark.parametrize(
    ("name", "kind"), [
        (name, kind)
        for name in DETERMINISTIC
        for kind in STRATEGIES[name].inputs
        if kind in CLASS_KINDS
    ]
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scores_on_tied_pools_match_the_reference_in_chunks(name, kind, dtype):
    """Pools with many exact ties, in chunks of 7 with exclusions: every score is
    the slow oracle's, and ties go to the lower index."""
    pool = pool_for(kind, dtype, np.random.default_rng(8))
    ranking = rank(pool, name, 12, exclude=[3, 17], chunk=7, kind=kind, seed=5)
    probabilities = pool.astype(np.float64)
    if kind == "logits":
        shifted = np.exp(probabilities - probabilities.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    if kind == "samples" and STRATEGIES[name].form == "probs":
        probabilities = probabilities.mean(axis=1)
    expected = reference.scores(name, probabilities)
    np.testing.assert_allclose(ranking.all_scores, expected, atol=ATOL[dtype] * 10)
    order = reference.top_k(ranking.all_scores, 12, exclude=[3, 17])
    np.testing.assert_array_equal(ranking.indices, order)
