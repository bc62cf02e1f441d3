"""Turn JSON-decoded nested lists into numeric arrays, with precise errors."""

from __future__ import annotations

from typing import Any

import numpy as np

from service.decoding.limits import ArrayLimits
from service.errors import InvalidInput

_KIND_NAMES = {
    "b": "booleans",
    "U": "strings",
    "S": "strings",
    "O": "nulls, objects or integers beyond 64 bits",
}
# How far back from a true/false token to look for the "[" or "," that makes
# it an array element.
_LOOKBACK_BYTES = 64


def may_hold_array_booleans(body: bytes) -> bool:
    """Whether a JSON text may hold true or false as an array element.

    A cheap scan for the rare true/false tokens: numpy would silently read
    a boolean among numbers as 1 or 0, so where this says yes the arrays are
    checked element by element.
    """
    for token in (b"true", b"false"):
        start = body.find(token)
        while start != -1:
            before = body[max(0, start - _LOOKBACK_BYTES) : start].rstrip()
            if not before or before[-1:] in (b"[", b","):
                return True
            start = body.find(token, start + len(token))
    return False


def array_from_json(
    value: object, *, name: str, limits: ArrayLimits, check_booleans: bool = True
) -> np.ndarray:
    """A float array from nested JSON lists (rows first); numbers only, no ragged rows.

    JSON numbers are decoded as float64 and kept so. ``check_booleans=False``
    skips the element-by-element search for booleans among numbers, for
    callers that ruled them out (see may_hold_array_booleans).
    """
    if not isinstance(value, list):
        raise InvalidInput(f"expected an array of rows, got {_json_type(value)}", field=name)
    if not value:
        raise InvalidInput("the pool is empty: expected at least 1 row, got 0", field=name)
    if check_booleans and _holds_boolean(value):
        raise InvalidInput("expected numbers, got a boolean among them", field=name)
    try:
        array = np.array(value)
    except (ValueError, TypeError):
        raise InvalidInput(_ragged_reason(value), field=name) from None
    if array.dtype.kind not in "fiu":
        got = _KIND_NAMES.get(array.dtype.kind, str(array.dtype))
        raise InvalidInput(f"expected numbers, got {got}", field=name)
    limits.check(array.shape, name=name)
    return array.astype(np.float64, copy=False)


def sequences_from_json(
    value: object,
    *,
    name: str,
    unit_ndim: int,
    limits: ArrayLimits,
    check_booleans: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Token rows (sum of lengths, ...) as float64 and lengths (n,) as int64, from
    a JSON list of n sequences, each a list of its tokens; a token is a row of
    C numbers (``unit_ndim`` 1) or T such rows (2). A sequence may be empty."""
    if not isinstance(value, list):
        raise InvalidInput(f"expected a list of sequences, got {_json_type(value)}", field=name)
    if not value:
        raise InvalidInput("the pool is empty: expected at least 1 sequence, got 0", field=name)
    if check_booleans and _holds_boolean(value):
        raise InvalidInput("expected numbers, got a boolean among them", field=name)
    lengths = np.zeros(len(value), np.int64)
    parts: list[np.ndarray] = []
    first: tuple[int, tuple[int, ...]] | None = None  # a sequence with tokens, their shape
    for item, sequence in enumerate(value):
        tokens = _sequence_tokens(sequence, item, name=name, unit_ndim=unit_ndim)
        if tokens is None:
            continue
        if first is None:
            first = (item, tokens.shape[1:])
        elif tokens.shape[1:] != first[1]:
            raise InvalidInput(
                f"sequence {item} has tokens of shape {list(tokens.shape[1:])} but sequence "
                f"{first[0]} has {list(first[1])}: every token needs the same classes",
                field=name,
            )
        lengths[item] = tokens.shape[0]
        parts.append(tokens)
    if first is None:
        raise InvalidInput("every sequence is empty: no token to rank", field=name)
    limits.check((int(lengths.sum()), *first[1]), name=name)
    return np.concatenate(parts).astype(np.float64, copy=False), lengths


def _sequence_tokens(
    sequence: object, item: int, *, name: str, unit_ndim: int
) -> np.ndarray | None:
    """The tokens (l, ...) of sequence ``item``, or None when it has none."""
    if not isinstance(sequence, list):
        raise InvalidInput(
            f"sequence {item}: expected a list of tokens, got {_json_type(sequence)}",
            field=name,
        )
    if not sequence:
        return None
    try:
        tokens = np.array(sequence)
    except (ValueError, TypeError):
        reason = _ragged_reason(sequence).replace("row", "token")
        raise InvalidInput(f"sequence {item}: {reason}", field=name) from None
    if tokens.dtype.kind not in "fiu":
        got = _KIND_NAMES.get(tokens.dtype.kind, str(tokens.dtype))
        raise InvalidInput(f"sequence {item}: expected numbers, got {got}", field=name)
    if tokens.ndim != unit_ndim + 1:
        unit = "a row of class probabilities" if unit_ndim == 1 else "T rows of them"
        raise InvalidInput(
            f"sequence {item}: expected each token to be {unit}, got tokens of shape "
            f"{list(tokens.shape[1:])}",
            field=name,
        )
    return tokens


def integers_from_json(value: object, *, name: str) -> np.ndarray:
    """An int64 vector from a JSON list of integers (``3.0`` is one, as in JSON Schema)."""
    if not isinstance(value, list):
        raise InvalidInput(f"expected a list of integers, got {_json_type(value)}", field=name)
    if not value:
        return np.empty(0, np.int64)
    value = [_integral(item) for item in value]
    if not all(type(item) is int for item in value):
        bad = next(item for item in value if type(item) is not int)
        if isinstance(bad, float) and bad.is_integer() and abs(bad) >= 2**63:
            raise InvalidInput(f"index {bad:g} does not fit in 64 bits", field=name)
        raise InvalidInput(f"expected integers, got {_json_type(bad)} {bad!r}", field=name)
    try:
        return np.array(value, dtype=np.int64)
    except OverflowError:
        raise InvalidInput("an index does not fit in 64 bits", field=name) from None


def _integral(item: object) -> object:
    """``item`` as an int when it is a float with no fractional part within 64 bits."""
    if type(item) is float and item.is_integer() and abs(item) < 2**63:
        return int(item)
    return item


def _holds_boolean(value: list[Any]) -> bool:
    """Whether nested lists hold a boolean anywhere."""
    stack = [value]
    while stack:
        items = stack.pop()
        for item in items:
            if type(item) is bool:
                return True
            if type(item) is list:
                stack.append(item)
    return False


def _ragged_reason(value: list[Any]) -> str:
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
