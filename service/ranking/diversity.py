"""Batch strategies: pick a diverse, informative batch from whole arrays.

Each function takes an ``eligible`` mask (n,), False for items that must
never be returned, and returns ``(indices, scores)``: indices (k,) int64 in
pick order and their scores (k,), higher = label first, in the float dtype
of the inputs (float32 stays float32; float64 or integers compute in
float64). Distances are computed one center at a time or in bounded blocks
(see ``clustering``): no (n, n) matrix, and for BADGE no (n, c * d) gradient
matrix, is ever formed. Python loops run over picks, never over pool items.
"""

from __future__ import annotations

import numpy as np

from service.deadline import check_deadline
from service.ranking import uncertainty
from service.ranking.clustering import (
    NearestCenters,
    centered,
    d2_seeding,
    float_dtype,
    kmeans,
    nearest_sq_distances,
    row_sq_norms,
    sq_distances_from_products,
    sq_distances_to,
    unit_rows,
)
from service.ranking.rowops import columns
from service.ranking.topk import rank_order, top_k_positions

# Labeled points are tracked as nearest centers, for skipping items a new pick
# cannot reach, while they number at most 1 / TRACKED_LABELED_SHARE of the pool:
# bounding costs O(m d) per pick.
TRACKED_LABELED_SHARE = 8


def coreset(
    embeddings: np.ndarray,
    budget: int,
    *,
    eligible: np.ndarray,
    labeled: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """k-center greedy over Euclidean ``embeddings`` (n, d) (Sener & Savarese 2018).

    Each pick is the eligible item farthest from its nearest center,
    ``argmax_i min_j ||x_i - c_j||`` (ties toward the lower index); its score
    is that distance, in embedding units. The centers are the ``labeled``
    embeddings (m, d) and the items picked so far. Without a labeled set the
    first pick is the eligible item nearest the mean of all embeddings, and
    its score is its distance to that mean.

    An empty labeled set counts as none. Scores never increase along the
    batch after the first pick. Cost O(m n d) to start from a labeled set
    (in blocks), then at most O(n d) per pick: items the new center provably
    cannot bring closer are skipped (``clustering.NearestCenters``).
    Extra memory: one centered copy of the embeddings, O(n) vectors.
    """
    if labeled is not None and labeled.shape[0] == 0:
        labeled = None
    check_batch_inputs(budget, eligible, embeddings, labeled=labeled)
    dtype = float_dtype(embeddings) if labeled is None else float_dtype(embeddings, labeled)
    points, mean = centered(embeddings, dtype)
    norms = row_sq_norms(points)  # squared distances to the mean
    indices = np.empty(budget, dtype=np.int64)
    gaps_at_pick = np.empty(budget, dtype=dtype)
    if labeled is None:
        first = int(np.argmin(np.where(eligible, norms, np.inf)))
        indices[0], gaps_at_pick[0], start = first, norms[first], 1
        known = points[[first]]
        gaps, owners = sq_distances_to(points, norms, first), np.zeros(len(points), np.int64)
    else:
        known, start = np.subtract(labeled, mean, dtype=dtype), 0
        gaps, owners = nearest_sq_distances(points, norms, known)
        if known.shape[0] * TRACKED_LABELED_SHARE > points.shape[0]:
            known, owners[:] = known[:0], -1  # too many to bound against each pick
    gaps[~eligible] = -np.inf  # frozen: never picked, never updated
    gaps[indices[:start]] = -np.inf
    centers = NearestCenters(points, norms, gaps, owners, known, capacity=budget)
    for k in range(start, budget):
        check_deadline()
        pick = int(np.argmax(gaps))
        indices[k], gaps_at_pick[k] = pick, gaps[pick]
        gaps[pick] = -np.inf
        if k + 1 < budget:
            centers.add(pick)
    return indices, np.sqrt(gaps_at_pick)


def badge(
    probs: np.ndarray,
    embeddings: np.ndarray,
    budget: int,
    *,
    rng: np.random.Generator,
    eligible: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """BADGE (Ash et al. 2020): k-means++ seeding over gradient embeddings.

    The gradient embedding of item i is the outer product
    ``g_i = a_i h_i^T`` of ``a_i = p_i - onehot(argmax p_i)`` (the loss
    gradient at the logits for the predicted label; argmax ties toward the
    lower class) and ``h_i``, its row of ``embeddings`` (n, d). ``probs`` is
    (n, c). g (n, c * d) is never formed: ``||g_i||^2 = ||a_i||^2 ||h_i||^2``
    and ``g_i . g_j = (a_i . a_j)(h_i . h_j)``.

    The first pick is the eligible item with the largest ``||g_i||`` (ties
    toward the lower index), scored ``||g_i||``. Each next pick is drawn from
    the eligible items not yet picked with probability proportional to D^2,
    the squared distance to the nearest pick so far, with one ``rng.random()``
    per pick (uniformly once every D^2 is 0); it is scored D. Cost
    O(n (c + d)) per pick, O(n c) extra memory.
    """
    check_batch_inputs(budget, eligible, embeddings, probs=probs)
    dtype = float_dtype(probs, embeddings)
    residuals = gradient_residuals(probs, dtype)
    hidden = embeddings.astype(dtype, copy=False)
    grad_norms = row_sq_norms(residuals) * row_sq_norms(hidden)  # ||g_i||^2 (n,)
    first = int(np.argmax(np.where(eligible, grad_norms, -1)))
    gaps = gradient_sq_distances(residuals, hidden, grad_norms, first)  # D^2 (n,)

    def shrink(center: int) -> None:
        np.minimum(gaps, gradient_sq_distances(residuals, hidden, grad_norms, center), out=gaps)

    picks, gaps_at_pick = d2_seeding(gaps, shrink, first, budget, available=eligible, rng=rng)
    gaps_at_pick[0] = grad_norms[first]
    return picks, np.sqrt(gaps_at_pick)


def gradient_residuals(probs: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a = p - onehot(argmax p)`` (n, c) as a new array of ``dtype``; ties: lowest class."""
    residuals = probs.astype(dtype, copy=True)
    residuals[np.arange(probs.shape[0]), probs.argmax(axis=1)] -= 1
    return residuals


def gradient_sq_distances(
    residuals: np.ndarray, hidden: np.ndarray, grad_norms: np.ndarray, center: int
) -> np.ndarray:
    """``||g_i - g_j||^2`` (n,) from every gradient embedding to that of item ``center``.

    ``||g_i||^2 + ||g_j||^2 - 2 (a_i . a_j)(h_i . h_j)`` from ``residuals`` a
    (n, c), ``hidden`` h (n, d) and ``grad_norms`` ||g||^2 (n,); clipped at 0.
    """
    products = residuals @ residuals[center]
    products *= hidden @ hidden[center]
    return sq_distances_from_products(products, grad_norms, grad_norms[center])


def cluster_margin(
    probs: np.ndarray,
    embeddings: np.ndarray,
    budget: int,
    *,
    rng: np.random.Generator,
    eligible: np.ndarray,
    candidates: int,
    clusters: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster-Margin (Citovsky et al. 2021): small margins, spread over clusters.

    Takes the ``candidates`` eligible items with the smallest margin
    ``p1 - p2`` (ties toward the lower index), clusters their ``embeddings``
    (n, d), orders the clusters from the fewest candidates to the most (ties
    toward the lower cluster id), and visits them round-robin, taking from
    each cluster in each round its next item, smallest margin first, until
    ``budget`` items. ``probs`` is (n, c). Score: ``1 - (p1 - p2)``.

    Clustering: the paper runs hierarchical agglomerative clustering with
    average linkage once over the whole pool, O(n^2) memory and at least
    O(n^2 d) time, which a stateless request cannot afford. Here Lloyd's
    k-means with k-means++ seeds from ``rng`` (``clustering.kmeans``) clusters
    the candidates only, into ``clusters`` groups (default ``budget``, so a
    batch takes at most one item per cluster when none comes out empty).
    Cost O(n c) for the margins plus, for k-means on m = ``candidates``
    items and k clusters, O(m k d) for the seeding (k passes over the
    candidates, fewer rows read when they form clusters) and O(m k d) per
    Lloyd round (matrix products, at most ``clustering.KMEANS_ITERATIONS``
    rounds); O(m d + k d) extra memory. Needs budget <= candidates <=
    eligible items and 1 <= clusters <= candidates.
    """
    n_clusters = budget if clusters is None else clusters
    check_batch_inputs(budget, eligible, embeddings, probs=probs)
    if not budget <= candidates <= np.count_nonzero(eligible):
        raise ValueError(
            f"expected budget <= candidates <= eligible items, got budget {budget}, "
            f"candidates {candidates}, {np.count_nonzero(eligible)} eligible items"
        )
    if not 1 <= n_clusters <= candidates:
        raise ValueError(f"expected 1 <= clusters <= candidates ({candidates}), got {n_clusters}")
    scores = uncertainty.margin_of_columns(columns(probs))  # (n,)
    pool = top_k_positions(np.where(eligible, scores, -np.inf), candidates)
    pool = pool[rank_order(pool, scores[pool])]  # smallest margin first
    labels = kmeans(embeddings[pool], n_clusters, rng=rng)
    picks = pool[round_robin(labels)[:budget]]
    return picks, scores[picks]


def round_robin(labels: np.ndarray) -> np.ndarray:
    """Visiting order (m,) of items labeled by cluster (m,), given in priority order.

    Round r takes the r-th item of every cluster that has one; within a
    round clusters go from the fewest items to the most, ties toward the
    lower label.
    """
    sizes = np.bincount(labels)
    by_cluster = np.argsort(labels, kind="stable")
    turns = np.empty(labels.shape[0], dtype=np.int64)  # rank of each item in its cluster
    turns[by_cluster] = np.arange(labels.shape[0]) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    cluster_order = np.empty(sizes.shape[0], dtype=np.int64)
    cluster_order[np.lexsort((np.arange(sizes.shape[0]), sizes))] = np.arange(sizes.shape[0])
    return np.lexsort((cluster_order[labels], turns))


def check_batch_inputs(
    budget: int,
    eligible: np.ndarray,
    embeddings: np.ndarray,
    *,
    probs: np.ndarray | None = None,
    labeled: np.ndarray | None = None,
) -> None:
    n, d = embeddings.shape
    if eligible.shape != (n,):
        raise ValueError(f"expected an eligible mask of shape ({n},), got {eligible.shape}")
    if probs is not None and probs.shape[0] != n:
        raise ValueError(f"expected probabilities for {n} items, got {probs.shape[0]} rows")
    if labeled is not None and labeled.shape[1:] != (d,):
        raise ValueError(f"expected labeled embeddings of width {d}, got shape {labeled.shape}")
    if not 1 <= budget <= np.count_nonzero(eligible):
        raise ValueError(
            f"expected 1 <= budget <= eligible items ({np.count_nonzero(eligible)}), got {budget}"
        )


def embedding_kmeans(
    embeddings: np.ndarray,
    budget: int,
    *,
    rng: np.random.Generator,
    eligible: np.ndarray,
    unit_length: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The item nearest each of ``budget`` k-means centers (small-text's
    EmbeddingKMeans, after BERT-KM, Yuan et al. 2020).

    The eligible ``embeddings`` (n, d), scaled to unit length when
    ``unit_length`` (an all-zero row stays zero), are clustered by
    ``clustering.kmeans`` (k-means++ seeds from ``rng``). Center by center,
    in seed order, the pick is the nearest item not yet picked, so two
    centers never share one; when duplicates leave fewer clusters than the
    budget, the centers take further turns in the same order. Score:
    1 / (1 + distance to the center). Cost O((1 + iterations) n k d).
    """
    check_batch_inputs(budget, eligible, embeddings)
    dtype = float_dtype(embeddings)
    pool = np.flatnonzero(eligible)
    points = np.asarray(embeddings[pool], dtype=dtype)
    if unit_length:
        points = unit_rows(points)
    labels = kmeans(points, budget, rng=rng)
    n_clusters = int(labels.max()) + 1
    centers = np.zeros((n_clusters, points.shape[1]), dtype=dtype)
    np.add.at(centers, labels, points)
    centers /= np.bincount(labels, minlength=n_clusters)[:, None].astype(dtype)
    norms = row_sq_norms(points)
    distances = [
        np.sqrt(np.maximum(norms - 2 * (points @ center) + center @ center, 0))
        for center in centers
    ]
    taken = np.zeros(pool.shape[0], dtype=bool)
    indices = np.empty(budget, dtype=np.int64)
    scores = np.empty(budget, dtype=dtype)
    for k in range(budget):
        check_deadline()
        gaps = np.where(taken, np.inf, distances[k % n_clusters])
        pick = int(np.argmin(gaps))
        taken[pick] = True
        indices[k], scores[k] = pool[pick], 1 / (1 + gaps[pick])
    return indices, scores
