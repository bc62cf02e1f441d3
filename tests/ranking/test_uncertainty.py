import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from service.ranking import uncertainty
from service.ranking.registry import STRATEGIES
from service.ranking.rowops import columns
from tests.ranking import reference
from tests.ranking.helpers import ATOL, DTYPES, UNCERTAINTY, normalized, random_pool, rank

FUNCTIONS = {name: getattr(uncertainty, f"{name}_of_columns") for name in UNCERTAINTY}
WIDTHS = (2, 10, 33, 100)


def score(name, probs):
    """The scores of probability rows (n, c), computed on their class columns."""
    return FUNCTIONS[name](columns(probs))


# A = [0.5, 0.25, 0.25], B = [0.55, 0.45, 0], C = [0.8, 0.1, 0.1], D = one-hot.
POOL = np.array([[0.5, 0.25, 0.25], [0.55, 0.45, 0.0], [0.8, 0.1, 0.1], [1.0, 0.0, 0.0]])


def test_least_confidence_is_one_minus_the_top_probability():
    expected = [1 - 0.5, 1 - 0.55, 1 - 0.8, 1 - 1.0]  # 0.5, 0.45, 0.2, 0
    assert score("least_confidence", POOL).tolist() == expected
    ranking = rank(POOL, "least_confidence", 4)
    assert ranking.indices.tolist() == [0, 1, 2, 3]
    assert ranking.scores.tolist() == expected


def test_margin_is_one_minus_the_gap_between_the_top_two():
    expected = [1 - (0.5 - 0.25), 1 - (0.55 - 0.45), 1 - (0.8 - 0.1), 1 - (1.0 - 0.0)]
    assert score("margin", POOL).tolist() == expected  # 0.75, 0.9, 0.3, 0
    ranking = rank(POOL, "margin", 4)
    assert ranking.indices.tolist() == [1, 0, 2, 3]
    assert ranking.scores.tolist() == [expected[i] for i in (1, 0, 2, 3)]


def test_ratio_is_the_second_over_the_top_probability():
    expected = [0.25 / 0.5, 0.45 / 0.55, 0.1 / 0.8, 0.0 / 1.0]  # 0.5, 0.818, 0.125, 0
    assert score("ratio", POOL).tolist() == expected
    ranking = rank(POOL, "ratio", 4)
    assert ranking.indices.tolist() == [1, 0, 2, 3]
    assert ranking.scores.tolist() == [expected[i] for i in (1, 0, 2, 3)]


def test_entropy_is_in_nats_with_zero_log_zero_as_zero():
    expected = [
        -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)),  # 1.5 log 2 = 1.040
        -(0.55 * math.log(0.55) + 0.45 * math.log(0.45)),  # 0.688; 0 log 0 = 0
        -(0.8 * math.log(0.8) + 2 * 0.1 * math.log(0.1)),  # 0.639
        0.0,  # 1 log 1 + 0 log 0 + 0 log 0
    ]
    assert score("entropy", POOL).tolist() == pytest.approx(expected, abs=1e-15)
    ranking = rank(POOL, "entropy", 4)
    assert ranking.indices.tolist() == [0, 1, 2, 3]
    assert ranking.scores.tolist() == pytest.approx(expected, abs=1e-15)


def test_equal_scores_rank_the_lower_index_first():
    probs = np.array([[0.6, 0.4], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    # margins: 1 - 0.2, 1 - 0.8, 1 - 0.2, 1 - 0.2
    assert rank(probs, "margin", 2).indices.tolist() == [0, 2]
    assert rank(probs, "margin", 3).indices.tolist() == [0, 2, 3]
    assert rank(probs, "margin", 2, exclude=[0]).indices.tolist() == [2, 3]


@pytest.mark.parametrize("name", UNCERTAINTY)
def test_uniform_row_scores_the_maximum_and_one_hot_zero(name):
    probs = np.array([[0.25] * 4, [0.0, 1.0, 0.0, 0.0]])
    top = {"least_confidence": 1 - 0.25, "margin": 1.0, "ratio": 1.0, "entropy": math.log(4)}
    assert score(name, probs).tolist() == pytest.approx([top[name], 0.0], abs=1e-15)


@pytest.mark.parametrize("name", UNCERTAINTY)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scores_keep_the_input_float_dtype(name, dtype):
    probs = normalized([[1, 2, 3], [3, 3, 0]], dtype)
    scores = score(name, probs)
    assert scores.dtype == dtype
    assert scores.shape == (2,)


@pytest.mark.parametrize("name", UNCERTAINTY)
def test_input_is_not_modified(name):
    probs = normalized(np.random.default_rng(0).random((5, 40)))
    cols = columns(probs)
    before = cols.copy()
    FUNCTIONS[name](cols)
    np.testing.assert_array_equal(cols, before)


def separated_rows(rng, name, c, dtype, count):
    """Distinct random rows whose reference scores are at least 10 * ATOL apart."""
    gap = 10 * ATOL[dtype]
    rows, seen = [], []
    for _ in range(50 * count):
        row = random_pool(rng, name, 1, c, dtype)[0]
        score = reference.SCORERS[name](row.tolist())
        if all(abs(score - other) > gap for other in seen):
            rows.append(row)
            seen.append(score)
        if len(rows) == count:
            break
    return np.array(rows)


@pytest.mark.parametrize("c", WIDTHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNCERTAINTY)
def test_scores_match_the_reference_on_random_pools(name, dtype, c):
    pool = random_pool(np.random.default_rng(c), name, 200, c, dtype)
    expected = reference.scores(name, pool)
    np.testing.assert_allclose(score(name, pool), expected, rtol=0, atol=ATOL[dtype])


@pytest.mark.parametrize("c", WIDTHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNCERTAINTY)
def test_ranking_matches_the_reference_with_exclusions(name, dtype, c):
    rng = np.random.default_rng(100 + c)
    pool = separated_rows(rng, name, c, dtype, 120)
    exclude = rng.choice(len(pool), 30, replace=False).tolist()
    expected_scores = reference.scores(name, pool)
    ranking = rank(pool, name, 40, exclude=exclude)
    assert ranking.indices.tolist() == reference.top_k(expected_scores, 40, exclude)
    np.testing.assert_allclose(
        ranking.scores, [expected_scores[i] for i in ranking.indices], rtol=0, atol=ATOL[dtype]
    )


@pytest.mark.parametrize("chunk", [None, 7])
@pytest.mark.parametrize("c", WIDTHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNCERTAINTY)
def test_ranking_matches_the_reference_on_pools_full_of_exact_ties(name, dtype, c, chunk):
    rng = np.random.default_rng(200 + c)
    prototypes = separated_rows(rng, name, c, dtype, 6)
    pool = prototypes[rng.integers(len(prototypes), size=150)]
    exclude = rng.choice(len(pool), 20, replace=False).tolist()
    expected_scores = reference.scores(name, pool)
    ranking = rank(pool, name, 60, exclude=exclude, chunk=chunk)
    assert ranking.indices.tolist() == reference.top_k(expected_scores, 60, exclude)


@given(
    weights=arrays(
        np.int8,
        st.tuples(st.integers(1, 20), st.sampled_from([2, 3, 10, 33, 40])),
        elements=st.integers(0, 4),
    ),
    dtype=st.sampled_from(DTYPES),
)
@pytest.mark.parametrize("name", UNCERTAINTY)
def test_uniform_rows_score_highest_and_one_hot_rows_lowest(name, weights, dtype):
    c = weights.shape[1]
    uniform, one_hot = np.full((1, c), 1.0), np.eye(1, c, c - 1)
    probs = normalized(np.vstack([weights, uniform, one_hot]), dtype)
    scores = score(name, probs).astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    top = {"least_confidence": 1 - 1 / c, "margin": 1.0, "ratio": 1.0, "entropy": math.log(c)}
    assert scores[-2] >= scores.max() - tol
    assert scores[-2] == pytest.approx(top[name], abs=tol)
    assert scores[-1] == 0.0
    assert scores.min() >= -tol


@given(
    ranks=st.lists(st.integers(0, 99), min_size=1, max_size=40, unique=True),
    swaps=st.lists(st.booleans(), min_size=40, max_size=40),
    dtype=st.sampled_from(DTYPES),
)
def test_binary_pools_rank_alike_under_every_uncertainty_strategy(ranks, swaps, dtype):
    # p1 = 0.5 + j / 200, at least 0.005 apart, so no two rows tie.
    p1 = [0.5 + j / 200 for j in ranks]
    rows = [[1 - p, p] if swap else [p, 1 - p] for p, swap in zip(p1, swaps, strict=False)]
    probs = np.array(rows, dtype=dtype)
    n = len(rows)
    expected = sorted(range(n), key=lambda i: (ranks[i], i))  # least confident first
    for name in UNCERTAINTY:
        assert rank(probs, name, n).indices.tolist() == expected, name


def test_the_registry_scores_the_uncertainty_family_with_these_functions():
    assert set(FUNCTIONS) == {"least_confidence", "margin", "ratio", "entropy"}
    cols = columns(POOL)
    for name, function in FUNCTIONS.items():
        scorer = STRATEGIES[name].make_scorer({}, np.random.default_rng(0))
        np.testing.assert_array_equal(scorer(cols), function(cols))


@pytest.mark.parametrize("name", UNCERTAINTY)
@pytest.mark.parametrize("dtype", DTYPES)
def test_registry_scorers_score_the_rows_their_columns_hold_and_leave_them_alone(name, dtype):
    pool = random_pool(np.random.default_rng(9), name, 50, 10, dtype)
    cols = columns(pool)
    before = cols.copy()
    scorer = STRATEGIES[name].make_scorer({}, np.random.default_rng(0))
    scores = scorer(cols)
    assert scores.dtype == dtype
    np.testing.assert_allclose(scores, reference.scores(name, pool), rtol=0, atol=ATOL[dtype])
    np.testing.assert_array_equal(cols, before)


# The scores take only class columns as rowops.columns makes them; anything
# else is a programming error, not bad input.
NOT_COLUMNS = [
    pytest.param(lambda cols: np.repeat(cols, 2, axis=1)[:, ::2], id="strided"),
    pytest.param(np.asfortranarray, id="fortran-order"),
    pytest.param(lambda cols: cols.astype(np.float16), id="float16"),
    pytest.param(lambda cols: (cols * 4).astype(np.int64), id="int64"),
    pytest.param(lambda cols: cols[:1], id="one-class"),
    pytest.param(lambda cols: cols[None], id="3-d"),
    pytest.param(lambda cols: cols.T, id="rows-instead-of-columns"),
]


@pytest.mark.parametrize("layout", NOT_COLUMNS)
@pytest.mark.parametrize("name", UNCERTAINTY)
def test_scores_refuse_anything_but_class_columns(name, layout):
    bad = layout(columns(POOL))
    with pytest.raises(TypeError, match="expected C-contiguous float class columns"):
        FUNCTIONS[name](bad)
