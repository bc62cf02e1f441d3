"""Uncertainty weighed by where an item lies among the others: ranked batch and
information density.

Both take an uncertainty score per item (n,), computed from the class
probabilities by a pointwise strategy, and the items' ``embeddings`` (n, d),
and return ``(indices, scores)`` as the functions of ``diversity`` do: the
eligible items in pick order, their scores higher = label first, in the
float dtype of the embeddings. Neither forms an (n, n) matrix.
"""

from __future__ import annotations

import numpy as np

from service.deadline import check_deadline
from service.ranking.clustering import (
    NearestCenters,
    centered,
    float_dtype,
    nearest_sq_distances,
    row_sq_norms,
    sq_distances_to,
    unit_rows,
)
from service.ranking.rowops import columns
from service.ranking.topk import rank_order, top_k_positions
from service.ranking.uncertainty import margin_of_columns

# As in diversity.coreset: labeled points are tracked as centers for skipping
# while they number at most 1 / TRACKED_LABELED_SHARE of the pool.
TRACKED_LABELED_SHARE = 8


def ranked_batch(
    uncertainty: np.ndarray,
    embeddings: np.ndarray,
    budget: int,
    *,
    eligible: np.ndarray,
    labeled: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Ranked batch-mode sampling (Cardoso et al. 2017; modAL's
    ``uncertainty_batch_sampling``).

    Each pick maximizes ``alpha * (1 - sim(x)) + (1 - alpha) * u(x)``, where
    ``sim(x) = 1 / (1 + min_j ||x - c_j||)`` over the centers c (the
    ``labeled`` embeddings (m, d) and the picks so far) and ``alpha = |U| /
    (|U| + |centers|)``, U the eligible items not yet picked; ties go to the
    lower index. Without a labeled set the first pick is the eligible item
    nearest the mean of the embeddings (coreset's cold start), scored 1:
    with no center every distance term is 1 and alpha is 1.

    Cost O(m n d) to start from a labeled set (in blocks), then at most
    O(n d) per pick: each pick updates the nearest-center distances, which are
    never recomputed against all centers, and skips the items it provably
    cannot bring closer (``clustering.NearestCenters``, as coreset does).
    Extra memory: one centered copy of the embeddings, O(n) vectors.
    """
    if labeled is not None and labeled.shape[0] == 0:
        labeled = None
    dtype = float_dtype(embeddings) if labeled is None else float_dtype(embeddings, labeled)
    points, mean = centered(embeddings, dtype)
    norms = row_sq_norms(points)
    weights = np.asarray(uncertainty, dtype=dtype)
    available = eligible.copy()
    indices = np.empty(budget, dtype=np.int64)
    scores = np.empty(budget, dtype=dtype)
    start, centers = 0, 0
    if labeled is None:
        first = int(np.argmin(np.where(eligible, norms, np.inf)))
        indices[0], scores[0], start, centers = first, 1.0, 1, 1
        available[first] = False
        known = points[[first]]
        gaps, owners = sq_distances_to(points, norms, first), np.zeros(len(points), np.int64)
    else:
        known = np.subtract(labeled, mean, dtype=dtype)
        gaps, owners = nearest_sq_distances(points, norms, known)
        centers = labeled.shape[0]
        if known.shape[0] * TRACKED_LABELED_SHARE > points.shape[0]:
            known, owners[:] = known[:0], -1  # too many to bound against each pick
    gaps[~available] = -np.inf  # frozen: never picked, never updated
    # Items a new center provably cannot bring closer are skipped (as coreset does).
    tracker = NearestCenters(points, norms, gaps, owners, known, capacity=budget)
    remaining = int(available.sum())
    # alpha (1 - r) + (1 - alpha) u, r = 1 / (1 + distance), has the argmax of
    # u (1 - alpha) / alpha - r: computed in place, in two buffers, with the
    # unavailable items' u at -inf (centers > 0 here, so alpha < 1).
    candidates = np.where(available, weights, -np.inf).astype(dtype)
    closeness = np.empty_like(gaps)
    ranked = np.empty_like(gaps)
    for k in range(start, budget):
        check_deadline()
        alpha = remaining / (remaining + centers)
        np.maximum(gaps, 0, out=closeness)
        np.sqrt(closeness, out=closeness)
        closeness += 1
        np.reciprocal(closeness, out=closeness)
        np.multiply(candidates, (1 - alpha) / alpha, out=ranked)
        ranked -= closeness
        pick = int(np.argmax(ranked))
        indices[k] = pick
        scores[k] = alpha * (1 - closeness[pick]) + (1 - alpha) * weights[pick]
        candidates[pick] = -np.inf
        gaps[pick] = -np.inf
        remaining, centers = remaining - 1, centers + 1
        if k + 1 < budget:
            tracker.add(pick)
    return indices, scores


def information_density(
    uncertainty: np.ndarray,
    embeddings: np.ndarray,
    budget: int,
    *,
    eligible: np.ndarray,
    power: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Information density (Settles & Craven 2008): ``u(x) * density(x)^power``.

    ``density(x)`` is the mean cosine similarity of x to every item of the
    pool (itself included), held at 0 where it is negative. It is computed
    exactly in O(n d): the mean of cos(x, x_j) over j is x's unit vector
    dotted with the mean of the unit vectors. An all-zero embedding has
    density 0. The top ``budget`` eligible scores, ties toward the lower index.
    """
    dtype = float_dtype(embeddings)
    values = np.asarray(embeddings, dtype=dtype)
    units = unit_rows(values)
    density = np.maximum(units @ units.mean(axis=0), 0)
    scores = np.asarray(uncertainty, dtype=dtype) * density**power
    candidates = np.flatnonzero(eligible)
    kept = candidates[top_k_positions(scores[candidates], budget)]
    order = rank_order(kept, scores[kept])
    return kept[order], scores[kept[order]]


def falcun(
    probs: np.ndarray,
    budget: int,
    *,
    eligible: np.ndarray,
    rng: np.random.Generator,
    gamma: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """FALCUN (Gilhuber et al. 2024; scikit-activeml's Falcun): uncertain and
    diverse in the space of the class probabilities ``probs`` (n, c) alone.

    u(x) = 1 - (p1 - p2), the margin score. The diversity term starts as u;
    after each pick it becomes the minimum of itself and the L1 distance of
    p(x) to the pick's probabilities, then is min-max scaled over the
    candidates (the eligible items), as scikit-activeml does. Each pick is
    drawn with probability proportional to (u + diversity)^gamma among the
    candidates not yet picked (uniformly when all are 0), from ``rng``;
    its score is that relevance. O(n c) per pick.
    """
    candidates = np.flatnonzero(eligible)
    rows = np.asarray(probs[candidates], dtype=float_dtype(probs))
    uncertainty = margin_of_columns(columns(rows))
    diversity = uncertainty.copy()
    taken = np.zeros(candidates.shape[0], dtype=bool)
    indices = np.empty(budget, dtype=np.int64)
    scores = np.empty(budget, dtype=rows.dtype)
    position = -1  # the last pick's row
    for k in range(budget):
        check_deadline()
        if k > 0:
            distances = np.abs(rows - rows[position]).sum(axis=1)
            np.minimum(diversity, distances, out=diversity)
            low = diversity.min()
            spread = diversity.max() - low
            diversity -= low
            if spread > 0:
                diversity /= spread
        relevance = (uncertainty + diversity) ** gamma
        relevance[taken] = 0
        total = relevance.sum()
        weights = relevance / total if total > 0 else (~taken) / np.count_nonzero(~taken)
        position = int(rng.choice(candidates.shape[0], p=weights))
        taken[position] = True
        indices[k], scores[k] = candidates[position], relevance[position]
    return indices, scores
