"""What a peer library offers the bench: cases that select k items from a pool."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

import numpy as np

# A pool array (probabilities (n, c) or samples (n, t, c)) and k -> the k picked indices.
Select = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class PeerCase:
    """One of the peer's strategies matched to one of ours.

    ``call`` names the public function or class the peer's users call;
    ``pool`` is the input it takes ("probabilities" or "samples").
    ``same_score`` is False when the peer's score differs from ours by more
    than rounding, as ``note`` explains; its picks are then compared for
    information only.
    """

    strategy: str
    call: str
    select: Select
    pool: str = "probabilities"
    same_score: bool = True
    note: str = ""


@dataclass(frozen=True)
class Peer:
    """A peer library: its PyPI distribution and a loader of its cases."""

    name: str
    distribution: str
    load: Callable[[], list[PeerCase]]

    def version(self) -> str:
        """The installed version; PackageNotFoundError when it is not installed."""
        return metadata.version(self.distribution)


class FittedClassifier:
    """Stands in for a fitted classifier whose predict_proba returns the pool itself.

    The bench passes the probability array (or samples array) as the pool
    ``x``, so a peer spends its time on selection, not on a model.
    """

    def predict_proba(self, x: np.ndarray, **kwargs: object) -> np.ndarray:
        return x
