"""Static checks of untrusted ONNX bytes, before onnxruntime ever parses them.

The walk reads every graph of the model (the main graph, subgraphs held in
node attributes, training graphs and local function bodies) and collects
what matters for safety: tensors whose data lives in an external file
(onnxruntime would open that file), operator domains (custom operators need
libraries onnxruntime does not ship) and EPContext nodes (which name
compiled-model files on disk). Field numbers are those of onnx.proto.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.models.errors import ModelRejected
from service.models.protowire import WireError, as_int, as_message, as_text, iter_fields

# Operator domains whose kernels ship with onnxruntime's CPU build.
SHIPPED_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})
# Nodes that make onnxruntime read a compiled model from a file.
FILE_BACKED_OPS = frozenset({"EPContext"})
# Deeper nesting of subgraphs than this is refused as hostile.
MAX_GRAPH_DEPTH = 16
# TensorProto.DataLocation.EXTERNAL
_EXTERNAL = 1
# How many problems one refusal lists.
_MAX_REASONS = 3


@dataclass
class ModelFacts:
    """What the walk found in a model."""

    ir_version: int | None = None
    has_graph: bool = False
    opset_domains: set[str] = field(default_factory=set)
    # (domain, op_type) of every node, including those inside functions.
    operators: set[tuple[str, str]] = field(default_factory=set)
    # (domain, name) of every local function the model defines.
    functions: set[tuple[str, str]] = field(default_factory=set)
    # Names of tensors whose data lives outside the model bytes.
    external_tensors: list[str] = field(default_factory=list)


def inspect_model(data: bytes) -> ModelFacts:
    """Walk ``data`` as an ONNX ModelProto; WireError if it is not one."""
    facts = ModelFacts()
    for number, wire, value in iter_fields(memoryview(data)):
        if number == 1:  # ir_version
            facts.ir_version = as_int(number, wire, value)
        elif number == 7:  # graph
            facts.has_graph = True
            _graph(as_message(number, wire, value), facts, depth=0)
        elif number == 8:  # opset_import
            facts.opset_domains.add(_opset_domain(as_message(number, wire, value)))
        elif number == 20:  # training_info
            _training_info(as_message(number, wire, value), facts)
        elif number == 25:  # functions
            _function(as_message(number, wire, value), facts)
    return facts


def check_model_bytes(data: bytes) -> ModelFacts:
    """The facts of a model the service may load; ModelRejected saying why otherwise."""
    try:
        facts = inspect_model(data)
    except WireError as error:
        raise ModelRejected(f"the bytes do not parse as an ONNX model: {error}") from None
    except RecursionError:
        raise ModelRejected("the model nests messages too deeply") from None
    if not facts.has_graph or facts.ir_version is None:
        missing = "graph" if not facts.has_graph else "IR version"
        raise ModelRejected(f"the bytes do not parse as an ONNX model: it has no {missing}")
    reasons = refusal_reasons(facts)
    if reasons:
        raise ModelRejected("; ".join(reasons[:_MAX_REASONS]))
    return facts


def refusal_reasons(facts: ModelFacts) -> list[str]:
    """Why the service refuses a model that parses, if it does: one line per problem."""
    reasons = [
        f"tensor {name!r} keeps its data in an external file; models must hold every "
        "tensor inside the uploaded bytes"
        for name in facts.external_tensors
    ]
    named = {domain for domain, _ in facts.functions}
    for domain, op_type in sorted(facts.operators):
        if op_type in FILE_BACKED_OPS and domain == "com.microsoft":
            reasons.append(f"operator {op_type!r} loads a compiled model from a file")
        elif domain not in SHIPPED_DOMAINS and (domain, op_type) not in facts.functions:
            reasons.append(_custom_domain(domain, f"operator {op_type!r}"))
            named.add(domain)
    reasons.extend(
        _custom_domain(domain, "an opset import")
        for domain in sorted(facts.opset_domains - SHIPPED_DOMAINS - named)
    )
    return reasons


def _custom_domain(domain: str, what: str) -> str:
    shipped = ", ".join(sorted(d or "ai.onnx" for d in SHIPPED_DOMAINS - {""}))
    return (
        f"{what} uses the custom domain {domain!r}; only operators onnxruntime ships "
        f"are accepted ({shipped})"
    )


def _graph(data: memoryview, facts: ModelFacts, *, depth: int) -> None:
    if depth > MAX_GRAPH_DEPTH:
        raise WireError(f"subgraphs nested more than {MAX_GRAPH_DEPTH} deep")
    for number, wire, value in iter_fields(data):
        if number == 1:  # node
            _node(as_message(number, wire, value), facts, depth=depth)
        elif number == 5:  # initializer
            _tensor(as_message(number, wire, value), facts)
        elif number == 15:  # sparse_initializer
            _sparse_tensor(as_message(number, wire, value), facts)


def _node(data: memoryview, facts: ModelFacts, *, depth: int) -> None:
    op_type, domain = "", ""
    for number, wire, value in iter_fields(data):
        if number == 4:
            op_type = as_text(number, wire, value)
        elif number == 7:
            domain = as_text(number, wire, value)
        elif number == 5:  # attribute
            _attribute(as_message(number, wire, value), facts, depth=depth)
    facts.operators.add((domain, op_type))


def _attribute(data: memoryview, facts: ModelFacts, *, depth: int) -> None:
    for number, wire, value in iter_fields(data):
        if number in (5, 10):  # t, tensors
            _tensor(as_message(number, wire, value), facts)
        elif number in (6, 11):  # g, graphs
            _graph(as_message(number, wire, value), facts, depth=depth + 1)
        elif number in (22, 23):  # sparse_tensor, sparse_tensors
            _sparse_tensor(as_message(number, wire, value), facts)


def _tensor(data: memoryview, facts: ModelFacts) -> None:
    name, external = "", False
    for number, wire, value in iter_fields(data):
        if number == 8:
            name = as_text(number, wire, value)
        elif number == 13:  # external_data entries
            external = True
        elif number == 14:  # data_location
            external = external or as_int(number, wire, value) == _EXTERNAL
    if external:
        facts.external_tensors.append(name)


def _sparse_tensor(data: memoryview, facts: ModelFacts) -> None:
    for number, wire, value in iter_fields(data):
        if number in (1, 2):  # values, indices
            _tensor(as_message(number, wire, value), facts)


def _training_info(data: memoryview, facts: ModelFacts) -> None:
    for number, wire, value in iter_fields(data):
        if number in (1, 2):  # initialization, algorithm
            _graph(as_message(number, wire, value), facts, depth=0)


def _function(data: memoryview, facts: ModelFacts) -> None:
    name, domain = "", ""
    for number, wire, value in iter_fields(data):
        if number == 1:
            name = as_text(number, wire, value)
        elif number == 10:
            domain = as_text(number, wire, value)
        elif number == 7:  # node
            _node(as_message(number, wire, value), facts, depth=0)
        elif number == 9:  # opset_import
            facts.opset_domains.add(_opset_domain(as_message(number, wire, value)))
    facts.functions.add((domain, name))


def _opset_domain(data: memoryview) -> str:
    domain = ""
    for number, wire, value in iter_fields(data):
        if number == 1:
            domain = as_text(number, wire, value)
    return domain
