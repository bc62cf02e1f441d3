import pytest

from service.ranking.chunks import DEFAULT_CHUNK_BYTES, chunk_rows, chunk_slices


def test_chunk_rows_fits_whole_rows_in_the_target():
    assert chunk_rows(100, 1000) == 10
    assert chunk_rows(300, 1000) == 3
    assert chunk_rows(40) == DEFAULT_CHUNK_BYTES // 40


def test_chunk_rows_is_at_least_one_and_survives_empty_rows():
    assert chunk_rows(5000, 1000) == 1
    assert chunk_rows(0, 1000) == 1000


@pytest.mark.parametrize(("n_rows", "rows"), [(10, 3), (9, 3), (1, 5), (7, 1), (0, 4)])
def test_chunk_slices_cover_the_rows_in_order_without_overlap(n_rows, rows):
    slices = list(chunk_slices(n_rows, rows))
    covered = [i for part in slices for i in range(part.start, part.stop)]
    assert covered == list(range(n_rows))
    assert all(0 < part.stop - part.start <= rows for part in slices)


def test_chunk_slices_example():
    assert list(chunk_slices(7, 3)) == [slice(0, 3), slice(3, 6), slice(6, 7)]
