import numpy as np
import pytest

from service.ranking.rowops import COLUMN_LOOP_LIMIT, row_max, row_sum, row_top_two

WIDTHS = [2, 3, COLUMN_LOOP_LIMIT, COLUMN_LOOP_LIMIT + 1, 100]
DTYPES = (np.float32, np.float64)


def values(c, dtype, seed=0):
    rng = np.random.default_rng(seed)
    # Small integers: many ties inside rows, including for the top two.
    return rng.integers(0, 4, size=(40, c)).astype(dtype) / 4


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


@pytest.mark.parametrize("c", WIDTHS)
def test_a_tie_for_the_top_gives_equal_first_and_second(c):
    x = np.zeros((1, c))
    x[0, 0] = x[0, -1] = 0.5
    first, second = row_top_two(x)
    assert first.tolist() == second.tolist() == [0.5]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", WIDTHS)
def test_row_sum_adds_each_row(c, dtype):
    x = values(c, dtype)
    out = row_sum(x)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, x.astype(np.float64).sum(axis=1), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [3, 10, COLUMN_LOOP_LIMIT, COLUMN_LOOP_LIMIT + 1, 100])
def test_row_sum_of_a_row_does_not_depend_on_its_neighbours(c, dtype):
    rng = np.random.default_rng(c)
    for row in rng.normal(size=(20, c)).astype(dtype):
        alone = row_sum(row[None, :])[0]
        for n in range(2, 20):
            assert (row_sum(np.tile(row, (n, 1))) == alone).all(), n


@pytest.mark.parametrize("op", [row_max, row_sum])
def test_row_reductions_accept_a_view_of_a_chunk(op):
    x = values(100, np.float64)
    np.testing.assert_array_equal(op(x[5:9]), op(x)[5:9])
