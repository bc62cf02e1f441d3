"""Pool diagnostics: the score sketch, the class and label tallies, chunk invariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ranking.diagnostics import (
    EXACT_SCORES,
    PERCENTILE_RELATIVE_ERROR,
    PERCENTILES,
    ClassTally,
    DiagnosticsPlan,
    LabelTally,
    PoolTally,
    ScoreSketch,
)


def nearest_rank(values: np.ndarray, q: float) -> float:
    """The nearest-rank percentile, written out: the value at rank ceil(q n / 100)."""
    ordered = sorted(values.tolist())
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def sketched(values: np.ndarray, cuts: list[int] | None = None) -> ScoreSketch:
    sketch = ScoreSketch()
    for part in np.split(values, cuts or []):
        sketch.push(part)
    return sketch


def test_a_hand_worked_small_pool_is_exact():
    summary = sketched(np.array([0.2, 1.0, 0.8, 0.4])).summary()
    assert summary is not None
    # Ascending 0.2, 0.4, 0.8, 1.0: p50 is rank 2, p90 and p99 rank 4.
    assert summary.percentiles == (0.4, 1.0, 1.0)
    assert (summary.mean, summary.max, summary.percentile_relative_error) == (0.6, 1.0, 0.0)


def test_nothing_pushed_is_no_summary():
    sketch = ScoreSketch()
    sketch.push(np.zeros(0))
    assert sketch.summary() is None


@pytest.mark.parametrize("shape", ["uniform", "lognormal", "signed", "ties"])
def test_sketched_percentiles_are_within_the_stated_error(shape):
    rng = np.random.default_rng(3)
    n = 200_003
    values = {
        "uniform": rng.random(n),
        "lognormal": rng.lognormal(0, 4, n),
        "signed": rng.normal(0, 1e3, n),
        "ties": rng.choice([0.0, 0.5, 1.0], n),
    }[shape]
    summary = sketched(values, [1, 7_000, 150_000]).summary()
    assert summary is not None
    assert summary.percentile_relative_error == PERCENTILE_RELATIVE_ERROR
    assert summary.max == values.max()
    assert summary.mean == pytest.approx(values.mean(), rel=1e-12, abs=1e-12)
    for q, got in zip(PERCENTILES, summary.percentiles, strict=True):
        exact = nearest_rank(values, q)
        assert abs(got - exact) <= PERCENTILE_RELATIVE_ERROR * abs(exact), (q, got, exact)


def test_the_exact_mode_ends_past_its_limit():
    values = np.linspace(0, 1, EXACT_SCORES + 1)
    assert sketched(values[:-1]).summary().percentile_relative_error == 0.0
    assert sketched(values).summary().percentile_relative_error == PERCENTILE_RELATIVE_ERROR


@st.composite
def chunked(draw: st.DrawFn) -> tuple[np.ndarray, list[int]]:
    n = draw(st.integers(1, 9_000))
    seed = draw(st.integers(0, 2**32 - 1))
    values = np.random.default_rng(seed).normal(size=n) * draw(st.sampled_from([1e-3, 1, 1e6]))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    return values, cuts


@settings(max_examples=40, deadline=None)
@given(chunked())
def test_any_chunking_gives_the_same_summary(case):
    values, cuts = case
    assert sketched(values, cuts).summary() == sketched(values).summary()


def test_class_tally_counts_the_argmax_with_ties_to_the_lower_class():
    cols = np.array([[0.5, 0.2, 0.4], [0.5, 0.8, 0.4], [0.0, 0.0, 0.2]], dtype=np.float32)
    tally = ClassTally("items")
    classes = tally.push(cols)
    assert classes.tolist() == [0, 1, 0]
    summary = tally.summary()
    assert summary is not None
    assert summary.counts == (2, 1, 0)
    assert summary.mean_top_probability == pytest.approx((0.5 + 0.8 + 0.4) / 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_class_tally_matches_numpy_on_any_layout(dtype):
    rng = np.random.default_rng(5)
    rows = rng.dirichlet(np.ones(7), size=5_000).astype(dtype)
    fast, slow = ClassTally("items"), ClassTally("items")
    fast.push(np.ascontiguousarray(rows.T))
    slow.push(rows.T)  # not C-contiguous: copied first
    for summary in (fast.summary(), slow.summary()):
        assert summary is not None
        assert summary.counts == tuple(np.bincount(rows.argmax(axis=1), minlength=7))
        assert summary.mean_top_probability == pytest.approx(rows.max(axis=1).mean(), rel=1e-6)


def test_label_tally_counts_labels_at_the_threshold():
    cols = np.array([[0.5, 0.49, 1.0], [0.1, 0.7, 0.7]])  # 2 labels x 3 items
    tally = LabelTally(0.5)
    tally.push(cols[:, :2])
    tally.push(cols[:, 2:])
    summary = tally.summary()
    assert summary is not None
    assert summary.counts == (2, 2)
    assert summary.mean_labels_per_item == pytest.approx(4 / 3)


def test_a_pool_tally_skips_chunks_without_units():
    tally = PoolTally(DiagnosticsPlan(tally="classes", unit="tokens"))
    tally.push(0, np.zeros(2), np.zeros((2, 0)))  # two sequences without tokens
    tally.push(2, np.array([0.5]), np.array([[0.2], [0.3], [0.5]]))
    result = tally.result()
    assert (result.items_scored, result.units_scored) == (3, 1)
    assert result.classes is not None
    assert result.classes.counts == (0, 0, 1)


def test_pass_columns_are_tallied_by_their_mean():
    passes = np.array([[[0.9], [0.1]], [[0.0], [1.0]], [[0.0], [1.0]]])  # 3 passes, 2 classes
    tally = PoolTally(DiagnosticsPlan(tally="classes"))
    tally.push(0, np.array([0.0]), passes)
    classes = tally.result().classes
    assert classes is not None
    assert classes.counts == (0, 1)
    assert classes.mean_top_probability == pytest.approx(2.1 / 3)


def test_scores_near_the_float64_limit_stay_within_min_and_max():
    values = np.array([1e308] * (EXACT_SCORES + 1) + [-1e300])
    summary = sketched(values).summary()
    assert summary is not None
    # The sum overflows; the mean is held to the largest score, and percentiles
    # past float32's range to the nearest of min and max.
    assert summary.mean == 1e308
    assert summary.percentiles == (1e308, 1e308, 1e308)
