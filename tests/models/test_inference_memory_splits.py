"""Inference under the arena's cap, in process: runs sized from the footprint, runs
that meet the cap split in halves, models that cannot run on one row refused; and
the footprint validation measures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from prometheus_client import REGISTRY

from service.errors import InvalidInput, PayloadTooLarge
from service.models.errors import ModelRejected
from service.models.inference import InferenceMemory, predict_probabilities
from service.models.memory import MemoryFootprint
from service.models.sessions import create_session
from service.models.validation import MiB, ValidationLimits, validate_model_file
from tests.models import builders

REPEATS = 1250  # 4 features become 5,000 float32 per row in each wide tensor
WIDE_ROW_BYTES = 4 * 4 * REPEATS
HUGE_REPEATS = 2_500_000  # one row is 10 million float32: 40 MB, past 16 MiB
LIMITS = ValidationLimits(memory_bytes=512 * MiB, seconds=60)
BUDGET = 16 << 20
WEIGHTS, BIAS = builders.small_classifier(width=4, classes=3, seed=3)


def _file(tmp_path, data: bytes):
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    return path


def _features(rows: int, width: int = 4, *, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, width)).astype(np.float32)


def _splits() -> float:
    return (
        REGISTRY.get_sample_value("alrank_inference_memory_splits_total", {"cause": "cap"}) or 0.0
    )


def _collect(chunks) -> tuple[list[int], list[np.ndarray]]:
    starts, arrays = zip(*chunks, strict=True)
    return list(starts), list(arrays)


# The footprint validation measures


def test_validation_measures_the_footprint_of_wide_rows(tmp_path):
    signature = validate_model_file(_file(tmp_path, builders.widening(REPEATS)), LIMITS)
    memory = signature["memory"]
    assert memory is not None
    footprint = MemoryFootprint.from_json(memory)
    assert footprint is not None
    # Two wide float32 tensors per row (the Tile's and the Softmax's), at most a
    # third (the output's copy), and a page of grain.
    assert 2 * WIDE_ROW_BYTES <= footprint.bytes_per_row <= 3 * WIDE_ROW_BYTES + 4096, memory
    rows = memory["measured_rows"]
    assert rows[0] == 1
    assert len(rows) >= 2
    assert all(larger == 8 * smaller for smaller, larger in itertools.pairwise(rows))


def test_a_model_of_dynamic_width_has_no_footprint(tmp_path):
    signature = validate_model_file(_file(tmp_path, builders.identity(None)), LIMITS)
    assert signature["memory"] is None


def test_a_fixed_batch_is_the_only_size_measured(tmp_path):
    data = builders.linear(WEIGHTS, BIAS, batch=4)
    signature = validate_model_file(_file(tmp_path, data), LIMITS)
    assert signature["memory"] is not None
    assert signature["memory"]["measured_rows"] == [4]


def test_validation_refuses_a_model_whose_one_row_passes_the_budget(tmp_path):
    limits = ValidationLimits(memory_bytes=512 * MiB, seconds=60, inference_memory_bytes=BUDGET)
    with pytest.raises(ModelRejected) as caught:
        validate_model_file(_file(tmp_path, builders.widening(HUGE_REPEATS)), limits)
    assert "inference memory budget of 16 MiB" in caught.value.detail
    assert "one row" in caught.value.detail


# Runs under the cap


def test_runs_that_meet_the_cap_are_split_and_answer_right():
    session = create_session(builders.widening(REPEATS, reduce=True), memory_budget=BUDGET)
    features = _features(2000)
    before = _splits()
    starts, arrays = _collect(
        predict_probabilities(
            session, features, chunk_rows=2000, memory=InferenceMemory(BUDGET, None)
        )
    )
    sizes = [len(array) for array in arrays]
    # Every row exactly once, in order.
    assert starts[0] == 0
    assert starts == [sum(sizes[:index]) for index in range(len(sizes))]
    assert sum(sizes) == 2000
    # 2000 rows of 5,000 float32 need 40 MB per wide tensor: past 16 MiB.
    assert min(sizes) < 2000
    assert _splits() > before
    probabilities = np.concatenate(arrays)
    assert probabilities.shape == (2000, 4)
    expected = builders.widening_reference(features, REPEATS, reduce=True)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)


def test_runs_take_no_more_rows_than_the_footprint_allows():
    budget = 64 << 20
    footprint = MemoryFootprint(40000, 0, (1,))
    limit = footprint.rows_within(budget)
    assert limit == 838  # 32 MiB // 40000
    session = create_session(builders.linear(WEIGHTS, BIAS), memory_budget=budget)
    features = _features(2000)
    starts, arrays = _collect(
        predict_probabilities(
            session, features, chunk_rows=100_000, memory=InferenceMemory(budget, footprint)
        )
    )
    assert starts == [0, limit, 2 * limit]
    assert all(len(array) <= limit for array in arrays)
    np.testing.assert_allclose(
        np.concatenate(arrays),
        builders.softmax_reference(features, WEIGHTS, BIAS),
        rtol=1e-5,
        atol=1e-6,
    )


def test_a_fixed_width_model_whose_one_row_passes_the_budget_is_refused_before_running():
    session = create_session(builders.widening(REPEATS), memory_budget=BUDGET)
    footprint = MemoryFootprint(BUDGET, 1, (1,))
    before = _splits()
    with pytest.raises(InvalidInput) as caught:
        # Refused when called, not while iterating: nothing ran.
        predict_probabilities(
            session, _features(10), chunk_rows=10, memory=InferenceMemory(BUDGET, footprint)
        )
    assert caught.value.status == 422
    assert caught.value.field == "model"
    assert "inference memory budget of 16 MiB" in caught.value.detail
    assert "rows 0 to 0" in caught.value.detail
    assert "measured footprint is 16 MiB per row" in caught.value.detail
    assert _splits() == before


def test_a_dynamic_width_model_whose_one_row_passes_the_budget_is_too_large_a_payload():
    session = create_session(builders.widening(REPEATS, width=None), memory_budget=BUDGET)
    footprint = MemoryFootprint(BUDGET, 1, (1,))
    with pytest.raises(PayloadTooLarge) as caught:
        predict_probabilities(
            session, _features(10), chunk_rows=10, memory=InferenceMemory(BUDGET, footprint)
        )
    assert caught.value.status == 413
    assert caught.value.field == "features"
    assert "inference memory budget of 16 MiB" in caught.value.detail
    assert "send fewer features per row" in caught.value.detail


def test_a_model_whose_one_row_meets_the_cap_is_refused_and_the_process_goes_on():
    session = create_session(builders.widening(HUGE_REPEATS), memory_budget=BUDGET)
    chunks = predict_probabilities(
        session, _features(8), chunk_rows=8, memory=InferenceMemory(BUDGET, None)
    )
    before = _splits()
    with pytest.raises(InvalidInput) as caught:
        list(chunks)
    assert caught.value.status == 422
    assert caught.value.field == "model"
    assert "inference memory budget of 16 MiB" in caught.value.detail
    assert "(rows 0 to 0)" in caught.value.detail
    # 8 rows, then 4, 2 and 1.
    assert _splits() == before + 3
    # Another model runs in the same capped arena afterwards.
    other = create_session(builders.linear(WEIGHTS, BIAS), memory_budget=BUDGET)
    features = _features(500, seed=9)
    _, arrays = _collect(
        predict_probabilities(other, features, chunk_rows=128, memory=InferenceMemory(BUDGET, None))
    )
    np.testing.assert_allclose(
        np.concatenate(arrays),
        builders.softmax_reference(features, WEIGHTS, BIAS),
        rtol=1e-5,
        atol=1e-6,
    )
