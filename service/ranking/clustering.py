"""Squared distances, D^2 seeding and k-means over embedding rows.

Squared Euclidean distances use the expansion
``||x - y||^2 = ||x||^2 - 2 x.y + ||y||^2`` with precomputed row norms, so a
distance to one center costs one matrix-vector product over the pool, and
distances to many rows a matrix product over blocks of at most
``BLOCK_ELEMENTS`` entries: no (n, n) or (n, m) array is formed. Rounding can
make the expansion slightly negative for nearly equal rows; it is clipped at
0. Callers center the points on their mean first (``centered``), which leaves
distances unchanged and keeps the norms, and so the rounding, small.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import sparse

from service.deadline import check_deadline
from service.ranking.chunks import chunk_slices

# Entries of one block of a distance matrix: 4 MiB of float32, 8 MiB of float64,
# made of CHUNK_ROWS pool rows by BLOCK_ELEMENTS // CHUNK_ROWS other rows.
BLOCK_ELEMENTS = 1 << 20
CHUNK_ROWS = 4096
KMEANS_ITERATIONS = 20


def float_dtype(*arrays: np.ndarray) -> np.dtype:
    """The float dtype to compute in: float32 unless an input is wider (float64, integers)."""
    return np.result_type(*(a.dtype for a in arrays), np.float32)


def centered(points: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``points`` (n, d) minus their column means, as a new ``dtype`` array, and the means (d,)."""
    mean = points.mean(axis=0, dtype=np.float64).astype(dtype)
    return np.subtract(points, mean, dtype=dtype), mean


def row_sq_norms(points: np.ndarray) -> np.ndarray:
    """||x_i||^2 of each row: (n, d) -> (n,), same dtype, without an (n, d) temporary."""
    norms: np.ndarray = np.einsum("ij,ij->i", points, points)
    return norms


def unit_rows(points: np.ndarray) -> np.ndarray:
    """``points`` (n, d) scaled to unit length, a new array; an all-zero row stays zero."""
    lengths = np.sqrt(row_sq_norms(points))[:, None]
    units: np.ndarray = np.divide(points, lengths, out=np.zeros_like(points), where=lengths > 0)
    return units


def sq_distances_from_products(
    products: np.ndarray, norms: np.ndarray, center_norm: float
) -> np.ndarray:
    """||x_i - y||^2 = ||x_i||^2 - 2 x_i.y + ||y||^2 from ``products`` x_i.y (n,), in place."""
    products *= -2
    products += norms
    products += center_norm
    clipped: np.ndarray = np.maximum(products, 0, out=products)
    return clipped


def sq_distances_to(points: np.ndarray, norms: np.ndarray, center: int) -> np.ndarray:
    """Squared distances (n,) from every row of ``points`` (n, d) to row ``center``.

    ``norms`` (n,) holds the rows' squared norms. One matrix-vector product over
    the whole pool: its output is only (n,), and one call streams the pool
    faster than many calls over row chunks with a threaded BLAS.
    """
    return sq_distances_from_products(points @ points[center], norms, norms[center])


def nearest_sq_distances(
    points: np.ndarray, norms: np.ndarray, others: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance (n,) from each row x_i of ``points`` to its nearest row of
    ``others`` (m, d), clipped at 0, and that row's index (n,) int64 (ties: lower).

    Computed in blocks of at most ``CHUNK_ROWS`` pool rows by
    ``BLOCK_ELEMENTS // CHUNK_ROWS`` rows of ``others``. Cost O(n m d).
    """
    other_norms = row_sq_norms(others)
    best = np.full(points.shape[0], np.inf, dtype=np.result_type(points, others))
    owners = np.zeros(points.shape[0], dtype=np.int64)
    width = max(1, BLOCK_ELEMENTS // CHUNK_ROWS)
    for rows in chunk_slices(points.shape[0], CHUNK_ROWS):
        check_deadline()
        for cols in chunk_slices(others.shape[0], width):
            block = points[rows] @ others[cols].T  # (rows, cols)
            block *= -2
            block += other_norms[cols]  # ||x||^2 is the same along a row: added last
            nearest_col = block.argmin(axis=1)
            closest = np.take_along_axis(block, nearest_col[:, None], axis=1)[:, 0]
            closer = closest < best[rows]
            best[rows] = np.where(closer, closest, best[rows])
            owners[rows] = np.where(closer, nearest_col + cols.start, owners[rows])
    best += norms
    return np.maximum(best, 0, out=best), owners


class NearestCenters:
    """Each item's squared distance to its nearest center, as centers are added.

    ``gaps`` (n,) holds min_j ||x_i - c_j||^2 and ``owners`` (n,) that
    center's number. Items at gap <= 0 (-inf, say) never change. Adding a
    center c skips the items it provably cannot bring closer: with o the
    item's nearest center, ``||x - c|| >= ||c - o|| - ||x - o||``, so x stays
    with o when ``||c - o||^2 >= 4 ||x - o||^2`` (Elkan 2003). When fewer
    than 1 / ``GATHER_SHARE`` of the items remain, only their rows are read;
    otherwise one pass reads them all. An item whose owner is -1 has no known
    center (one not worth tracking, such as a labeled point when there are
    many) and is never skipped.

    Cost per center: O(n + k d) to bound, k the centers so far, plus O(n d)
    at worst, O(n d / GATHER_SHARE) when the bound skips most items.
    """

    GATHER_SHARE = 4

    def __init__(
        self,
        points: np.ndarray,
        norms: np.ndarray,
        gaps: np.ndarray,
        owners: np.ndarray,
        centers: np.ndarray,
        capacity: int,
    ) -> None:
        self.points, self.norms, self.gaps, self.owners = points, norms, gaps, owners
        self.centers = np.empty((centers.shape[0] + capacity, points.shape[1]), points.dtype)
        self.centers[: centers.shape[0]] = centers
        self.center_norms = np.empty(self.centers.shape[0], points.dtype)
        self.center_norms[: centers.shape[0]] = row_sq_norms(centers)
        self.count = centers.shape[0]

    def add(self, row: int) -> None:
        """Make row ``row`` of ``points`` a center and shrink the gaps it reaches."""
        center, k = self.points[row], self.count
        self.centers[k], self.center_norms[k] = center, self.norms[row]
        self.count += 1
        between = np.zeros(k + 1, dtype=self.points.dtype)  # [-1] = 0: owner -1 never skips
        between[:k] = self.centers[:k] @ center
        sq_distances_from_products(between[:k], self.center_norms[:k], self.norms[row])
        reachable = between[self.owners] < 4 * self.gaps
        if np.count_nonzero(reachable) * self.GATHER_SHARE > reachable.shape[0]:
            reached = sq_distances_to(self.points, self.norms, row)
            self.owners[reached < self.gaps] = k
            np.minimum(self.gaps, reached, out=self.gaps)
            return
        items = np.flatnonzero(reachable)
        products = self.points[items] @ center
        reached = sq_distances_from_products(products, self.norms[items], self.norms[row])
        closer = reached < self.gaps[items]
        self.gaps[items[closer]] = reached[closer]
        self.owners[items[closer]] = k


def nearest(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index (n,) int64 of the nearest row of ``centers`` (k, d) to each row of ``points``.

    Ties go to the lower center index. Blocks of at most ``BLOCK_ELEMENTS``
    entries; cost O(n k d).
    """
    center_norms = row_sq_norms(centers)
    labels = np.empty(points.shape[0], dtype=np.int64)
    for rows in chunk_slices(points.shape[0], max(1, BLOCK_ELEMENTS // centers.shape[0])):
        block = points[rows] @ centers.T  # (rows, k)
        block *= -2
        block += center_norms  # ||x||^2 is the same along a row: left out of the argmin
        labels[rows] = block.argmin(axis=1)
    return labels


def draw_proportional(weights: np.ndarray, available: np.ndarray, rng: np.random.Generator) -> int:
    """One index drawn with probability proportional to ``weights`` (n,) >= 0.

    Items with weight 0 are never drawn, unless every weight is 0: then the
    draw is uniform over the ``available`` (n,) items. Uses exactly one
    ``rng.random()``, so a seeded generator gives a reproducible sequence.
    """
    fraction = rng.random()  # in [0, 1)
    cumulative = np.cumsum(weights, dtype=np.float64)
    if not cumulative[-1] > 0:
        remaining = np.flatnonzero(available)
        return int(remaining[min(int(fraction * remaining.shape[0]), remaining.shape[0] - 1)])
    # The first item whose cumulative weight exceeds the threshold has a
    # positive weight. The threshold rounds up to the total only for a
    # fraction within 2^-53 of 1; the last positive item takes that case.
    pick = int(np.searchsorted(cumulative, fraction * cumulative[-1], side="right"))
    return pick if pick < weights.shape[0] else int(np.flatnonzero(weights)[-1])


def d2_seeding(
    gaps: np.ndarray,
    shrink: Callable[[int], object],
    first: int,
    k: int,
    *,
    available: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) from a given first seed.

    ``gaps`` (n,) holds each item's squared distance to item ``first`` and is
    kept in place as D^2, the squared distance to the nearest seed so far:
    ``shrink(j)`` must lower it to the squared distances to item ``j`` where
    those are smaller. Each next seed is drawn among the ``available`` (n,)
    items not yet drawn with probability proportional to D^2
    (``draw_proportional``: one draw per seed, uniform once every D^2 is 0).

    Returns the seeds (k,) int64 in draw order and their D^2 (k,) at draw
    time; the first seed's D^2 is inf (no seed before it). Cost: k - 2 calls
    of ``shrink`` plus O(n) per seed.
    """
    available = available.copy()
    available[first] = False
    gaps[~available] = 0  # never drawn
    seeds = np.empty(k, dtype=np.int64)
    seed_gaps = np.empty(k, dtype=gaps.dtype)
    seeds[0], seed_gaps[0] = first, np.inf
    for j in range(1, k):
        check_deadline()
        pick = draw_proportional(gaps, available, rng)
        seeds[j], seed_gaps[j] = pick, gaps[pick]
        available[pick] = False
        gaps[pick] = 0
        if j + 1 < k:
            shrink(pick)
    return seeds, seed_gaps


def kmeans(
    points: np.ndarray,
    n_clusters: int,
    *,
    rng: np.random.Generator,
    iterations: int = KMEANS_ITERATIONS,
    fit_rows: int | None = None,
) -> np.ndarray:
    """Cluster labels (m,) int64 of ``points`` (m, d) by Lloyd's k-means.

    Seeds by k-means++ (first seed uniform), then at most ``iterations``
    rounds of assign-to-nearest and move-to-mean, stopping early once no label
    changes; a center that loses every point stays where it is. With
    ``fit_rows`` < m, the centers are fitted on that many rows drawn without
    replacement and every point then goes to its nearest center (one more
    O(m k d) pass): the fit costs O(fit_rows k d) per round instead of
    O(m k d). Clusters left empty are dropped and the rest renumbered 0, 1,
    ... in seed order, so there may be fewer than ``n_clusters`` (duplicate
    points, say). Needs 1 <= n_clusters <= min(m, fit_rows). Cost O((1 +
    iterations) m k d) time at most (the seeding skips points a new seed
    cannot reach, see ``NearestCenters``), O(m d + k d) memory.
    """
    points, _ = centered(points, float_dtype(points))
    fitted = points
    if fit_rows is not None and fit_rows < points.shape[0]:
        fitted = points[np.sort(rng.choice(points.shape[0], fit_rows, replace=False))]
    centers, labels = _lloyd(fitted, n_clusters, rng=rng, iterations=iterations)
    if fitted is not points:
        labels = nearest(points, centers)
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def _lloyd(
    points: np.ndarray, n_clusters: int, *, rng: np.random.Generator, iterations: int
) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeds refined by Lloyd's rounds: the centers (k, d) and labels (m,)."""
    norms = row_sq_norms(points)
    first = int(rng.random() * points.shape[0])
    gaps = sq_distances_to(points, norms, first)
    owners = np.zeros(points.shape[0], dtype=np.int64)
    tracker = NearestCenters(points, norms, gaps, owners, points[[first]], capacity=n_clusters)
    available = np.ones(points.shape[0], dtype=bool)
    seeds, _ = d2_seeding(gaps, tracker.add, first, n_clusters, available=available, rng=rng)
    centers = points[seeds]
    labels = nearest(points, centers)
    for _ in range(iterations):
        check_deadline()
        _move_to_means(centers, points, labels)
        moved = nearest(points, centers)
        if np.array_equal(moved, labels):
            break
        labels = moved
    return centers, labels


def _move_to_means(centers: np.ndarray, points: np.ndarray, labels: np.ndarray) -> None:
    """Set each center (k, d) with points to the mean of its points, in place."""
    m = labels.shape[0]
    members = sparse.csr_array(
        (np.ones(m, dtype=points.dtype), (labels, np.arange(m))), shape=(centers.shape[0], m)
    )
    sums = members @ points  # (k, d)
    counts = np.bincount(labels, minlength=centers.shape[0])
    filled = counts > 0
    centers[filled] = sums[filled] / counts[filled, None]
