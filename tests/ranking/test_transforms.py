import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from service.ranking.rowops import columns
from service.ranking.transforms import softmax_of_columns

RTOL = {np.float32: 1e-5, np.float64: 1e-12}


def reference_softmax(row, temperature=1.0):
    scaled = [x / temperature for x in row]
    top = max(scaled)
    weights = [math.exp(x - top) for x in scaled]
    total = math.fsum(weights)
    return [w / total for w in weights]


def softmax_rows(logits, temperature=1.0):
    """The probability rows (n, c) softmax_of_columns makes of logit rows (n, c)."""
    return softmax_of_columns(columns(logits), temperature).T


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [2, 10, 33, 100])
def test_softmax_matches_a_float64_reference(dtype, c):
    logits = np.random.default_rng(c).normal(scale=5, size=(50, c)).astype(dtype)
    expected = [reference_softmax(row) for row in logits.tolist()]
    np.testing.assert_allclose(softmax_rows(logits), expected, rtol=RTOL[dtype], atol=1e-30)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param([1000.0, 0.0], [1.0, 0.0], id="huge-gap"),  # exp(-1000) underflows to 0
        pytest.param([-1000.0, -1000.0], [0.5, 0.5], id="very-negative-tie"),
        pytest.param([1000.0, 1000.0, -1000.0], [0.5, 0.5, 0.0], id="huge-tie"),
        pytest.param([3e38, -3e38], [1.0, 0.0], id="gap-beyond-float32-range"),
        pytest.param([0.0, 0.0, 0.0, 0.0], [0.25] * 4, id="all-equal"),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_for_extreme_logits(row, expected, dtype):
    probs = softmax_rows(np.array([row], dtype=dtype))
    assert probs.dtype == dtype
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs[0], expected, rtol=RTOL[dtype], atol=1e-30)


def test_softmax_of_log_probabilities_gives_the_probabilities_back():
    probs = np.array([[0.9, 0.1], [0.25, 0.75]])
    np.testing.assert_allclose(softmax_rows(np.log(probs)), probs, rtol=1e-15)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0, 10.0])
def test_temperature_divides_the_logits(temperature):
    logits = np.random.default_rng(1).normal(size=(20, 5))
    expected = [reference_softmax(row, temperature) for row in logits.tolist()]
    np.testing.assert_allclose(softmax_rows(logits, temperature), expected, rtol=1e-12)
    np.testing.assert_allclose(
        softmax_rows(logits, temperature), softmax_rows(logits / temperature)
    )


def test_a_higher_temperature_flattens_and_a_lower_one_sharpens():
    logits = np.array([[math.log(9), 0.0]])  # [0.9, 0.1] at temperature 1
    assert softmax_rows(logits, 2.0)[0].tolist() == pytest.approx([0.75, 0.25])  # 3 : 1
    assert softmax_rows(logits, 0.5)[0].tolist() == pytest.approx([81 / 82, 1 / 82])  # 81 : 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_keeps_the_dtype_and_leaves_the_logit_rows_alone(dtype):
    logits = np.array([[1.0, 2.0, 3.0]], dtype=dtype)
    probs = softmax_of_columns(columns(logits), 2.0)
    assert probs.dtype == dtype
    assert logits.tolist() == [[1.0, 2.0, 3.0]]


@given(
    logits=arrays(
        np.float64,
        st.tuples(st.integers(1, 10), st.integers(2, 40)),
        elements=st.floats(-1e6, 1e6),
    )
)
def test_softmax_rows_are_probabilities_whose_order_follows_the_logits(logits):
    probs = softmax_rows(logits)
    assert np.isfinite(probs).all()
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    rows = np.arange(len(logits))
    assert (probs[rows, logits.argmax(axis=1)] == probs.max(axis=1)).all()


@pytest.mark.parametrize("temperature", [1.0, 0.5, 4.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_of_columns_works_in_place_on_the_logits_columns(temperature, dtype):
    logits = np.random.default_rng(2).normal(scale=5, size=(30, 7)).astype(dtype)
    cols = columns(logits)
    out = softmax_of_columns(cols, temperature)
    assert out is cols
    assert out.dtype == dtype
    expected = [reference_softmax(row, temperature) for row in logits.tolist()]
    np.testing.assert_allclose(out.T, expected, rtol=RTOL[dtype], atol=1e-30)


@pytest.mark.parametrize(
    "cols",
    [
        pytest.param(np.zeros((3, 8))[:, ::2], id="strided"),
        pytest.param(np.zeros((3, 4), np.float16), id="float16"),
        pytest.param(np.zeros((1, 4)), id="one-class"),
    ],
)
def test_softmax_of_columns_takes_only_class_columns(cols):
    with pytest.raises(TypeError, match="expected C-contiguous float class columns"):
        softmax_of_columns(cols)
