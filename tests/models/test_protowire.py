"""The protocol-buffer reader: varints, field walking, and refusal of malformed bytes."""

from __future__ import annotations

import onnx
import pytest

from service.models.protowire import (
    LENGTH_DELIMITED,
    VARINT,
    WireError,
    as_int,
    as_message,
    iter_fields,
    read_varint,
)


@pytest.mark.parametrize(
    ("encoded", "value"),
    [
        (b"\x00", 0),
        (b"\x01", 1),
        (b"\x7f", 127),
        (b"\x80\x01", 128),
        (b"\xac\x02", 300),
        (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 2**64 - 1),
    ],
)
def test_read_varint(encoded, value):
    assert read_varint(memoryview(encoded), 0) == (value, len(encoded))


@pytest.mark.parametrize(
    ("encoded", "says"),
    [
        (b"\x80", "truncated varint"),
        (b"\xff" * 11, "longer than 10 bytes"),
    ],
)
def test_read_varint_refuses_malformed(encoded, says):
    with pytest.raises(WireError, match=says):
        read_varint(memoryview(encoded), 0)


def test_iter_fields_matches_protobuf_serialization():
    tensor = onnx.TensorProto(name="W", data_type=onnx.TensorProto.FLOAT, dims=[2, 3])
    tensor.raw_data = bytes(24)
    fields = list(iter_fields(memoryview(tensor.SerializeToString())))
    numbers = [(number, wire) for number, wire, _ in fields]
    assert numbers == [(1, VARINT), (1, VARINT), (2, VARINT), (8, LENGTH_DELIMITED), (9, 2)]
    assert [value for number, _, value in fields if number == 1] == [2, 3]
    name = next(value for number, _, value in fields if number == 8)
    assert bytes(name) == b"W"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\x0a\x05abc", "runs past the end"),
        (b"\x09\x00\x00", "runs past the end"),
        (b"\x0b", "unsupported wire type 3"),
        (b"\x0c", "unsupported wire type 4"),
        (b"\x00\x01", "field number 0"),
        (b"\x08", "truncated varint"),
    ],
)
def test_iter_fields_refuses_malformed_messages(data, says):
    with pytest.raises(WireError, match=says):
        list(iter_fields(memoryview(data)))


@pytest.mark.parametrize(
    ("convert", "wire", "value"),
    [(as_message, VARINT, 5), (as_int, LENGTH_DELIMITED, memoryview(b"x"))],
)
def test_field_types_are_checked(convert, wire, value):
    with pytest.raises(WireError, match="field 7 should hold"):
        convert(7, wire, value)
