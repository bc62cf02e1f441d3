"""Samples from several runs over the same rows: blocks, their bounds and their checks."""

from __future__ import annotations

import numpy as np
import pytest

from service.errors import InvalidInput
from service.models.inference import plan_runs
from service.models.samples import SampleMember, check_same_width, predict_samples
from service.models.sessions import create_session
from tests.models.builders import linear, softmax_reference

WIDTH, CLASSES, ROWS = 4, 3, 50
RNG = np.random.default_rng(3)
WEIGHTS = [RNG.normal(size=(WIDTH, CLASSES)) for _ in range(3)]
FEATURES = RNG.normal(size=(ROWS, WIDTH)).astype(np.float32)


def _member(index: int, chunk_rows: int, *, batch: int | None = None) -> SampleMember:
    session = create_session(linear(WEIGHTS[index], np.zeros(CLASSES), batch=batch))
    return SampleMember(f"m{index}", plan_runs(session, FEATURES, chunk_rows=chunk_rows))


def _expected() -> np.ndarray:
    return np.stack([softmax_reference(FEATURES, w, np.zeros(CLASSES)) for w in WEIGHTS], axis=1)


@pytest.mark.parametrize("chunk_rows", [1, 7, 50, 1000])
def test_blocks_stack_every_members_probabilities_whatever_the_run_size(chunk_rows):
    members = [_member(index, chunk_rows) for index in range(3)]
    blocks = list(predict_samples(members, FEATURES))
    starts = [start for start, _ in blocks]
    assert starts == list(range(0, ROWS, min(chunk_rows, ROWS)))
    stacked = np.concatenate([block for _, block in blocks])
    assert stacked.dtype == np.float32
    np.testing.assert_allclose(stacked, _expected(), rtol=1e-5, atol=1e-6)


def test_a_block_holds_the_fewest_rows_a_member_runs():
    members = [_member(0, 20), _member(1, 9), _member(2, 30)]
    assert [block.shape[0] for _, block in predict_samples(members, FEATURES)][:2] == [9, 9]


def test_a_fixed_batch_member_runs_its_own_batches_inside_a_block():
    members = [_member(0, 20), _member(1, 20, batch=8)]
    stacked = np.concatenate([block for _, block in predict_samples(members, FEATURES)])
    np.testing.assert_allclose(stacked, _expected()[:, :2], rtol=1e-5, atol=1e-6)


def test_blocks_keep_within_the_byte_bound():
    members = [_member(index, 1000) for index in range(3)]
    # 3 members x 3 classes x 4 bytes = 36 bytes a row: 10 rows in 360 bytes.
    blocks = list(predict_samples(members, FEATURES, max_block_bytes=360))
    assert max(block.shape[0] for _, block in blocks) == 10
    assert sum(block.shape[0] for _, block in blocks) == ROWS


def test_passes_of_a_deterministic_model_are_refused():
    with pytest.raises(InvalidInput, match="same output in all 3 passes") as caught:
        list(predict_samples([_member(0, 10)], FEATURES, passes=3))
    assert caught.value.field == "params.passes"


def test_members_of_different_widths_are_refused_naming_both():
    with pytest.raises(InvalidInput, match="m0 takes 4 features per row, m2 takes 5") as caught:
        check_same_width([("m0", 4), ("m1", None), ("m2", 5)])
    assert caught.value.field == "model"
    check_same_width([("m0", 4), ("m1", None), ("m2", 4)])
