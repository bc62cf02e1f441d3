"""typiclust and probcover against slow references written from their papers'
rules (Hacohen et al. 2022; Yehuda et al. 2022), and hand-worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ranking import coverage
from service.ranking.coverage import default_radius, probcover, typicality, typiclust
from service.ranking.neighbours import neighbour_graph


def _blobs(sizes: list[int], seed: int, d: int = 4, spread: float = 60.0) -> np.ndarray:
    """Well separated Gaussian blobs of the given sizes, blob after blob."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(len(sizes), d)) * spread
    return np.concatenate(
        [c + rng.normal(size=(size, d)) for c, size in zip(centers, sizes, strict=True)]
    )


def _typicality_reference(points, members, k):
    """1 / (mean distance to the k nearest other members + 1e-7), by loops."""
    values = []
    for i in members:
        distances = sorted(math.dist(points[i], points[j]) for j in members if j != i)
        values.append(1 / (math.fsum(distances[:k]) / k + 1e-7))
    return values


def _typiclust_reference(points, groups, labeled_rows, budget, k):
    """The paper's loop over known clusters: the fewest labeled and picked,
    then the largest; within it the most typical item not yet picked."""
    counts = {g: sum(1 for i in labeled_rows if groups[i] == g) for g in set(groups)}
    members = {g: [i for i in range(len(points)) if groups[i] == g] for g in set(groups)}
    picks = []
    while len(picks) < budget:
        g = min(counts, key=lambda g: (counts[g], -len(members[g])))
        values = _typicality_reference(points, members[g], min(k, len(members[g]) - 1))
        order = sorted(
            (i for i in range(len(members[g])) if members[g][i] not in labeled_rows),
            key=lambda i: (-values[i], members[g][i]),
        )
        pick = next(members[g][i] for i in order if members[g][i] not in picks)
        picks.append(pick)
        counts[g] += 1
    return picks


@pytest.mark.parametrize("seed", range(4))
def test_typiclust_cold_start_takes_the_most_typical_item_of_each_blob_largest_first(seed):
    sizes = [30, 25, 20, 15]
    embeddings = _blobs(sizes, seed)
    groups = np.repeat(np.arange(4), sizes)
    indices, scores = typiclust(
        embeddings, 4, eligible=np.ones(90, bool), rng=np.random.default_rng(seed)
    )
    expected = _typiclust_reference(embeddings, groups, set(), 4, 20)
    assert indices.tolist() == expected
    for pick, score in zip(indices, scores, strict=True):
        members = np.flatnonzero(groups == groups[pick])
        values = _typicality_reference(embeddings, members, min(20, len(members) - 1))
        assert score == pytest.approx(values[int(np.flatnonzero(members == pick)[0])], rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_typiclust_skips_the_blobs_labeled_items_cover(seed):
    sizes = [40, 30, 25, 20, 15]
    everything = _blobs(sizes, seed)
    groups = np.repeat(np.arange(5), sizes)
    labeled_rows = {0, 41}  # one item of each of the two largest blobs
    pool_rows = [i for i in range(len(everything)) if i not in labeled_rows]
    # 2 labeled + 3 picks = 5 clusters: the blobs.
    indices, _ = typiclust(
        everything[pool_rows],
        3,
        eligible=np.ones(len(pool_rows), bool),
        rng=np.random.default_rng(seed),
        labeled=everything[sorted(labeled_rows)],
    )
    expected = _typiclust_reference(everything, groups, labeled_rows, 3, 20)
    assert [pool_rows[i] for i in indices] == expected
    assert {groups[pool_rows[i]] for i in indices} == {2, 3, 4}


def test_typiclust_past_max_clusters_clusters_take_turns_least_covered_first():
    sizes = [12, 9]
    embeddings = _blobs(sizes, 7)
    groups = np.repeat(np.arange(2), sizes)
    indices, _ = typiclust(
        embeddings,
        6,
        eligible=np.ones(21, bool),
        rng=np.random.default_rng(0),
        max_clusters=2,
        neighbours=3,
    )
    assert indices.tolist() == _typiclust_reference(embeddings, groups, set(), 6, 3)
    assert groups[indices].tolist() == [0, 1, 0, 1, 0, 1]


def test_typiclust_never_picks_excluded_items_and_is_seeded():
    embeddings = _blobs([30, 20, 10], 3)
    eligible = np.ones(60, bool)
    eligible[::3] = False
    first = typiclust(embeddings, 12, eligible=eligible, rng=np.random.default_rng(5))
    again = typiclust(embeddings, 12, eligible=eligible, rng=np.random.default_rng(5))
    assert eligible[first[0]].all()
    assert len(set(first[0].tolist())) == 12
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])


def test_typicality_of_a_hand_worked_line():
    # Points at 0, 1, 3 on a line, k = 1: nearest distances 1, 1, 2.
    points = np.array([[0.0], [1.0], [3.0]])
    values = typicality(points, np.arange(3), 1, np.random.default_rng(0))
    np.testing.assert_allclose(values, [1 / (1 + 1e-7), 1 / (1 + 1e-7), 1 / (2 + 1e-7)])
    assert typicality(points, np.array([2]), 5, np.random.default_rng(0)).tolist() == [0.0]


def test_typicality_in_a_large_cluster_is_measured_against_a_drawn_reference(monkeypatch):
    monkeypatch.setattr(coverage, "TYPICALITY_REFERENCE_ROWS", 16)
    points = np.random.default_rng(2).normal(size=(40, 3))
    members = np.arange(40)
    values = typicality(points, members, 4, np.random.default_rng(9))
    reference_rows = np.sort(np.random.default_rng(9).choice(members, 16, replace=False))
    expected = []
    for i in members:
        distances = sorted(math.dist(points[i], points[j]) for j in reference_rows if j != i)
        expected.append(1 / (math.fsum(distances[:4]) / 4 + 1e-7))
    np.testing.assert_allclose(values, expected, rtol=1e-9)


def _probcover_reference(embeddings, budget, eligible, labeled, delta, k):
    """Greedy coverage over the graph of each item's k nearest others within delta
    (ties: lower index), by loops: O(n^2) distances, recomputed gains."""
    n = len(embeddings)
    balls = []
    for i in range(n):
        others = sorted((math.dist(embeddings[i], embeddings[j]), j) for j in range(n) if j != i)
        balls.append({i} | {j for distance, j in others[:k] if distance <= delta})
    covered = set()
    for row in labeled if labeled is not None else []:
        covered |= {j for j in range(n) if math.dist(embeddings[j], row) <= delta}
    picks, gains = [], []
    for _ in range(budget):
        best = max(
            (i for i in range(n) if eligible[i] and i not in picks),
            key=lambda i: (len(balls[i] - covered), -i),
        )
        gain = len(balls[best] - covered)
        if gain == 0:
            break
        picks.append(best)
        gains.append(gain)
        covered |= balls[best]
    return picks, gains


def _median_tenth_distance(embeddings):
    n = len(embeddings)
    tenth = []
    for i in range(n):
        distances = sorted(math.dist(embeddings[i], embeddings[j]) for j in range(n) if j != i)
        tenth.append(distances[min(10, n - 1) - 1])
    return float(np.median(tenth))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(12, 40),
    budget=st.integers(1, 6),
    k=st.integers(1, 12),
    with_labeled=st.booleans(),
)
def test_probcover_is_the_slow_greedy_cover_pick_for_pick(seed, n, budget, k, with_labeled):
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n, 3))
    labeled = rng.normal(size=(3, 3)) if with_labeled else None
    eligible = rng.random(n) > 0.2
    eligible[:budget] = True
    # Halfway between two of item 0's distances, away from any rounding edge.
    reach = np.sort(np.linalg.norm(embeddings - embeddings[0], axis=1))
    delta = float(reach[n // 5] + reach[n // 5 + 1]) / 2
    picks, gains = _probcover_reference(embeddings, budget, eligible, labeled, delta, k)
    indices, scores = probcover(
        embeddings,
        budget,
        eligible=eligible,
        rng=np.random.default_rng(seed),
        labeled=labeled,
        delta=delta,
        neighbours=k,
    )
    assert indices[: len(picks)].tolist() == picks
    assert scores[: len(picks)].tolist() == gains
    # Once everything is covered, the rest are distinct eligible draws scored 0.
    assert eligible[indices].all()
    assert len(set(indices.tolist())) == budget
    assert (scores[len(picks) :] == 0).all()


def test_probcover_default_radius_is_the_median_tenth_neighbour_distance():
    embeddings = np.random.default_rng(4).normal(size=(30, 2))
    sq_distances, _ = neighbour_graph(embeddings, 32, rng=np.random.default_rng(0))
    assert default_radius(sq_distances) == pytest.approx(_median_tenth_distance(embeddings))
    assert default_radius(sq_distances[:, :3]) == pytest.approx(
        float(np.median(np.sqrt(sq_distances[:, 2])))
    )
    assert default_radius(np.full((1, 1), np.inf)) == 0.0


def test_probcover_on_a_hand_worked_line():
    # Points 0, 1, 2 and 10, 11 with delta 1.5: the ball of 1 covers 0, 1, 2 (3
    # items), then the ball of 10 covers 10 and 11 (2 items).
    embeddings = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    indices, scores = probcover(
        embeddings, 2, eligible=np.ones(5, bool), rng=np.random.default_rng(0), delta=1.5
    )
    assert indices.tolist() == [1, 3]
    assert scores.tolist() == [3.0, 2.0]
    # A labeled item at 10.5 covers 10 and 11 from the start, so after the
    # ball of 1 every item is covered: the second pick is a draw scored 0.
    indices, scores = probcover(
        embeddings,
        2,
        eligible=np.ones(5, bool),
        rng=np.random.default_rng(0),
        delta=1.5,
        labeled=np.array([[10.5]]),
    )
    assert indices[0] == 1
    assert scores.tolist() == [3.0, 0.0]


def test_probcover_keeps_float32():
    embeddings = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32)
    _, scores = probcover(embeddings, 5, eligible=np.ones(50, bool), rng=np.random.default_rng(0))
    assert scores.dtype == np.float32
