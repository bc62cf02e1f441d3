"""Scores from Monte-Carlo or ensemble samples (n, t, c): bald, predictive entropy,
variation ratios, mean std, vote entropy and max KL disagreement.

The scores take the samples' pass columns (t, c, n) (see rowops.pass_columns);
``SCORERS`` lays the samples out and scores them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from service.ranking import bayesian
from service.ranking.registry import STRATEGIES
from service.ranking.rowops import pass_columns
from tests.ranking import helpers, reference

LOG2 = math.log(2)
NAMES = tuple(
    name
    for name, strategy in STRATEGIES.items()
    if strategy.form == "samples" and strategy.pointwise
)
COLUMN_SCORERS = {name: getattr(bayesian, f"{name}_of_columns") for name in NAMES}


def scorer(name):
    """Score samples (n, t, c) with the column function ``name``, on their pass columns."""
    return lambda samples: COLUMN_SCORERS[name](pass_columns(samples))


SCORERS = {name: scorer(name) for name in NAMES}
VOTE_BASED = ("variation_ratios", "vote_entropy")
SAMPLE_STRATEGIES = [
    name for name, s in STRATEGIES.items() if "samples" in s.inputs and s.pointwise
]
DETERMINISTIC = [name for name in SAMPLE_STRATEGIES if not STRATEGIES[name].randomized]


def h(*probs: float) -> float:
    """Entropy in nats, 0 log 0 = 0."""
    return -sum(p * math.log(p) for p in probs if p > 0)


# One pool item per example: its passes, then the expected score of every strategy.
H91 = h(0.9, 0.1)
EXAMPLES = {
    # mean [0.5, 0.5]; each pass has entropy 0; votes [1, 1]; each class is
    # {1, 0} over passes, std 0.5; KL([1, 0] || [.5, .5]) = log 2 for both passes.
    "two-opposite-one-hot-passes": (
        [[1.0, 0.0], [0.0, 1.0]],
        {
            "bald": LOG2,
            "predictive_entropy": LOG2,
            "variation_ratios": 0.5,
            "mean_std": 0.5,
            "vote_entropy": LOG2,
            "kl_max_disagreement": LOG2,
        },
    ),
    # mean [0.5, 0.5]; mean pass entropy (2 H(.9, .1) + log 2) / 3; the tied
    # middle pass votes for class 0, so votes [2, 1]; class values {.9, .5, .1},
    # variance (0.16 + 0 + 0.16) / 3; KL of an outer pass = log 2 - H(.9, .1).
    "three-passes-middle-tied": (
        [[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]],
        {
            "bald": 2 * (LOG2 - H91) / 3,
            "predictive_entropy": LOG2,
            "variation_ratios": 1 - 2 / 3,
            "mean_std": math.sqrt(0.32 / 3),
            "vote_entropy": h(2 / 3, 1 / 3),
            "kl_max_disagreement": LOG2 - H91,
        },
    ),
    # mean [.5, .25, .25], entropy 1.5 log 2; votes [2, 1, 1]; class 0 std 0.5,
    # classes 1 and 2 std sqrt(3 * 0.0625 + 0.5625) / 2 = sqrt(3) / 4;
    # KL of [1, 0, 0] = log 2, of [0, 1, 0] = log 4.
    "four-one-hot-passes-three-classes": (
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]],
        {
            "bald": 1.5 * LOG2,
            "predictive_entropy": 1.5 * LOG2,
            "variation_ratios": 0.5,
            "mean_std": (0.5 + 2 * math.sqrt(3) / 4) / 3,
            "vote_entropy": 1.5 * LOG2,
            "kl_max_disagreement": 2 * LOG2,
        },
    ),
    # Two passes tied between both classes vote for class 0, the third for class 1.
    "tied-passes-vote-lowest-class": (
        [[0.5, 0.5], [0.5, 0.5], [0.2, 0.8]],
        {
            "bald": h(0.4, 0.6) - (2 * LOG2 + h(0.2, 0.8)) / 3,
            "predictive_entropy": h(0.4, 0.6),
            "variation_ratios": 1 - 2 / 3,
            "mean_std": math.sqrt((0.01 + 0.01 + 0.04) / 3),
            "vote_entropy": h(2 / 3, 1 / 3),
            "kl_max_disagreement": 0.2 * math.log(0.2 / 0.4) + 0.8 * math.log(0.8 / 0.6),
        },
    ),
    # Passes that agree: nothing to disagree about, only the entropy remains.
    "identical-passes": (
        [[0.7, 0.2, 0.1]] * 3,
        {
            "bald": 0.0,
            "predictive_entropy": h(0.7, 0.2, 0.1),
            "variation_ratios": 0.0,
            "mean_std": 0.0,
            "vote_entropy": 0.0,
            "kl_max_disagreement": 0.0,
        },
    ),
}


@pytest.mark.parametrize(
    ("passes", "name", "expected"),
    [
        pytest.param(passes, name, value, id=f"{example}-{name}")
        for example, (passes, values) in EXAMPLES.items()
        for name, value in values.items()
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hand_worked_examples(passes, name, expected, dtype):
    scores = SCORERS[name](np.array([passes], dtype=dtype))
    assert scores.dtype == dtype
    tolerance = 1e-12 if dtype == np.float64 else 1e-6
    assert scores.tolist() == [pytest.approx(expected, rel=tolerance, abs=tolerance)]


def test_each_pool_item_is_scored_on_its_own_passes():
    samples = np.array([EXAMPLES["two-opposite-one-hot-passes"][0], [[0.5, 0.5], [0.5, 0.5]]])
    assert SCORERS["bald"](samples).tolist() == pytest.approx([LOG2, 0.0], abs=1e-15)
    assert SCORERS["predictive_entropy"](samples).tolist() == pytest.approx([LOG2, LOG2])
    assert SCORERS["variation_ratios"](samples).tolist() == [0.5, 0.0]


def dirichlet_samples(n, t, c, alpha, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(c, alpha), size=(n, t)).astype(dtype)


@pytest.mark.parametrize("name", list(SCORERS))
@pytest.mark.parametrize(
    ("t", "c", "alpha"),
    [
        pytest.param(2, 2, 1.0, id="t2-c2"),
        pytest.param(5, 10, 0.3, id="t5-c10-peaked"),
        pytest.param(20, 3, 1.0, id="t20-c3"),
        pytest.param(4, 40, 0.1, id="t4-c40-very-peaked"),
    ],
)
@pytest.mark.parametrize(
    ("dtype", "rtol", "atol"),
    [
        pytest.param(np.float64, 1e-12, 1e-12, id="float64"),
        pytest.param(np.float32, 1e-5, 1e-6, id="float32"),
    ],
)
def test_matches_the_reference(name, t, c, alpha, dtype, rtol, atol):
    samples = dirichlet_samples(40, t, c, alpha, dtype)
    scores = SCORERS[name](samples)
    assert scores.dtype == dtype
    assert scores.shape == (40,)
    expected = reference.scores(name, samples.astype(np.float64))
    np.testing.assert_allclose(scores, expected, rtol=rtol, atol=atol)


# Property tests on random probability samples, zeros included.


@st.composite
def sample_arrays(draw, dtype=np.float64):
    shape = (draw(st.integers(1, 4)), draw(st.integers(2, 6)), draw(st.integers(2, 6)))
    element = st.one_of(st.just(0.0), st.floats(1e-3, 1.0))
    weights = draw(hnp.arrays(np.float64, shape, elements=element))
    weights[..., 0] += weights.sum(axis=2) == 0
    return (weights / weights.sum(axis=2, keepdims=True)).astype(dtype)


@given(data=st.data())
def test_permuting_passes_leaves_every_score_unchanged(data):
    samples = data.draw(sample_arrays())
    order = data.draw(st.permutations(range(samples.shape[1])))
    shuffled = samples[:, order, :]
    for name, score in SCORERS.items():
        if name in VOTE_BASED:
            assert score(shuffled).tolist() == score(samples).tolist(), name
        else:
            np.testing.assert_allclose(
                score(shuffled), score(samples), rtol=1e-12, atol=1e-12, err_msg=name
            )


@given(
    passes=st.integers(2, 6),
    row=hnp.arrays(np.float64, st.integers(2, 6), elements=st.floats(1e-3, 1.0)),
)
def test_identical_passes_show_no_disagreement(passes, row):
    samples = np.broadcast_to(row / row.sum(), (1, passes, row.shape[0])).copy()
    for name in ("bald", "mean_std", "kl_max_disagreement"):
        assert SCORERS[name](samples).tolist() == [pytest.approx(0.0, abs=1e-12)], name
    assert SCORERS["variation_ratios"](samples).tolist() == [0.0]
    assert SCORERS["vote_entropy"](samples).tolist() == [0.0]


@given(passes=st.integers(2, 6), classes=st.integers(2, 6), data=st.data())
def test_identical_one_hot_passes_score_exactly_zero(passes, classes, data):
    label = data.draw(st.integers(0, classes - 1))
    samples = np.zeros((1, passes, classes))
    samples[:, :, label] = 1.0
    for name, score in SCORERS.items():
        assert score(samples).tolist() == [0.0], name


@given(samples=sample_arrays())
def test_bald_is_at_most_the_predictive_entropy(samples):
    assert np.all(SCORERS["bald"](samples) <= SCORERS["predictive_entropy"](samples))


@given(samples=sample_arrays())
def test_mean_kl_to_the_consensus_is_bald_and_max_kl_bounds_it(samples):
    mean = samples.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(samples > 0, samples * np.log(samples / mean), 0.0)
    kls = terms.sum(axis=2)  # (n, t)
    bald, kl_max = SCORERS["bald"](samples), SCORERS["kl_max_disagreement"](samples)
    np.testing.assert_allclose(bald, kls.mean(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kl_max, kls.max(axis=1), rtol=1e-12, atol=1e-12)
    assert np.all(kl_max >= bald - 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_scores_keep_the_dtype_and_are_finite_and_non_negative(dtype, data):
    samples = data.draw(sample_arrays(dtype))
    for name, score in SCORERS.items():
        scores = score(samples)
        assert scores.dtype == dtype, name
        assert scores.shape == (samples.shape[0],), name
        assert np.all(np.isfinite(scores)), name
        assert np.all(scores >= 0), name


# Through the pipeline: the samples input kind and the registry's strategies.


def rank(samples, name, budget=None, chunk=None):
    """Rank ``samples`` (n, t, c), as the samples input kind, through the service's
    entry point in chunks of ``chunk`` items, keeping every item's score."""
    return helpers.rank(
        samples,
        name,
        budget or len(samples),
        chunk=chunk,
        kind="samples",
        seed=11,
        options={"layout": "NTC", "space": "prob"},
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # mean over passes [0.5, 0.5] for the first item, [0.9, 0.1] for the second.
        pytest.param("least_confidence", [0.5, 0.1], id="least_confidence"),
        pytest.param("margin", [1.0, 1 - 0.8], id="margin"),
        pytest.param("ratio", [1.0, 0.1 / 0.9], id="ratio"),
        pytest.param("entropy", [LOG2, H91], id="entropy"),
        pytest.param("bald", [2 * (LOG2 - H91) / 3, 0.0], id="bald"),
        pytest.param("mean_std", [math.sqrt(0.32 / 3), 0.0], id="mean_std"),
    ],
)
def test_pipeline_scores_samples_for_every_strategy_kind(name, expected):
    samples = np.array([[[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]], [[0.9, 0.1]] * 3])
    ranking = rank(samples, name)
    assert ranking.indices.tolist() == [0, 1]
    assert ranking.all_scores.tolist() == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", SAMPLE_STRATEGIES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pipeline_answer_does_not_depend_on_the_chunk_size(name, dtype):
    samples = dirichlet_samples(13, 4, 5, 0.5, dtype, seed=3)
    whole = rank(samples, name, budget=5)
    assert whole.all_scores.dtype == (np.float64 if name == "random" else dtype)
    for chunk in range(1, 13):
        chunked = rank(samples, name, budget=5, chunk=chunk)
        assert chunked.indices.tolist() == whole.indices.tolist(), f"chunk {chunk}"
        assert chunked.scores.tolist() == whole.scores.tolist(), f"chunk {chunk}"
        assert chunked.all_scores.tolist() == whole.all_scores.tolist(), f"chunk {chunk}"


def groups(indices, scores):
    """Ranked items grouped by equal score, best first: tied items may swap."""
    out: dict[float, set[int]] = {}
    for index, score in zip(indices.tolist(), scores.tolist(), strict=True):
        out.setdefault(score, set()).add(index)
    return list(out.items())


@pytest.mark.parametrize("name", DETERMINISTIC)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_permuting_the_pool_permutes_the_answer(name, dtype):
    samples = dirichlet_samples(17, 3, 6, 0.5, dtype, seed=5)
    order = np.random.default_rng(6).permutation(17)
    plain = rank(samples, name)
    permuted = rank(samples[order], name)
    assert permuted.all_scores.tolist() == plain.all_scores[order].tolist()
    assert groups(order[permuted.indices], permuted.scores) == groups(plain.indices, plain.scores)


@pytest.mark.parametrize("name", DETERMINISTIC)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_identical_pool_items_tie_and_rank_by_index(name, dtype):
    items = dirichlet_samples(4, 3, 7, 1.0, dtype, seed=8)
    pool = np.concatenate([items, items, items])  # item i sits at i, i + 4 and i + 8
    ranking = rank(pool, name)
    scores = ranking.all_scores.reshape(3, 4)
    assert scores[1].tolist() == scores[0].tolist()
    assert scores[2].tolist() == scores[0].tolist()
    place = np.argsort(ranking.indices)  # place[i]: where pool item i was ranked
    for item in range(4):
        assert place[item] < place[item + 4] < place[item + 8], f"item {item}"


@pytest.mark.parametrize("c", [2, 7, 300])
def test_votes_go_to_the_lowest_class_among_tied_tops(c):
    rng = np.random.default_rng(c)
    samples = rng.integers(0, 3, size=(25, 6, c)).astype(np.float64)  # ties everywhere
    samples[..., 0] += samples.sum(axis=2) == 0
    samples /= samples.sum(axis=2, keepdims=True)
    expected = np.zeros((25, c))
    for item in range(25):
        for passes in samples[item]:
            expected[item, reference.vote(passes.tolist())] += 1
    votes = bayesian.votes_of_columns(pass_columns(samples))
    assert votes.dtype == samples.dtype
    assert votes.flags.c_contiguous
    np.testing.assert_array_equal(votes, expected.T)


@pytest.mark.parametrize("name", list(SCORERS))
def test_scoring_pass_columns_leaves_them_alone(name):
    samples = dirichlet_samples(9, 4, 5, 0.5, np.float64, seed=2)
    cols = pass_columns(samples)
    before = cols.copy()
    scores = COLUMN_SCORERS[name](cols)
    np.testing.assert_array_equal(cols, before)
    np.testing.assert_allclose(scores, reference.scores(name, samples), rtol=1e-12, atol=1e-12)


def test_the_registry_scores_samples_with_these_functions():
    samples = dirichlet_samples(9, 4, 5, 0.5, np.float64, seed=4)
    cols = pass_columns(samples)
    for name, function in COLUMN_SCORERS.items():
        score = STRATEGIES[name].make_scorer({}, np.random.default_rng(0))
        np.testing.assert_array_equal(score(cols), function(cols), err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mean_of_pass_columns_is_the_mean_prediction_by_columns(dtype):
    samples = dirichlet_samples(11, 3, 4, 0.5, dtype, seed=7)
    mean = bayesian.mean_of_pass_columns(pass_columns(samples))
    assert mean.dtype == dtype
    assert mean.shape == (4, 11)
    assert mean.flags.c_contiguous
    expected = [reference.mean_row(item) for item in samples.astype(np.float64).tolist()]
    np.testing.assert_allclose(mean.T, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)


def test_pass_entropies_of_columns_are_each_pass_entropy():
    samples = dirichlet_samples(6, 3, 5, 0.5, np.float64, seed=9)
    entropies = bayesian.pass_entropies_of_columns(pass_columns(samples))
    assert entropies.shape == (3, 6)
    expected = [[reference.entropy(row) for row in item] for item in samples.tolist()]
    np.testing.assert_allclose(entropies.T, expected, rtol=1e-12, atol=1e-15)
