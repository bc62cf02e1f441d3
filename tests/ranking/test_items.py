"""Chunks of pool items from row chunks, and unit scores reduced to item scores."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ranking.items import ragged_chunks, reduce_units


def row_chunks(array, cuts):
    """(first row, rows) views of ``array`` cut before each row in ``cuts``."""
    bounds = [0, *sorted(set(cuts)), array.shape[0]]
    return [(a, array[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 5), min_size=1, max_size=30),
    data=st.data(),
)
def test_ragged_chunks_cover_each_item_once_in_order_whatever_the_cuts(lengths, data):
    lengths = np.array(lengths, dtype=np.int64)
    total = int(lengths.sum())
    rows = np.arange(total * 2, dtype=np.float64).reshape(total, 2)
    cuts = data.draw(st.lists(st.integers(1, max(1, total - 1)), max_size=8)) if total > 1 else []
    chunks = list(ragged_chunks(row_chunks(rows, cuts), lengths))
    if total == 0:
        assert chunks == []
        return
    seen_items, seen_rows = [], []
    for chunk in chunks:
        assert chunk.offset == len(seen_items)
        assert chunk.row_offset == sum(lengths[: chunk.offset])
        assert chunk.rows.shape[0] == int(chunk.lengths.sum())
        np.testing.assert_array_equal(
            chunk.rows, rows[chunk.row_offset : chunk.row_offset + chunk.rows.shape[0]]
        )
        seen_items += range(chunk.offset, chunk.offset + chunk.size)
        seen_rows.append(chunk.rows)
    # Trailing items without rows arrive with the last row chunk.
    assert seen_items == list(range(len(lengths)))[: len(seen_items)]
    assert not lengths[len(seen_items) :].any()
    np.testing.assert_array_equal(np.concatenate(seen_rows), rows)


def test_only_an_item_cut_by_a_chunk_boundary_is_copied():
    lengths = np.array([2, 3, 2, 1])
    rows = np.arange(16.0).reshape(8, 2)
    chunks = list(ragged_chunks(row_chunks(rows, [3, 6]), lengths))
    assert [(c.offset, c.size) for c in chunks] == [(0, 1), (1, 1), (2, 1), (3, 1)]
    # Item 0 lies within the first row chunk: a view; items 1 and 2 were cut.
    assert np.shares_memory(chunks[0].rows, rows)
    assert not np.shares_memory(chunks[1].rows, rows)
    assert np.shares_memory(chunks[3].rows, rows)


@pytest.mark.parametrize("how", ["max", "mean", "sum"])
def test_reduce_units_over_ragged_items_with_empty_ones(how):
    scores = np.array([0.1, 0.7, 0.4, 0.2, 0.9])
    lengths = np.array([0, 2, 0, 3, 0])
    reduced = reduce_units(scores, lengths, 5, how)
    expected = {"max": [0, 0.7, 0, 0.9, 0], "mean": [0, 0.4, 0, 0.5, 0], "sum": [0, 0.8, 0, 1.5, 0]}
    np.testing.assert_allclose(reduced, expected[how])


@pytest.mark.parametrize("how", ["max", "mean", "sum"])
def test_reduce_units_over_label_major_units(how):
    # Two items, three labels: unit k * n + i is label k of item i.
    scores = np.array([0.1, 0.2, 0.5, 0.4, 0.3, 0.9])
    reduced = reduce_units(scores, None, 2, how)
    expected = {"max": [0.5, 0.9], "mean": [0.3, 0.5], "sum": [0.9, 1.5]}
    np.testing.assert_allclose(reduced, expected[how])
