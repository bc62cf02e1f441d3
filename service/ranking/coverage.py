"""Strategies for cold starts and small budgets: typical items and covering balls.

TypiClust (Hacohen et al. 2022) takes the most typical item of each large
cluster no labeled item covers; ProbCover (Yehuda et al. 2022) greedily
covers the embedding space with balls of radius delta. Both take the
pool's ``embeddings`` (n, d) and optional ``labeled`` embeddings (m, d),
and return ``(indices, scores)`` as ``diversity`` does: eligible items in
pick order, scores higher = label first, in the float dtype of the
embeddings. Neither forms an (n, n) matrix: neighbours come from
``neighbours`` in blocks, and ProbCover keeps at most ``neighbours`` edges
per item, O(n k) memory.
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy import sparse

from service.deadline import check_deadline
from service.ranking.clustering import (
    centered,
    float_dtype,
    kmeans,
    nearest_sq_distances,
    row_sq_norms,
)
from service.ranking.diversity import check_batch_inputs
from service.ranking.neighbours import nearest_rows, neighbour_graph

# TypiClust's defaults, as in the authors' code: at most 500 clusters, and
# typicality from the 20 nearest neighbours within the cluster.
DEFAULT_MAX_CLUSTERS = 500
DEFAULT_TYPICALITY_NEIGHBOURS = 20
# k-means centers are fitted on this many rows per cluster, then every row
# goes to its nearest center.
FIT_ROWS_PER_CLUSTER = 64
# Typicality in a larger cluster is measured against this many of its
# members, drawn by the request's generator: O(s R d) rather than O(s^2 d).
TYPICALITY_REFERENCE_ROWS = 4096
# skactiveml's guard against a zero mean distance (duplicates).
TYPICALITY_EPSILON = 1e-7

# ProbCover: edges kept per item, and the neighbour whose median distance
# is the default radius.
DEFAULT_COVER_NEIGHBOURS = 32
DEFAULT_DELTA_NEIGHBOUR = 10


def typiclust(
    embeddings: np.ndarray,
    budget: int,
    *,
    eligible: np.ndarray,
    rng: np.random.Generator,
    labeled: np.ndarray | None = None,
    max_clusters: int = DEFAULT_MAX_CLUSTERS,
    neighbours: int = DEFAULT_TYPICALITY_NEIGHBOURS,
) -> tuple[np.ndarray, np.ndarray]:
    """TypiClust (Hacohen, Dekel & Weinshall 2022; scikit-activeml's TypiClust).

    The pool and the labeled embeddings together are cut by k-means (seeds
    from ``rng``) into min(m + budget, ``max_clusters``) clusters. Each pick
    goes to the cluster holding the fewest labeled items and picks so far,
    the largest such (ties: lower cluster number), and takes its most typical
    eligible item not yet picked. Typicality: the inverse of the mean
    distance to the item's k = min(``neighbours``, size - 1) nearest other
    members of its cluster, ``1 / (mean_j ||x - x_j|| + 1e-7)``; 0 in a
    cluster of one. It is the pick's score, in inverse embedding units.

    In a cluster of more than ``TYPICALITY_REFERENCE_ROWS`` members, the
    neighbours are sought among that many members drawn by ``rng``. Cost:
    k-means O(iterations * 64 k^2 d + (n + m) k d), plus O(s min(s, 4096) d)
    for each cluster s picked from; memory O((n + m) d).
    """
    check_batch_inputs(budget, eligible, embeddings, labeled=labeled)
    pool_rows = embeddings.shape[0]
    parts = [embeddings] if labeled is None else [embeddings, labeled]
    dtype = float_dtype(*parts)
    points, _ = centered(np.concatenate(parts) if len(parts) > 1 else embeddings, dtype)
    n_clusters = min(points.shape[0] - pool_rows + budget, max_clusters, points.shape[0])
    labels = kmeans(
        points,
        n_clusters,
        rng=rng,
        fit_rows=min(points.shape[0], FIT_ROWS_PER_CLUSTER * n_clusters),
    )
    n_clusters = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=n_clusters)
    taken = np.bincount(labels[pool_rows:], minlength=n_clusters)
    by_cluster = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[by_cluster], np.arange(n_clusters + 1))
    queue = [(int(taken[c]), -int(sizes[c]), c) for c in range(n_clusters)]
    heapq.heapify(queue)
    ranked: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # cluster -> (items, typicality)
    turns = np.zeros(n_clusters, dtype=np.int64)
    indices = np.empty(budget, dtype=np.int64)
    scores = np.empty(budget, dtype=dtype)
    picked = 0
    while picked < budget:
        check_deadline()
        count, negative_size, cluster = heapq.heappop(queue)
        if cluster not in ranked:
            members = by_cluster[starts[cluster] : starts[cluster + 1]]
            ranked[cluster] = _typical_first(points, members, pool_rows, eligible, rng, neighbours)
        items, typicality = ranked[cluster]
        turn = int(turns[cluster])
        if turn == items.shape[0]:
            continue  # nothing left to pick here: the cluster leaves the queue
        indices[picked], scores[picked] = items[turn], typicality[turn]
        turns[cluster] += 1
        picked += 1
        heapq.heappush(queue, (count + 1, negative_size, cluster))
    return indices, scores


def typicality(
    points: np.ndarray, members: np.ndarray, neighbours: int, rng: np.random.Generator
) -> np.ndarray:
    """Typicality (s,) of the rows ``members`` (s,) of ``points`` within their group.

    ``1 / (mean distance to the k nearest other members + 1e-7)``, k =
    min(``neighbours``, s - 1); 0 for a group of one. Past
    ``TYPICALITY_REFERENCE_ROWS`` members, neighbours are sought among that
    many drawn by ``rng``.
    """
    size = members.shape[0]
    k = min(neighbours, size - 1)
    if k == 0:
        return np.zeros(size, dtype=points.dtype)
    reference = members
    if size > TYPICALITY_REFERENCE_ROWS:
        reference = np.sort(rng.choice(members, TYPICALITY_REFERENCE_ROWS, replace=False))
    sq_distances, _ = nearest_rows(points, members, reference, k)
    mean_distance = np.sqrt(sq_distances).mean(axis=1, dtype=np.float64)
    result: np.ndarray = (1 / (mean_distance + TYPICALITY_EPSILON)).astype(points.dtype)
    return result


def default_radius(sq_distances: np.ndarray) -> float:
    """ProbCover's default delta from a neighbour graph's squared distances (n, k):
    the median distance from an item to its 10th nearest neighbour (its k-th
    when k < 10), over the items that have one; 0 when none has."""
    column = sq_distances[:, min(DEFAULT_DELTA_NEIGHBOUR, sq_distances.shape[1]) - 1]
    reached = column[np.isfinite(column)]
    return float(np.median(np.sqrt(reached))) if reached.shape[0] else 0.0


def _typical_first(
    points: np.ndarray,
    members: np.ndarray,
    pool_rows: int,
    eligible: np.ndarray,
    rng: np.random.Generator,
    neighbours: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A cluster's eligible pool items, most typical first (ties: lower index),
    and their typicality."""
    pickable = members < pool_rows
    pickable[pickable] = eligible[members[pickable]]
    if not pickable.any():
        return members[:0], np.empty(0, dtype=points.dtype)
    values = typicality(points, members, neighbours, rng)
    items, values = members[pickable], values[pickable]
    order = np.lexsort((items, -values))
    return items[order], values[order]


def probcover(
    embeddings: np.ndarray,
    budget: int,
    *,
    eligible: np.ndarray,
    rng: np.random.Generator,
    labeled: np.ndarray | None = None,
    delta: float | None = None,
    neighbours: int = DEFAULT_COVER_NEIGHBOURS,
) -> tuple[np.ndarray, np.ndarray]:
    """ProbCover (Yehuda, Dekel, Hacohen & Weinshall 2022; small-text's and
    scikit-activeml's ProbCover): greedy coverage of delta-balls.

    Item x covers itself and the items y with ``||x - y|| <= delta`` among its
    ``neighbours`` nearest (``neighbours.neighbour_graph``: exact up to 8,192
    items, among nearby k-means cells beyond). Items within delta of a
    labeled embedding start covered. Each pick is the eligible item that
    covers the most items not yet covered (ties: lower index), its score that
    count; once every item is covered, the rest of the batch is drawn
    uniformly by ``rng``, scored 0. ``delta`` defaults to the median distance
    from an item to its 10th nearest neighbour, so that a typical ball holds
    about ten items; the paper's purity rule needs class labels, which this
    input does not carry.

    Cost: the graph, O(n^2 d) exact or O(n^1.5 8 d), plus O(m n d) for the
    labeled set, then O(n + k^2) per pick. Memory O(n k).
    """
    check_batch_inputs(budget, eligible, embeddings, labeled=labeled)
    parts = [embeddings] if labeled is None else [embeddings, labeled]
    dtype = float_dtype(*parts)
    points, mean = centered(embeddings, dtype)
    n = points.shape[0]
    sq_distances, rows = neighbour_graph(points, min(neighbours, n - 1) or 1, rng=rng)
    if delta is None:
        delta = default_radius(sq_distances)
    within = (sq_distances <= delta * delta) & (rows >= 0)
    owners = np.repeat(np.arange(n), within.sum(axis=1))
    covers = sparse.csr_array(
        (np.ones(owners.shape[0], dtype=np.int32), (owners, rows[within])), shape=(n, n)
    )
    covers = (covers + sparse.eye_array(n, dtype=np.int32, format="csr")).tocsr()
    covered_by = covers.T.tocsr()  # row y: the items whose ball holds y
    uncovered = np.ones(n, dtype=bool)
    if labeled is not None and labeled.shape[0]:
        gaps, _ = nearest_sq_distances(points, row_sq_norms(points), labeled - mean)
        uncovered &= gaps > delta * delta
    gains = (covers @ uncovered.astype(np.int64)).astype(np.int64)
    available = eligible.copy()
    indices = np.empty(budget, dtype=np.int64)
    scores = np.zeros(budget, dtype=dtype)
    for k in range(budget):
        check_deadline()
        candidate_gains = np.where(available, gains, -1)
        pick = int(np.argmax(candidate_gains))
        if candidate_gains[pick] <= 0:
            rest = np.flatnonzero(available)
            indices[k:] = rng.choice(rest, budget - k, replace=False)
            break
        indices[k], scores[k] = pick, gains[pick]
        available[pick] = False
        ball = covers.indices[covers.indptr[pick] : covers.indptr[pick + 1]]
        fresh = ball[uncovered[ball]]
        uncovered[fresh] = False
        for item in fresh:  # at most neighbours + 1 of them
            gains[covered_by.indices[covered_by.indptr[item] : covered_by.indptr[item + 1]]] -= 1
    return indices, scores
