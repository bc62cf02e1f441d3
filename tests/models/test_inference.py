"""Chunked inference: probabilities by hand, feature and output checks, ZipMap, fixed batches."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto

from service.errors import InvalidInput
from service.models.inference import (
    feature_input,
    inference_chunk_rows,
    model_output,
    predict_probabilities,
)
from service.models.sessions import create_session
from tests.models import builders

WIDTH, CLASSES = 6, 4
WEIGHTS, BIAS = builders.small_classifier(WIDTH, CLASSES, seed=7)


@pytest.fixture(scope="module")
def classifier():
    return create_session(builders.linear(WEIGHTS, BIAS))


def _features(rows: int, width: int = WIDTH, *, seed: int = 1, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=2.0, size=(rows, width)).astype(dtype)


def _collect(chunks) -> tuple[list[int], np.ndarray]:
    starts, arrays = zip(*chunks, strict=True)
    return list(starts), np.concatenate(arrays)


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 1000, 5000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_probabilities_match_softmax_by_hand(classifier, chunk_rows, dtype):
    features = _features(1000, dtype=dtype) if dtype != np.int32 else _features(1000).astype(dtype)
    starts, probabilities = _collect(
        predict_probabilities(classifier, features, chunk_rows=chunk_rows)
    )
    assert starts == list(range(0, 1000, chunk_rows))
    assert probabilities.dtype == np.float32
    assert probabilities.shape == (1000, CLASSES)
    expected = builders.softmax_reference(features.astype(np.float32), WEIGHTS, BIAS)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


def test_logits_output(classifier):
    session = create_session(builders.linear(WEIGHTS, BIAS, softmax=False, output_name="logits"))
    features = _features(50)
    _, logits = _collect(
        predict_probabilities(session, features, output_kind="logits", chunk_rows=16)
    )
    expected = features.astype(np.float64) @ WEIGHTS + BIAS
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


def test_logits_read_as_probabilities_are_refused():
    session = create_session(builders.linear(WEIGHTS, BIAS, softmax=False, output_name="logits"))
    with pytest.raises(InvalidInput, match="not class probabilities: row 0") as caught:
        list(predict_probabilities(session, _features(10), chunk_rows=4))
    assert "output_kind=logits" in caught.value.detail
    assert caught.value.field == "model"


def test_bad_rows_are_named_by_their_pool_row():
    session = create_session(builders.identity(3))
    features = np.full((10, 3), 1 / 3, np.float32)
    features[7] = [0.5, 0.6, 0.1]
    chunks = predict_probabilities(session, features, chunk_rows=4)
    with pytest.raises(InvalidInput, match=r"row 7 sums to 1\.2"):
        list(chunks)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -0.5], ids=["nan", "inf", "negative"])
def test_non_probability_values_are_refused(bad):
    session = create_session(builders.identity(3))
    features = np.full((5, 3), 1 / 3, np.float32)
    features[2, 1] = bad
    with pytest.raises(InvalidInput, match="not class probabilities: row 2"):
        list(predict_probabilities(session, features, chunk_rows=10))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_logits_are_refused(bad):
    session = create_session(builders.identity(3))
    features = np.zeros((5, 3), np.float32)
    features[4, 0] = bad
    with pytest.raises(InvalidInput, match="row 4, holds a non-finite logit"):
        list(predict_probabilities(session, features, output_kind="logits", chunk_rows=2))


def test_zipmap_outputs_become_arrays():
    session = create_session(builders.zipmap(WEIGHTS, BIAS, [10, 20, 30, 40]))
    features = _features(300)
    _, probabilities = _collect(predict_probabilities(session, features, chunk_rows=128))
    expected = builders.softmax_reference(features, WEIGHTS, BIAS)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


def test_fixed_batch_models_run_padded_chunks():
    session = create_session(builders.linear(WEIGHTS, BIAS, batch=8))
    features = _features(21)
    starts, probabilities = _collect(predict_probabilities(session, features, chunk_rows=1000))
    assert starts == [0, 8, 16]
    expected = builders.softmax_reference(features, WEIGHTS, BIAS)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


def test_integer_inputs_take_integral_floats():
    session = create_session(builders.int_input(3))
    features = np.array([[0.0, 1.0, 2.0], [5.0, 5.0, -3.0]])
    _, probabilities = _collect(predict_probabilities(session, features, chunk_rows=1))
    expected = builders.softmax_reference(features, np.eye(3, dtype=np.float32), np.zeros(3))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (0.5, "row 1, column 2: 0.5 is no value of the model's int64 input"),
        (np.nan, "row 1, column 2: nan is no value"),
        (1e30, "row 1, column 2: 1e+30 is no value"),
    ],
)
def test_integer_inputs_refuse_other_values(value, says):
    session = create_session(builders.int_input(3))
    features = np.zeros((2, 3))
    features[1, 2] = value
    with pytest.raises(InvalidInput, match=says.replace("+", r"\+")) as caught:
        list(predict_probabilities(session, features, chunk_rows=1))
    assert caught.value.field == "features"


def test_values_beyond_float32_are_refused(classifier):
    features = _features(4, dtype=np.float64)
    features[3, 5] = 1e300
    with pytest.raises(InvalidInput, match=r"row 3, column 5: 1e\+300 is beyond the range"):
        list(predict_probabilities(classifier, features, chunk_rows=2))


@pytest.mark.parametrize(
    ("features", "says"),
    [
        (np.zeros((5, 10), np.float32), "expected 6 features (float32), got 10"),
        (np.zeros((5, 2, 3), np.float32), "expected an N x D array of 6 features (float32)"),
        (np.zeros((0, 6), np.float32), "the pool is empty"),
        (np.zeros((5, 6), np.bool_), "expected 6 features (float32), got bool"),
    ],
    ids=["width", "rank", "empty", "bool"],
)
def test_features_that_do_not_fit_are_refused_before_running(classifier, features, says):
    with pytest.raises(InvalidInput) as caught:
        predict_probabilities(classifier, features, chunk_rows=10)
    assert says in caught.value.detail
    assert caught.value.field == "features"
    assert caught.value.status == 422


@pytest.mark.parametrize(
    ("output", "field", "says"),
    [
        ("nope", "output", "the model has no output 'nope'; its outputs are 'label'"),
        ("label", "output", "output 'label' is tensor(int64) with shape [None]"),
    ],
)
def test_outputs_that_are_not_class_scores_are_refused(classifier, output, field, says):
    with pytest.raises(InvalidInput) as caught:
        model_output(classifier, output)
    assert says in caught.value.detail
    assert caught.value.field == field


def test_the_first_class_score_output_is_the_default(classifier):
    assert model_output(classifier).name == "probabilities"
    assert model_output(classifier, "probabilities", "logits").kind == "logits"


def test_a_model_without_class_scores_is_refused():
    session = create_session(builders.identity(1))
    with pytest.raises(InvalidInput, match="none of the model's outputs"):
        model_output(session)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (builders.two_inputs(), "the model takes 2 inputs ('a', 'b')"),
        (builders.identity(3, elem=TensorProto.STRING), "is tensor(string); ranking feeds it"),
    ],
)
def test_inputs_ranking_cannot_feed_are_refused(data, says):
    with pytest.raises(InvalidInput) as caught:
        feature_input(create_session(data))
    assert says in caught.value.detail
    assert caught.value.field == "model"


def test_run_failures_become_invalid_input():
    session = create_session(builders.expanding(4))
    # (N, 1) + (4, 4) broadcasts only when N is 1 or 4.
    with pytest.raises(InvalidInput, match="the model failed on rows 0 to 2"):
        list(predict_probabilities(session, np.zeros((3, 1), np.float32), chunk_rows=3))


@pytest.mark.parametrize(
    ("width", "itemsize", "rows"), [(64, 4, 8192), (64, 8, 4096), (10**9, 4, 1)]
)
def test_inference_chunk_rows(width, itemsize, rows):
    assert inference_chunk_rows(width, itemsize=itemsize) == rows
