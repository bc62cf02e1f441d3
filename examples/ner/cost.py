"""Labeling cost in tokens: what an annotator reads and tags, sentence by sentence.

A round buys a fixed number of sentences, but long sentences cost more to
annotate than short ones, so the cost axis is the cumulative number of
tokens in the labeled sentences, the seed set included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class TokenLedger:
    """Which pool sentences are labeled, and what they cost in tokens.

    ``lengths[i]`` is pool sentence i's number of tokens. A sentence is paid
    for once: labeling it again is an error.
    """

    def __init__(self, lengths: Sequence[int]) -> None:
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if self.lengths.ndim != 1 or np.any(self.lengths < 1):
            raise ValueError("lengths must be a 1-d sequence of positive token counts")
        self.labeled = np.zeros(len(self.lengths), dtype=bool)
        self.tokens = 0

    @property
    def sentences(self) -> int:
        """Sentences labeled so far."""
        return int(self.labeled.sum())

    def unlabeled(self) -> np.ndarray:
        """Pool indices not labeled yet, ascending: position j of a request's pool is ``[j]``."""
        return np.flatnonzero(~self.labeled)

    def label(self, indices: Iterable[int]) -> int:
        """Label the pool sentences ``indices``; the tokens they cost (also added to ``tokens``)."""
        chosen = np.asarray(list(indices), dtype=np.int64)
        if len(np.unique(chosen)) != len(chosen):
            raise ValueError("a sentence appears twice in one labeling")
        if np.any(self.labeled[chosen]):
            raise ValueError(f"already labeled: {sorted(chosen[self.labeled[chosen]].tolist())}")
        cost = int(self.lengths[chosen].sum())
        self.labeled[chosen] = True
        self.tokens += cost
        return cost
