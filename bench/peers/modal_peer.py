"""modAL (modAL-python): uncertainty sampling and committee disagreement functions."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bench.peers.base import FittedClassifier, Peer, PeerCase


class FittedCommittee:
    """Stands in for a fitted modAL Committee whose members' predictions are the samples.

    The pool ``x`` is the samples array (n, t, c): member t predicted x[:, t].
    """

    def __init__(self, members: int, classes: int) -> None:
        self.learner_list = list(range(members))
        self.classes_ = np.arange(classes)

    def __len__(self) -> int:
        return len(self.learner_list)

    def __iter__(self) -> Iterator[int]:
        return iter(self.learner_list)

    def vote(self, x: np.ndarray, **kwargs: object) -> np.ndarray:
        return x.argmax(axis=2)

    def vote_proba(self, x: np.ndarray, **kwargs: object) -> np.ndarray:
        return x

    def predict_proba(self, x: np.ndarray, **kwargs: object) -> np.ndarray:
        return x.mean(axis=1)


def cases() -> list[PeerCase]:
    """modAL's *_sampling functions; each returns (indices, scores)."""
    from modAL.disagreement import (
        consensus_entropy_sampling,
        max_disagreement_sampling,
        vote_entropy_sampling,
    )
    from modAL.uncertainty import entropy_sampling, margin_sampling, uncertainty_sampling

    classifier = FittedClassifier()

    def committee(pool: np.ndarray) -> FittedCommittee:
        return FittedCommittee(pool.shape[1], pool.shape[2])

    return [
        PeerCase(
            "least_confidence",
            "modAL.uncertainty.uncertainty_sampling",
            lambda pool, k: uncertainty_sampling(classifier, pool, n_instances=k)[0],
        ),
        PeerCase(
            "margin",
            "modAL.uncertainty.margin_sampling",
            lambda pool, k: margin_sampling(classifier, pool, n_instances=k)[0],
            note="score p1 - p2, smallest first: the same order as ours",
        ),
        PeerCase(
            "entropy",
            "modAL.uncertainty.entropy_sampling",
            lambda pool, k: entropy_sampling(classifier, pool, n_instances=k)[0],
            note="scipy.stats.entropy renormalizes each row first",
        ),
        PeerCase(
            "predictive_entropy",
            "modAL.disagreement.consensus_entropy_sampling",
            lambda pool, k: consensus_entropy_sampling(committee(pool), pool, n_instances=k)[0],
            pool="samples",
        ),
        PeerCase(
            "vote_entropy",
            "modAL.disagreement.vote_entropy_sampling",
            lambda pool, k: vote_entropy_sampling(committee(pool), pool, n_instances=k)[0],
            pool="samples",
        ),
        PeerCase(
            "kl_max_disagreement",
            "modAL.disagreement.max_disagreement_sampling",
            lambda pool, k: max_disagreement_sampling(committee(pool), pool, n_instances=k)[0],
            pool="samples",
        ),
    ]


PEER = Peer("modAL", "modAL-python", cases)
