"""Small ONNX graphs the model-scoring benchmarks run, built with the onnx helper API.

Each is serialized with IR version 8 and opset 17 and checked by onnx's
checker before it is returned.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8


def _serialized(graph: onnx.GraphProto) -> bytes:
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def widening_model(repeats: int = 1250, *, width: int = 4) -> bytes:
    """Tile each row ``repeats`` times, softmax, and sum the repeats back: the
    output is softmax(features), each intermediate ``width * repeats`` float32
    per row."""
    graph = helper.make_graph(
        [
            helper.make_node("Tile", ["features", "reps"], ["wide"]),
            helper.make_node("Softmax", ["wide"], ["spread"], axis=1),
            helper.make_node("Reshape", ["spread", "folded_shape"], ["folded"]),
            helper.make_node("ReduceSum", ["folded", "fold_axis"], ["probabilities"], keepdims=0),
        ],
        "widening",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, width])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, width])],
        [
            helper.make_tensor("reps", TensorProto.INT64, [2], [1, repeats]),
            helper.make_tensor("folded_shape", TensorProto.INT64, [3], [0, repeats, -1]),
            helper.make_tensor("fold_axis", TensorProto.INT64, [1], [1]),
        ],
    )
    return _serialized(graph)


def mlp_model(width: int = 64, hidden: int = 32, classes: int = 10, *, seed: int = 0) -> bytes:
    """features (N, width) -> ``hidden`` = relu(x W1 + b1) (N, hidden) ->
    ``probabilities`` = softmax(hidden W2 + b2) (N, classes), seeded normal
    weights: a classifier with a penultimate layer to read as embeddings."""
    rng = np.random.default_rng(seed)
    weights = {
        "W1": rng.normal(size=(width, hidden)) / np.sqrt(width),
        "b1": rng.normal(size=hidden) * 0.1,
        "W2": rng.normal(size=(hidden, classes)) / np.sqrt(hidden),
        "b2": rng.normal(size=classes) * 0.1,
    }
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W1"], ["xw1"]),
            helper.make_node("Add", ["xw1", "b1"], ["pre"]),
            helper.make_node("Relu", ["pre"], ["hidden"]),
            helper.make_node("MatMul", ["hidden", "W2"], ["hw2"]),
            helper.make_node("Add", ["hw2", "b2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, width])],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, classes]),
            helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [None, hidden]),
        ],
        [
            numpy_helper.from_array(value.astype(np.float32), name)
            for name, value in weights.items()
        ],
    )
    return _serialized(graph)
