"""Switching a model's dropout on: the rewritten graph, its passes and its refusals."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from service.errors import InvalidInput
from service.models.dropout import TRAINING_INPUT, _node_seed, with_dropout_on
from service.models.inspection import inspect_model
from tests.models.builders import dropout_two_layer, linear, two_layer_reference

WIDTH, HIDDEN, CLASSES, ROWS, RATIO = 6, 16, 3, 200, 0.25
RNG = np.random.default_rng(11)
WEIGHTS = (
    RNG.normal(size=(WIDTH, HIDDEN)),
    RNG.normal(size=HIDDEN) * 0.1 + 0.5,
    RNG.normal(size=(HIDDEN, CLASSES)),
    RNG.normal(size=CLASSES) * 0.1,
)
FEATURES = RNG.normal(size=(ROWS, WIDTH)).astype(np.float32)


def _session(data: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _passes(data: bytes, count: int) -> list[list[np.ndarray]]:
    session = _session(data)
    return [session.run(["probabilities", "dropped"], {"features": FEATURES}) for _ in range(count)]


def test_the_rewritten_dropout_zeroes_and_rescales_the_hidden_layer():
    rewrite = with_dropout_on(dropout_two_layer(*WEIGHTS, ratio=RATIO), seed=5)
    assert rewrite.nodes == 1
    _, hidden = two_layer_reference(FEATURES, *WEIGHTS)
    for probabilities, dropped in _passes(rewrite.data, 3):
        kept = dropped != 0
        np.testing.assert_allclose(dropped[kept], hidden[kept] / (1 - RATIO), rtol=1e-4, atol=1e-6)
        # Each unit is dropped with probability RATIO: within 5 standard deviations.
        live = hidden > 0
        dropped_share = 1 - kept[live].mean()
        sigma = np.sqrt(RATIO * (1 - RATIO) / live.sum())
        assert abs(dropped_share - RATIO) < 5 * sigma
        logits = dropped.astype(np.float64) @ WEIGHTS[2] + WEIGHTS[3]
        expected = np.exp(logits - logits.max(axis=1, keepdims=True))
        expected /= expected.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(probabilities, expected, rtol=1e-4, atol=1e-6)


def test_passes_differ_and_a_fresh_session_of_the_same_seed_repeats_them():
    data = with_dropout_on(dropout_two_layer(*WEIGHTS, ratio=RATIO), seed=5).data
    first, again = _passes(data, 4), _passes(data, 4)
    for one, other in zip(first, again, strict=True):
        np.testing.assert_array_equal(one[0], other[0])
    assert not np.array_equal(first[0][0], first[1][0])
    other_seed = _passes(with_dropout_on(dropout_two_layer(*WEIGHTS), seed=6).data, 1)
    assert not np.array_equal(other_seed[0][0], first[0][0])


def test_the_rewrite_matches_one_made_with_the_onnx_library():
    original = dropout_two_layer(*WEIGHTS, ratio=RATIO, seed=99)
    rewritten = onnx.load_from_string(with_dropout_on(original, seed=5).data)
    onnx.checker.check_model(rewritten, full_check=True)
    expected = onnx.load_from_string(original)
    (node,) = [node for node in expected.graph.node if node.op_type == "Dropout"]
    node.input.append(TRAINING_INPUT)
    del node.attribute[:]
    node.attribute.append(onnx.helper.make_attribute("seed", _node_seed(5, 0)))
    expected.graph.initializer.append(numpy_helper.from_array(np.array(True), TRAINING_INPUT))
    for got, want in zip(
        _passes(rewritten.SerializeToString(), 2),
        _passes(expected.SerializeToString(), 2),
        strict=True,
    ):
        np.testing.assert_array_equal(got[0], want[0])
    # Nothing but the Dropout node and the constant changed.
    assert [n.op_type for n in rewritten.graph.node] == [n.op_type for n in expected.graph.node]
    assert {t.name for t in rewritten.graph.initializer} == {
        t.name for t in expected.graph.initializer
    }


def test_every_dropout_node_gets_its_own_seed_and_the_ops_stay_the_same():
    model = onnx.load_from_string(dropout_two_layer(*WEIGHTS))
    second = onnx.helper.make_node("Dropout", ["dropped", "ratio"], ["dropped_again"])
    model.graph.node.insert(4, second)
    model.graph.node[5].input[0] = "dropped_again"
    data = model.SerializeToString()
    rewrite = with_dropout_on(data, seed=1)
    assert rewrite.nodes == 2
    seeds = [
        next(a.i for a in node.attribute if a.name == "seed")
        for node in onnx.load_from_string(rewrite.data).graph.node
        if node.op_type == "Dropout"
    ]
    assert seeds == [_node_seed(1, 0), _node_seed(1, 1)]
    assert len(set(seeds)) == 2
    assert inspect_model(rewrite.data).operators == inspect_model(data).operators


def test_a_training_mode_input_already_wired_is_replaced():
    model = onnx.load_from_string(dropout_two_layer(*WEIGHTS))
    model.graph.initializer.append(numpy_helper.from_array(np.array(False), "off"))
    (node,) = [node for node in model.graph.node if node.op_type == "Dropout"]
    node.input.append("off")
    rewrite = with_dropout_on(model.SerializeToString(), seed=2)
    (rewritten,) = [
        n for n in onnx.load_from_string(rewrite.data).graph.node if n.op_type == "Dropout"
    ]
    assert list(rewritten.input) == ["hidden", "ratio", TRAINING_INPUT]


def test_the_constant_takes_a_name_the_model_does_not_use():
    model = onnx.load_from_string(dropout_two_layer(*WEIGHTS))
    model.graph.node[0].output[0] = TRAINING_INPUT
    model.graph.node[1].input[0] = TRAINING_INPUT
    rewrite = with_dropout_on(model.SerializeToString(), seed=2)
    (node,) = [n for n in onnx.load_from_string(rewrite.data).graph.node if n.op_type == "Dropout"]
    assert node.input[2] == f"{TRAINING_INPUT}_1"
    assert len(_passes(rewrite.data, 1)) == 1


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (linear(np.ones((3, 2)), np.zeros(2)), "no Dropout node"),
        (dropout_two_layer(*WEIGHTS, opset=11), "opset 11"),
        (b"\x3a\x05\x0a\x03abc" + b"\x0a", "could not be rewritten"),
    ],
    ids=["no-dropout", "old-opset", "malformed"],
)
def test_a_model_whose_dropout_cannot_be_switched_on_is_refused(data, says):
    with pytest.raises(InvalidInput, match=says) as caught:
        with_dropout_on(data, seed=0)
    assert caught.value.field == "params.passes"
