import math

import numpy as np
import pytest

from service.errors import InvalidInput
from service.ranking.inputs import INPUT_KINDS
from service.ranking.rowops import columns, pass_columns

PROBS = INPUT_KINDS["probabilities"]
LOGITS = INPUT_KINDS["logits"]
SAMPLES = INPUT_KINDS["samples"]


def test_input_kinds_and_their_axes():
    assert {name: kind.axes for name, kind in INPUT_KINDS.items()} == {
        "probabilities": "NC",
        "logits": "NC",
        "samples": "NTC",
    }


def test_samples_may_be_sent_in_another_axis_order():
    assert SAMPLES.sent_axes({"layout": "TNC"}) == "TNC"
    assert PROBS.sent_axes({}) == "NC"


def test_probabilities_are_checked_and_passed_through():
    probs = np.array([[0.25, 0.75], [1.0, 0.0]], dtype=np.float32)
    assert PROBS.prepare(probs, {}, 0) is probs


def test_probabilities_errors_give_the_pool_row():
    with pytest.raises(InvalidInput, match=r"row 41 sums to 0\.5") as caught:
        PROBS.prepare(np.array([[0.5, 0.5], [0.25, 0.25]]), {}, 40)
    assert caught.value.field == "probabilities"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_rescales_probability_rows(dtype):
    out = PROBS.prepare(np.array([[1, 3], [2, 2]], dtype=dtype), {"normalize": True}, 0)
    assert out.dtype == dtype
    assert out.tolist() == [[0.25, 0.75], [0.5, 0.5]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_become_probabilities_by_softmax(dtype):
    logits = np.array([[math.log(3), 0.0]], dtype=dtype)  # 3 : 1
    out = LOGITS.prepare(logits, {"temperature": 1.0}, 0)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, [[0.75, 0.25]], rtol=1e-6)


def test_non_finite_logits_are_refused_with_their_row():
    logits = np.zeros((3, 2))
    logits[2, 0] = -math.inf
    with pytest.raises(InvalidInput, match="row 7 holds a non-finite") as caught:
        LOGITS.prepare(logits, {}, 5)
    assert caught.value.field == "logits"


@pytest.mark.parametrize(
    ("dtype", "largest", "temperature"),
    [
        pytest.param(np.float32, 1e30, 1e-10, id="float32-overflow"),
        pytest.param(np.float32, 1.0, 1e-50, id="temperature-rounds-to-zero-in-float32"),
        pytest.param(np.float64, 1e300, 1e-10, id="float64-overflow"),
    ],
)
def test_a_temperature_that_overflows_the_logits_is_refused(dtype, largest, temperature):
    logits = np.array([[largest, 0.0]], dtype=dtype)
    with pytest.raises(InvalidInput, match="overflow") as caught:
        LOGITS.prepare(logits, {"temperature": temperature}, 0)
    assert caught.value.field == "params.temperature"


def test_samples_in_log_space_are_exponentiated():
    logs = np.log(np.array([[[0.5, 0.5], [0.9, 0.1]]]))
    out = SAMPLES.prepare(logs, {"space": "log"}, 0)
    np.testing.assert_allclose(out, [[[0.5, 0.5], [0.9, 0.1]]], rtol=1e-15)


def test_log_space_accepts_minus_inf_as_probability_zero():
    logs = np.array([[[0.0, -math.inf], [math.log(0.5), math.log(0.5)]]])
    out = SAMPLES.prepare(logs, {"space": "log"}, 0)
    assert out.tolist() == [[[1.0, 0.0], [0.5, 0.5]]]


def test_bad_samples_name_the_item_and_the_pass():
    samples = np.full((3, 4, 2), 0.5)
    samples[1, 2] = [0.9, 0.9]
    with pytest.raises(InvalidInput, match=r"row 11, pass 2 sums to 1\.8") as caught:
        SAMPLES.prepare(samples, {}, 10)
    assert caught.value.field == "samples"


def test_positive_log_probabilities_are_refused():
    logs = np.zeros((2, 2, 2))
    logs[1, 0, 1] = 2.0
    with pytest.raises(InvalidInput, match="row 1, pass 0, column 1") as caught:
        SAMPLES.prepare(logs, {"space": "log"}, 0)
    assert caught.value.field == "samples"


def test_samples_can_be_normalized():
    samples = np.array([[[1.0, 1.0], [3.0, 1.0]]])
    out = SAMPLES.prepare(samples, {"normalize": True}, 0)
    assert out.tolist() == [[[0.5, 0.5], [0.75, 0.25]]]


def test_a_transposed_view_of_samples_is_accepted():
    tnc = np.array([[[0.5, 0.5], [0.9, 0.1]], [[0.2, 0.8], [1.0, 0.0]]])  # 2 passes, 2 items
    out = SAMPLES.prepare(tnc.transpose(1, 0, 2), {}, 0)
    assert out.tolist() == [[[0.5, 0.5], [0.2, 0.8]], [[0.9, 0.1], [1.0, 0.0]]]


# prepare_columns: the same probabilities as prepare, laid out by columns.

OPTIONS = {
    "probabilities": [{}, {"normalize": True}],
    "logits": [{}, {"temperature": 0.5}, {"temperature": 3.0}],
    "samples": [{}, {"normalize": True}, {"space": "log"}, {"space": "log", "normalize": True}],
}


def chunk_for(kind, dtype, rng):
    if kind == "logits":
        return rng.normal(scale=4, size=(30, 7)).astype(dtype)
    weights = rng.gamma(0.5, size=(30, 4, 7) if kind == "samples" else (30, 7))
    weights[rng.random(weights.shape) < 0.2] = 0.0
    weights[..., 0] += 1e-3
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(dtype)


def laid_out(kind, probs):
    return pass_columns(probs) if kind == "samples" else columns(probs)


@pytest.mark.parametrize(
    ("kind", "options"),
    [(kind, options) for kind, choices in OPTIONS.items() for options in choices],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prepare_columns_lays_out_what_prepare_returns(kind, options, dtype):
    chunk = chunk_for(kind, dtype, np.random.default_rng(3))
    if options.get("space") == "log":
        with np.errstate(divide="ignore"):
            chunk = np.log(chunk)
    before = chunk.copy()
    expected = laid_out(kind, INPUT_KINDS[kind].prepare(chunk, options, 0))
    got = INPUT_KINDS[kind].prepare_columns(chunk, options, 0)
    assert got.dtype == dtype
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(chunk, before)


def test_prepare_columns_takes_samples_sent_in_another_axis_order():
    tnc = chunk_for("samples", np.float64, np.random.default_rng(4)).transpose(1, 0, 2)
    view = tnc.transpose(1, 0, 2)  # NTC again, as a view
    got = SAMPLES.prepare_columns(view, {}, 0)
    np.testing.assert_array_equal(got, pass_columns(np.ascontiguousarray(view)))


@pytest.mark.parametrize(
    ("kind", "chunk", "options", "message"),
    [
        ("probabilities", [[0.5, 0.5], [0.25, 0.25]], {}, r"row 41 sums to 0\.5"),
        ("probabilities", [[0.5, 0.5], [0.0, 0.0]], {"normalize": True}, "row 41 sums to 0 "),
        ("logits", [[0.0, 1.0], [math.nan, 0.0]], {}, "row 41 holds a non-finite"),
        ("logits", [[1e300, 0.0]], {"temperature": 1e-10}, "overflow"),
    ],
)
def test_prepare_columns_refuses_what_prepare_refuses(kind, chunk, options, message):
    chunk = np.array(chunk)
    for prepare in (INPUT_KINDS[kind].prepare, INPUT_KINDS[kind].prepare_columns):
        with pytest.raises(InvalidInput, match=message):
            prepare(chunk, options, 40)


def test_prepare_columns_names_the_item_and_pass_of_bad_samples():
    samples = np.full((3, 4, 2), 0.5)
    samples[1, 2] = [0.9, 0.9]
    with pytest.raises(InvalidInput, match=r"row 11, pass 2 sums to 1\.8") as caught:
        SAMPLES.prepare_columns(samples, {}, 10)
    assert caught.value.field == "samples"
    logs = np.zeros((2, 2, 2))
    logs[1, 0, 1] = 2.0
    with pytest.raises(InvalidInput, match="row 1, pass 0, column 1"):
        SAMPLES.prepare_columns(logs, {"space": "log"}, 0)
