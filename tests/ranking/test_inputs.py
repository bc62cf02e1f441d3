import math

import numpy as np
import pytest

from service.errors import InvalidInput
from service.ranking.inputs import ARRAY_ROLES, INPUT_KINDS, ArraySpec, ChunkContext
from service.ranking.rowops import columns, pass_columns

PROBS = INPUT_KINDS["probabilities"]
LOGITS = INPUT_KINDS["logits"]
SAMPLES = INPUT_KINDS["samples"]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}


def context(kind, row_offset=0, *, normalize=False, **params):
    """The context the pipeline gives a chunk of ``kind`` starting at ``row_offset``."""
    return ChunkContext(kind.name, row_offset, params, normalize)


def test_input_kinds_and_their_axes():
    assert {name: kind.axes for name, kind in INPUT_KINDS.items()} == {
        "probabilities": "NC",
        "logits": "NC",
        "samples": "NTC",
        "token_probabilities": "RC",
        "token_logits": "RC",
        "token_samples": "RTC",
        "label_probabilities": "NL",
        "label_logits": "NL",
    }
    assert {name: (kind.yields, kind.unit) for name, kind in INPUT_KINDS.items()} == {
        "probabilities": ("probs", "item"),
        "logits": ("probs", "item"),
        "samples": ("samples", "item"),
        "token_probabilities": ("probs", "token"),
        "token_logits": ("probs", "token"),
        "token_samples": ("samples", "token"),
        "label_probabilities": ("labels", "label"),
        "label_logits": ("labels", "label"),
    }
    for kind in INPUT_KINDS.values():
        assert (kind.lengths is not None) == (kind.unit == "token")
        assert ("aggregate" in [param.name for param in kind.params]) == kind.has_units


def test_array_roles_are_declared_as_array_specs():
    assert {name: spec.axes for name, spec in ARRAY_ROLES.items()} == {
        "embeddings": "ND",
        "labeled_embeddings": "MD",
        "labeled_labels": "ML",
    }
    for name, spec in ARRAY_ROLES.items():
        assert isinstance(spec, ArraySpec)
        assert spec.name == name
        assert spec.description


def test_samples_may_be_sent_in_another_axis_order():
    assert SAMPLES.sent_axes({"layout": "TNC"}) == "TNC"
    assert PROBS.sent_axes({}) == "NC"


def test_probabilities_are_checked_and_laid_out_by_columns():
    probs = np.array([[0.25, 0.75], [1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    out = PROBS.prepare(probs, context(PROBS))
    assert out.dtype == np.float32
    assert out.flags.c_contiguous
    assert not np.shares_memory(out, probs)
    assert out.tolist() == [[0.25, 1.0, 0.5], [0.75, 0.0, 0.5]]


def test_probabilities_errors_give_the_pool_row():
    with pytest.raises(InvalidInput, match=r"row 41 sums to 0\.5") as caught:
        PROBS.prepare(np.array([[0.5, 0.5], [0.25, 0.25]]), context(PROBS, 40))
    assert caught.value.field == "probabilities"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_rescales_probability_rows(dtype):
    rows = np.array([[1, 3], [2, 2]], dtype=dtype)
    out = PROBS.prepare(rows, context(PROBS, normalize=True))
    assert out.dtype == dtype
    assert out.T.tolist() == [[0.25, 0.75], [0.5, 0.5]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_become_probabilities_by_softmax(dtype):
    logits = np.array([[math.log(3), 0.0]], dtype=dtype)  # 3 : 1
    out = LOGITS.prepare(logits, context(LOGITS, temperature=1.0))
    assert out.dtype == dtype
    np.testing.assert_allclose(out.T, [[0.75, 0.25]], rtol=1e-6)


def test_non_finite_logits_are_refused_with_their_row():
    logits = np.zeros((3, 2))
    logits[2, 0] = -math.inf
    with pytest.raises(InvalidInput, match="row 7 holds a non-finite") as caught:
        LOGITS.prepare(logits, context(LOGITS, 5))
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
        LOGITS.prepare(logits, context(LOGITS, temperature=temperature))
    # The core names the parameter; the entry point files it under params.
    assert caught.value.field == "temperature"


def test_samples_in_log_space_are_exponentiated():
    probs = np.array([[[0.5, 0.5], [0.9, 0.1]]])
    out = SAMPLES.prepare(np.log(probs), context(SAMPLES, space="log"))
    np.testing.assert_allclose(out, pass_columns(probs), rtol=1e-15)


def test_log_space_accepts_minus_inf_as_probability_zero():
    logs = np.array([[[0.0, -math.inf], [math.log(0.5), math.log(0.5)]]])
    out = SAMPLES.prepare(logs, context(SAMPLES, space="log"))
    assert out.tolist() == pass_columns(np.array([[[1.0, 0.0], [0.5, 0.5]]])).tolist()


def test_bad_samples_name_the_item_and_the_pass():
    samples = np.full((3, 4, 2), 0.5)
    samples[1, 2] = [0.9, 0.9]
    with pytest.raises(InvalidInput, match=r"row 11, pass 2 sums to 1\.8") as caught:
        SAMPLES.prepare(samples, context(SAMPLES, 10))
    assert caught.value.field == "samples"


def test_positive_log_probabilities_are_refused():
    logs = np.zeros((2, 2, 2))
    logs[1, 0, 1] = 2.0
    with pytest.raises(InvalidInput, match="row 1, pass 0, column 1") as caught:
        SAMPLES.prepare(logs, context(SAMPLES, space="log"))
    assert caught.value.field == "samples"


def test_samples_can_be_normalized():
    samples = np.array([[[1.0, 1.0], [3.0, 1.0]]])
    out = SAMPLES.prepare(samples, context(SAMPLES, normalize=True))
    assert out.tolist() == pass_columns(np.array([[[0.5, 0.5], [0.75, 0.25]]])).tolist()


def test_a_transposed_view_of_samples_is_accepted():
    tnc = np.array([[[0.5, 0.5], [0.9, 0.1]], [[0.2, 0.8], [1.0, 0.0]]])  # 2 passes, 2 items
    view = tnc.transpose(1, 0, 2)  # NTC, as a view
    out = SAMPLES.prepare(view, context(SAMPLES))
    assert out.flags.c_contiguous
    expected = [[[0.5, 0.5], [0.2, 0.8]], [[0.9, 0.1], [1.0, 0.0]]]  # NTC rows
    assert out.tolist() == pass_columns(np.array(expected)).tolist()


# prepare on every kind and option against a slow reference: Python floats,
# math.exp and math.fsum, one row (or pass) at a time.

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


def reference_row(kind, row, options):
    """The probabilities prepare makes of one row (one pass, for samples)."""
    if kind == "logits":
        scaled = [x / options.get("temperature", 1.0) for x in row]
        weights = [math.exp(x - max(scaled)) for x in scaled]
        return [w / math.fsum(weights) for w in weights]
    if options.get("space") == "log":
        row = [math.exp(x) for x in row]
    if options.get("normalize"):
        row = [x / math.fsum(row) for x in row]
    return row


def reference_columns(kind, chunk, options):
    rows = chunk.astype(np.float64).reshape(-1, chunk.shape[-1]).tolist()
    probs = np.array([reference_row(kind, row, options) for row in rows]).reshape(chunk.shape)
    return pass_columns(probs) if kind == "samples" else columns(probs)


@pytest.mark.parametrize(
    ("kind", "options"),
    [(kind, options) for kind, choices in OPTIONS.items() for options in choices],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prepare_lays_out_the_reference_probabilities_by_columns(kind, options, dtype):
    chunk = chunk_for(kind, dtype, np.random.default_rng(3))
    if options.get("space") == "log":
        with np.errstate(divide="ignore"):
            chunk = np.log(chunk)
    before = chunk.copy()
    params = {key: value for key, value in options.items() if key != "normalize"}
    ctx = ChunkContext(kind, 0, params, options.get("normalize", False))
    got = INPUT_KINDS[kind].prepare(chunk, ctx)
    assert got.dtype == dtype
    assert got.flags.c_contiguous
    assert got.shape == ((4, 7, 30) if kind == "samples" else (7, 30))
    np.testing.assert_allclose(got, reference_columns(kind, chunk, options), rtol=RTOL[dtype])
    if not options and kind != "logits":
        # Checked, not transformed: the columns hold the very values sent.
        laid_out = pass_columns(chunk) if kind == "samples" else columns(chunk)
        np.testing.assert_array_equal(got, laid_out)
    np.testing.assert_array_equal(chunk, before)


@pytest.mark.parametrize(
    ("kind", "chunk", "options", "message"),
    [
        ("probabilities", [[0.5, 0.5], [0.25, 0.25]], {}, r"row 41 sums to 0\.5"),
        ("probabilities", [[0.5, 0.5], [0.0, 0.0]], {"normalize": True}, "row 41 sums to 0 "),
        ("probabilities", [[0.5, 0.5], [-1.0, 2.0]], {"normalize": True}, "row 41 holds a neg"),
        ("logits", [[0.0, 1.0], [math.nan, 0.0]], {}, "row 41 holds a non-finite"),
        ("logits", [[1e300, 0.0]], {"temperature": 1e-10}, "overflow"),
        (
            "samples",
            [[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.0, 0.0]]],
            {"normalize": True},
            "row 41, pass 1 sums to 0 ",
        ),
        ("samples", [[[0.0, 0.0], [0.0, math.nan]]], {"space": "log"}, "row 40, pass 1, column 1"),
    ],
)
def test_prepare_refuses_bad_chunks_naming_the_pool_row(kind, chunk, options, message):
    params = {key: value for key, value in options.items() if key != "normalize"}
    ctx = ChunkContext(kind, 40, params, options.get("normalize", False))
    with pytest.raises(InvalidInput, match=message):
        INPUT_KINDS[kind].prepare(np.array(chunk), ctx)
