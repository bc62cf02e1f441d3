"""Top-k selection with a fixed tie rule: higher score first, then lower index.

Selection is O(n) with a partition, never a full sort of the pool; only the k
selected items are sorted. ``RunningTopK`` keeps the answer while a pool
arrives chunk by chunk, and gives exactly the answer of one call over the
whole pool, whatever the chunk boundaries.
"""

from __future__ import annotations

import numpy as np


def top_k_positions(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` best entries of ``scores`` (n,), in ascending position order.

    Among equal scores at the cut the lower positions are kept.
    """
    n = scores.shape[0]
    if k >= n:
        return np.arange(n)
    kth = np.partition(scores, n - k)[n - k]  # the k-th largest value
    above = np.flatnonzero(scores > kth)
    ties = np.flatnonzero(scores == kth)[: k - above.shape[0]]
    kept = np.concatenate([above, ties])
    kept.sort()
    return kept


def rank_order(indices: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Permutation sorting items by score descending, then by index ascending."""
    return np.lexsort((indices, -scores))


class RunningTopK:
    """The k best (index, score) pairs of a pool pushed in consecutive chunks.

    Candidates are kept in ascending index order, so "lower position" and
    "lower index" agree when the buffer is cut back to k. Once k candidates
    are known, a new item must beat the k-th best score strictly to enter: an
    equal score arrives with a higher index and loses the tie.

    Each item may carry a value besides the score it is ranked by (a
    strategy's score ranked by a random key, say); ``result_with_values``
    returns them.
    """

    def __init__(self, k: int) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.k = k
        self._indices: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self._size = 0
        self._threshold: float | None = None

    def push(
        self,
        scores: np.ndarray,
        offset: int,
        values: np.ndarray | None = None,
        indices: np.ndarray | None = None,
    ) -> None:
        """Add the scores (m,) of pool items ``offset .. offset + m - 1``.

        ``values`` (m,), if given, rides along with the scores. ``indices``
        (m,), if given, are the items' pool indices in place of ``offset ..``:
        ascending, and above every index pushed before.
        """
        if self._threshold is None:
            positions = np.arange(scores.shape[0])
        else:
            positions = (scores > self._threshold).nonzero()[0]
            if not positions.shape[0]:
                return
        kept = scores[positions]
        self._indices.append(positions + offset if indices is None else indices[positions])
        self._scores.append(kept)
        self._values.append(kept if values is None else values[positions])
        self._size += positions.shape[0]
        if self._size >= 2 * self.k:
            self._cut()

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices (k',), scores (k',)) best first, k' = min(k, items pushed)."""
        indices, scores, _ = self.result_with_values()
        return indices, scores

    def result_with_values(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indices, scores, values), each (k',), best first."""
        self._cut()
        indices, scores, values = self._indices[0], self._scores[0], self._values[0]
        order = rank_order(indices, scores)
        return indices[order], scores[order], values[order]

    def _cut(self) -> None:
        indices = _joined(self._indices, np.int64)
        scores = _joined(self._scores, np.float64)
        values = _joined(self._values, np.float64)
        kept = top_k_positions(scores, self.k)
        indices, scores, values = indices[kept], scores[kept], values[kept]
        self._indices, self._scores, self._values = [indices], [scores], [values]
        self._size = indices.shape[0]
        if indices.shape[0] == self.k:
            self._threshold = scores.min()


def _joined(parts: list[np.ndarray], empty_dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, empty_dtype)
