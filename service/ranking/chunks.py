"""Split the pool axis into cache-sized chunks."""

from __future__ import annotations

from collections.abc import Iterator

# 512 KiB of input per chunk keeps a chunk and its few temporaries in L2/L3.
DEFAULT_CHUNK_BYTES = 1 << 19


def chunk_rows(row_bytes: int, target_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Number of rows of ``row_bytes`` bytes each that fit in ``target_bytes``."""
    return max(1, target_bytes // max(1, row_bytes))


def chunk_slices(n_rows: int, rows: int) -> Iterator[slice]:
    """Consecutive slices of at most ``rows`` rows covering ``range(n_rows)``."""
    for start in range(0, n_rows, rows):
        yield slice(start, min(start + rows, n_rows))
