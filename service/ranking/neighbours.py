"""Each row's k nearest other rows, in blocks: exact, or among nearby k-means cells.

Distances are squared Euclidean, from the norm expansion of ``clustering``
and clipped at 0. A graph is a pair of (n, k) arrays, row i holding its
neighbours' squared distances, ascending, and their row numbers (equal
distances: lower row first among those kept); a row with fewer than k other rows to choose from is
padded with distance inf and row -1. Memory O(n k) plus one block of at
most ``clustering.BLOCK_ELEMENTS`` distances.
"""

from __future__ import annotations

import math

import numpy as np

from service.deadline import check_deadline
from service.ranking.chunks import chunk_slices
from service.ranking.clustering import BLOCK_ELEMENTS, kmeans, row_sq_norms

# Pools up to this many rows get the exact graph: O(n^2 d) is then at most
# about 17 GFLOP at d = 128.
EXACT_GRAPH_ROWS = 8192
# The approximate graph: sqrt(n) cells of about sqrt(n) rows, each row's
# neighbours searched in the PROBED_CELLS cells whose centers lie nearest
# its own cell's center; centers fitted on CELL_FIT_ROWS_PER_CELL rows each.
PROBED_CELLS = 8
CELL_FIT_ROWS_PER_CELL = 64


def neighbour_graph(
    points: np.ndarray, k: int, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest other rows of each row of ``points`` (n, d): squared
    distances (n, k) in the points' dtype and row numbers (n, k) int64.

    Exact up to ``EXACT_GRAPH_ROWS`` rows, O(n^2 d). Beyond, approximate:
    the rows are cut into about sqrt(n) k-means cells (seeded by ``rng``),
    and a row's neighbours are the nearest among the rows of the
    ``PROBED_CELLS`` cells nearest its own, O(n^1.5 PROBED_CELLS d). A
    true neighbour across a far cell border can be missed, never a wrong
    distance reported.
    """
    n = points.shape[0]
    if n <= EXACT_GRAPH_ROWS:
        return nearest_rows(points, np.arange(n), np.arange(n), k)
    cells = max(2, math.isqrt(n))
    labels = kmeans(points, cells, rng=rng, fit_rows=min(n, CELL_FIT_ROWS_PER_CELL * cells))
    cells = int(labels.max()) + 1
    centers = np.zeros((cells, points.shape[1]), dtype=points.dtype)
    np.add.at(centers, labels, points)
    centers /= np.bincount(labels, minlength=cells)[:, None]
    probed = _nearest_cells(centers, min(PROBED_CELLS, cells))
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(cells + 1))
    members = [order[bounds[c] : bounds[c + 1]] for c in range(cells)]
    distances = np.empty((n, k), dtype=points.dtype)
    rows = np.empty((n, k), dtype=np.int64)
    for cell in range(cells):
        check_deadline()
        candidates = np.concatenate([members[c] for c in probed[cell]])
        candidates.sort()
        cell_distances, cell_rows = nearest_rows(points, members[cell], candidates, k)
        distances[members[cell]], rows[members[cell]] = cell_distances, cell_rows
    return distances, rows


def nearest_rows(
    points: np.ndarray, queries: np.ndarray, candidates: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each row number in ``queries`` (q,), its k nearest rows of ``points``
    (n, d) among the row numbers ``candidates`` (m,), sorted ascending, itself
    left out: squared distances (q, k) and row numbers (q, k) int64, padded
    with inf and -1 when fewer than k candidates remain. Cost O(q m d)."""
    candidate_points = points[candidates]
    candidate_norms = row_sq_norms(candidate_points)
    distances = np.full((queries.shape[0], k), np.inf, dtype=points.dtype)
    rows = np.full((queries.shape[0], k), -1, dtype=np.int64)
    take = min(k, candidates.shape[0])
    for block in chunk_slices(queries.shape[0], max(1, BLOCK_ELEMENTS // candidates.shape[0])):
        query_rows = queries[block]
        query_points = points[query_rows]
        gaps = query_points @ candidate_points.T  # (rows, m)
        gaps *= -2
        gaps += candidate_norms
        gaps += row_sq_norms(query_points)[:, None]
        np.maximum(gaps, 0, out=gaps)
        gaps[candidates[None, :] == query_rows[:, None]] = np.inf  # not its own neighbour
        if take < candidates.shape[0]:
            nearest_cols = np.argpartition(gaps, take - 1, axis=1)[:, :take]
        else:
            nearest_cols = np.broadcast_to(np.arange(take), (gaps.shape[0], take))
        chosen = np.take_along_axis(gaps, nearest_cols, axis=1)
        # Sort by distance, then by row number, so that ties are reproducible.
        by_row = np.argsort(candidates[nearest_cols], axis=1, kind="stable")
        nearest_cols = np.take_along_axis(nearest_cols, by_row, axis=1)
        chosen = np.take_along_axis(chosen, by_row, axis=1)
        by_distance = np.argsort(chosen, axis=1, kind="stable")
        distances[block, :take] = np.take_along_axis(chosen, by_distance, axis=1)
        rows[block, :take] = candidates[np.take_along_axis(nearest_cols, by_distance, axis=1)]
    rows[~np.isfinite(distances)] = -1
    return distances, rows


def _nearest_cells(centers: np.ndarray, probes: int) -> np.ndarray:
    """For each center (c, d), the ``probes`` nearest centers, itself first: (c, probes)."""
    gaps = -2 * (centers @ centers.T) + row_sq_norms(centers)[None, :]
    np.fill_diagonal(gaps, -np.inf)
    probed: np.ndarray = np.argsort(gaps, axis=1, kind="stable")[:, :probes]
    return probed
