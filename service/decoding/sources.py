"""A pool array that can be read as consecutive row chunks along the pool axis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from service.ranking.chunks import chunk_slices


class PoolSource(Protocol):
    """Rows of one input array; ``chunks`` or ``read_all`` may be called once.

    Chunks are cut along the array's first axis.
    """

    name: str
    shape: tuple[int, ...]

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first row number, rows) pairs with at most ``rows`` rows each."""
        ...

    def read_all(self) -> np.ndarray:
        """The whole array."""
        ...


class ArraySource:
    """An in-memory array as a PoolSource."""

    def __init__(self, array: np.ndarray, *, name: str) -> None:
        self.name = name
        self.array = array
        self.shape: tuple[int, ...] = array.shape

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        for part in chunk_slices(self.shape[0], rows):
            yield part.start, self.array[part]

    def read_all(self) -> np.ndarray:
        return self.array


class ReorderedSource:
    """A source whose axes were sent in ``sent`` order, read in ``wanted`` order.

    Both name the same axes, e.g. sent "TNC", wanted "NTC". When the pool axis
    N comes first in both, rows still stream chunk by chunk and each chunk is
    transposed as a view; otherwise the whole array is read first (bounded by
    the size limits) and chunked as a transposed view.
    """

    def __init__(self, source: PoolSource, *, sent: str, wanted: str) -> None:
        self.name = source.name
        self._source = source
        self._order = tuple(sent.index(axis) for axis in wanted)
        self._streams = sent[0] == wanted[0]
        self.shape = tuple(source.shape[axis] for axis in self._order)

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        if not self._streams:
            yield from ArraySource(self.read_all(), name=self.name).chunks(rows)
            return
        for offset, chunk in self._source.chunks(rows):
            yield offset, chunk.transpose(self._order)

    def read_all(self) -> np.ndarray:
        return self._source.read_all().transpose(self._order)


class UnpaddedSource:
    """The token rows of a padded array (n, l_max, ...) as a flat source
    (sum of lengths, ...): item ``i``'s first ``lengths[i]`` rows, its padding
    never copied. Padded rows stream in chunks of whole items, so a chunk of
    ``rows`` token rows reads at most about ``rows`` padded ones.
    """

    def __init__(self, source: PoolSource, lengths: np.ndarray) -> None:
        self.name = source.name
        self._source = source
        self._lengths = lengths
        self._longest = source.shape[1]
        self.shape: tuple[int, ...] = (int(lengths.sum(dtype=np.int64)), *source.shape[2:])

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        items = max(1, rows // max(1, self._longest))
        token = 0
        for item, padded in self._source.chunks(items):
            tokens = self._tokens(padded, item)
            yield token, tokens
            token += tokens.shape[0]

    def read_all(self) -> np.ndarray:
        return self._tokens(self._source.read_all(), 0)

    def _tokens(self, padded: np.ndarray, item: int) -> np.ndarray:
        """The real tokens of items ``item`` .. of ``padded`` (m, l_max, ...)."""
        lengths = self._lengths[item : item + padded.shape[0]]
        rows = padded.reshape(-1, *padded.shape[2:])  # a view when contiguous
        # Flat row of token t of item i: i * l_max + t. A take of row indices
        # is twice as fast as a two-axis boolean mask.
        starts = np.arange(lengths.shape[0], dtype=np.int64) * self._longest
        firsts = np.cumsum(lengths) - lengths  # each item's first token among the real ones
        within = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(firsts, lengths)
        tokens: np.ndarray = np.take(rows, np.repeat(starts, lengths) + within, axis=0)
        return tokens
