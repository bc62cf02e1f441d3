"""embedding_kmeans: the item nearest each k-means center, checked against
centers worked out by hand on separated blobs and against scikit-learn's
KMeans as small-text uses it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans

from service.ranking.diversity import embedding_kmeans


def _blobs(seed: int, per_blob: int = 15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(4, 5)) * 40
    return np.concatenate([c + rng.normal(size=(per_blob, 5)) for c in centers])


def _nearest_to_blob_means(embeddings: np.ndarray, per_blob: int = 15) -> set[int]:
    picks = set()
    for blob in range(len(embeddings) // per_blob):
        rows = np.arange(blob * per_blob, (blob + 1) * per_blob)
        mean = embeddings[rows].mean(axis=0)
        picks.add(int(rows[np.argmin(np.linalg.norm(embeddings[rows] - mean, axis=1))]))
    return picks


@pytest.mark.parametrize("seed", range(4))
def test_one_pick_per_blob_the_item_nearest_its_mean(seed):
    embeddings = _blobs(seed)
    indices, scores = embedding_kmeans(
        embeddings,
        4,
        rng=np.random.default_rng(seed),
        eligible=np.ones(60, bool),
        unit_length=False,
    )
    assert set(indices.tolist()) == _nearest_to_blob_means(embeddings)
    distances = [
        np.linalg.norm(embeddings[i] - embeddings[(i // 15) * 15 : (i // 15 + 1) * 15].mean(0))
        for i in indices
    ]
    np.testing.assert_allclose(scores, 1 / (1 + np.array(distances)), rtol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_the_picks_are_small_texts_on_separated_blobs(seed):
    embeddings = _blobs(seed)
    units = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    km = KMeans(n_clusters=4, n_init=10, random_state=seed).fit(units)
    expected = {int(np.argmax(units @ center)) for center in km.cluster_centers_}
    indices, _ = embedding_kmeans(
        embeddings, 4, rng=np.random.default_rng(seed), eligible=np.ones(60, bool)
    )
    assert set(indices.tolist()) == expected


def test_excluded_items_are_never_picked_and_picks_stay_distinct():
    embeddings = np.repeat(np.array([[1.0, 2.0]]), 8, axis=0)  # one cluster of duplicates
    eligible = np.ones(8, bool)
    eligible[0] = False
    indices, _ = embedding_kmeans(embeddings, 3, rng=np.random.default_rng(0), eligible=eligible)
    assert len(set(indices.tolist())) == 3
    assert 0 not in indices


def test_unit_length_clusters_by_direction():
    # Two directions, each at two very different lengths.
    rng = np.random.default_rng(1)
    directions = np.array([[1.0, 0.0], [0.0, 1.0]])
    rows = [d * length + rng.normal(scale=0.01, size=2) for d in directions for length in (1, 100)]
    embeddings = np.repeat(np.array(rows), 5, axis=0)
    indices, _ = embedding_kmeans(
        embeddings, 2, rng=np.random.default_rng(0), eligible=np.ones(20, bool)
    )
    assert sorted(i // 10 for i in indices) == [0, 1]  # one pick per direction


def test_the_same_seed_gives_the_same_picks():
    embeddings = np.random.default_rng(3).normal(size=(80, 6))
    first = embedding_kmeans(
        embeddings, 7, rng=np.random.default_rng(5), eligible=np.ones(80, bool)
    )
    again = embedding_kmeans(
        embeddings, 7, rng=np.random.default_rng(5), eligible=np.ones(80, bool)
    )
    np.testing.assert_array_equal(first[0], again[0])
