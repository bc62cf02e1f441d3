"""scikit-activeml: UncertaintySampling.query with a fitted classifier that is not refit."""

from __future__ import annotations

import numpy as np

from bench.peers.base import Peer, PeerCase

METHODS = {
    "least_confidence": "least_confident",
    "margin": "margin_sampling",
    "entropy": "entropy",
}


def cases() -> list[PeerCase]:
    """UncertaintySampling(method=...).query(X, y, clf, fit_clf=False, batch_size=k)."""
    from skactiveml.base import SkactivemlClassifier
    from skactiveml.pool import UncertaintySampling
    from skactiveml.utils import MISSING_LABEL

    class FittedSkactivemlClassifier(SkactivemlClassifier):
        """A fitted skactiveml classifier whose predict_proba returns the pool itself."""

        def fit(self, x: np.ndarray, y: np.ndarray, sample_weight: object = None) -> object:
            return self

        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            return x

    def query(method: str, pool: np.ndarray, k: int) -> np.ndarray:
        classifier = FittedSkactivemlClassifier(classes=np.arange(pool.shape[1]))
        strategy = UncertaintySampling(method=method, random_state=0)
        unlabeled = np.full(pool.shape[0], MISSING_LABEL)
        return strategy.query(pool, unlabeled, classifier, fit_clf=False, batch_size=k)

    return [
        PeerCase(
            ours,
            f'skactiveml.pool.UncertaintySampling(method="{method}")',
            lambda pool, k, method=method: query(method, pool, k),
            note="builds the batch with one argmax pass over the pool per pick",
        )
        for ours, method in METHODS.items()
    ]


PEER = Peer("scikit-activeml", "scikit-activeml", cases)
