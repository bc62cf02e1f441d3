import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.ranking.topk import RunningTopK, rank_order, top_k_positions
from tests.ranking import reference

SCORES = st.lists(
    st.sampled_from([0.0, 0.25, 0.5, 1.0, -math.inf]) | st.floats(-10, 10, width=32),
    min_size=1,
    max_size=60,
)


def test_top_k_positions_keeps_the_lower_positions_among_ties_at_the_cut():
    scores = np.array([0.2, 0.9, 0.5, 0.9, 0.5, 0.5, 0.1])
    # 0.9 at 1 and 3, then 0.5 at 2, 4 and 5: the third place goes to position 2
    assert top_k_positions(scores, 3).tolist() == [1, 2, 3]
    assert top_k_positions(scores, 4).tolist() == [1, 2, 3, 4]
    assert top_k_positions(scores, 7).tolist() == list(range(7))
    assert top_k_positions(scores, 10).tolist() == list(range(7))


def test_rank_order_sorts_by_score_then_by_index():
    indices = np.array([7, 3, 5, 1])
    scores = np.array([0.5, 0.5, 0.9, 0.1])
    assert indices[rank_order(indices, scores)].tolist() == [5, 3, 7, 1]


def test_running_top_k_over_two_chunks():
    best = RunningTopK(3)
    best.push(np.array([0.5, 0.9, 0.5]), 0)
    best.push(np.array([0.9, 0.1]), 3)
    indices, scores = best.result()
    assert indices.tolist() == [1, 3, 0]  # 0.9 at 1 and 3, then 0.5 at 0 (not 2)
    assert scores.tolist() == [0.9, 0.9, 0.5]


def test_running_top_k_with_fewer_items_than_k_returns_them_all():
    best = RunningTopK(5)
    best.push(np.array([0.1, 0.3]), 10)
    indices, scores = best.result()
    assert indices.tolist() == [11, 10]
    assert scores.tolist() == [0.3, 0.1]


def test_values_ride_along_with_the_scores():
    best = RunningTopK(2)
    best.push(np.array([3.0, 1.0]), 0, values=np.array([30.0, 10.0]))
    best.push(np.array([2.0]), 2, values=np.array([20.0]))
    indices, scores, values = best.result_with_values()
    assert indices.tolist() == [0, 2]
    assert scores.tolist() == [3.0, 2.0]
    assert values.tolist() == [30.0, 20.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scores_keep_their_dtype(dtype):
    best = RunningTopK(2)
    for offset in range(0, 9, 3):
        best.push(np.arange(offset, offset + 3, dtype=dtype), offset)
    indices, scores = best.result()
    assert indices.tolist() == [8, 7]
    assert scores.dtype == dtype


def test_k_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        RunningTopK(0)


@given(scores=SCORES, k=st.integers(1, 70), data=st.data())
def test_running_top_k_over_any_chunking_equals_one_top_k(scores, k, data):
    n = len(scores)
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=n - 1)) if n > 1 else [])
    array = np.array(scores)
    best = RunningTopK(k)
    for start, stop in zip([0, *cuts], [*cuts, n], strict=True):
        best.push(array[start:stop], start)
    indices, top = best.result()
    whole = RunningTopK(k)
    whole.push(array, 0)
    expected = reference.top_k(scores, k)
    assert indices.tolist() == expected
    assert top.tolist() == [scores[i] for i in expected]
    assert whole.result()[0].tolist() == expected


@given(scores=SCORES, k=st.integers(1, 70))
def test_top_k_positions_matches_the_reference(scores, k):
    expected = sorted(reference.top_k(scores, k))
    assert top_k_positions(np.array(scores), k).tolist() == expected
