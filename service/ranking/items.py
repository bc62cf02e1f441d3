"""Chunks of pool items: the rows of an input array grouped by the item they describe.

Most input kinds give one row per pool item. A ragged kind gives each item
``lengths[i]`` consecutive rows (the tokens of a sequence, say); its chunks
are cut at item boundaries, so an item's rows always arrive together however
the array's rows were chunked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from service.deadline import check_deadline
from service.ranking import kernels

RowChunks = Iterable[tuple[int, np.ndarray]]


# Made once per chunk, hundreds of times per request: slots and no frozen
# __setattr__ make it three times cheaper to build.
@dataclass(slots=True)
class Chunk:
    """Consecutive pool items from ``offset``: their rows of the input array.

    ``rows`` starts at array row ``row_offset`` (equal to ``offset`` when each
    item has one row); ``lengths`` (n,) holds each item's row count for a
    ragged array and is None otherwise.
    """

    offset: int
    rows: np.ndarray
    row_offset: int
    lengths: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Pool items in the chunk."""
        return int(self.rows.shape[0] if self.lengths is None else self.lengths.shape[0])


def item_chunks(row_chunks: RowChunks) -> Iterator[Chunk]:
    """Chunks of an array with one row per item, from (first row, rows) pairs.

    Each chunk checks the request's deadline first (see service.deadline).
    """
    for offset, rows in row_chunks:
        check_deadline()
        yield Chunk(offset, rows, offset)


def ragged_chunks(row_chunks: RowChunks, lengths: np.ndarray) -> Iterator[Chunk]:
    """Chunks of a ragged array, item ``i`` owning ``lengths[i]`` >= 0 consecutive rows.

    ``row_chunks`` are (first row, rows) pairs covering the array in order, of
    any sizes; ``lengths`` (n,) are integers >= 0 summing to its row count.
    The items whose rows all arrived with a row chunk are yielded as a view of
    it; an item cut by a chunk boundary waits for the rest of its rows and is
    yielded on its own, so that only its rows are ever copied. The deadline
    is checked as in ``item_chunks``.
    """
    ends = np.cumsum(lengths, dtype=np.int64)
    item = 0  # first item not yet yielded
    held: list[np.ndarray] = []  # the rows of item ``item`` that arrived so far
    held_from = 0  # the array row where ``held`` starts
    for offset, rows in row_chunks:
        check_deadline()
        # Items whose last row has arrived: item .. last - 1.
        last = int(np.searchsorted(ends, offset + rows.shape[0], side="right"))
        if last == item:
            if rows.shape[0]:
                if not held:
                    held_from = offset
                held.append(rows)
            continue
        start = 0  # the first row of ``rows`` not yet yielded
        if held:
            start = int(ends[item]) - offset
            cut = np.concatenate([*held, rows[:start]])
            yield Chunk(item, cut, held_from, lengths[item : item + 1])
            held, item = [], item + 1
        if last > item:
            stop = int(ends[last - 1]) - offset
            yield Chunk(item, rows[start:stop], offset + start, lengths[item:last])
            start, item = stop, last
        if start < rows.shape[0]:
            held, held_from = [rows[start:]], offset + start


def reduce_units(
    unit_scores: np.ndarray, lengths: np.ndarray | None, n_items: int, how: str
) -> np.ndarray:
    """Per-item scores (n,) from the scores of the items' units, by ``how``:
    "max", "mean" or "sum" over each item's units.

    ``lengths`` (n,) >= 0 counts each item's consecutive units, and an item
    with none scores 0; None means every item has ``unit_scores.shape[0] //
    n_items`` units, unit-major (all items' first unit, then all their second
    unit, ...).
    """
    reduced: np.ndarray
    if lengths is None:
        grouped = unit_scores.reshape(-1, n_items)
        if how == "max":
            reduced = grouped.max(axis=0)
        else:
            reduced = grouped.sum(axis=0) if how == "sum" else grouped.mean(axis=0)
        return reduced
    reduced = np.zeros(n_items, dtype=unit_scores.dtype)
    if not unit_scores.shape[0]:
        return reduced
    if how == "max" and kernels.compiled_layout(unit_scores[None, :]):
        # One pass; np.maximum.reduceat costs twice np.add.reduceat's time.
        kernels.segment_max_into(unit_scores, lengths.astype(np.int64, copy=False), reduced)
        return reduced
    present = lengths > 0
    starts = np.zeros(n_items, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    # reduceat over the items that have units: an empty segment would give
    # the next unit's score instead of nothing.
    counted = starts[present]
    if how == "max":
        reduced[present] = np.maximum.reduceat(unit_scores, counted)
        return reduced
    sums = np.add.reduceat(unit_scores, counted)
    if how == "mean":
        sums /= lengths[present].astype(sums.dtype)
    reduced[present] = sums
    return reduced
