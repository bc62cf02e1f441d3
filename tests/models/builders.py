"""Small ONNX models built with the onnx helper API, and the reference answers they give.

Every model takes float32 features (N x D) unless told otherwise and is
serialized with IR version 8 and opset 17, which every supported
onnxruntime loads.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8
OPSET = 17
ML_OPSET = 3


def model_bytes(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    initializers: list[onnx.TensorProto] | None = None,
    *,
    opsets: dict[str, int] | None = None,
    functions: list[onnx.FunctionProto] | None = None,
) -> bytes:
    """A serialized model of one graph."""
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializers or [])
    imports = [helper.make_opsetid(domain, version) for domain, version in (opsets or {}).items()]
    model = helper.make_model(
        graph,
        opset_imports=imports or [helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        functions=functions or [],
    )
    return model.SerializeToString()


def features_info(
    width: int | None,
    *,
    name: str = "features",
    elem: int = TensorProto.FLOAT,
    batch: int | None = None,
) -> onnx.ValueInfoProto:
    """An N x D tensor input (N fixed to ``batch`` when given)."""
    return helper.make_tensor_value_info(name, elem, [batch, width])


def linear(
    weights: np.ndarray,
    bias: np.ndarray,
    *,
    softmax: bool = True,
    label: bool = True,
    input_name: str = "features",
    output_name: str = "probabilities",
    batch: int | None = None,
) -> bytes:
    """features (N, D) @ weights (D, C) + bias (C,), then softmax (or raw logits).

    Outputs: ``label`` (N,) int64 first when ``label``, then the scores (N, C).
    """
    width, classes = weights.shape
    scores = output_name
    nodes = [
        helper.make_node("MatMul", [input_name, "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["logits" if softmax else scores]),
    ]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], [scores], axis=1))
    outputs = [helper.make_tensor_value_info(scores, TensorProto.FLOAT, [batch, classes])]
    if label:
        nodes.append(helper.make_node("ArgMax", [scores], ["label"], axis=1, keepdims=0))
        outputs.insert(0, helper.make_tensor_value_info("label", TensorProto.INT64, [batch]))
    initializers = [
        numpy_helper.from_array(weights.astype(np.float32), "W"),
        numpy_helper.from_array(bias.astype(np.float32), "b"),
    ]
    inputs = [features_info(width, name=input_name, batch=batch)]
    return model_bytes(nodes, inputs, outputs, initializers)


def two_layer(
    hidden_weights: np.ndarray,
    hidden_bias: np.ndarray,
    weights: np.ndarray,
    bias: np.ndarray,
) -> bytes:
    """hidden = relu(features @ hidden_weights + hidden_bias) (N, E), then softmax
    of hidden @ weights + bias (N, C). Outputs: ``probabilities``, ``hidden``, and
    ``label`` (N,) int64."""
    width, embedded = hidden_weights.shape
    classes = weights.shape[1]
    nodes = [
        helper.make_node("MatMul", ["features", "W1"], ["xw1"]),
        helper.make_node("Add", ["xw1", "b1"], ["pre"]),
        helper.make_node("Relu", ["pre"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "W2"], ["hw2"]),
        helper.make_node("Add", ["hw2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    outputs = [
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, classes]),
        helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [None, embedded]),
        helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
    ]
    initializers = [
        numpy_helper.from_array(array.astype(np.float32), name)
        for name, array in (
            ("W1", hidden_weights),
            ("b1", hidden_bias),
            ("W2", weights),
            ("b2", bias),
        )
    ]
    return model_bytes(nodes, [features_info(width)], outputs, initializers)


def two_layer_reference(
    features: np.ndarray, hidden_weights, hidden_bias, weights, bias
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, hidden) of ``two_layer``, in float64."""
    hidden = np.maximum(features.astype(np.float64) @ hidden_weights + hidden_bias, 0.0)
    logits = hidden @ weights + bias
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True), hidden


def zipmap(weights: np.ndarray, bias: np.ndarray, labels: list[int]) -> bytes:
    """The softmax-linear classifier with scikit-learn's ZipMap on its probabilities."""
    width = weights.shape[0]
    map_type = helper.make_map_type_proto(
        TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])
    )
    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        helper.make_node(
            "ZipMap",
            ["probs"],
            ["output_probability"],
            domain="ai.onnx.ml",
            classlabels_int64s=labels,
        ),
    ]
    outputs = [
        helper.make_value_info("output_probability", helper.make_sequence_type_proto(map_type))
    ]
    initializers = [
        numpy_helper.from_array(weights.astype(np.float32), "W"),
        numpy_helper.from_array(bias.astype(np.float32), "b"),
    ]
    return model_bytes(
        nodes,
        [features_info(width)],
        outputs,
        initializers,
        opsets={"": OPSET, "ai.onnx.ml": ML_OPSET},
    )


def identity(width: int | None, *, elem: int = TensorProto.FLOAT) -> bytes:
    """Output ``scores`` = the input, of element type ``elem``: the test controls every value."""
    return model_bytes(
        [helper.make_node("Identity", ["features"], ["scores"])],
        [features_info(width, elem=elem)],
        [helper.make_tensor_value_info("scores", elem, [None, width])],
    )


def softmax_reference(features: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """softmax(features @ weights + bias) by hand, in float64."""
    logits = features.astype(np.float64) @ weights.astype(np.float64) + bias
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def small_classifier(width: int = 5, classes: int = 3, *, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Reproducible (weights (D, C), bias (C,)) of a softmax-linear classifier."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(width, classes)).astype(np.float32)
    bias = rng.normal(size=classes).astype(np.float32)
    return weights, bias


def external_data(location: str = "weights.bin", *, width: int = 3, classes: int = 2) -> bytes:
    """The linear model with its weight tensor stored in an external file."""
    weights = onnx.TensorProto()
    weights.name = "W"
    weights.data_type = TensorProto.FLOAT
    weights.dims.extend([width, classes])
    weights.data_location = TensorProto.EXTERNAL
    for key, value in (
        ("location", location),
        ("offset", "0"),
        ("length", str(4 * width * classes)),
    ):
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    return model_bytes(
        [helper.make_node("MatMul", ["features", "W"], ["scores"])],
        [features_info(width)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, classes])],
        [weights],
    )


def external_data_in_subgraph() -> bytes:
    """External data hidden in a Constant node inside an If branch."""
    tensor = onnx.TensorProto()
    tensor.name = "hidden"
    tensor.data_type = TensorProto.FLOAT
    tensor.dims.extend([1])
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "hidden.bin"
    branch = helper.make_graph(
        [helper.make_node("Constant", [], ["c"], value=tensor)],
        "branch",
        [],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [1])],
    )
    other = helper.make_graph(
        [helper.make_node("Constant", [], ["d"], value_floats=[0.0])],
        "other",
        [],
        [helper.make_tensor_value_info("d", TensorProto.FLOAT, [1])],
    )
    return model_bytes(
        [helper.make_node("If", ["flag"], ["y"], then_branch=branch, else_branch=other)],
        [helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )


def custom_op(domain: str = "example.custom") -> bytes:
    """A node of a custom-operator domain onnxruntime does not ship."""
    return model_bytes(
        [helper.make_node("Frobnicate", ["features"], ["scores"], domain=domain)],
        [features_info(3)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 3])],
        opsets={"": OPSET, domain: 1},
    )


def local_function() -> bytes:
    """A node calling a function the model defines in its own domain: valid ONNX."""
    body = helper.make_function(
        "local.fns",
        "Double",
        ["x"],
        ["y"],
        [helper.make_node("Add", ["x", "x"], ["y"])],
        [helper.make_opsetid("", OPSET)],
    )
    return model_bytes(
        [helper.make_node("Double", ["features"], ["scores"], domain="local.fns")],
        [features_info(3)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 3])],
        opsets={"": OPSET, "local.fns": 1},
        functions=[body],
    )


def ep_context() -> bytes:
    """An EPContext node naming a compiled-model file on disk."""
    return model_bytes(
        [
            helper.make_node(
                "EPContext",
                ["features"],
                ["scores"],
                domain="com.microsoft",
                embed_mode=0,
                ep_cache_context="/etc/passwd",
            )
        ],
        [features_info(3)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 3])],
        opsets={"": OPSET, "com.microsoft": 1},
    )


def expanding(side: int) -> bytes:
    """Adds a constant (side, side) float32 tensor built from a few bytes at run time."""
    return model_bytes(
        [
            helper.make_node("Expand", ["one", "shape"], ["big"]),
            helper.make_node("Add", ["features", "big"], ["scores"]),
        ],
        [features_info(1)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, None])],
        [
            helper.make_tensor("one", TensorProto.FLOAT, [1, 1], [1.0]),
            helper.make_tensor("shape", TensorProto.INT64, [2], [side, side]),
        ],
    )


def widening(repeats: int, *, width: int | None = 4, reduce: bool = False) -> bytes:
    """Tiles each row of ``width`` features ``repeats`` times, then softmax: a few
    hundred bytes whose every row costs ``width * repeats`` float32 per tensor.
    With ``reduce``, the wide rows are summed back to ``width`` columns
    (softmax over width * repeats values, then a sum of each repeated column),
    so only the intermediates are wide."""
    nodes = [
        helper.make_node("Tile", ["features", "reps"], ["wide"]),
        helper.make_node("Softmax", ["wide"], ["spread" if reduce else "probabilities"], axis=1),
    ]
    initializers = [helper.make_tensor("reps", TensorProto.INT64, [2], [1, repeats])]
    if reduce:
        nodes += [
            helper.make_node("Reshape", ["spread", "folded_shape"], ["folded"]),
            helper.make_node("ReduceSum", ["folded", "fold_axis"], ["probabilities"], keepdims=0),
        ]
        initializers += [
            helper.make_tensor("folded_shape", TensorProto.INT64, [3], [0, repeats, -1]),
            helper.make_tensor("fold_axis", TensorProto.INT64, [1], [1]),
        ]
    classes = width if reduce else None
    return model_bytes(
        nodes,
        [features_info(width)],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, classes])],
        initializers,
    )


# Rows per block of widening_reference.
REFERENCE_BLOCK_ROWS = 2_048


def widening_reference(features: np.ndarray, repeats: int, *, reduce: bool = False) -> np.ndarray:
    """What ``widening(repeats, reduce=reduce)`` computes, in float64.

    Computed a block of rows at a time: 200,000 rows widened to 5,000 floats
    would take 8 GB per float64 copy at once.
    """
    blocks = []
    for start in range(0, len(features), REFERENCE_BLOCK_ROWS):
        block = features[start : start + REFERENCE_BLOCK_ROWS].astype(np.float64)
        wide = np.tile(block, (1, repeats))
        spread = np.exp(wide - wide.max(axis=1, keepdims=True))
        spread /= spread.sum(axis=1, keepdims=True)
        blocks.append(spread if not reduce else spread.reshape(len(block), repeats, -1).sum(axis=1))
    if not blocks:
        width = features.shape[1] * (1 if reduce else repeats)
        return np.empty((0, width), dtype=np.float64)
    return np.concatenate(blocks)


def two_inputs() -> bytes:
    """A model of two inputs: valid, but not one ranking can feed."""
    return model_bytes(
        [helper.make_node("Add", ["a", "b"], ["scores"])],
        [features_info(3, name="a"), features_info(3, name="b")],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 3])],
    )


def int_input(width: int = 3) -> bytes:
    """Takes int64 token-like features, returns softmax over them as probabilities."""
    return model_bytes(
        [
            helper.make_node("Cast", ["features"], ["floats"], to=TensorProto.FLOAT),
            helper.make_node("Softmax", ["floats"], ["probabilities"], axis=1),
        ],
        [features_info(width, elem=TensorProto.INT64)],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, width])],
    )


def dropout_two_layer(
    hidden_weights: np.ndarray,
    hidden_bias: np.ndarray,
    weights: np.ndarray,
    bias: np.ndarray,
    *,
    ratio: float = 0.5,
    opset: int = OPSET,
    seed: int | None = None,
    dropped_output: bool = True,
) -> bytes:
    """``two_layer`` with a Dropout of ``ratio`` on the hidden layer: outputs
    ``probabilities`` (N, C) and, with ``dropped_output``, ``dropped`` (N, E),
    the hidden layer after dropout. In inference mode the dropout passes
    ``hidden`` through."""
    width, embedded = hidden_weights.shape
    classes = weights.shape[1]
    attributes = {} if seed is None else {"seed": seed}
    if opset >= 12:
        dropout = helper.make_node("Dropout", ["hidden", "ratio"], ["dropped"], **attributes)
    else:
        dropout = helper.make_node("Dropout", ["hidden"], ["dropped"], ratio=ratio)
    nodes = [
        helper.make_node("MatMul", ["features", "W1"], ["xw1"]),
        helper.make_node("Add", ["xw1", "b1"], ["pre"]),
        helper.make_node("Relu", ["pre"], ["hidden"]),
        dropout,
        helper.make_node("MatMul", ["dropped", "W2"], ["hw2"]),
        helper.make_node("Add", ["hw2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    outputs = [
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, classes]),
        helper.make_tensor_value_info("dropped", TensorProto.FLOAT, [None, embedded]),
    ][: 2 if dropped_output else 1]
    arrays = [("W1", hidden_weights), ("b1", hidden_bias), ("W2", weights), ("b2", bias)]
    initializers = [
        numpy_helper.from_array(array.astype(np.float32), name) for name, array in arrays
    ]
    if opset >= 12:
        initializers.append(numpy_helper.from_array(np.array(ratio, np.float32), "ratio"))
    return model_bytes(nodes, [features_info(width)], outputs, initializers, opsets={"": opset})


def dropout_after_output() -> bytes:
    """A softmax classifier (3 features, 2 classes) whose one Dropout feeds an
    output of its own, so its class probabilities never change with dropout."""
    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("Dropout", ["logits", "ratio"], ["noisy"]),
    ]
    outputs = [
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2]),
        helper.make_tensor_value_info("noisy", TensorProto.FLOAT, [None, 2]),
    ]
    initializers = [
        numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2) / 6, "W"),
        numpy_helper.from_array(np.array(0.5, np.float32), "ratio"),
    ]
    return model_bytes(nodes, [features_info(3)], outputs, initializers)


def multilabel(
    weights: np.ndarray,
    bias: np.ndarray,
    *,
    sigmoid: bool = True,
    output_name: str = "scores",
    label: bool = True,
    logits_output: bool = False,
) -> bytes:
    """A multi-label linear model: sigmoid(features (N, D) @ weights (D, L) + bias (L,))
    per label, or the raw per-label logits when not ``sigmoid``.

    Outputs, in order: ``label`` (N, L) int64 (logit > 0) when ``label``, as
    scikit-learn's converters put the predicted labels first; the scores
    (N, L); and, with ``logits_output`` (and ``sigmoid``), ``logits`` (N, L).
    """
    width, labels = weights.shape
    scores = output_name
    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["logits" if sigmoid else scores]),
    ]
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["logits"], [scores]))
    outputs = [helper.make_tensor_value_info(scores, TensorProto.FLOAT, [None, labels])]
    if label:
        raw = "logits" if sigmoid else scores
        nodes += [
            helper.make_node("Greater", [raw, "zero"], ["positive"]),
            helper.make_node("Cast", ["positive"], ["label"], to=TensorProto.INT64),
        ]
        outputs.insert(0, helper.make_tensor_value_info("label", TensorProto.INT64, [None, labels]))
    if logits_output and sigmoid:
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, labels]))
    initializers = [
        numpy_helper.from_array(weights.astype(np.float32), "W"),
        numpy_helper.from_array(bias.astype(np.float32), "b"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
    ]
    return model_bytes(nodes, [features_info(width)], outputs, initializers)


def multilabel_reference(
    features: np.ndarray, weights: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(per-label probabilities, per-label logits) of ``multilabel``, in float64."""
    logits = features.astype(np.float64) @ weights.astype(np.float64) + bias.astype(np.float64)
    return 1 / (1 + np.exp(-logits)), logits
