"""A minimal reader of the protocol-buffer wire format, enough to walk an ONNX model.

It decodes the fields of one message at a time (number, wire type, value) and
leaves the meaning of fields to the caller, so the inspection of an untrusted
model needs neither the ``onnx`` package nor generated code. Malformed input
raises WireError; groups (wire types 3 and 4), which ONNX never writes, are
refused.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT = 0
FIXED64 = 1
LENGTH_DELIMITED = 2
FIXED32 = 5

_MAX_VARINT_BYTES = 10
_FIXED_SIZES = {FIXED64: 8, FIXED32: 4}


class WireError(ValueError):
    """The bytes are not a well-formed protocol-buffer message."""


def read_varint(data: memoryview, pos: int) -> tuple[int, int]:
    """(value, position after it) of the base-128 varint starting at ``pos``."""
    value = 0
    for shift in range(0, 7 * _MAX_VARINT_BYTES, 7):
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
    raise WireError("varint longer than 10 bytes")


def iter_fields(data: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of each field of one message, in order.

    Varints come as int; length-delimited fields as a memoryview of their
    bytes (no copy); fixed-width fields as 0, since no caller needs them.
    """
    pos, end = 0, len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire == VARINT:
            value, pos = read_varint(data, pos)
            yield number, wire, value
        elif wire == LENGTH_DELIMITED:
            length, pos = read_varint(data, pos)
            if length > end - pos:
                raise WireError(f"field {number} runs past the end of its message")
            yield number, wire, data[pos : pos + length]
            pos += length
        elif wire in _FIXED_SIZES:
            pos += _FIXED_SIZES[wire]
            if pos > end:
                raise WireError(f"field {number} runs past the end of its message")
            yield number, wire, 0
        else:
            raise WireError(f"field {number} has unsupported wire type {wire}")


def as_message(number: int, wire: int, value: int | memoryview) -> memoryview:
    """The bytes of an embedded message field; WireError if it is not one."""
    if wire != LENGTH_DELIMITED or not isinstance(value, memoryview):
        raise WireError(f"field {number} should hold a message, has wire type {wire}")
    return value


def as_text(number: int, wire: int, value: int | memoryview) -> str:
    """A string field as text (invalid UTF-8 replaced, so it never matches a known name)."""
    return bytes(as_message(number, wire, value)).decode("utf-8", errors="replace")


def as_int(number: int, wire: int, value: int | memoryview) -> int:
    """A varint field's value; WireError if the field is not a varint."""
    if wire != VARINT or not isinstance(value, int):
        raise WireError(f"field {number} should hold an integer, has wire type {wire}")
    return value
