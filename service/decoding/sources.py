"""A pool array that can be read as consecutive row chunks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from service.ranking.chunks import chunk_slices


class PoolSource(Protocol):
    """Rows of one input array, pool axis first; ``chunks`` may be called once."""

    name: str
    shape: tuple[int, ...]

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first row number, rows) pairs with at most ``rows`` rows each."""
        ...


class ArraySource:
    """An in-memory array as a PoolSource."""

    def __init__(self, array: np.ndarray, *, name: str) -> None:
        self.name = name
        self.array = array
        self.shape = array.shape

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        for part in chunk_slices(self.shape[0], rows):
            yield part.start, self.array[part]
