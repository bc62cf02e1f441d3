"""Discriminative active learning (Gissin & Shalev-Shwartz 2019), as small-text's
DiscriminativeActiveLearning runs it.

The batch is picked in ``rounds`` sub-batches (budget // rounds each, the
last one taking the rest). Each round trains a binary classifier to tell the
labeled items (the labeled embeddings and the picks so far) from a seeded
sample of the unlabeled pool, ``unlabeled_factor`` times as many, and picks
the pool items it gives the highest probability of being unlabeled: those
least like anything labeled. The classifier is L2-regularized logistic
regression with an unpenalized intercept, the objective of scikit-learn's
``LogisticRegression(C=1)``, fitted by L-BFGS.

Cost per round: the fit, O(iterations x m (1 + factor) x d), and one
prediction over the pool, O(n d). Memory: the training sample and O(n)
vectors.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from service.deadline import check_deadline

DEFAULT_ROUNDS = 10
DEFAULT_UNLABELED_FACTOR = 10
# L-BFGS stops here at the latest; scikit-learn's default max_iter is 100.
MAX_ITERATIONS = 200


def discriminative(
    embeddings: np.ndarray,
    labeled: np.ndarray,
    budget: int,
    *,
    eligible: np.ndarray,
    rng: np.random.Generator,
    rounds: int | None = None,
    unlabeled_factor: int = DEFAULT_UNLABELED_FACTOR,
) -> tuple[np.ndarray, np.ndarray]:
    """(indices (k,), scores (k,)): the eligible items of ``embeddings`` (n, d)
    picked round by round against ``labeled`` (m, d), m >= 1; each score is the
    item's probability of being unlabeled in its round. Within a round, picks
    go by probability, ties toward the lower index. ``rounds`` defaults to
    DEFAULT_ROUNDS, or the budget when smaller."""
    points = np.asarray(embeddings, dtype=np.float64)
    known = [np.asarray(labeled, dtype=np.float64)]
    available = eligible.copy()
    indices: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    start: np.ndarray | None = None
    for size in round_sizes(budget, min(DEFAULT_ROUNDS, budget) if rounds is None else rounds):
        check_deadline()
        positives = np.concatenate(known)
        pool = np.flatnonzero(available)
        drawn = rng.choice(
            pool, size=min(pool.shape[0], positives.shape[0] * unlabeled_factor), replace=False
        )
        drawn.sort()
        weights, intercept = fit_logistic(positives, points[drawn], start)
        start = np.append(weights, intercept)
        # The whole pool in one product, then the available rows: no (n, d) copy.
        probability = expit(points @ weights + intercept)[pool]
        order = np.lexsort((pool, -probability))[:size]
        indices.append(pool[order])
        scores.append(probability[order])
        available[pool[order]] = False
        known.append(points[pool[order]])
    dtype = np.result_type(embeddings.dtype, np.float32)
    return np.concatenate(indices), np.concatenate(scores).astype(dtype)


def round_sizes(budget: int, rounds: int) -> list[int]:
    """Picks per round: budget // rounds, the last round taking the rest."""
    if not 1 <= rounds <= budget:
        raise ValueError(f"expected 1 <= rounds <= budget ({budget}), got {rounds}")
    size = budget // rounds
    return [size] * (rounds - 1) + [budget - size * (rounds - 1)]


def fit_logistic(
    labeled: np.ndarray, unlabeled: np.ndarray, start: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """(weights (d,), intercept) of P(unlabeled | x) = sigmoid(w.x + b), minimizing
    0.5 ||w||^2 + sum_i log(1 + exp(-s_i (w.x_i + b))), s = -1 for ``labeled``
    (m, d) rows and +1 for ``unlabeled`` (u, d) rows.

    The objective is strictly convex, so its minimum does not depend on where
    L-BFGS starts: ``start`` (d + 1,), the last round's (w, b), only saves
    iterations."""
    features = np.concatenate([labeled, unlabeled])
    signs = np.concatenate([-np.ones(labeled.shape[0]), np.ones(unlabeled.shape[0])])
    width = features.shape[1]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        margins = signs * (features @ theta[:width] + theta[width])
        loss = -log_expit(margins).sum() + 0.5 * theta[:width] @ theta[:width]
        residual = -signs * expit(-margins)  # d loss / d (w.x + b)
        gradient = np.empty(width + 1)
        gradient[:width] = features.T @ residual + theta[:width]
        gradient[width] = residual.sum()
        return float(loss), gradient

    result = minimize(
        objective,
        np.zeros(width + 1) if start is None else start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": MAX_ITERATIONS, "gtol": 1e-9, "ftol": 1e-12},
    )
    return result.x[:width], float(result.x[width])
