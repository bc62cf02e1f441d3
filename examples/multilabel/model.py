"""The classifier: one logistic regression per label, its probabilities, micro- and macro-F1.

``OneVsRestClassifier`` fits a binary logistic regression per label; a
label that the training items all have, or all lack, gets scikit-learn's
constant predictor (probability 1 or 0) instead of a regression. The
probabilities are independent per label, P(label k present), as the
service's ``label_probabilities`` expect; a label is predicted when its
probability is at least 0.5.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier

THRESHOLD = 0.5


@dataclass(frozen=True)
class ModelSettings:
    """The logistic regressions' inverse regularization and L-BFGS iterations."""

    c: float = 1.0
    max_iterations: int = 1000

    def describe(self) -> str:
        """The estimator, as it is built."""
        return (
            f"OneVsRestClassifier(LogisticRegression(C={self.c:g}, max_iter={self.max_iterations}))"
        )


def fit(x: np.ndarray, y: np.ndarray, settings: ModelSettings) -> OneVsRestClassifier:
    """The classifier trained on items ``x`` with label sets ``y`` (N x L of 0 and 1)."""
    model = OneVsRestClassifier(LogisticRegression(C=settings.c, max_iter=settings.max_iterations))
    with warnings.catch_warnings():
        # A label with one class in the labeled items: the constant predictor, as intended.
        warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        model.fit(x, y)
    return model


def probabilities(model: OneVsRestClassifier, x: np.ndarray) -> np.ndarray:
    """N x L float64 probabilities, P(label k present) for each item, in [0, 1]."""
    return np.clip(np.asarray(model.predict_proba(x), dtype=np.float64), 0.0, 1.0)


def predict(model: OneVsRestClassifier, x: np.ndarray) -> np.ndarray:
    """N x L 0/1 predicted label sets: the labels at or above the threshold."""
    return (probabilities(model, x) >= THRESHOLD).astype(np.int64)


def f1_scores(model: OneVsRestClassifier, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(micro-F1, macro-F1) of the predicted label sets against ``y``.

    Micro-F1 pools every (item, label) decision; macro-F1 averages the
    labels' own F1, so a rare label weighs as much as a common one. A label
    never present and never predicted scores 0 there.
    """
    predicted = predict(model, x)
    micro = f1_score(y, predicted, average="micro", zero_division=0)
    macro = f1_score(y, predicted, average="macro", zero_division=0)
    return float(micro), float(macro)
