import numpy as np
import pytest

from service.ranking.rowops import (
    column_max,
    column_sum,
    column_top_two,
    columns,
    row_max,
    row_sum,
    row_top_two,
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
def test_row_max_is_the_largest_entry(c, dtype):
    x = values(c, dtype)
    out = row_max(x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, x.max(axis=1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", WIDTHS)
def test_row_top_two_are_the_two_largest_entries_ties_kept(c, dtype):
    x = values(c, dtype)
    first, second = row_top_two(x)
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
    first, second = row_top_two(x)
    assert first.tolist() == [0.9] * len(rows)
    assert second.tolist() == [0.5] * len(rows)


@pytest.mark.parametrize("c", WIDTHS)
def test_a_tie_for_the_top_gives_equal_first_and_second(c):
    x = np.zeros((1, c))
    x[0, 0] = x[0, -1] = 0.5
    first, second = row_top_two(x)
    assert first.tolist() == second.tolist() == [0.5]


def test_column_top_two_leaves_its_columns_alone_and_answers_new_arrays():
    x = values(7, np.float64)
    cols = columns(x)
    before = cols.copy()
    first, second = column_top_two(cols)
    first[:] = -1.0
    second[:] = -1.0
    np.testing.assert_array_equal(cols, before)


def test_column_top_two_needs_two_columns():
    with pytest.raises(ValueError, match="at least 2 columns"):
        column_top_two(np.zeros((1, 3)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", WIDTHS)
def test_row_sum_adds_each_row(c, dtype):
    x = values(c, dtype)
    out = row_sum(x)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, x.astype(np.float64).sum(axis=1), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [3, 10, 32, 33, 100])
def test_row_sum_adds_the_classes_in_order(c, dtype):
    x = np.random.default_rng(c).normal(size=(7, c)).astype(dtype)
    expected = x[:, 0].copy()
    for j in range(1, c):
        expected += x[:, j]
    np.testing.assert_array_equal(row_sum(x), expected)
    np.testing.assert_array_equal(column_sum(columns(x)), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [3, 10, 32, 33, 100])
def test_row_sum_of_a_row_does_not_depend_on_its_neighbours(c, dtype):
    rng = np.random.default_rng(c)
    for row in rng.normal(size=(20, c)).astype(dtype):
        alone = row_sum(row[None, :])[0]
        for n in [*range(2, 20), 1000, 8193]:
            assert (row_sum(np.tile(row, (n, 1))) == alone).all(), n


@pytest.mark.parametrize("op", [row_max, row_sum])
def test_row_reductions_accept_a_view_of_a_chunk(op):
    x = values(100, np.float64)
    np.testing.assert_array_equal(op(x[5:9]), op(x)[5:9])


@pytest.mark.parametrize("op", [row_max, row_sum])
def test_row_reductions_accept_a_transposed_view(op):
    x = values(10, np.float32)
    np.testing.assert_array_equal(op(np.ascontiguousarray(x.T).T), op(x))


def test_column_reductions_keep_the_dtype_and_shape():
    cols = columns(values(6, np.float32, n=9))
    for op in (column_max, column_sum):
        out = op(cols)
        assert out.shape == (9,)
        assert out.dtype == np.float32
