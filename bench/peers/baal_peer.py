"""baal: heuristics from baal.active.heuristics, called on numpy predictions.

baal takes predictions as [n_sample, n_classes, n_iterations], so samples are
handed over transposed to (n, c, t) and made contiguous before timing.
"""

from __future__ import annotations

import numpy as np

from bench.peers.base import Peer, PeerCase


def as_baal_layout(samples: np.ndarray) -> np.ndarray:
    """(n, t, c) samples as baal's contiguous (n, c, t)."""
    return np.ascontiguousarray(samples.transpose(0, 2, 1))


def cases() -> list[PeerCase]:
    """baal's heuristics; calling one returns the whole pool ranked, best first."""
    from baal.active.heuristics import BALD, Certainty, Entropy, Margin, Variance

    return [
        PeerCase(
            "least_confidence",
            "baal.active.heuristics.Certainty",
            lambda pool, k: Certainty()(pool)[:k],
            note="ranks the whole pool with a full argsort",
        ),
        PeerCase(
            "margin",
            "baal.active.heuristics.Margin",
            lambda pool, k: Margin()(pool)[:k],
            note="p1 - p2 from a full sort of every row",
        ),
        PeerCase(
            "entropy",
            "baal.active.heuristics.Entropy",
            lambda pool, k: Entropy()(pool)[:k],
            note="scipy.stats.entropy, rows renormalized",
        ),
        PeerCase(
            "bald",
            "baal.active.heuristics.BALD",
            lambda pool, k: BALD()(pool)[:k],
            pool="samples_nct",
        ),
        PeerCase(
            "predictive_entropy",
            "baal.active.heuristics.Entropy",
            lambda pool, k: Entropy()(pool)[:k],
            pool="samples_nct",
            note="on samples: entropy of the mean over passes",
        ),
        PeerCase(
            "mean_std",
            "baal.active.heuristics.Variance",
            lambda pool, k: Variance()(pool)[:k],
            pool="samples_nct",
            same_score=False,
            note="mean over classes of the variance over passes; ours averages the std",
        ),
    ]


PEER = Peer("baal", "baal", cases)
