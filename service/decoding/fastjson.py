"""A fast path for JSON bodies holding large numeric arrays.

Parsing a pool into Python floats and then into numpy costs about 3 s for 10
million numbers; simdjson parses the text into its own tape and copies an
array's numbers straight into a float64 buffer, about four times faster and
without a Python object per number.

The fast path only ever accepts: anything it cannot prove well-formed (a
boolean, null or string among the numbers, a ragged or over-nested array,
NaN or numbers out of range, which simdjson refuses) sends the body to the
exact path, which gives the precise error.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from itertools import chain
from typing import Any

import numpy as np
import simdjson


def parse_with_arrays(
    body: bytes, array_fields: Collection[str]
) -> tuple[dict[str, object], dict[str, np.ndarray]] | None:
    """(other fields as Python values, float64 arrays by field) or None.

    None means "not proven well-formed here": parse with the exact path.
    """
    try:
        document = simdjson.Parser().parse(body)
    # RuntimeError: numbers beyond 64 bits (BIGINT_ERROR); the exact parser
    # then names the field they are in.
    except (ValueError, RuntimeError):
        return None
    if not isinstance(document, simdjson.Object):
        return None
    fields: dict[str, object] = {}
    arrays: dict[str, np.ndarray] = {}
    expected_brackets = 0
    for key in document.keys():  # noqa: SIM118 - simdjson objects are not iterable
        try:
            value = document[key]
        except KeyError:  # keys simdjson cannot look up (a NUL inside, say)
            return None
        if key in array_fields:
            array = _dense_array(value) if isinstance(value, simdjson.Array) else None
            if array is None:
                return None
            arrays[key] = array
            expected_brackets += _bracket_count(array.shape)
        else:
            fields[key] = _python(value)
            expected_brackets += _count_brackets_in(fields[key])
    # A list nested where a number should be adds a "[" that the shape checks
    # cannot see after flattening; the count of every "[" in the text can.
    if _count_brackets(body) != expected_brackets:
        return None
    return fields, arrays


def _dense_array(value: simdjson.Array) -> np.ndarray | None:
    """The array as float64 of the shape its first elements declare, if every
    row has that shape and every leaf is a number; None otherwise."""
    shape = _leading_shape(value)
    if shape is None or 0 in shape:
        return None
    try:
        flat = np.frombuffer(value.as_buffer(of_type="d"), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if flat.shape[0] != math.prod(shape) or not _rows_have_length(value, shape):
        return None
    return flat.reshape(shape)


def _leading_shape(value: simdjson.Array) -> tuple[int, ...] | None:
    shape = []
    node: object = value
    while isinstance(node, simdjson.Array):
        shape.append(len(node))
        if len(node) == 0:
            break
        node = node[0]
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        return None
    return tuple(shape)


def _rows_have_length(value: simdjson.Array, shape: tuple[int, ...]) -> bool:
    """Every nested row at every level has the length ``shape`` says.

    Each level is walked lazily from the top: materializing a level's row
    proxies would cost more than walking the levels above it again.
    """
    for depth, size in enumerate(shape):
        # Rows at this depth: Arrays, or numbers where the JSON has them (len fails).
        level: Iterable[Any] = [value]
        for _ in range(depth):
            level = chain.from_iterable(level)
        try:
            if set(map(len, level)) != {size}:
                return False
        except TypeError:  # a number where a row should be
            return False
    return True


def _count_brackets(body: bytes) -> int:
    """Every "[" the text spells, plainly or (rarely: only after a backslash)
    escaped inside a string."""
    count = body.count(b"[")
    if b"\\" in body:
        count += body.count(b"\\u005b") + body.count(b"\\u005B")
    return count


def _bracket_count(shape: tuple[int, ...]) -> int:
    """The "[" in a dense array of ``shape``: one per list at each level."""
    return sum(math.prod(shape[:depth]) for depth in range(len(shape)))


def _python(value: object) -> object:
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def _count_brackets_in(value: object) -> int:
    """ "[" that ``value`` accounts for in the text: its lists and any "[" in
    its strings (written plainly or escaped)."""
    if isinstance(value, list):
        return 1 + sum(_count_brackets_in(item) for item in value)
    if isinstance(value, dict):
        return sum(_count_brackets_in(k) + _count_brackets_in(v) for k, v in value.items())
    if isinstance(value, str):
        return value.count("[")
    return 0
