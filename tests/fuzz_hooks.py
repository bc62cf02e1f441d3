"""What contract fuzzing generates: a size-bounded openapi.yaml and body strategies.

``bounded_document`` is openapi.yaml with every pool array capped at a few
rows and columns: the contract allows pools of millions of rows, and
examples that large only make fuzzing slow. Responses are still checked
against the document's own response schemas, which the caps leave alone.

Its multipart ``.npy`` parts are also marked ``format: binary``, so they are
sent as file parts with a filename, as ``curl -F name=@file`` and every HTTP
library's file upload send them; the service reads only those as arrays.

``npy_bodies`` and ``model_bodies`` stand in for the binary bodies the
document describes only as strings (``application/x-npy`` arrays and raw
``.onnx`` models): mostly real ones, so that requests get past decoding,
mixed with broken ones, so that the refusals are exercised too.

Hypothesis rarely draws integers at or past the 64-bit limits, where JSON
parsers differ most; ``with_edge_integer`` puts one in place of one of a
body's numbers.

The document cannot say that a ``.npy`` body needs ``strategy`` and
``budget`` in its query, so generated binary rank requests almost never
rank; ``rankable_requests`` gives whole requests that do, per content type.
"""

from __future__ import annotations

import copy
import functools
import io
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst

from service.models.ids import model_id
from tests.models import builders

ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = ROOT / "openapi.yaml"
BUNDLED_MODEL = ROOT / "models" / "digits-logreg.onnx"

# The largest pool a generated request holds, and the widest row.
MAX_ROWS = 4
MAX_WIDTH = 4
# Array schemas capped in the bounded document, by their place in it.
POOL_ARRAYS = (
    ("components", "schemas", "ClassMatrix"),
    ("components", "schemas", "SampleArray"),
    ("components", "schemas", "FeatureMatrix"),
    ("components", "schemas", "Exclude"),
)
# Features must fit a model's input: as wide as the bundled model's (8 x 8 pixels).
FEATURES = ("components", "schemas", "RankRequest", "properties", "features")
MODEL_WIDTH = 64
# Integers at the edges of float64's exact integers, int64 and uint64, and
# past them: where JSON parsers disagree on what a number is.
EDGE_INTEGERS = (
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    2**64 - 1,
    2**64,
    10**20,
    -(10**20),
    10**400,
)
# The multipart parts that carry .npy files point here.
NPY_ARRAY = "#/components/schemas/NpyArray"
# Strategies that rank probabilities alone, one item at a time.
POINTWISE_STRATEGIES = ("least_confidence", "margin", "ratio", "entropy", "random")
# Element types a client's numpy.save can write, accepted or refused.
NPY_DTYPES = ("<f4", ">f4", "<f8", "<f2", "<i4", ">i8", "|u1", "|b1", "<c8")


@functools.cache
def spec_document() -> dict[str, Any]:
    """openapi.yaml as a plain mapping, read once."""
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def bounded_document() -> dict[str, Any]:
    """A copy of openapi.yaml whose pool arrays hold at most MAX_ROWS x MAX_WIDTH items."""
    document = copy.deepcopy(spec_document())
    bound(document)
    return document


def bound(document: dict[str, Any]) -> None:
    """Cap ``document``'s pool arrays at MAX_ROWS x MAX_WIDTH items and mark its
    multipart ``.npy`` parts as binary, in place."""
    for location in (*POOL_ARRAYS, FEATURES):
        node = document
        for part in location:
            node = node[part]
        width = MODEL_WIDTH if location == FEATURES else MAX_WIDTH
        for level, array in enumerate(_nested_arrays(node)):
            array["maxItems"] = MAX_ROWS if level == 0 else width
    parts = document["components"]["schemas"]["RankMultipart"]["properties"]
    for name, part in parts.items():
        if part.get("$ref") == NPY_ARRAY:
            parts[name] = {"allOf": [part], "format": "binary"}


def _nested_arrays(schema: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """``schema`` and the array schemas nested in it through ``items``, outermost first."""
    node: Any = schema
    while isinstance(node, dict) and node.get("type") == "array":
        yield node
        node = node.get("items")


@st.composite
def probability_rows(draw: st.DrawFn) -> np.ndarray:
    """An N x C float array whose rows are valid class probabilities."""
    rows = draw(st.integers(1, MAX_ROWS))
    classes = draw(st.integers(2, MAX_WIDTH))
    weights = draw(
        npst.arrays(
            np.float64,
            (rows, classes),
            elements=st.floats(0.0, 1.0, exclude_min=True, allow_subnormal=False),
        )
    )
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return (weights / weights.sum(axis=1, keepdims=True)).astype(dtype)


def any_arrays() -> st.SearchStrategy[np.ndarray]:
    """Small arrays of 1 to 3 axes, any element type numpy.save writes without pickling."""
    shapes = npst.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=MAX_WIDTH)
    return st.sampled_from(NPY_DTYPES).flatmap(lambda dtype: npst.arrays(np.dtype(dtype), shapes))


def npy_file(array: np.ndarray, *, fortran: bool = False) -> bytes:
    """``array`` as numpy.save writes it."""
    buffer = io.BytesIO()
    np.save(buffer, np.asfortranarray(array) if fortran else array, allow_pickle=False)
    return buffer.getvalue()


@st.composite
def _broken(draw: st.DrawFn, files: st.SearchStrategy[bytes]) -> bytes:
    """A file from ``files`` cut short or followed by extra bytes."""
    data = draw(files)
    if draw(st.booleans()):
        return data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    return data + draw(st.binary(min_size=1, max_size=16))


def npy_bodies() -> st.SearchStrategy[bytes]:
    """.npy files: valid probabilities, arrays of any kind, broken files and noise."""
    valid = st.builds(npy_file, probability_rows(), fortran=st.booleans())
    any_kind = any_arrays().map(npy_file)
    return st.one_of(valid, any_kind, _broken(valid), st.binary(max_size=64))


def number_paths(value: object, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Where ``value`` (nested dicts and lists) holds a number, as paths of keys and indices."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [path]
    items: Iterator[tuple[str | int, object]]
    if isinstance(value, dict):
        items = iter(value.items())
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    return [found for key, item in items for found in number_paths(item, (*path, key))]


def _replaced(value: Any, path: tuple[str | int, ...], new: object) -> Any:
    """A copy of ``value`` with ``new`` at ``path``."""
    if not path:
        return new
    head, *rest = path
    copied = copy.copy(value)
    copied[head] = _replaced(value[head], tuple(rest), new)
    return copied


@st.composite
def with_edge_integer(draw: st.DrawFn, body: object) -> object:
    """``body`` with one of its numbers, if it has any, replaced by an EDGE_INTEGERS one."""
    paths = number_paths(body)
    if not paths:
        return body
    path = draw(st.sampled_from(paths))
    return _replaced(body, path, draw(st.sampled_from(EDGE_INTEGERS)))


@st.composite
def _rank_fields(draw: st.DrawFn, rows: int) -> dict[str, str]:
    """Text fields that rank a pool of ``rows`` probability rows."""
    fields = {
        "strategy": draw(st.sampled_from(POINTWISE_STRATEGIES)),
        "budget": str(draw(st.integers(1, rows))),
    }
    optional = {
        "selection": st.sampled_from(["top", "power", "softmax", "softrank"]),
        "seed": st.integers(0, 2**64 - 1).map(str),
        "return_all_scores": st.sampled_from(["true", "false"]),
        "exclude": st.just("0" if rows > int(fields["budget"]) else ""),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            fields[name] = draw(values)
    return fields


@st.composite
def _npy_request(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    """(query, body) of a rank request whose body is one .npy array."""
    probabilities = draw(probability_rows())
    return draw(_rank_fields(len(probabilities))), npy_file(probabilities)


@st.composite
def _multipart_request(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, object]]:
    """(query, form) of a rank request whose array is a .npy file part."""
    probabilities = draw(probability_rows())
    form: dict[str, object] = dict(draw(_rank_fields(len(probabilities))))
    form["probabilities"] = npy_file(probabilities)
    return {}, form


def rankable_requests() -> dict[str, st.SearchStrategy[tuple[dict[str, str], Any]]]:
    """(query, body) strategies of rank requests that ought to succeed, by media type."""
    return {"application/x-npy": _npy_request(), "multipart/form-data": _multipart_request()}


@functools.cache
def valid_models() -> tuple[bytes, ...]:
    """Models an upload accepts: the bundled digits model and two small linear ones."""
    small = tuple(builders.linear(np.eye(width, 3), np.zeros(3), label=False) for width in (2, 3))
    return (BUNDLED_MODEL.read_bytes(), *small)


def model_bodies() -> st.SearchStrategy[bytes]:
    """.onnx uploads: valid models, broken copies of them and noise."""
    valid = st.sampled_from(valid_models())
    return st.one_of(valid, _broken(valid), st.binary(max_size=64))


def model_references() -> st.SearchStrategy[str]:
    """Addresses of models: the ids of the valid models and the bundled model's name."""
    return st.sampled_from(["digits-logreg", *map(model_id, valid_models())])
