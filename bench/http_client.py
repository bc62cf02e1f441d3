"""POST /v1/rank over loopback with the standard library: JSON, .npy and multipart bodies.

.npy and multipart bodies are streamed from a file in 1 MiB blocks with a
declared Content-Length, so the client holds no copy of the pool.
"""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from time import perf_counter
from urllib.parse import urlencode

import numpy as np
import orjson

from bench.server import HOST

BLOCK_BYTES = 1 << 20
REQUEST_TIMEOUT_S = 600.0
NPY_MEDIA_TYPE = "application/x-npy"

Body = bytes | Iterable[bytes]


def post(port: int, path: str, body: Body, headers: Mapping[str, str]) -> tuple[float, dict]:
    """Send one request; (seconds until the whole answer arrived, decoded JSON answer)."""
    connection = http.client.HTTPConnection(
        HOST, port, timeout=REQUEST_TIMEOUT_S, blocksize=BLOCK_BYTES
    )
    try:
        start = perf_counter()
        connection.request("POST", path, body=body, headers=dict(headers))
        response = connection.getresponse()
        payload = response.read()
        seconds = perf_counter() - start
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {payload[:500]!r}")
    return seconds, orjson.loads(payload)


def json_body(array: np.ndarray, fields: Mapping[str, object]) -> bytes:
    """An application/json rank request holding ``array`` as probabilities."""
    document = dict(fields) | {"probabilities": array}
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def send_json(port: int, body: bytes) -> tuple[float, dict]:
    """POST a ready JSON body."""
    return post(port, "/v1/rank", body, {"Content-Type": "application/json"})


def send_npy(port: int, npy_path: Path, fields: Mapping[str, object]) -> tuple[float, dict]:
    """POST a .npy file as the body, fields as query parameters."""
    headers = {
        "Content-Type": NPY_MEDIA_TYPE,
        "Content-Length": str(npy_path.stat().st_size),
    }
    return post(port, f"/v1/rank?{urlencode(fields)}", _file_blocks(npy_path), headers)


def send_multipart(
    port: int, npy_path: Path, fields: Mapping[str, object], part: str = "probabilities"
) -> tuple[float, dict]:
    """POST multipart/form-data: the fields as form fields, the .npy file as part ``part``."""
    boundary = uuid.uuid4().hex
    head = (
        _form_fields(boundary, fields)
        + (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{part}"; filename="{part}.npy"\r\n'
            f"Content-Type: {NPY_MEDIA_TYPE}\r\n\r\n"
        ).encode()
    )
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + npy_path.stat().st_size + len(tail)
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(length),
    }
    return post(port, "/v1/rank", _joined(head, _file_blocks(npy_path), tail), headers)


def _form_fields(boundary: str, fields: Mapping[str, object]) -> bytes:
    return "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ).encode()


def _file_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            yield block


def _joined(head: bytes, blocks: Iterable[bytes], tail: bytes) -> Iterator[bytes]:
    yield head
    yield from blocks
    yield tail
