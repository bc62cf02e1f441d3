"""A ragged token-level kind and an N x L multi-label kind, declared in the tests
alone, rank through the service's entry point: streamed and buffered, in any
chunking, with the planner's errors naming the field and the item."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service import jobs
from service.decoding.limits import ArrayLimits
from service.decoding.npy import NpyReader
from service.decoding.sources import ArraySource
from service.errors import InvalidInput
from service.jobs import RankLimits, RankRequest
from service.ranking.registry import STRATEGIES
from tests.jobs.structured_kinds import KINDS, LABELS, TOKENS
from tests.ranking import reference

POINTWISE_PROBS = sorted(
    name for name, s in STRATEGIES.items() if s.pointwise and s.form == "probs" and name != "random"
)
LIMITS = ArrayLimits(max_elements=10**9)


def npy_source(array: np.ndarray, name: str) -> NpyReader:
    """``array`` as a streamed .npy body: read row chunk by row chunk."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    buffer.seek(0)
    return NpyReader(buffer, name=name, limits=LIMITS)


def sources(arrays: dict[str, np.ndarray], *, streamed: bool) -> dict:
    if streamed:
        return {name: npy_source(array, name) for name, array in arrays.items()}
    return {name: ArraySource(array, name=name) for name, array in arrays.items()}


def rank(strategy, arrays, budget, *, streamed=False, chunk_bytes=None, **fields):
    given = sources(arrays, streamed=streamed)
    request = RankRequest(strategy, budget, arrays=given, return_all_scores=True, **fields)
    limits = RankLimits() if chunk_bytes is None else RankLimits(chunk_bytes=chunk_bytes)
    return jobs.rank(request, limits=limits, kinds=KINDS).ranking


def token_pool(rng, n_sequences, n_classes=4, dtype=np.float64, longest=6):
    lengths = rng.integers(1, longest + 1, size=n_sequences)
    tokens = rng.dirichlet(np.ones(n_classes), size=int(lengths.sum())).astype(dtype)
    return {"token_probabilities": tokens, "lengths": lengths}


def expected_token_scores(name, pool):
    """Reference: each sequence's largest token score, in Python floats."""
    token_scores = reference.scores(name, pool["token_probabilities"].astype(np.float64))
    ends = np.cumsum(pool["lengths"]).tolist()
    starts = [0, *ends[:-1]]
    return [max(token_scores[start:end]) for start, end in zip(starts, ends, strict=True)]


def expected_label_scores(name, probabilities):
    """Reference: each item's mean over labels of the two-class score of (p, 1 - p)."""
    return [
        sum(reference.SCORERS[name]([p, 1 - p]) for p in row) / len(row)
        for row in probabilities.astype(np.float64).tolist()
    ]


@pytest.mark.parametrize("name", POINTWISE_PROBS)
@pytest.mark.parametrize("streamed", [False, True], ids=["buffered", "streamed"])
def test_token_sequences_rank_by_their_most_uncertain_token(name, streamed):
    pool = token_pool(np.random.default_rng(3), 40)
    ranking = rank(name, pool, 5, streamed=streamed, chunk_bytes=7 * 4 * 8)
    assert ranking.pool_size == 40
    expected = expected_token_scores(name, pool)
    np.testing.assert_allclose(ranking.all_scores, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ranking.indices, reference.top_k(expected, 5))


def test_a_hand_worked_token_pool():
    # Sequence 0: tokens [0.9, 0.1], [0.6, 0.4]; sequence 1: [0.5, 0.5]; sequence 2: [1, 0].
    tokens = np.array([[0.9, 0.1], [0.6, 0.4], [0.5, 0.5], [1.0, 0.0]])
    pool = {"token_probabilities": tokens, "lengths": np.array([2, 1, 1])}
    ranking = rank("least_confidence", pool, 3)
    assert ranking.all_scores.tolist() == pytest.approx([0.4, 0.5, 0.0])
    assert ranking.indices.tolist() == [1, 0, 2]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 30),
    chunk_rows=st.integers(1, 12),
    exclude_share=st.floats(0, 0.5),
)
def test_token_rankings_do_not_depend_on_chunks_or_transport(seed, n, chunk_rows, exclude_share):
    rng = np.random.default_rng(seed)
    pool = token_pool(rng, n, dtype=np.float32)
    exclude = np.flatnonzero(rng.random(n) < exclude_share)
    budget = max(1, (n - exclude.size) // 2) if n > exclude.size else None
    if budget is None:
        return
    fields = {"exclude": exclude}
    whole = rank("entropy", pool, budget, **fields)
    for streamed in (False, True):
        cut = rank(
            "entropy", pool, budget, streamed=streamed, chunk_bytes=chunk_rows * 4 * 8, **fields
        )
        np.testing.assert_array_equal(cut.all_scores, whole.all_scores)
        np.testing.assert_array_equal(cut.indices, whole.indices)
    assert not set(whole.indices.tolist()) & set(exclude.tolist())


@pytest.mark.parametrize("name", POINTWISE_PROBS)
@pytest.mark.parametrize("streamed", [False, True], ids=["buffered", "streamed"])
def test_multi_label_items_rank_by_the_mean_over_their_labels(name, streamed):
    probabilities = np.random.default_rng(5).random((30, 5))
    probabilities[0, :] = 0.0  # certain: every label absent
    pool = {"label_probabilities": probabilities}
    ranking = rank(name, pool, 4, streamed=streamed, chunk_bytes=4 * 5 * 8)
    expected = expected_label_scores(name, probabilities)
    np.testing.assert_allclose(ranking.all_scores, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ranking.indices, reference.top_k(expected, 4))
    assert ranking.all_scores[0] == 0.0


def test_a_hand_worked_multi_label_pool():
    # margins 1 - |2p - 1|: item 0 labels 0.5, 0.9 -> (1 + 0.2) / 2; item 1: 0.8, 0.8 -> 0.4
    pool = {"label_probabilities": np.array([[0.5, 0.9], [0.8, 0.8], [1.0, 0.0]])}
    ranking = rank("margin", pool, 2)
    assert ranking.all_scores.tolist() == pytest.approx([0.6, 0.4, 0.0])
    assert ranking.indices.tolist() == [0, 1]


def error(strategy, arrays, budget=1, **fields) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        rank(strategy, arrays, budget, **fields)
    return caught.value


@pytest.mark.parametrize(
    ("lengths", "says"),
    [
        (None, "token_probabilities is ragged: send lengths"),
        (np.array([2, 2]), "lengths add up to 4 rows but token_probabilities has 5"),
        (np.array([3, 0, 2]), "item 1 has 0 rows: every item needs at least 1"),
        (np.array([3.0, 2.0, 0.5]), "item 2 has 0.5 rows: expected a whole number"),
        (np.array([3, np.nan]), "row 1 holds a non-finite value"),
        (np.array([[3, 2]]), "expected a 1-D array (N)"),
    ],
)
def test_bad_lengths_are_named(lengths, says):
    arrays = {"token_probabilities": np.full((5, 2), 0.5)}
    if lengths is not None:
        arrays["lengths"] = lengths
    caught = error("margin", arrays)
    assert caught.field == "lengths"
    assert says in caught.detail


def test_a_bad_token_row_is_named_by_its_array_row_in_any_chunk():
    tokens = np.full((9, 2), 0.5)
    tokens[7] = [0.5, 0.6]
    pool = {"token_probabilities": tokens, "lengths": np.array([4, 3, 2])}
    for chunk_bytes in (None, 2 * 2 * 8):
        caught = error("margin", pool, chunk_bytes=chunk_bytes)
        assert caught.field == "token_probabilities"
        assert caught.detail.startswith("row 7 sums to 1.1")


def test_a_label_outside_zero_one_is_named_by_row_and_label():
    probabilities = np.full((6, 3), 0.5)
    probabilities[4, 2] = 1.5
    caught = error("entropy", {"label_probabilities": probabilities}, chunk_bytes=2 * 3 * 8)
    assert (caught.field, caught.detail) == (
        "label_probabilities",
        "row 4, label 2: probability 1.5 is outside [0, 1]",
    )


def test_a_strategy_over_passes_or_a_batch_strategy_refuses_the_structured_kinds():
    tokens = {"token_probabilities": np.full((4, 2), 0.5), "lengths": np.array([2, 2])}
    assert "does not accept token_probabilities" in error("bald", tokens).detail
    labels = {"label_probabilities": np.full((4, 2), 0.5), "embeddings": np.zeros((4, 3))}
    assert "does not accept label_probabilities" in error("badge", labels).detail


def test_lengths_without_a_ragged_kind_are_refused():
    arrays = {"probabilities": np.full((3, 2), 0.5), "lengths": np.array([1, 1, 1])}
    caught = error("margin", arrays)
    assert caught.field == "lengths"


def test_the_public_kinds_and_strategies_do_not_list_the_test_kinds():
    for strategy in STRATEGIES.values():
        assert TOKENS.name not in strategy.inputs
        assert LABELS.name not in strategy.inputs
