"""The user's model in the worked example: a logistic regression on the task features.

Swap in your own: ``rounds.run_round`` needs class probabilities over the
pool (columns in ``classes`` order), the label each pool task would get, and
embeddings for the strategies that take them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scored:
    """What the model says about the pool."""

    classes: tuple[str, ...]
    probabilities: np.ndarray
    labels: tuple[str, ...]


def fit_and_score(
    features: np.ndarray, labels: Sequence[str], pool: np.ndarray, *, seed: int = 0
) -> Scored:
    """Train on the annotated tasks; probabilities and labels for the pool's."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(
            f"annotate tasks of at least two classes first (the annotated ones are {classes})"
        )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    model.fit(features, list(labels))
    probabilities = np.asarray(model.predict_proba(pool), dtype=np.float64)
    order = [str(name) for name in model.classes_]
    predicted = tuple(order[column] for column in probabilities.argmax(axis=1))
    return Scored(tuple(order), probabilities, predicted)


def embeddings(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Features standardized by ``reference``'s mean and spread, float32."""
    mean = reference.mean(axis=0)
    spread = reference.std(axis=0)
    spread[spread == 0] = 1.0
    return ((features - mean) / spread).astype(np.float32)
