"""The model being taught: logistic regression, and what it tells the service about the pool.

- probabilities: the model's predict_proba over the pool, N x C.
- samples: a committee of logistic regressions, each fitted on a stratified
  bootstrap of the labeled set, N x T x C; for the Bayesian and committee
  strategies (BALD, vote entropy, ...).
- embeddings: the standardized features with a constant 1 appended, N x (D + 1).
  Logistic regression is a single linear layer over its input, so its input is
  its "hidden representation": BADGE's gradient embedding
  (p - onehot(argmax p)) (x) h is then exactly the gradient of the log-loss
  with respect to the weights and the intercept at the predicted label, and
  coreset's distances are Euclidean distances in the standardized feature
  space (the constant column does not change them).

Arrays are sent as float32: half the bytes of float64, and ample precision
for ranking.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

COMMITTEE_SIZE = 5
MAX_ITER = 1000


def fit(features: np.ndarray, labels: np.ndarray) -> LogisticRegression:
    """A logistic regression (L2, C = 1) fitted to the labeled items."""
    model = LogisticRegression(C=1.0, max_iter=MAX_ITER)
    with warnings.catch_warnings():
        # A handful of separable labels never converges exactly; the fit is still usable.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features, labels)
    return model


def probabilities(
    model: LogisticRegression, features: np.ndarray, classes: np.ndarray
) -> np.ndarray:
    """predict_proba over ``features`` as N x len(classes) float32, a column per class.

    A class the model never saw gets probability 0.
    """
    known = model.predict_proba(features)
    full = np.zeros((len(features), len(classes)), dtype=np.float64)
    full[:, np.searchsorted(classes, model.classes_)] = known
    return full.astype(np.float32)


def committee_samples(
    features: np.ndarray,
    labels: np.ndarray,
    pool: np.ndarray,
    classes: np.ndarray,
    rng: np.random.Generator,
    size: int = COMMITTEE_SIZE,
) -> np.ndarray:
    """N x T x C probabilities of ``pool`` from ``size`` models, each fitted on a bootstrap.

    Each bootstrap resamples every class's labeled items with replacement, so
    every member sees every class the labeled set holds.
    """
    return committee_probabilities(committee(features, labels, rng, size), pool, classes)


def committee(
    features: np.ndarray, labels: np.ndarray, rng: np.random.Generator, size: int = COMMITTEE_SIZE
) -> list[LogisticRegression]:
    """``size`` logistic regressions, each fitted on a stratified bootstrap of the labeled items.

    ``features`` (n, D) and ``labels`` (n,) are the labeled items.
    """
    members = []
    for _ in range(size):
        rows = stratified_bootstrap(labels, rng)
        members.append(fit(features[rows], labels[rows]))
    return members


def committee_probabilities(
    members: list[LogisticRegression], pool: np.ndarray, classes: np.ndarray
) -> np.ndarray:
    """Each member's probabilities over ``pool`` (N, D): N x T x len(classes) float32."""
    return np.stack([probabilities(model, pool, classes) for model in members], axis=1)


def stratified_bootstrap(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices drawn with replacement, the same count from each class as it has."""
    rows = [
        rng.choice(members, size=len(members), replace=True)
        for members in (np.flatnonzero(labels == label) for label in np.unique(labels))
    ]
    return np.concatenate(rows)


def embeddings(features: np.ndarray) -> np.ndarray:
    """The model's input with a constant 1 for the intercept, N x (D + 1) float32."""
    ones = np.ones((len(features), 1), dtype=np.float32)
    return np.hstack([features.astype(np.float32), ones])
