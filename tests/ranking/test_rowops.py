import numpy as np
import pytest

from service.ranking.rowops import (
    column_max,
    column_sum,
    column_top_two,
    columns,
    require_columns,
)

WIDTHS = [2, 3, 5, 10, 32, 33, 100]
DTYPES = (np.float32, np.float64)


def values(c, dtype, seed=0, n=40):
    rng = np.random.default_rng(seed)
    # Small integers: many ties inside rows, including for the top two.
    return rng.integers(0, 4, size=(n, c)).astype(dtype) / 4


def test_columns_are_a_contiguous_copy_of_the_transpose():
    x = values(3, np.float64, n=5)
    cols = columns(x)
    assert cols.shape == (3, 5)
    assert cols.flags.c_contiguous
    np.testing.assert_array_equal(cols, x.T)
    cols[0, 0] = 99.0
    assert x[0, 0] != 99.0


@pytest.mark.parametrize("n", [1, 2])
def test_columns_of_a_single_row_or_column_are_still_a_copy(n):
    x = np.zeros((n, 1 if n == 2 else 4))
    cols = columns(x)
    cols[...] = 1.0
    assert (x == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", WIDTHS)
def test_column_max_is_the_largest_entry_of_each_row(c, dtype):
    x = values(c, dtype)
    out = column_max(columns(x))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, x.max(axis=1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", WIDTHS)
def test_column_top_two_are_the_two_largest_entries_ties_kept(c, dtype):
    x = values(c, dtype)
    first, second = column_top_two(columns(x))
    assert first.dtype == second.dtype == dtype
    ordered = np.sort(x, axis=1)
    np.testing.assert_array_equal(first, ordered[:, -1])
    np.testing.assert_array_equal(second, ordered[:, -2])


@pytest.mark.parametrize("c", range(2, 20))
def test_top_two_find_the_largest_wherever_they_sit(c):
    # Every placement of the largest and second-largest value in a row of c.
    rows = []
    for i in range(c):
        for j in range(c):
            if i != j:
                row = np.linspace(0.1, 0.2, c)
                row[i], row[j] = 0.9, 0.5
                rows.append(row)
    x = np.array(rows)
    first, second = column_top_two(columns(x))
    assert first.tolist() == [0.9] * len(rows)
    assert second.tolist() == [0.5] * len(rows)


@pytest.mark.parametrize("c", WIDTHS)
def test_a_tie_for_the_top_gives_equal_first_and_second(c):
    x = np.zeros((1, c))
    x[0, 0] = x[0, -1] = 0.5
    first, second = column_top_two(columns(x))
    assert first.tolist() == second.tolist() == [0.5]


def test_column_top_two_leaves_its_columns_alone_and_answers_new_arrays():
    x = values(7, np.float64)
    cols = columns(x)
    before = cols.copy()
    first, second = column_top_two(cols)
    first[:] = -1.0
    second[:] = -1.0
    np.testing.assert_array_equal(cols, before)


def test_column_top_two_needs_two_classes():
    with pytest.raises(TypeError, match=r"c >= 2"):
        column_top_two(np.zeros((1, 3)))


# Only what ``columns`` makes: C-contiguous float32 or float64 class columns, c >= 2.
NOT_COLUMNS = [
    pytest.param(np.full((4, 8), 0.25)[:, ::2], id="strided"),
    pytest.param(np.asfortranarray(np.full((4, 3), 0.25)), id="fortran-order"),
    pytest.param(np.full((4, 3), 0.25, np.float16), id="float16"),
    pytest.param(np.ones((4, 3), np.int64), id="int64"),
    pytest.param(np.full((2, 4, 3), 0.25), id="3-d"),
    pytest.param(np.full(4, 0.25), id="1-d"),
]


@pytest.mark.parametrize("cols", NOT_COLUMNS)
@pytest.mark.parametrize("op", [column_max, column_top_two, require_columns])
def test_column_max_and_top_two_refuse_anything_but_compiled_columns(op, cols):
    before = cols.copy()
    with pytest.raises(TypeError, match="expected C-contiguous float class columns"):
        op(cols)
    np.testing.assert_array_equal(cols, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_require_columns_accepts_what_columns_makes(dtype):
    assert require_columns(columns(values(2, dtype, n=1))) is None
    assert require_columns(columns(values(33, dtype))) is None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", WIDTHS)
def test_column_sum_adds_each_row(c, dtype):
    x = values(c, dtype)
    out = column_sum(columns(x))
    assert out.dtype == dtype
    np.testing.assert_allclose(out, x.astype(np.float64).sum(axis=1), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [3, 10, 32, 33, 100])
def test_column_sum_adds_the_classes_in_order(c, dtype):
    x = np.random.default_rng(c).normal(size=(7, c)).astype(dtype)
    expected = x[:, 0].copy()
    for j in range(1, c):
        expected += x[:, j]
    np.testing.assert_array_equal(column_sum(columns(x)), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [3, 10, 32, 33, 100])
def test_column_sum_of_a_row_does_not_depend_on_its_neighbours(c, dtype):
    rng = np.random.default_rng(c)
    for row in rng.normal(size=(20, c)).astype(dtype):
        alone = column_sum(columns(row[None, :]))[0]
        for n in [*range(2, 20), 1000, 8193]:
            assert (column_sum(columns(np.tile(row, (n, 1)))) == alone).all(), n


@pytest.mark.parametrize("op", [column_max, column_sum])
def test_column_reductions_accept_the_columns_of_a_view_of_a_chunk(op):
    x = values(100, np.float64)
    np.testing.assert_array_equal(op(columns(x[5:9])), op(columns(x))[5:9])


@pytest.mark.parametrize("op", [column_max, column_sum])
def test_column_reductions_accept_the_columns_of_a_transposed_view(op):
    x = values(10, np.float32)
    np.testing.assert_array_equal(op(columns(np.ascontiguousarray(x.T).T)), op(columns(x)))


def test_column_reductions_keep_the_dtype_and_shape():
    cols = columns(values(6, np.float32, n=9))
    for op in (column_max, column_sum):
        out = op(cols)
        assert out.shape == (9,)
        assert out.dtype == np.float32
