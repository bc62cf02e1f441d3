"""Read a .npy array from a byte stream, header first, rows in chunks.

The header is parsed with numpy's own safe reader (no pickle, bounded size)
and checked against the limits before any row is read, so a declared shape
too large for the service is refused before anything is allocated.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal, Protocol

import numpy as np
from numpy.lib import format as npy_format

from service.decoding.dtypes import working_dtype
from service.decoding.limits import ArrayLimits
from service.errors import MalformedBody
from service.ranking.chunks import chunk_slices

MAX_HEADER_BYTES = 10_000


class ByteStream(Protocol):
    """What a .npy body is read from: a binary stream with ``readinto``, such as
    ``io.BytesIO`` or werkzeug's request and file-part streams."""

    def read(self, size: int = ..., /) -> bytes: ...

    def readinto(self, buffer: memoryview, /) -> int | None: ...


class NpyReader:
    """One .npy array read from ``stream``; ``chunks`` yields its rows in order.

    ``shape`` and ``dtype`` (the file's element type) are known once the
    reader is built; ``working_dtype`` is the float type rows are returned in.
    """

    def __init__(self, stream: ByteStream, *, name: str, limits: ArrayLimits) -> None:
        self.name = name
        self._stream = stream
        self.shape, self.fortran_order, self.dtype = _read_header(stream, name)
        self.working_dtype = working_dtype(self.dtype, name=name)
        limits.check(self.shape, name=name)
        self._consumed = False

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (first row number, rows) with at most ``rows`` rows each, then
        check that the body ends exactly where the header says."""
        if self.fortran_order:
            # Rows are not contiguous in the body: read it whole (within the
            # size limits), then chunk the C-ordered copy.
            array = self.read_all()
            for part in chunk_slices(array.shape[0], rows):
                yield part.start, array[part]
            return
        self._start()
        n_rows = self.shape[0] if self.shape else 1
        row_shape = self.shape[1:]
        row_bytes = math.prod(row_shape) * self.dtype.itemsize
        for start in range(0, n_rows, rows):
            count = min(rows, n_rows - start)
            data = self._read_exact(count * row_bytes)
            yield start, self._convert(np.frombuffer(data, self.dtype).reshape(count, *row_shape))
        self._expect_end()

    def read_all(self) -> np.ndarray:
        """The whole array in C order, in the working dtype."""
        self._start()
        data = self._read_exact(math.prod(self.shape) * self.dtype.itemsize)
        self._expect_end()
        order: Literal["F", "C"] = "F" if self.fortran_order else "C"
        array = np.frombuffer(data, self.dtype).reshape(self.shape, order=order)
        return self._convert(np.ascontiguousarray(array))

    def _start(self) -> None:
        if self._consumed:
            raise RuntimeError("the .npy body was already read")
        self._consumed = True

    def _convert(self, array: np.ndarray) -> np.ndarray:
        if array.dtype == self.working_dtype and array.flags.writeable:
            return array
        return array.astype(self.working_dtype)

    def _read_exact(self, n_bytes: int) -> bytearray:
        buffer = bytearray(n_bytes)
        view = memoryview(buffer)
        filled = 0
        while filled < n_bytes:
            got = self._stream.readinto(view[filled:])
            if not got:
                raise MalformedBody(
                    f"the .npy body is truncated: its header declares shape "
                    f"{list(self.shape)}, but the data ended early",
                    field=self.name,
                )
            filled += got
        return buffer

    def _expect_end(self) -> None:
        if self._stream.read(1):
            raise MalformedBody(
                f"the .npy body is longer than its header declares (shape {list(self.shape)})",
                field=self.name,
            )


def _read_header(stream: ByteStream, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from the .npy magic string and header."""
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            header = npy_format.read_array_header_1_0(stream, max_header_size=MAX_HEADER_BYTES)
        elif version in ((2, 0), (3, 0)):
            header = npy_format.read_array_header_2_0(stream, max_header_size=MAX_HEADER_BYTES)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except Exception as error:  # numpy's parser of untrusted text may raise anything
        raise MalformedBody(f"not a valid .npy array: {error}", field=name) from None
    shape = header[0]
    if any(size < 0 for size in shape):
        raise MalformedBody(
            f"not a valid .npy array: its header declares shape {list(shape)}", field=name
        )
    return header
