"""The k-nearest-neighbour graph: exact against brute force, approximate by its
recall on clustered points, and the k-means fit on a sample it relies on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ranking import neighbours
from service.ranking.clustering import kmeans
from service.ranking.neighbours import nearest_rows, neighbour_graph


def _brute_force(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k nearest other rows by a full distance matrix, ties lower row first."""
    n = len(points)
    squared = ((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(squared, np.inf)
    rows = np.array([sorted(range(n), key=lambda j: (squared[i, j], j))[:k] for i in range(n)])
    return np.take_along_axis(squared, rows, axis=1), rows


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 60), k=st.integers(1, 8))
def test_the_exact_graph_is_brute_force(seed, n, k):
    points = np.random.default_rng(seed).normal(size=(n, 3))
    distances, rows = neighbour_graph(points, k, rng=np.random.default_rng(0))
    take = min(k, n - 1)
    expected_distances, expected_rows = _brute_force(points, take)
    np.testing.assert_array_equal(rows[:, :take], expected_rows)
    np.testing.assert_allclose(distances[:, :take], expected_distances, rtol=1e-9, atol=1e-9)
    assert (rows[:, take:] == -1).all()
    assert np.isinf(distances[:, take:]).all()


def test_ties_go_to_the_lower_row():
    points = np.array([[0.0], [1.0], [-1.0], [2.0]])
    _, rows = nearest_rows(points, np.array([0]), np.arange(4), 2)
    assert rows.tolist() == [[1, 2]]


def test_the_approximate_graph_finds_most_true_neighbours(monkeypatch):
    monkeypatch.setattr(neighbours, "EXACT_GRAPH_ROWS", 100)
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(20, 8)) * 4
    points = centers[rng.integers(0, 20, 2000)] + rng.normal(size=(2000, 8))
    distances, rows = neighbour_graph(points, 10, rng=np.random.default_rng(1))
    _, exact_rows = nearest_rows(points, np.arange(2000), np.arange(2000), 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, exact_rows, strict=True)])
    assert recall > 0.9
    # Whatever it reports is a true distance to another row.
    reported = ((points[:, None, :] - points[rows]) ** 2).sum(axis=2)
    np.testing.assert_allclose(distances, reported, rtol=1e-6, atol=1e-6)
    assert (rows != np.arange(2000)[:, None]).all()


@pytest.mark.parametrize("seed", range(3))
def test_kmeans_fitted_on_a_sample_still_finds_separated_blobs(seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(4, 5)) * 50
    points = np.concatenate([c + rng.normal(size=(100, 5)) for c in centers])
    labels = kmeans(points, 4, rng=np.random.default_rng(seed), fit_rows=40)
    assert labels.shape == (400,)
    for blob in range(4):
        assert len(set(labels[blob * 100 : (blob + 1) * 100].tolist())) == 1
    assert len(set(labels.tolist())) == 4
