"""A model's inputs and outputs as plain data: names, element types and shapes.

Shapes list one entry per axis: an integer for a fixed size, a string for a
named symbolic size (e.g. "N"), None for an unnamed one. Outputs that are not
tensors (a ZipMap's sequence of maps, say) have no element type and no shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort

# onnxruntime's tensor type names and the numpy dtypes they read and write.
TENSOR_DTYPES: dict[str, np.dtype] = {
    f"tensor({onnx_name})": np.dtype(numpy_name)
    for onnx_name, numpy_name in (
        ("float", "float32"),
        ("double", "float64"),
        ("float16", "float16"),
        ("int8", "int8"),
        ("int16", "int16"),
        ("int32", "int32"),
        ("int64", "int64"),
        ("uint8", "uint8"),
        ("uint16", "uint16"),
        ("uint32", "uint32"),
        ("uint64", "uint64"),
        ("bool", "bool"),
    )
}
# The one non-tensor output the service reads: scikit-learn's ZipMap.
ZIPMAP_TYPES = frozenset({"seq(map(int64,tensor(float)))", "seq(map(string,tensor(float)))"})

Dim = int | str | None


def element_type(onnx_type: str) -> str | None:
    """The element type of a tensor type ("tensor(float)" -> "float32"), else None."""
    if onnx_type in TENSOR_DTYPES:
        return TENSOR_DTYPES[onnx_type].name
    if onnx_type.startswith("tensor(") and onnx_type.endswith(")"):
        return onnx_type[len("tensor(") : -1]
    return None


def describe_arg(arg: ort.NodeArg) -> dict[str, Any]:
    """{"name", "type", "element_type", "shape"} of one input or output."""
    tensor = arg.type.startswith("tensor(")
    return {
        "name": arg.name,
        "type": arg.type,
        "element_type": element_type(arg.type),
        "shape": [_dim(dim) for dim in arg.shape] if tensor else None,
    }


def describe_session(session: ort.InferenceSession) -> dict[str, Any]:
    """{"inputs": [...], "outputs": [...], "producer": ...} of a loaded model."""
    return {
        "inputs": [describe_arg(arg) for arg in session.get_inputs()],
        "outputs": [describe_arg(arg) for arg in session.get_outputs()],
        "producer": session.get_modelmeta().producer_name or None,
    }


def _dim(dim: object) -> Dim:
    if isinstance(dim, bool):
        return None
    if isinstance(dim, int):
        return dim if dim >= 0 else None
    if isinstance(dim, str) and dim:
        return dim
    return None
