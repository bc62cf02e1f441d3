"""Turn JSON-decoded nested lists into numeric arrays, with precise errors."""

from __future__ import annotations

import numpy as np

from service.decoding.limits import ArrayLimits
from service.errors import InvalidInput

_KIND_NAMES = {"b": "booleans", "U": "strings", "S": "strings", "O": "nulls or objects"}


def array_from_json(value: object, *, name: str, limits: ArrayLimits) -> np.ndarray:
    """A float array from nested JSON lists (rows first); numbers only, no ragged rows.

    JSON numbers are decoded as float64 and kept so.
    """
    if not isinstance(value, list):
        raise InvalidInput(f"expected an array of rows, got {_json_type(value)}", field=name)
    try:
        array = np.array(value)
    except (ValueError, TypeError):
        raise InvalidInput(_ragged_reason(value), field=name) from None
    if array.dtype.kind not in "fiu":
        got = _KIND_NAMES.get(array.dtype.kind, str(array.dtype))
        raise InvalidInput(f"expected numbers, got {got}", field=name)
    limits.check(array.shape, name=name)
    return array.astype(np.float64, copy=False)


def integers_from_json(value: object, *, name: str) -> np.ndarray:
    """An int64 vector from a JSON list of integers."""
    if not isinstance(value, list):
        raise InvalidInput(f"expected a list of integers, got {_json_type(value)}", field=name)
    if not value:
        return np.empty(0, np.int64)
    if not all(type(item) is int for item in value):
        bad = next(item for item in value if type(item) is not int)
        raise InvalidInput(f"expected integers, got {_json_type(bad)} {bad!r}", field=name)
    try:
        return np.array(value, dtype=np.int64)
    except OverflowError:
        raise InvalidInput("an index does not fit in 64 bits", field=name) from None


def _ragged_reason(value: list) -> str:
    """Say where the rows of ``value`` stop having one shape."""
    lengths = [len(row) if isinstance(row, list) else None for row in value]
    first = lengths[0]
    for row, length in enumerate(lengths):
        if length != first:
            return (
                f"ragged rows: row 0 has {_describe_length(first)}, "
                f"row {row} has {_describe_length(length)}"
            )
    return "ragged rows: nested rows differ in length"


def _describe_length(length: int | None) -> str:
    return "a single value" if length is None else f"{length} entries"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    return "a list"
