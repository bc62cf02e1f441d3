import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.stats import chisquare

from service.ranking import diversity
from service.ranking.clustering import (
    NearestCenters,
    draw_proportional,
    kmeans,
    nearest_sq_distances,
    row_sq_norms,
)
from tests.ranking.helpers import DTYPES, normalized

# ---------------------------------------------------------------- references


def slow_coreset(x, budget, eligible, labeled=None):
    """k-center greedy by the book: Python loops, float64, np.linalg.norm."""
    x = np.asarray(x, dtype=np.float64)
    items = [i for i in range(len(x)) if eligible[i]]
    if labeled is None:
        mean = x.mean(axis=0)
        first = min(items, key=lambda i: (np.linalg.norm(x[i] - mean), i))
        picks, scores, centers = [first], [np.linalg.norm(x[first] - mean)], [x[first]]
    else:
        picks, scores, centers = [], [], list(np.asarray(labeled, dtype=np.float64))
    while len(picks) < budget:
        best_gap, best = -1.0, -1
        for i in items:
            if i not in picks:
                gap = min(np.linalg.norm(x[i] - c) for c in centers)
                if gap > best_gap:
                    best_gap, best = gap, i
        picks.append(best)
        scores.append(best_gap)
        centers.append(x[best])
    return picks, scores


def gradient_embeddings(probs, hidden):
    """g_i = (p_i - onehot(argmax p_i)) outer h_i, flattened: (n, c * d), float64."""
    probs = np.asarray(probs, dtype=np.float64)
    residuals = probs - np.eye(probs.shape[1])[probs.argmax(axis=1)]
    outer = np.einsum("ic,id->icd", residuals, np.asarray(hidden, dtype=np.float64))
    return outer.reshape(len(probs), -1)


def blobs(rng, n_blobs, per_blob, dim=8, spread=0.01, scale=10.0):
    """Tight blobs around scale * e_k, far apart; returns points and blob labels."""
    labels = np.repeat(np.arange(n_blobs), per_blob)
    points = scale * np.eye(dim)[labels] + spread * rng.standard_normal((len(labels), dim))
    order = rng.permutation(len(labels))
    return points[order], labels[order]


def uncertain_probs(rng, n, base=(0.45, 0.35, 0.2), noise=1e-3):
    """Nearly equal uncertain rows with the same argmax: non-zero, alike residuals."""
    return normalized(np.asarray(base) + noise * rng.random((n, len(base))))


def exclusion_mask(rng, n, share=0.3):
    return rng.random(n) >= share


# ---------------------------------------------------------------- coreset


@pytest.mark.parametrize("gather_share", [1, 10**9])
@pytest.mark.parametrize("n_labeled", [None, 4, 12])
@pytest.mark.parametrize("excluded", [False, True])
def test_coreset_matches_slow_k_center_greedy(monkeypatch, gather_share, n_labeled, excluded):
    # gather_share 1 always reads only the items a new center may reach;
    # 10**9 always reads the whole pool. 4 labeled rows are tracked as
    # centers, 12 (more than 1/8 of 50) are not.
    monkeypatch.setattr(NearestCenters, "GATHER_SHARE", gather_share)
    rng = np.random.default_rng(n_labeled or 0)
    x = rng.standard_normal((50, 4))
    labeled = None if n_labeled is None else rng.standard_normal((n_labeled, 4))
    eligible = exclusion_mask(rng, 50) if excluded else np.ones(50, dtype=bool)
    indices, scores = diversity.coreset(x, 10, eligible=eligible, labeled=labeled)
    picks, expected = slow_coreset(x, 10, eligible, labeled)
    assert indices.dtype == np.int64
    assert indices.tolist() == picks
    assert scores == pytest.approx(expected, rel=1e-9)
    assert np.all(np.diff(scores[1:] if n_labeled is None else scores) <= 0)


def test_coreset_float32_matches_the_float64_reference():
    rng = np.random.default_rng(1)
    x = (5.0 + rng.standard_normal((80, 6))).astype(np.float32)  # far from the origin
    labeled = (5.0 + rng.standard_normal((3, 6))).astype(np.float32)
    eligible = exclusion_mask(rng, 80)
    indices, scores = diversity.coreset(x, 12, eligible=eligible, labeled=labeled)
    picks, expected = slow_coreset(x, 12, eligible, labeled)
    assert scores.dtype == np.float32
    assert indices.tolist() == picks
    assert scores == pytest.approx(expected, rel=1e-5)


def test_coreset_first_pick_without_labeled_is_nearest_the_mean():
    x = np.array([[0.0, 0.0], [4.0, 0.0], [1.0, 0.0], [-2.0, 0.0], [2.0, 0.0]])  # mean (1, 0)
    eligible = np.array([True, True, False, True, True])
    indices, scores = diversity.coreset(x, 3, eligible=eligible)
    # 2 is nearest the mean but excluded; 0 and 4 tie at distance 1: lower index.
    assert indices.tolist() == [0, 1, 3]
    assert scores.tolist() == [1.0, 4.0, 2.0]


def test_coreset_takes_one_item_per_blob():
    rng = np.random.default_rng(2)
    points, labels = blobs(rng, 5, 200)
    for labeled in (None, points[labels == 0][:3] + 0.01):
        indices, scores = diversity.coreset(
            points, 5, eligible=np.ones(len(points), bool), labeled=labeled
        )
        expected_blobs = 5 if labeled is None else 4
        assert len(set(labels[indices[:expected_blobs]])) == expected_blobs
        assert scores[expected_blobs - 1] > 5.0


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), dim=st.integers(1, 5), data=st.data())
def test_permuting_the_pool_permutes_coreset_picks(seed, n, dim, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    eligible = exclusion_mask(rng, n, share=data.draw(st.sampled_from([0.0, 0.3])))
    eligible[rng.integers(n)] = True
    labeled = rng.standard_normal((2, dim)) if data.draw(st.booleans()) else None
    if labeled is None:
        # Two points are always equally far from their mean: a tie, not a bug.
        to_mean = np.sort(np.linalg.norm(x[eligible] - x.mean(axis=0), axis=1))
        assume(to_mean.shape[0] == 1 or to_mean[1] - to_mean[0] > 1e-9)
    budget = data.draw(st.integers(1, int(eligible.sum())))
    perm = rng.permutation(n)
    indices, scores = diversity.coreset(x, budget, eligible=eligible, labeled=labeled)
    moved, moved_scores = diversity.coreset(
        x[perm], budget, eligible=eligible[perm], labeled=labeled
    )
    assert perm[moved].tolist() == indices.tolist()
    # Distances come from ||x||^2 - 2 x.y + ||y||^2, whose rounding depends
    # on where a row sits in the matrix product: the error of a squared
    # distance is about eps * ||x||^2, so of a small distance d about
    # eps * ||x||^2 / d. The tolerance allows for that, and no more.
    finite = np.isfinite(scores)
    assert np.array_equal(np.isfinite(moved_scores), finite)
    assert np.array_equal(moved_scores[~finite], scores[~finite])
    scale = float(np.max(np.sum(x**2, axis=1)))
    cancellation = 64 * np.finfo(np.float64).eps * scale / np.maximum(scores[finite], 1e-300)
    difference = np.abs(moved_scores[finite] - scores[finite])
    np.testing.assert_array_less(difference, 1e-9 * scores[finite] + cancellation)


# ---------------------------------------------------------------- badge


@pytest.mark.parametrize("dtype", DTYPES)
def test_factorized_gradient_distances_equal_explicit_ones(dtype):
    rng = np.random.default_rng(3)
    probs = normalized(rng.gamma(0.5, size=(30, 4)), dtype)
    probs[0] = np.array([0.4, 0.4, 0.2, 0.0], dtype)  # argmax tie: the lower class
    hidden = rng.standard_normal((30, 5)).astype(dtype)
    residuals = diversity.gradient_residuals(probs, dtype)
    assert residuals[0].tolist() == pytest.approx([-0.6, 0.4, 0.2, 0.0])
    grad_norms = row_sq_norms(residuals) * row_sq_norms(hidden)
    g = gradient_embeddings(probs, hidden)
    assert grad_norms == pytest.approx((g**2).sum(axis=1), rel=1e-5)
    for center in (0, 7, 29):
        found = diversity.gradient_sq_distances(residuals, hidden, grad_norms, center)
        expected = ((g - g[center]) ** 2).sum(axis=1)
        assert found.dtype == dtype
        np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-5)


def test_badge_scores_are_gradient_distances_to_earlier_picks():
    rng = np.random.default_rng(4)
    probs = normalized(rng.gamma(0.5, size=(60, 3)))
    hidden = rng.standard_normal((60, 6))
    eligible = exclusion_mask(rng, 60)
    indices, scores = diversity.badge(probs, hidden, 12, rng=rng, eligible=eligible)
    g = gradient_embeddings(probs, hidden)
    norms = np.linalg.norm(g, axis=1)
    assert indices[0] == np.flatnonzero(norms == norms[eligible].max())[0]
    assert scores[0] == pytest.approx(norms[indices[0]])
    for k in range(1, 12):
        gaps = np.linalg.norm(g[indices[:k]] - g[indices[k]], axis=1)
        assert scores[k] == pytest.approx(gaps.min(), rel=1e-9, abs=1e-9)
    assert eligible[indices].all()
    assert len(set(indices.tolist())) == 12


def test_badge_takes_one_item_per_blob_for_every_seed():
    rng = np.random.default_rng(5)
    hidden, labels = blobs(rng, 5, 40)
    probs = uncertain_probs(rng, len(hidden))
    for seed in range(10):
        indices, _ = diversity.badge(
            probs, hidden, 5, rng=np.random.default_rng(seed), eligible=np.ones(200, bool)
        )
        assert sorted(labels[indices].tolist()) == [0, 1, 2, 3, 4]


def test_badge_same_seed_same_batch_other_seeds_differ():
    rng = np.random.default_rng(6)
    probs = normalized(rng.gamma(1.0, size=(200, 5)))
    hidden = rng.standard_normal((200, 8))
    eligible = np.ones(200, bool)

    def batch(seed):
        rng = np.random.default_rng(seed)
        return tuple(diversity.badge(probs, hidden, 10, rng=rng, eligible=eligible)[0].tolist())

    assert batch(11) == batch(11)
    assert len({batch(seed) for seed in range(10)}) >= 8


def test_badge_draws_uniformly_once_every_gradient_is_zero():
    probs = np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1]]  # one-hot: every residual is 0
    hidden = np.random.default_rng(7).standard_normal((8, 4))
    eligible = np.array([False, True, True, False, True, True, True, True])
    indices, scores = diversity.badge(
        probs, hidden, 6, rng=np.random.default_rng(0), eligible=eligible
    )
    assert indices[0] == 1  # every norm is 0: the lowest eligible index
    assert sorted(indices.tolist()) == np.flatnonzero(eligible).tolist()
    assert scores.tolist() == [0.0] * 6


def test_draw_proportional_follows_the_weights():
    rng = np.random.default_rng(8)
    weights = np.array([0.0, 1.0, 3.0, 0.0, 6.0])
    available = np.array([True, True, True, True, True])
    counts = np.bincount([draw_proportional(weights, available, rng) for _ in range(4000)])
    counts = np.pad(counts, (0, 5 - len(counts)))
    assert counts[[0, 3]].tolist() == [0, 0]
    assert chisquare(counts[[1, 2, 4]], 4000 * np.array([0.1, 0.3, 0.6])).pvalue > 0.001
    zero = np.zeros(5)
    drawn = {draw_proportional(zero, np.array([False, True, False, True, True]), rng)}
    drawn |= {draw_proportional(zero, np.array([False, True, False, True, True]), rng)}
    assert drawn <= {1, 3, 4}


# ---------------------------------------------------------------- cluster_margin


def margin_probs(gaps):
    """Two-class rows whose margin p1 - p2 is ``gaps``."""
    p = (1 + np.asarray(gaps, dtype=np.float64)) / 2
    return np.column_stack([p, 1 - p])


def test_cluster_margin_round_robins_from_the_smallest_cluster():
    # Candidates (the 6 smallest margins): blob A holds 3, blob B 1, blob C 2.
    # Items with larger margins sit in the blobs and in a blob of their own.
    rng = np.random.default_rng(9)
    centers = 10.0 * np.eye(4)
    blob = np.array([0, 0, 0, 1, 2, 2, 0, 1, 2, 3, 3])
    gaps = np.array([0.05, 0.02, 0.08, 0.06, 0.03, 0.07, 0.5, 0.6, 0.7, 0.8, 0.9])
    embeddings = centers[blob] + 0.01 * rng.standard_normal((len(blob), 4))
    probs = margin_probs(gaps)
    eligible = np.ones(len(blob), bool)
    for seed in range(5):
        indices, scores = diversity.cluster_margin(
            probs, embeddings, 6, rng=np.random.default_rng(seed), eligible=eligible,
            candidates=6, clusters=3,
        )  # fmt: skip
        # Round 1: B (1 item), C (2), A (3), each its smallest margin; round 2: C, A; round 3: A.
        assert indices.tolist() == [3, 4, 1, 5, 0, 2]
        assert scores == pytest.approx(1 - gaps[indices])


def test_cluster_margin_picks_only_among_the_smallest_margins():
    rng = np.random.default_rng(10)
    probs = normalized(rng.gamma(1.0, size=(300, 4)))
    embeddings = rng.standard_normal((300, 5))
    eligible = exclusion_mask(rng, 300)
    top_two = np.sort(probs, axis=1)[:, -2:]
    gaps = np.where(eligible, top_two[:, 1] - top_two[:, 0], np.inf)
    allowed = set(np.lexsort((np.arange(300), gaps))[:40].tolist())
    for clusters in (None, 3, 40):
        indices, scores = diversity.cluster_margin(
            probs, embeddings, 20, rng=rng, eligible=eligible, candidates=40, clusters=clusters
        )
        assert set(indices.tolist()) <= allowed
        assert len(set(indices.tolist())) == 20
        assert scores == pytest.approx(1 - gaps[indices])


def test_cluster_margin_with_default_clusters_takes_one_item_per_blob():
    rng = np.random.default_rng(11)
    embeddings, labels = blobs(rng, 4, 25)
    probs = margin_probs(rng.uniform(0, 0.5, 100))
    indices, _ = diversity.cluster_margin(
        probs, embeddings, 4, rng=rng, eligible=np.ones(100, bool), candidates=100
    )
    assert sorted(labels[indices].tolist()) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("budget", "candidates", "clusters"), [(5, 4, None), (5, 31, None), (5, 10, 11), (5, 10, 0)]
)
def test_cluster_margin_refuses_inconsistent_sizes(budget, candidates, clusters):
    eligible = np.ones(40, bool)
    eligible[:10] = False
    with pytest.raises(ValueError, match="expected"):
        diversity.cluster_margin(
            margin_probs(np.linspace(0, 1, 40)),
            np.zeros((40, 2)),
            budget,
            rng=np.random.default_rng(0),
            eligible=eligible,
            candidates=candidates,
            clusters=clusters,
        )


def test_round_robin_orders_clusters_by_size_then_label():
    # sizes: cluster 0 -> 2, 1 -> 2, 2 -> 1
    assert diversity.round_robin(np.array([1, 0, 1, 0, 2])).tolist() == [4, 1, 0, 3, 2]


# ---------------------------------------------------------------- shared


def strategies(probs, embeddings, budget, eligible, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "coreset": diversity.coreset(embeddings, budget, eligible=eligible),
        "coreset_labeled": diversity.coreset(
            embeddings, budget, eligible=eligible, labeled=embeddings[:3] + 0.5
        ),
        "badge": diversity.badge(probs, embeddings, budget, rng=rng, eligible=eligible),
        "cluster_margin": diversity.cluster_margin(
            probs, embeddings, budget, rng=rng, eligible=eligible, candidates=int(eligible.sum())
        ),
    }


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_strategy_keeps_the_dtype_and_never_returns_excluded_items(dtype):
    rng = np.random.default_rng(12)
    probs = normalized(rng.gamma(1.0, size=(120, 4)), dtype)
    embeddings = rng.standard_normal((120, 6)).astype(dtype)
    eligible = exclusion_mask(rng, 120, share=0.5)
    for budget in (1, 7, int(eligible.sum())):
        for name, (indices, scores) in strategies(probs, embeddings, budget, eligible).items():
            assert indices.dtype == np.int64, name
            assert scores.dtype == dtype, name
            assert indices.shape == scores.shape == (budget,), name
            assert eligible[indices].all(), name
            assert len(set(indices.tolist())) == budget, name


@pytest.mark.parametrize("budget", [0, 5])
def test_budget_outside_one_to_eligible_count_is_refused(budget):
    eligible = np.array([True, False, True, False, True])  # 3 eligible items
    with pytest.raises(ValueError, match="budget"):
        diversity.coreset(np.zeros((5, 2)), budget, eligible=eligible)


def test_mismatched_shapes_are_refused():
    embeddings, eligible, rng = np.zeros((5, 2)), np.ones(5, bool), np.random.default_rng(0)
    with pytest.raises(ValueError, match="eligible mask"):
        diversity.coreset(embeddings, 2, eligible=np.ones(4, bool))
    with pytest.raises(ValueError, match="labeled embeddings of width 2"):
        diversity.coreset(embeddings, 2, eligible=eligible, labeled=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="probabilities for 5 items"):
        diversity.badge(np.full((4, 2), 0.5), embeddings, 2, rng=rng, eligible=eligible)


def test_an_empty_labeled_set_counts_as_none():
    x = np.random.default_rng(15).standard_normal((20, 3))
    eligible = np.ones(20, bool)
    expected = diversity.coreset(x, 5, eligible=eligible)
    found = diversity.coreset(x, 5, eligible=eligible, labeled=np.zeros((0, 3)))
    assert found[0].tolist() == expected[0].tolist()
    assert found[1].tolist() == expected[1].tolist()


def test_nearest_sq_distances_match_brute_force_across_blocks(monkeypatch):
    monkeypatch.setattr("service.ranking.clustering.CHUNK_ROWS", 7)
    monkeypatch.setattr("service.ranking.clustering.BLOCK_ELEMENTS", 7 * 3)
    rng = np.random.default_rng(13)
    points, others = rng.standard_normal((30, 3)), rng.standard_normal((10, 3))
    gaps, owners = nearest_sq_distances(points, row_sq_norms(points), others)
    brute = ((points[:, None, :] - others[None, :, :]) ** 2).sum(axis=2)
    assert owners.tolist() == brute.argmin(axis=1).tolist()
    np.testing.assert_allclose(gaps, brute.min(axis=1), rtol=1e-9)


def test_kmeans_finds_separated_blobs_and_drops_empty_clusters():
    rng = np.random.default_rng(14)
    points, labels = blobs(rng, 4, 30)
    found = kmeans(points, 4, rng=rng)
    assert len({(a, b) for a, b in zip(found, labels, strict=True)}) == 4
    repeated = np.repeat(np.eye(3), 4, axis=0)  # 3 distinct points, 12 rows
    found = kmeans(repeated, 6, rng=rng)
    assert found.dtype == np.int64
    assert sorted(set(found.tolist())) == [0, 1, 2]
    assert all(len(set(found[4 * i : 4 * i + 4].tolist())) == 1 for i in range(3))
