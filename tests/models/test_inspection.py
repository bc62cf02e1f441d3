"""Static checks of uploaded bytes: what is refused and why, and what passes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from service.models.errors import ModelRejected
from service.models.inspection import check_model_bytes, inspect_model
from tests.models import builders

WEIGHTS, BIAS = builders.small_classifier()


def _onnx_operators(model: onnx.ModelProto) -> set[tuple[str, str]]:
    """(domain, op_type) of every node, subgraphs and functions included, read by onnx."""
    found: set[tuple[str, str]] = set()

    def graph(g: onnx.GraphProto) -> None:
        for node in g.node:
            found.add((node.domain, node.op_type))
            for attribute in node.attribute:
                for sub in [attribute.g, *attribute.graphs]:
                    graph(sub)

    graph(model.graph)
    for function in model.functions:
        for node in function.node:
            found.add((node.domain, node.op_type))
    return found


@pytest.mark.parametrize(
    "data",
    [
        builders.linear(WEIGHTS, BIAS),
        builders.zipmap(WEIGHTS, BIAS, [1, 2, 3]),
        builders.local_function(),
        builders.external_data_in_subgraph(),
        builders.custom_op(),
    ],
    ids=["linear", "zipmap", "local-function", "subgraph", "custom-op"],
)
def test_walk_finds_what_onnx_finds(data):
    model = onnx.load_from_string(data)
    facts = inspect_model(data)
    assert facts.has_graph
    assert facts.ir_version == model.ir_version
    assert facts.operators == _onnx_operators(model)
    assert facts.opset_domains == {opset.domain for opset in model.opset_import} | {
        opset.domain for function in model.functions for opset in function.opset_import
    }
    assert facts.functions == {(function.domain, function.name) for function in model.functions}


@pytest.mark.parametrize(
    "data",
    [
        builders.linear(WEIGHTS, BIAS),
        builders.zipmap(WEIGHTS, BIAS, [1, 2, 3]),
        builders.local_function(),
    ],
    ids=["linear", "zipmap", "local-function"],
)
def test_valid_models_pass(data):
    facts = check_model_bytes(data)
    assert facts.external_tensors == []


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "no graph"),
        (b"hello, this is not a model", "do not parse as an ONNX model"),
        (builders.linear(WEIGHTS, BIAS)[:-7], "do not parse as an ONNX model"),
        (np.random.default_rng(3).bytes(4096), "do not parse as an ONNX model"),
        (builders.external_data(), "tensor 'W' keeps its data in an external file"),
        (builders.external_data("/etc/passwd"), "external file"),
        (builders.external_data_in_subgraph(), "tensor 'hidden' keeps its data in an external"),
        (builders.custom_op(), "custom domain 'example.custom'"),
        (builders.ep_context(), "'EPContext' loads a compiled model from a file"),
    ],
    ids=[
        "empty",
        "text",
        "truncated",
        "random",
        "external-data",
        "external-absolute",
        "external-in-subgraph",
        "custom-op",
        "ep-context",
    ],
)
def test_refused_with_the_reason(data, says):
    with pytest.raises(ModelRejected, match=says) as caught:
        check_model_bytes(data)
    assert caught.value.status == 422


def test_external_data_flag_alone_is_refused():
    model = onnx.load_from_string(builders.linear(WEIGHTS, BIAS))
    model.graph.initializer[0].data_location = onnx.TensorProto.EXTERNAL
    with pytest.raises(ModelRejected, match="tensor 'W'"):
        check_model_bytes(model.SerializeToString())


def test_sparse_initializer_with_external_values_is_refused():
    model = onnx.load_from_string(builders.linear(WEIGHTS, BIAS))
    sparse = model.graph.sparse_initializer.add()
    sparse.values.name = "sparse_values"
    sparse.values.data_type = onnx.TensorProto.FLOAT
    entry = sparse.values.external_data.add()
    entry.key, entry.value = "location", "values.bin"
    with pytest.raises(ModelRejected, match="tensor 'sparse_values'"):
        check_model_bytes(model.SerializeToString())


def test_deeply_nested_subgraphs_are_refused():
    leaf = onnx.helper.make_graph(
        [onnx.helper.make_node("Constant", [], ["c"], value_floats=[0.0])],
        "leaf",
        [],
        [onnx.helper.make_tensor_value_info("c", onnx.TensorProto.FLOAT, [1])],
    )
    graph = leaf
    for _ in range(20):
        node = onnx.helper.make_node("If", ["flag"], ["c"], then_branch=graph, else_branch=leaf)
        graph = onnx.helper.make_graph(
            [node], "g", [], [onnx.helper.make_tensor_value_info("c", onnx.TensorProto.FLOAT, [1])]
        )
    model = onnx.helper.make_model(graph, ir_version=builders.IR_VERSION)
    with pytest.raises(ModelRejected, match="nested more than 16 deep"):
        check_model_bytes(model.SerializeToString())
