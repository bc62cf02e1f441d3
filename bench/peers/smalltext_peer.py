"""small-text: query strategies called with query(clf, dataset, unlabeled, labeled, y, n)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.peers.base import FittedClassifier, Peer, PeerCase


def cases() -> list[PeerCase]:
    """small-text's confidence-based strategies and BALD."""
    from small_text import BALD, BreakingTies, LeastConfidence, PredictionEntropy

    classifier = FittedClassifier()

    def query(strategy: Any, pool: np.ndarray, k: int) -> np.ndarray:
        unlabeled = np.arange(pool.shape[0])
        labeled = np.empty(0, dtype=np.int64)
        return strategy.query(classifier, pool, unlabeled, labeled, labeled, n=k)

    return [
        PeerCase(
            "least_confidence",
            "small_text.LeastConfidence",
            lambda pool, k: query(LeastConfidence(), pool, k),
        ),
        PeerCase(
            "margin",
            "small_text.BreakingTies",
            lambda pool, k: query(BreakingTies(), pool, k),
            note="score p1 - p2 by a per-row argsort (np.apply_along_axis)",
        ),
        PeerCase(
            "entropy",
            "small_text.PredictionEntropy",
            lambda pool, k: query(PredictionEntropy(), pool, k),
            note="scipy.stats.entropy per row (np.apply_along_axis)",
        ),
        PeerCase(
            "bald",
            "small_text.BALD",
            lambda pool, k: query(BALD(dropout_samples=pool.shape[1]), pool, k),
            pool="samples",
            note="in bits, with log2(p + 1e-8) in place of 0 log 0 = 0",
        ),
    ]


PEER = Peer("small-text", "small-text", cases)
