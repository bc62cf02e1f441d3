"""The compiled loops against the numpy code they stand in for, bit for bit.

The probability check also has a numpy path for arrays the loops do not
take; a column array that is not C-contiguous (every other column of a
wider one) takes that path, so comparing the two layouts compares the loop
with numpy. The scores have no numpy path: they take only the columns the
loops take (rowops.require_columns) and refuse others with TypeError, so
the numpy arithmetic they stand in for is written out here (``numpy_scores``).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from service.ranking import kernels
from service.ranking.checks import PROBABILITY_ATOL, check_probability_columns
from service.ranking.rowops import column_max, column_top_two, columns
from service.ranking.uncertainty import (
    entropy_of_columns,
    least_confidence_of_columns,
    margin_of_columns,
    ratio_of_columns,
)

DTYPES = (np.float32, np.float64)
# Fewer rows than a block, exactly one, a block and a remainder, several blocks.
ROW_COUNTS = (1, kernels.BLOCK - 1, kernels.BLOCK, kernels.BLOCK + 1, 5 * kernels.BLOCK + 7)
CLASS_COUNTS = (2, 3, 10, 33)
SCORERS = (least_confidence_of_columns, margin_of_columns, ratio_of_columns, entropy_of_columns)


def strided(cols: np.ndarray) -> np.ndarray:
    """The same values as ``cols`` (c, m) in a view that is not C-contiguous."""
    wide = np.zeros((cols.shape[0], 2 * cols.shape[1]), cols.dtype)
    wide[:, ::2] = cols
    view = wide[:, ::2]
    assert not kernels.compiled_layout(view)
    return view


def probabilities(m: int, c: int, dtype: type, seed: int = 0) -> np.ndarray:
    """Rows (m, c) summing to 1, with exact zeros, ties and tiny entries among them."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(c, 0.3), size=m)
    probs[1::4, 1] = probs[1::4, 0]  # a tie in some rows, for the top in some
    probs[::3, -1] = 0.0
    probs[2::5, -1] = 1e-42  # below float32's smallest normal number
    probs /= probs.sum(axis=1, keepdims=True)
    return probs.astype(dtype)


def test_compiled_layout_takes_c_contiguous_float32_and_float64_only():
    assert kernels.compiled_layout(np.zeros((3, 4), np.float32))
    assert kernels.compiled_layout(np.zeros((3, 4), np.float64))
    assert not kernels.compiled_layout(np.zeros((3, 4), np.float16))
    assert not kernels.compiled_layout(np.zeros((3, 4), np.int64))
    assert not kernels.compiled_layout(np.zeros((3, 4), np.float64, order="F"))
    assert not kernels.compiled_layout(np.zeros((3, 8))[:, ::2])
    assert not kernels.compiled_layout(np.zeros((2, 3, 4)))
    assert kernels.compiled_layout(np.zeros((2, 4)), min_rows=2)
    assert not kernels.compiled_layout(np.zeros((1, 4)), min_rows=2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CLASS_COUNTS)
@pytest.mark.parametrize("m", ROW_COUNTS)
def test_transpose_writes_each_entry_to_its_column(m, c, dtype):
    rows = np.arange(m * c, dtype=dtype).reshape(m, c)
    cols = np.full((c, m), -1, dtype)
    kernels.transpose_into(rows, cols)
    for i in range(m):
        for k in range(c):
            assert cols[k, i] == rows[i, k]


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        st.sampled_from(DTYPES),
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=40),
        elements=st.floats(width=32, allow_nan=True, allow_infinity=True),
    )
)
def test_columns_copy_every_bit_of_any_float_array(rows):
    """NaN payloads, infinities and signed zeros included; the compiled copy and
    numpy's agree."""
    cols = columns(rows)
    assert cols.flags.c_contiguous
    assert cols.dtype == rows.dtype
    assert cols.view(np.uint8).tobytes() == rows.T.copy().view(np.uint8).tobytes()
    f_ordered = np.asfortranarray(rows)
    assert columns(f_ordered).tobytes() == cols.tobytes()


def failing_rows_by_hand(rows: np.ndarray, atol: float) -> int:
    """The rows an obvious loop rejects: an entry not >= 0, or a sum (added in
    class order, in the rows' dtype) off 1 by more than ``atol``."""
    failing = 0
    for row in rows:
        total = row[0]
        for value in row[1:]:
            total = row.dtype.type(total + value)
        if not all(value >= 0 for value in row) or not abs(float(total) - 1) <= atol:
            failing += 1
    return failing


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", ROW_COUNTS)
def test_failing_rows_counts_what_the_slow_loop_rejects(m, dtype):
    rows = probabilities(m, 4, dtype)
    assert kernels.failing_probability_rows(columns(rows), PROBABILITY_ATOL) == 0
    bad = rows.copy()
    bad[0, 1] = -0.001  # negative, though the row may still sum to 1 within atol
    bad[m // 2, 0] = np.nan
    bad[m - 1, 3] = np.inf
    expected = failing_rows_by_hand(bad, PROBABILITY_ATOL)
    assert expected == len({0, m // 2, m - 1})
    assert kernels.failing_probability_rows(columns(bad), PROBABILITY_ATOL) == expected


@pytest.mark.parametrize("dtype", DTYPES)
def test_failing_rows_apply_the_tolerance_exactly(dtype):
    """Sums just inside and just outside 1 +- atol; a negative entry in a row that
    sums to 1; -inf, NaN and -0.0."""
    atol = PROBABILITY_ATOL
    edge = [
        [0.5, 0.5 + atol],  # inside, or just outside after rounding: by hand decides
        [0.5, 0.5 - atol],
        [0.5, 0.5 + 2 * atol],
        [0.5, 0.5 - 2 * atol],
        [1.0, -0.0],
        [1.0001, -0.0001],
        [-np.inf, 1.0],
        [np.nan, 1.0],
        [1.0, 0.0],
    ]
    rows = np.array(edge, dtype)
    expected = failing_rows_by_hand(rows, atol)
    assert 5 <= expected <= 7
    assert kernels.failing_probability_rows(columns(rows), atol) == expected


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(
        st.sampled_from(DTYPES),
        st.tuples(st.integers(1, 3 * kernels.BLOCK), st.integers(2, 6)),
        elements=st.one_of(
            st.sampled_from([0.0, -0.0, 0.25, 0.5, 1.0, 1.001, -1e-9, np.nan, np.inf]),
            st.floats(0, 1, width=32),
        ),
    )
)
def test_check_probability_columns_agrees_with_its_numpy_path(rows):
    """The compiled check and the numpy one accept and reject the same chunks,
    and a rejected chunk names the same row."""
    cols = columns(rows)

    def verdict(layout: np.ndarray) -> str:
        try:
            check_probability_columns(layout, rows, name="probabilities")
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return "ok"

    assert verdict(cols) == verdict(strided(cols))
    expected_ok = failing_rows_by_hand(rows, PROBABILITY_ATOL) == 0
    assert (kernels.failing_probability_rows(cols, PROBABILITY_ATOL) == 0) == expected_ok


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CLASS_COUNTS)
@pytest.mark.parametrize("m", ROW_COUNTS)
def test_column_max_and_top_two_match_a_sort(m, c, dtype):
    cols = columns(probabilities(m, c, dtype, seed=c))
    ordered = np.sort(cols, axis=0)
    np.testing.assert_array_equal(column_max(cols), ordered[-1])
    first, second = column_top_two(cols)
    np.testing.assert_array_equal(first, ordered[-1])
    np.testing.assert_array_equal(second, ordered[-2])
    assert first.dtype == second.dtype == dtype


def in_order_sum(values: np.ndarray) -> np.ndarray:
    """Sum over axis 0, ((v0 + v1) + v2) + ..., in the dtype of ``values``."""
    total = values[0].copy()
    for row in values[1:]:
        total += row
    return total


def numpy_scores(score, cols: np.ndarray) -> np.ndarray:
    """What ``score`` computes, as whole-column numpy operations in the dtype of
    ``cols`` (c, m): each step rounded as the loops round it, classes added in
    order, clipped at 0 where the score is."""
    ordered = np.sort(cols, axis=0)
    first, second = ordered[-1], ordered[-2]
    if score is least_confidence_of_columns:
        return np.maximum(1 - first, 0)
    if score is margin_of_columns:
        return np.maximum(1 - (first - second), 0)
    if score is ratio_of_columns:
        return second / first
    # log(max(p, tiny)) is finite, and 0 * finite = 0: 0 log 0 = 0. max(-0.0, 0)
    # is +0.0, so one-hot rows score +0.
    terms = np.log(np.maximum(cols, np.finfo(cols.dtype).tiny)) * cols
    return np.maximum(-in_order_sum(terms), 0)


@pytest.mark.parametrize("score", SCORERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CLASS_COUNTS)
@pytest.mark.parametrize("m", ROW_COUNTS)
def test_compiled_scores_equal_numpy_scores_bit_for_bit(score, m, c, dtype):
    cols = columns(probabilities(m, c, dtype, seed=m + c))
    compiled = score(cols)
    expected = numpy_scores(score, cols)
    assert expected.dtype == dtype
    assert compiled.dtype == dtype
    assert compiled.shape == (m,)
    assert compiled.tobytes() == expected.tobytes()


@pytest.mark.parametrize("score", SCORERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scores_refuse_columns_the_loops_do_not_take(score, dtype):
    cols = columns(probabilities(kernels.BLOCK + 1, 3, dtype))
    for layout in (strided(cols), np.asfortranarray(cols), cols.astype(np.float16)):
        with pytest.raises(TypeError, match="expected C-contiguous float class columns"):
            score(layout)


@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_scores_of_hand_worked_rows(dtype):
    rows = np.array([[0.5, 0.3, 0.2], [1.0, 0.0, 0.0], [0.4, 0.4, 0.2]], dtype)
    cols = columns(rows)
    one = dtype(1)
    np.testing.assert_array_equal(
        least_confidence_of_columns(cols), np.array([one - dtype(0.5), 0, one - dtype(0.4)])
    )
    np.testing.assert_array_equal(
        margin_of_columns(cols), np.array([one - (dtype(0.5) - dtype(0.3)), 0, one], dtype)
    )
    np.testing.assert_array_equal(
        ratio_of_columns(cols), np.array([dtype(0.3) / dtype(0.5), 0, 1], dtype)
    )
    expected = [-sum(p * math.log(p) for p in row if p > 0) for row in rows.astype(float)]
    np.testing.assert_allclose(entropy_of_columns(cols), expected, rtol=1e-6)
    assert entropy_of_columns(cols)[1] == 0
    assert not np.signbit(entropy_of_columns(cols)[1])


def test_loops_compile_in_memory_where_no_cache_directory_is_writable(monkeypatch):
    """numba refuses cache=True when it finds no writable cache directory; the
    loop is then compiled without a disk cache rather than failing the import."""
    real_njit = kernels.numba.njit

    def njit(*args, **options):
        if options.get("cache"):
            raise RuntimeError("cannot cache function: no locator available")
        return real_njit(*args, **options)

    monkeypatch.setattr(kernels.numba, "njit", njit)

    def add_one(values):
        return values + 1

    loop = kernels._compiled(add_one)
    assert loop(np.arange(3.0)).tolist() == [1.0, 2.0, 3.0]
    assert type(loop._cache).__name__ == "NullCache"
    assert type(kernels.max_into._cache).__name__ == "FunctionCache"
