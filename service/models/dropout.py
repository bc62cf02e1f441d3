"""A model's Dropout nodes switched on, for Monte-Carlo dropout passes.

An exported model runs its Dropout nodes in inference mode: each passes its
input through, so every pass gives the same output. ``with_dropout_on``
rewrites the bytes of a validated model so that every Dropout node of its
main graph (ONNX Dropout, opset 12 or later) takes a constant ``true`` as
its ``training_mode`` input and a ``seed`` attribute drawn from the request's
seed. onnxruntime gives each seeded Dropout node its own random stream,
which starts afresh in every new session and advances with each run: a new
session of the rewritten bytes, run in the same order over the same rows,
gives the same passes.

The rewrite touches nothing else. Its result is checked like an upload's
bytes (see inspection) and must hold exactly the operators the original
holds, so no operator the upload checks did not see is ever loaded. Field
numbers are those of onnx.proto.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.errors import InvalidInput
from service.models.errors import ModelRejected
from service.models.inspection import check_model_bytes
from service.models.protowire import (
    VARINT,
    WireError,
    as_int,
    as_message,
    as_text,
    bytes_field,
    iter_field_spans,
    varint_field,
)

PASSES_FIELD = "params.passes"
# Dropout takes training_mode from this opset on; earlier ones have no way
# to run it in training mode.
TRAINING_MODE_OPSET = 12
DEFAULT_DOMAINS = ("", "ai.onnx")
TRAINING_INPUT = "alrank_dropout_training_mode"
# onnx.proto: ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto.
_MODEL_GRAPH, _MODEL_OPSET = 7, 8
_OPSET_DOMAIN, _OPSET_VERSION = 1, 2
_GRAPH_NODE, _GRAPH_INITIALIZER = 1, 5
_NODE_INPUT, _NODE_OP_TYPE, _NODE_ATTRIBUTE, _NODE_DOMAIN = 1, 4, 5, 7
_ATTRIBUTE_NAME, _ATTRIBUTE_INT, _ATTRIBUTE_TYPE, _ATTRIBUTE_TYPE_INT = 1, 3, 20, 2
_TENSOR_DATA_TYPE, _TENSOR_NAME, _TENSOR_RAW_DATA, _TENSOR_BOOL = 2, 8, 9, 9


@dataclass(frozen=True)
class DropoutRewrite:
    """The rewritten model bytes, and how many Dropout nodes were switched on."""

    data: bytes
    nodes: int


def with_dropout_on(data: bytes, seed: int) -> DropoutRewrite:
    """``data`` (a validated ONNX model) with every Dropout node of its main graph
    in training mode, node ``i`` seeded from (``seed``, ``i``).

    InvalidInput (field params.passes) when the main graph has no Dropout
    node, or its opset has no training mode.
    """
    try:
        model = _rewrite_model(memoryview(data), seed)
    except WireError as error:
        raise InvalidInput(
            f"the model's bytes could not be rewritten to switch its dropout on: {error}",
            field=PASSES_FIELD,
        ) from None
    _check_rewrite(data, model.data)
    return model


def _rewrite_model(data: memoryview, seed: int) -> DropoutRewrite:
    opset = _default_opset(data)
    parts: list[bytes | memoryview] = []
    nodes = 0
    for number, wire, value, span in iter_field_spans(data):
        if number != _MODEL_GRAPH:
            parts.append(span)
            continue
        graph, nodes = _rewrite_graph(as_message(number, wire, value), seed, bytes(data))
        parts.append(bytes_field(_MODEL_GRAPH, graph))
    if nodes == 0:
        raise InvalidInput(
            "params.passes runs the model with its dropout on, and its main graph has no "
            "Dropout node: export the model with its Dropout layers kept (PyTorch drops them "
            "when exporting in eval mode), or send samples or a committee of models instead",
            field=PASSES_FIELD,
        )
    if opset is None or opset < TRAINING_MODE_OPSET:
        found = "no default-domain opset" if opset is None else f"opset {opset}"
        raise InvalidInput(
            f"the model's Dropout nodes are {found}, which cannot run them in training mode; "
            f"export it with opset {TRAINING_MODE_OPSET} or later",
            field=PASSES_FIELD,
        )
    return DropoutRewrite(b"".join(parts), nodes)


def _default_opset(data: memoryview) -> int | None:
    for number, wire, value, _ in iter_field_spans(data):
        if number != _MODEL_OPSET:
            continue
        domain, version = "", None
        for field, field_wire, field_value, _ in iter_field_spans(as_message(number, wire, value)):
            if field == _OPSET_DOMAIN:
                domain = as_text(field, field_wire, field_value)
            elif field == _OPSET_VERSION:
                version = as_int(field, field_wire, field_value)
        if domain in DEFAULT_DOMAINS:
            return version
    return None


def _rewrite_graph(graph: memoryview, seed: int, model: bytes) -> tuple[bytes, int]:
    """The graph with its Dropout nodes rewritten and the constant they read, and
    how many nodes were rewritten."""
    training_input = _unused_name(model)
    parts: list[bytes | memoryview] = []
    nodes = 0
    for number, wire, value, span in iter_field_spans(graph):
        if number == _GRAPH_NODE and _is_dropout(as_message(number, wire, value)):
            node = _rewrite_node(
                as_message(number, wire, value), _node_seed(seed, nodes), training_input
            )
            parts.append(bytes_field(_GRAPH_NODE, node))
            nodes += 1
        else:
            parts.append(span)
    if nodes:
        parts.append(bytes_field(_GRAPH_INITIALIZER, _true_scalar(training_input)))
    return b"".join(parts), nodes


def _is_dropout(node: memoryview) -> bool:
    op_type, domain = "", ""
    for number, wire, value, _ in iter_field_spans(node):
        if number == _NODE_OP_TYPE:
            op_type = as_text(number, wire, value)
        elif number == _NODE_DOMAIN:
            domain = as_text(number, wire, value)
    return op_type == "Dropout" and domain in DEFAULT_DOMAINS


def _rewrite_node(node: memoryview, seed: int, training_input: str) -> bytes:
    """The Dropout node reading (data, ratio or none, ``training_input``), its
    seed attribute replaced by ``seed``; every other field as it was."""
    inputs: list[bytes] = []
    kept: list[bytes | memoryview] = []
    for number, wire, value, span in iter_field_spans(node):
        if number == _NODE_INPUT:
            inputs.append(bytes(as_message(number, wire, value)))
            continue
        if number == _NODE_ATTRIBUTE and _attribute_name(as_message(number, wire, value)) == "seed":
            continue
        kept.append(span)
    # Dropout's inputs: data, then the optional ratio ("" when absent), then training_mode.
    data_and_ratio = [*inputs, b"", b""][:2]
    wired = [*data_and_ratio, training_input.encode()]
    seed_attribute = (
        bytes_field(_ATTRIBUTE_NAME, b"seed")
        + varint_field(_ATTRIBUTE_INT, seed)
        + varint_field(_ATTRIBUTE_TYPE, _ATTRIBUTE_TYPE_INT)
    )
    return b"".join(
        [
            *(bytes_field(_NODE_INPUT, name) for name in wired),
            *kept,
            bytes_field(_NODE_ATTRIBUTE, seed_attribute),
        ]
    )


def _attribute_name(attribute: memoryview) -> str:
    for number, wire, value, _ in iter_field_spans(attribute):
        if number == _ATTRIBUTE_NAME and wire != VARINT:
            return as_text(number, wire, value)
    return ""


def _true_scalar(name: str) -> bytes:
    """A TensorProto: the bool scalar ``true`` called ``name``."""
    return (
        varint_field(_TENSOR_DATA_TYPE, _TENSOR_BOOL)
        + bytes_field(_TENSOR_NAME, name.encode())
        + bytes_field(_TENSOR_RAW_DATA, b"\x01")
    )


def _unused_name(model: bytes) -> str:
    """A tensor name that appears nowhere in the model's bytes."""
    name, suffix = TRAINING_INPUT, 0
    while name.encode() in model:
        suffix += 1
        name = f"{TRAINING_INPUT}_{suffix}"
    return name


def _node_seed(seed: int, index: int) -> int:
    """Dropout node ``index``'s seed: a non-negative int64 from (seed, index)."""
    state = np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0]
    return int(state) & ((1 << 63) - 1)


def _check_rewrite(original: bytes, rewritten: bytes) -> None:
    """The rewritten bytes pass the upload's static checks and hold no operator
    the original does not."""
    try:
        before, after = check_model_bytes(original), check_model_bytes(rewritten)
    except ModelRejected as error:
        raise InvalidInput(
            f"the model with its dropout on fails the upload checks: {error.detail}",
            field=PASSES_FIELD,
        ) from None
    if after.operators != before.operators:
        added = sorted(after.operators - before.operators)
        raise InvalidInput(
            f"switching the model's dropout on would add operators {added}", field=PASSES_FIELD
        )
