import io
import struct

import numpy as np
import pytest
from numpy.lib import format as npy_format

from service.decoding.limits import ArrayLimits
from service.decoding.npy import MAX_HEADER_BYTES, NpyReader
from service.errors import InvalidInput, MalformedBody, PayloadTooLarge

LIMITS = ArrayLimits(max_elements=10_000)


class RecordingStream(io.RawIOBase):
    """A readable stream that counts the bytes handed out."""

    def __init__(self, data):
        self._inner = io.BytesIO(data)
        self.consumed = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        count = self._inner.readinto(buffer)
        self.consumed += count
        return count


def npy_bytes(array, **kwargs):
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def header_bytes(shape, descr="<f8", fortran_order=False):
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": fortran_order, "shape": shape}
    )
    return buffer.getvalue()


def reader(data, limits=LIMITS):
    return NpyReader(RecordingStream(data), name="probabilities", limits=limits)


def sample(dtype, shape=(7, 3)):
    values = np.arange(np.prod(shape)).reshape(shape) % 50
    return values.astype(dtype)


# (element type written, working dtype the rows are returned in)
DTYPES = [
    ("<f2", np.float32),
    (">f2", np.float32),
    ("<f4", np.float32),
    (">f4", np.float32),
    ("<f8", np.float64),
    (">f8", np.float64),
    ("i1", np.float32),
    ("u1", np.float32),
    ("<i2", np.float32),
    ("<u2", np.float32),
    ("<i4", np.float64),
    (">i4", np.float64),
    ("<u4", np.float64),
    ("<i8", np.float64),
    ("<u8", np.float64),
]


@pytest.mark.parametrize(("written", "working"), DTYPES)
def test_read_all_returns_the_saved_values_in_the_working_dtype(written, working):
    array = sample(written)
    out = reader(npy_bytes(array)).read_all()
    assert out.dtype == np.dtype(working)
    assert out.dtype.isnative
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, array.astype(working))


@pytest.mark.parametrize(("written", "working"), DTYPES)
def test_header_gives_shape_file_dtype_and_working_dtype(written, working):
    npy = reader(npy_bytes(sample(written)))
    assert npy.shape == (7, 3)
    assert npy.dtype == np.dtype(written)
    assert npy.working_dtype == np.dtype(working)
    assert not npy.fortran_order


@pytest.mark.parametrize("dtype", ["<f4", ">f8", "<i8"])
@pytest.mark.parametrize("shape", [(7, 3), (5, 2, 4)])
def test_fortran_order_arrays_read_back_equal(dtype, shape):
    array = np.asfortranarray(sample(dtype, shape))
    npy = reader(npy_bytes(array))
    assert npy.fortran_order
    out = npy.read_all()
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("fortran", [False, True])
@pytest.mark.parametrize("rows", [1, 2, 3, 7, 50])
@pytest.mark.parametrize("shape", [(7, 3), (7, 2, 4), (7,)])
def test_chunks_concatenate_to_the_original(shape, rows, fortran):
    array = sample("<f4", shape)
    if fortran:
        array = np.asfortranarray(array)
    parts = list(reader(npy_bytes(array)).chunks(rows))
    assert [offset for offset, _ in parts] == list(range(0, 7, rows))
    assert all(1 <= len(part) <= rows for _, part in parts)
    assert all(part.dtype == np.float32 for _, part in parts)
    np.testing.assert_array_equal(np.concatenate([part for _, part in parts]), array)


def test_chunks_stream_the_body_as_rows_are_asked_for():
    array = sample("<f8", (10, 4))
    data = npy_bytes(array)
    header = len(data) - array.nbytes
    stream = RecordingStream(data)
    chunks = NpyReader(stream, name="probabilities", limits=LIMITS).chunks(3)
    assert stream.consumed == header
    next(chunks)
    assert stream.consumed == header + 3 * 4 * 8


def test_a_version_2_header_is_read():
    array = sample("<f8")
    buffer = io.BytesIO()
    npy_format.write_array_header_2_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": array.shape}
    )
    np.testing.assert_array_equal(reader(buffer.getvalue() + array.tobytes()).read_all(), array)


def test_the_body_can_be_read_only_once():
    npy = reader(npy_bytes(sample("<f8")))
    npy.read_all()
    with pytest.raises(RuntimeError):
        list(npy.chunks(2))


@pytest.mark.parametrize("cut", [1, 8, 12 * 8, 7 * 3 * 8])  # mid-value, a row, rows, all data
@pytest.mark.parametrize("how", ["chunks", "read_all"])
def test_a_truncated_body_is_malformed(cut, how):
    data = npy_bytes(sample("<f8"))[:-cut]
    npy = reader(data)
    with pytest.raises(MalformedBody, match="truncated") as caught:
        list(npy.chunks(2)) if how == "chunks" else npy.read_all()
    assert caught.value.field == "probabilities"


@pytest.mark.parametrize("extra", [b"\x00", b"trailing garbage", bytes(8 * 3)])
@pytest.mark.parametrize("how", ["chunks", "read_all"])
def test_trailing_bytes_are_malformed(extra, how):
    npy = reader(npy_bytes(sample("<f8")) + extra)
    with pytest.raises(MalformedBody, match="longer than its header") as caught:
        list(npy.chunks(3)) if how == "chunks" else npy.read_all()
    assert caught.value.field == "probabilities"


GOOD_HEADER = header_bytes((2, 2))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x93NUM", id="short-magic"),
        pytest.param(b"PK\x03\x04" + bytes(200), id="zip-not-npy"),
        pytest.param(b'{"probabilities": [[0.5, 0.5]]}', id="json"),
        pytest.param(b"\x93NUMPY\x09\x00" + GOOD_HEADER[8:], id="unknown-version"),
        pytest.param(GOOD_HEADER[:20], id="header-cut-short"),
        pytest.param(
            b"\x93NUMPY\x01\x00" + struct.pack("<H", 16) + b"garbage garbage\n", id="garbage"
        ),
        pytest.param(
            b"\x93NUMPY\x01\x00" + struct.pack("<H", 32) + b"{'descr': '<f8'}".ljust(31) + b"\n",
            id="missing-keys",
        ),
        pytest.param(
            b"\x93NUMPY\x01\x00"
            + struct.pack("<H", 64)
            + b"{'descr': 'nonsense', 'fortran_order': False, 'shape': (2,), }".ljust(63)
            + b"\n",
            id="bad-descr",
        ),
        pytest.param(
            b"\x93NUMPY\x01\x00"
            + struct.pack("<H", 64)
            + b"{'descr': '<f8', 'fortran_order': False, 'shape': [2, 2], }".ljust(63)
            + b"\n",
            id="shape-not-a-tuple",
        ),
        pytest.param(
            b"\x93NUMPY\x02\x00"
            + struct.pack("<I", MAX_HEADER_BYTES + 64)
            + b"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }".ljust(
                MAX_HEADER_BYTES + 63
            )
            + b"\n",
            id="header-too-long",
        ),
    ],
)
def test_bad_magic_or_header_is_malformed(data):
    with pytest.raises(MalformedBody) as caught:
        reader(data)
    assert caught.value.field == "probabilities"


@pytest.mark.parametrize("shape", [(-1, 3), (3, -1), (-2, -3)])
def test_a_negative_dimension_is_malformed(shape):
    with pytest.raises(MalformedBody):
        reader(header_bytes(shape) + bytes(48))


def test_a_pickled_object_array_is_refused_without_unpickling():
    data = npy_bytes(np.array([[0.5, {"x": 1}]], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidInput, match="object arrays are refused") as caught:
        reader(data)
    assert caught.value.field == "probabilities"


@pytest.mark.parametrize(
    "array",
    [
        pytest.param(np.zeros((2, 2), dtype=bool), id="bool"),
        pytest.param(np.zeros((2, 2), dtype=np.complex128), id="complex"),
        pytest.param(np.array([["a", "b"]]), id="unicode"),
        pytest.param(np.array([[b"a", b"b"]]), id="bytes"),
        pytest.param(np.zeros(2, dtype=[("p", "<f8"), ("q", "<f8")]), id="structured"),
        pytest.param(np.zeros((2, 2), dtype="datetime64[s]"), id="datetime"),
        pytest.param(np.zeros((2, 2), dtype="V8"), id="void"),
    ],
)
def test_non_numeric_dtypes_are_refused(array):
    with pytest.raises(InvalidInput, match="expected a numeric array") as caught:
        reader(npy_bytes(array))
    assert caught.value.field == "probabilities"


@pytest.mark.parametrize("shape", [(10**9, 10), (10_001,), (101, 100), (2**40, 2**40)])
def test_a_declared_shape_over_the_limit_is_refused_before_any_row_is_read(shape):
    header = header_bytes(shape)
    stream = RecordingStream(header + bytes(4096))
    with pytest.raises(PayloadTooLarge) as caught:
        NpyReader(stream, name="probabilities", limits=LIMITS)
    assert caught.value.field == "probabilities"
    assert stream.consumed == len(header)


def test_a_real_body_over_the_limit_is_refused_after_the_header_only():
    array = sample("<f8", (200, 100))
    data = npy_bytes(array)
    stream = RecordingStream(data)
    with pytest.raises(PayloadTooLarge):
        NpyReader(stream, name="probabilities", limits=LIMITS)
    assert stream.consumed == len(data) - array.nbytes


def test_a_shape_exactly_at_the_limit_is_read():
    array = sample("<f4", (100, 100))
    np.testing.assert_array_equal(reader(npy_bytes(array)).read_all(), array)


def test_an_empty_pool_reads_as_zero_rows():
    npy = reader(npy_bytes(np.zeros((0, 3))))
    assert npy.shape == (0, 3)
    assert list(npy.chunks(4)) == []
