"""A minimal reader and writer of the protocol-buffer wire format, enough to walk an ONNX model.

It decodes the fields of one message at a time (number, wire type, value) and
leaves the meaning of fields to the caller, so the inspection of an untrusted
model needs neither the ``onnx`` package nor generated code. Malformed input
raises WireError; groups (wire types 3 and 4), which ONNX never writes, are
refused. The writer encodes single fields, so a caller rebuilds a message
from the spans of the fields it keeps and the fields it changes.
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
    for number, wire, value, _ in iter_field_spans(data):
        yield number, wire, value


def iter_field_spans(
    data: memoryview,
) -> Iterator[tuple[int, int, int | memoryview, memoryview]]:
    """iter_fields, with each field's whole encoding (key included) last, so a
    writer can copy the fields it leaves unchanged byte for byte."""
    pos, end = 0, len(data)
    while pos < end:
        begin = pos
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        value: int | memoryview
        if wire == VARINT:
            value, pos = read_varint(data, pos)
        elif wire == LENGTH_DELIMITED:
            length, pos = read_varint(data, pos)
            if length > end - pos:
                raise WireError(f"field {number} runs past the end of its message")
            value = data[pos : pos + length]
            pos += length
        elif wire in _FIXED_SIZES:
            pos += _FIXED_SIZES[wire]
            if pos > end:
                raise WireError(f"field {number} runs past the end of its message")
            value = 0
        else:
            raise WireError(f"field {number} has unsupported wire type {wire}")
        yield number, wire, value, data[begin:pos]


def encode_varint(value: int) -> bytes:
    """``value`` (0 <= value < 2**64) as a base-128 varint."""
    if not 0 <= value < 1 << 64:
        raise ValueError(f"a varint holds 0 to 2**64 - 1, not {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def varint_field(number: int, value: int) -> bytes:
    """The encoding of varint field ``number`` holding ``value``."""
    return encode_varint(number << 3 | VARINT) + encode_varint(value)


def bytes_field(number: int, payload: bytes | memoryview) -> bytes:
    """The encoding of length-delimited field ``number`` (a string, bytes or an
    embedded message) holding ``payload``."""
    return encode_varint(number << 3 | LENGTH_DELIMITED) + encode_varint(len(payload)) + payload


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
