"""The token-level kinds (sequence labeling) and the multi-label kinds rank
through the service's entry point: streamed and buffered, flat and padded,
in any chunking, against slow references, with errors naming the field and
the item."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from service import jobs
from service.decoding.limits import ArrayLimits
from service.decoding.npy import NpyReader
from service.decoding.sources import ArraySource
from service.errors import InvalidInput
from service.jobs import RankLimits, RankRequest
from service.ranking.inputs import INPUT_KINDS
from service.ranking.registry import STRATEGIES
from tests.ranking import reference

AGGREGATED = sorted(
    name
    for name, s in STRATEGIES.items()
    if s.pointwise and s.form == "probs" and s.unit_scores == "aggregated"
)
TOKEN_SAMPLES = sorted(
    name
    for name, s in STRATEGIES.items()
    if s.accepts(INPUT_KINDS["token_samples"]) and name != "random"
)
LIMITS = ArrayLimits(max_elements=10**9)
REDUCERS = {"max": max, "sum": math.fsum, "mean": lambda values: math.fsum(values) / len(values)}


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


def answer(strategy, arrays, budget, *, streamed=False, chunk_bytes=None, **fields):
    given = sources(arrays, streamed=streamed)
    fields.setdefault("return_all_scores", True)
    request = RankRequest(strategy, budget, arrays=given, **fields)
    limits = RankLimits() if chunk_bytes is None else RankLimits(chunk_bytes=chunk_bytes)
    return jobs.rank(request, limits=limits)


def rank(strategy, arrays, budget, **options):
    return answer(strategy, arrays, budget, **options).ranking


def token_pool(rng, n_sequences, n_classes=4, dtype=np.float64, longest=6, shortest=1):
    lengths = rng.integers(shortest, longest + 1, size=n_sequences)
    tokens = rng.dirichlet(np.ones(n_classes), size=int(lengths.sum())).astype(dtype)
    return {"token_probabilities": tokens, "lengths": lengths}


def padded(tokens, lengths, longest=None, fill=np.nan):
    """The flat token rows as N x L_max x ..., the padding holding ``fill``."""
    longest = int(lengths.max()) if longest is None else longest
    out = np.full((lengths.shape[0], longest, *tokens.shape[1:]), fill, tokens.dtype)
    ends = np.cumsum(lengths)
    for i, (end, length) in enumerate(zip(ends, lengths, strict=True)):
        out[i, :length] = tokens[end - length : end]
    return out


def per_sequence(token_scores, lengths, how):
    """Reference: each sequence's score from its token scores; an empty one scores 0."""
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends[:-1]]
    return [
        REDUCERS[how](token_scores[start:end]) if end > start else 0.0
        for start, end in zip(starts, ends, strict=True)
    ]


def expected_label_scores(name, probabilities, how="mean"):
    """Reference: each item's aggregate over labels of the two-class score of (p, 1 - p)."""
    return [
        REDUCERS[how]([reference.SCORERS[name]([p, 1 - p]) for p in row])
        for row in probabilities.astype(np.float64).tolist()
    ]


@pytest.mark.parametrize("name", AGGREGATED)
@pytest.mark.parametrize("how", ["max", "mean", "sum"])
@pytest.mark.parametrize("streamed", [False, True], ids=["buffered", "streamed"])
def test_sequences_rank_by_the_aggregate_of_their_token_scores(name, how, streamed):
    pool = token_pool(np.random.default_rng(3), 40)
    params = {"aggregate": how}
    ranking = rank(name, pool, 5, streamed=streamed, chunk_bytes=7 * 4 * 8, params=params)
    assert ranking.pool_size == 40
    token_scores = reference.scores(name, pool["token_probabilities"])
    expected = per_sequence(token_scores, pool["lengths"], how)
    np.testing.assert_allclose(ranking.all_scores, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ranking.indices, reference.top_k(expected, 5))


def test_the_default_aggregate_is_the_mean():
    pool = token_pool(np.random.default_rng(4), 20)
    default = rank("entropy", pool, 3)
    mean = rank("entropy", pool, 3, params={"aggregate": "mean"})
    np.testing.assert_array_equal(default.all_scores, mean.all_scores)


def test_a_hand_worked_token_pool():
    # Sequence 0: tokens [0.9, 0.1], [0.6, 0.4]; sequence 1: [0.5, 0.5]; sequence 2: [1, 0].
    tokens = np.array([[0.9, 0.1], [0.6, 0.4], [0.5, 0.5], [1.0, 0.0]])
    pool = {"token_probabilities": tokens, "lengths": np.array([2, 1, 1])}
    for how, scores, order in [
        ("max", [0.4, 0.5, 0.0], [1, 0, 2]),
        ("mean", [0.25, 0.5, 0.0], [1, 0, 2]),
        ("sum", [0.5, 0.5, 0.0], [0, 1, 2]),  # a tie: the lower index first
    ]:
        ranking = rank("least_confidence", pool, 3, params={"aggregate": how})
        assert ranking.all_scores.tolist() == pytest.approx(scores)
        assert ranking.indices.tolist() == order


def test_mnlp_is_the_mean_surprise_at_the_most_likely_tag():
    # Shen et al. 2018: -(1/L) sum_t log max_c p_tc.
    tokens = np.array([[0.9, 0.1], [0.6, 0.4], [0.5, 0.5], [1.0, 0.0], [0.8, 0.2]])
    pool = {"token_probabilities": tokens, "lengths": np.array([2, 1, 2])}
    ranking = rank("mnlp", pool, 3)
    expected = [
        -(math.log(0.9) + math.log(0.6)) / 2,
        -math.log(0.5),
        -(math.log(1.0) + math.log(0.8)) / 2,
    ]
    assert ranking.all_scores.tolist() == pytest.approx(expected, rel=1e-12)
    assert ranking.indices.tolist() == [1, 0, 2]


def test_mnlp_over_random_pools_against_the_formula():
    pool = token_pool(np.random.default_rng(8), 50, n_classes=5)
    ranking = rank("mnlp", pool, 7)
    surprise = [-math.log(max(row)) for row in pool["token_probabilities"].tolist()]
    expected = per_sequence(surprise, pool["lengths"], "mean")
    np.testing.assert_allclose(ranking.all_scores, expected, rtol=1e-12)
    np.testing.assert_array_equal(ranking.indices, reference.top_k(expected, 7))


def test_mnlp_takes_token_kinds_only_and_no_aggregate():
    labels = {"label_probabilities": np.full((3, 2), 0.5)}
    assert "does not accept label_probabilities" in error("mnlp", labels).detail
    plain = {"probabilities": np.full((3, 2), 0.5)}
    caught = error("mnlp", plain)
    assert caught.field == "probabilities"
    assert "token_probabilities, token_logits, token_samples" in caught.detail
    pool = token_pool(np.random.default_rng(1), 4)
    caught = error("mnlp", pool, params={"aggregate": "max"})
    assert caught.field == "params.aggregate"
    assert "averages over its tokens" in caught.detail


@pytest.mark.parametrize("streamed", [False, True], ids=["buffered", "streamed"])
@pytest.mark.parametrize("fill", [np.nan, 0.0, 7.0])
def test_a_padded_pool_ranks_as_its_flat_tokens_whatever_the_padding_holds(streamed, fill):
    pool = token_pool(np.random.default_rng(5), 30)
    flat = rank("margin", pool, 4, params={"aggregate": "max"})
    tokens = padded(pool["token_probabilities"], pool["lengths"], longest=8, fill=fill)
    arrays = {"token_probabilities": tokens, "lengths": pool["lengths"]}
    cut = rank(
        "margin", arrays, 4, streamed=streamed, chunk_bytes=9 * 4 * 8, params={"aggregate": "max"}
    )
    np.testing.assert_array_equal(cut.all_scores, flat.all_scores)
    np.testing.assert_array_equal(cut.indices, flat.indices)


def test_sequences_without_tokens_score_zero_and_are_never_picked():
    rng = np.random.default_rng(6)
    pool = token_pool(rng, 12, longest=3)
    pool["lengths"][[0, 5, 11]] = 0
    pool["token_probabilities"] = rng.dirichlet(np.ones(4), size=int(pool["lengths"].sum()))
    for name in ("entropy", "mnlp", "random"):
        for how in ("max", "mean", "sum") if name == "entropy" else (None,):
            params = {"aggregate": how} if how else {}
            budget = 9  # every non-empty sequence
            ranking = rank(name, pool, budget, params=params, seed=3, chunk_bytes=2 * 4 * 8)
            assert sorted(ranking.indices.tolist()) == sorted(set(range(12)) - {0, 5, 11})
            if name != "random":
                assert ranking.all_scores[[0, 5, 11]].tolist() == [0.0, 0.0, 0.0]
    caught = error("entropy", pool, budget=10)
    assert caught.field == "budget"
    assert "3 empty sequences" in caught.detail


def test_every_sequence_empty_is_refused():
    pool = {"token_probabilities": np.zeros((0, 3)), "lengths": np.zeros(4)}
    caught = error("margin", pool)
    assert "every sequence is empty" in caught.detail


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 30),
    chunk_rows=st.integers(1, 12),
    exclude_share=st.floats(0, 0.5),
    how=st.sampled_from(["max", "mean", "sum"]),
)
def test_token_rankings_do_not_depend_on_chunks_transport_or_padding(
    seed, n, chunk_rows, exclude_share, how
):
    rng = np.random.default_rng(seed)
    pool = token_pool(rng, n, dtype=np.float32, shortest=0)
    if not pool["lengths"].any():
        return
    exclude = np.flatnonzero(rng.random(n) < exclude_share)
    available = int(np.count_nonzero(pool["lengths"][np.setdiff1d(np.arange(n), exclude)]))
    if not available:
        return
    budget = max(1, available // 2)
    fields = {"exclude": exclude, "params": {"aggregate": how}}
    whole = rank("entropy", pool, budget, **fields)
    shapes = [
        pool,
        {
            **pool,
            "token_probabilities": padded(pool["token_probabilities"], pool["lengths"], longest=7),
        },
    ]
    for arrays in shapes:
        for streamed in (False, True):
            cut = rank(
                "entropy",
                arrays,
                budget,
                streamed=streamed,
                chunk_bytes=chunk_rows * 4 * 8,
                **fields,
            )
            np.testing.assert_array_equal(cut.all_scores, whole.all_scores)
            np.testing.assert_array_equal(cut.indices, whole.indices)
    assert not set(whole.indices.tolist()) & set(exclude.tolist())


def test_token_logits_rank_as_their_softmax():
    rng = np.random.default_rng(9)
    logits = rng.normal(size=(25, 3)) * 3
    lengths = np.array([5, 5, 5, 5, 5])
    probabilities = np.exp(logits / 2) / np.exp(logits / 2).sum(axis=1, keepdims=True)
    via_logits = rank(
        "entropy", {"token_logits": logits, "lengths": lengths}, 2, params={"temperature": 2.0}
    )
    direct = rank("entropy", {"token_probabilities": probabilities, "lengths": lengths}, 2)
    np.testing.assert_allclose(via_logits.all_scores, direct.all_scores, rtol=1e-12)


@pytest.mark.parametrize("name", TOKEN_SAMPLES)
def test_token_samples_score_each_token_from_its_passes(name):
    rng = np.random.default_rng(10)
    lengths = np.array([3, 1, 0, 2])
    samples = rng.dirichlet(np.ones(3), size=(6, 4))  # tokens x passes x classes
    arrays = {"token_samples": samples, "lengths": lengths}
    strategy = STRATEGIES[name]
    params = {"aggregate": "max"} if strategy.unit_scores == "aggregated" else {}
    ranking = rank(name, arrays, 2, params=params)
    if strategy.form == "samples":
        token_scores = reference.scores(name, samples)
    else:
        means = samples.mean(axis=1)
        token_scores = (
            [-math.log(max(row)) for row in means.tolist()]
            if name == "mnlp"
            else reference.scores(name, means)
        )
    how = "mean" if strategy.unit_scores == "mean" else "max"
    expected = per_sequence(token_scores, lengths, how)
    np.testing.assert_allclose(ranking.all_scores, expected, rtol=1e-9, atol=1e-12)


def test_the_token_scores_of_each_pick_are_returned_in_pick_order():
    pool = token_pool(np.random.default_rng(11), 15)
    ranking = rank("margin", pool, 4, params={"aggregate": "max"}, return_token_scores=True)
    token_scores = reference.scores("margin", pool["token_probabilities"])
    ends = np.cumsum(pool["lengths"])
    assert len(ranking.token_scores) == 4
    for item, scores in zip(ranking.indices.tolist(), ranking.token_scores, strict=True):
        start = ends[item] - pool["lengths"][item]
        np.testing.assert_allclose(scores, token_scores[start : ends[item]], rtol=1e-12)
        assert max(scores) == pytest.approx(ranking.all_scores[item])


def test_token_scores_are_refused_where_there_are_no_tokens():
    plain = {"probabilities": np.full((3, 2), 0.5)}
    caught = error("margin", plain, return_token_scores=True)
    assert caught.field == "return_token_scores"
    pool = token_pool(np.random.default_rng(1), 4)
    caught = error("random", pool, return_token_scores=True, seed=1)
    assert caught.field == "return_token_scores"


@pytest.mark.parametrize("name", AGGREGATED)
@pytest.mark.parametrize("how", ["mean", "max", "sum"])
@pytest.mark.parametrize("streamed", [False, True], ids=["buffered", "streamed"])
def test_multi_label_items_rank_by_the_aggregate_over_their_labels(name, how, streamed):
    probabilities = np.random.default_rng(5).random((30, 5))
    probabilities[0, :] = 0.0  # certain: every label absent
    pool = {"label_probabilities": probabilities}
    ranking = rank(
        name, pool, 4, streamed=streamed, chunk_bytes=4 * 5 * 8, params={"aggregate": how}
    )
    expected = expected_label_scores(name, probabilities, how)
    np.testing.assert_allclose(ranking.all_scores, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ranking.indices, reference.top_k(expected, 4))
    assert ranking.all_scores[0] == 0.0


def test_a_hand_worked_multi_label_pool():
    # margins 1 - |2p - 1|: item 0 labels 0.5, 0.9 -> (1 + 0.2) / 2; item 1: 0.8, 0.8 -> 0.4
    pool = {"label_probabilities": np.array([[0.5, 0.9], [0.8, 0.8], [1.0, 0.0]])}
    ranking = rank("margin", pool, 2)
    assert ranking.all_scores.tolist() == pytest.approx([0.6, 0.4, 0.0])
    assert ranking.indices.tolist() == [0, 1]


def test_label_logits_rank_as_their_sigmoid():
    logits = np.random.default_rng(12).normal(size=(20, 4)) * 4
    via_logits = rank("entropy", {"label_logits": logits}, 3)
    direct = rank("entropy", {"label_probabilities": 1 / (1 + np.exp(-logits))}, 3)
    np.testing.assert_allclose(via_logits.all_scores, direct.all_scores, rtol=1e-12)
    extreme = rank("margin", {"label_logits": np.array([[800.0, -800.0], [0.0, 0.0]])}, 1)
    assert extreme.all_scores.tolist() == [0.0, 1.0]


# modAL.multilabel's definitions from probabilities, as Python loops; y is the
# predicted label set, p >= 0.5 here.
def modal_min_confidence(row):
    return -min(row)  # modAL: multi_argmin of the minimum


def modal_avg_confidence(row):
    return math.fsum(row) / len(row)


def modal_max_score(row):
    return max(p * ((1 if p >= 0.5 else 0) - 0.5) for p in row)


def modal_avg_score(row):
    return math.fsum(p * ((1 if p >= 0.5 else 0) - 0.5) for p in row) / len(row)


MODAL = {
    "min_confidence": (modal_min_confidence, 1.0),
    "avg_confidence": (modal_avg_confidence, 0.0),
    "max_score": (modal_max_score, 0.5),
    "avg_score": (modal_avg_score, 0.5),
}


@pytest.mark.parametrize("name", sorted(MODAL))
@pytest.mark.parametrize("streamed", [False, True], ids=["buffered", "streamed"])
def test_modal_multilabel_strategies_against_their_definitions(name, streamed):
    probabilities = np.random.default_rng(13).random((40, 6))
    formula, shift = MODAL[name]
    ranking = rank(
        name, {"label_probabilities": probabilities}, 6, streamed=streamed, chunk_bytes=5 * 6 * 8
    )
    expected = [formula(row) for row in probabilities.tolist()]
    np.testing.assert_allclose(
        ranking.all_scores, np.array(expected) + shift, rtol=1e-12, atol=1e-15
    )
    assert (ranking.all_scores >= 0).all()
    np.testing.assert_array_equal(ranking.indices, reference.top_k(expected, 6))


def test_the_threshold_decides_which_labels_count_as_predicted():
    pool = {"label_probabilities": np.array([[0.6, 0.4], [0.3, 0.2]])}
    default = rank("max_score", pool, 1)
    assert default.all_scores.tolist() == pytest.approx([0.8, 0.4])
    lowered = rank("max_score", pool, 1, params={"threshold": 0.3})
    assert lowered.all_scores.tolist() == pytest.approx([0.8, 0.65])


def small_text_lci(row, cardinality, threshold=0.5):
    """small-text's label cardinality inconsistency: |predicted count - mean count|."""
    return abs(sum(1 for p in row if p >= threshold) - cardinality)


def test_label_cardinality_inconsistency_from_a_number_or_from_the_labeled_sets():
    probabilities = np.random.default_rng(14).random((30, 4))
    labeled = np.array([[1, 0, 1, 0], [0, 0, 1, 0], [1, 1, 1, 0]])  # 2, 1, 3 labels: mean 2
    name = "label_cardinality_inconsistency"
    pool = {"label_probabilities": probabilities}
    by_number = rank(name, pool, 5, params={"label_cardinality": 2.0})
    by_sets = rank(name, {**pool, "labeled_labels": labeled}, 5)
    expected = [small_text_lci(row, 2.0) for row in probabilities.tolist()]
    np.testing.assert_allclose(by_number.all_scores, expected)
    np.testing.assert_array_equal(by_sets.all_scores, by_number.all_scores)
    np.testing.assert_array_equal(by_number.indices, reference.top_k(expected, 5))


def test_label_cardinality_inconsistency_needs_the_labeled_sets_once():
    name = "label_cardinality_inconsistency"
    pool = {"label_probabilities": np.full((3, 2), 0.5)}
    assert error(name, pool).field == "params.label_cardinality"
    both = {**pool, "labeled_labels": np.array([[1, 0]])}
    assert error(name, both, params={"label_cardinality": 1}).field == "params.label_cardinality"
    caught = error(name, {**pool, "labeled_labels": np.array([[1, 0], [0.5, 1]])})
    assert (caught.field, caught.detail) == (
        "labeled_labels",
        "row 1, label 0 holds 0.5: expected 0 or 1",
    )
    caught = error(name, {**pool, "labeled_labels": np.array([[1, 0, 1]])})
    assert caught.field == "labeled_labels"
    assert "labels" in caught.detail


def test_random_scores_multi_label_items_once_each():
    pool = {"label_probabilities": np.random.default_rng(2).random((50, 7))}
    ranking = rank("random", pool, 5, seed=4)
    assert ranking.all_scores.shape == (50,)
    assert len(set(ranking.indices.tolist())) == 5


def error(strategy, arrays, budget=1, **fields) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        rank(strategy, arrays, budget, **fields)
    return caught.value


@pytest.mark.parametrize(
    ("lengths", "says"),
    [
        (None, "token_probabilities holds the tokens of sequences: send lengths"),
        (np.array([2, 2]), "lengths add up to 4 tokens but token_probabilities has 5 token rows"),
        (np.array([3, -1, 3]), "sequence 1 has -1 tokens: expected a whole number >= 0"),
        (np.array([3.0, 1.5, 0.5]), "sequence 1 has 1.5 tokens: expected a whole number >= 0"),
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


def test_bad_padded_lengths_are_named():
    tokens = np.full((3, 4, 2), 0.5)
    caught = error("margin", {"token_probabilities": tokens, "lengths": np.array([4, 5, 1])})
    assert (caught.field, caught.detail) == (
        "lengths",
        "sequence 1 has 5 tokens but the padded token_probabilities holds at most 4 (L_max)",
    )
    caught = error("margin", {"token_probabilities": tokens, "lengths": np.array([4, 1])})
    assert caught.field == "lengths"
    assert "lengths has 2 sequences but the padded token_probabilities has 3" in caught.detail
    caught = error(
        "margin", {"token_probabilities": np.full((2, 2, 2, 2), 0.5), "lengths": np.array([1, 1])}
    )
    assert caught.field == "token_probabilities"
    assert "a flat (sum of lengths) x C array or a padded N x L_max x C one" in caught.detail


@pytest.mark.parametrize("padded_form", [False, True], ids=["flat", "padded"])
def test_a_bad_token_row_is_named_by_its_sequence_and_token_in_any_chunk(padded_form):
    tokens = np.full((9, 2), 0.5)
    tokens[7] = [0.5, 0.6]
    lengths = np.array([4, 3, 2])
    array = padded(tokens, lengths, fill=0.0) if padded_form else tokens
    pool = {"token_probabilities": array, "lengths": lengths}
    for chunk_bytes in (None, 2 * 2 * 8):
        caught = error("margin", pool, chunk_bytes=chunk_bytes)
        assert caught.field == "token_probabilities"
        assert caught.detail.startswith("sequence 2, token 0 (token row 7) sums to 1.1")


def test_a_non_finite_token_is_named():
    tokens = np.full((5, 2), 0.5)
    tokens[3, 1] = np.inf
    caught = error("entropy", {"token_probabilities": tokens, "lengths": np.array([2, 3])})
    assert caught.detail.startswith("sequence 1, token 1 (token row 3) holds a non-finite value")


def test_a_label_outside_zero_one_is_named_by_row_and_label():
    probabilities = np.full((6, 3), 0.5)
    probabilities[4, 2] = 1.5
    caught = error("entropy", {"label_probabilities": probabilities}, chunk_bytes=2 * 3 * 8)
    assert (caught.field, caught.detail) == (
        "label_probabilities",
        "row 4, label 2: probability 1.5 is outside [0, 1]",
    )
    probabilities[4, 2] = np.nan
    caught = error("entropy", {"label_probabilities": probabilities})
    assert caught.detail == "row 4 holds a non-finite value (NaN or +-Inf)"


def test_an_aggregate_is_refused_where_it_does_not_apply():
    plain = {"probabilities": np.full((3, 2), 0.5)}
    with pytest.raises(ValidationError) as unknown:
        rank("margin", plain, 1, params={"aggregate": "max"})
    assert "aggregate" in unknown.value.messages["params"]
    labels = {"label_probabilities": np.full((3, 2), 0.5)}
    caught = error("min_confidence", labels, params={"aggregate": "max"})
    assert caught.field == "params.aggregate"
    assert "scores each item as a whole" in caught.detail
    with pytest.raises(ValidationError) as bad:
        rank("margin", labels, 1, params={"aggregate": "median"})
    assert "aggregate" in bad.value.messages["params"]


def test_a_strategy_over_passes_or_a_batch_strategy_refuses_the_structured_kinds():
    tokens = {"token_probabilities": np.full((4, 2), 0.5), "lengths": np.array([2, 2])}
    caught = error("bald", tokens)
    assert "does not accept token_probabilities" in caught.detail
    assert "token_samples" in caught.detail
    labels = {"label_probabilities": np.full((4, 2), 0.5), "embeddings": np.zeros((4, 3))}
    assert "does not accept label_probabilities" in error("badge", labels).detail
    plain = {"probabilities": np.full((3, 2), 0.5)}
    assert "does not accept probabilities" in error("max_score", plain).detail


def test_balance_and_prefilter_are_refused_for_kinds_with_units():
    from service.jobs import Balance, Prefilter

    tokens = {"token_probabilities": np.full((4, 2), 0.5), "lengths": np.array([2, 2])}
    caught = error("margin", tokens, balance=Balance("predicted_class"))
    assert caught.field == "balance"
    with_embeddings = {**tokens, "embeddings": np.zeros((2, 3))}
    caught = error(
        "coreset",
        with_embeddings,
        budget=1,
        prefilter=Prefilter("margin", 2),
        return_all_scores=False,
    )
    assert caught.field in ("prefilter", "token_probabilities")


def test_lengths_without_a_token_kind_are_refused():
    arrays = {"probabilities": np.full((3, 2), 0.5), "lengths": np.array([1, 1, 1])}
    caught = error("margin", arrays)
    assert caught.field == "lengths"


def test_every_public_kind_is_listed_by_the_strategies_that_take_it():
    assert STRATEGIES["margin"].inputs == tuple(INPUT_KINDS)
    assert STRATEGIES["bald"].inputs == ("samples", "token_samples")
    assert STRATEGIES["mnlp"].inputs == ("token_probabilities", "token_logits", "token_samples")
    assert STRATEGIES["max_score"].inputs == ("label_probabilities", "label_logits")
