"""The worked example's project: scikit-learn's bundled 8x8 digits as image tasks.

Each task carries the digit as a PNG data URI for annotators to look at
(``image``), its 64 pixel intensities for the model (``pixels``) and its row
in ``load_digits`` (``ref``), so the demo can answer from the ground truth.
No download: the digits ship with scikit-learn.
"""

from __future__ import annotations

import base64
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

FEATURES_FIELD = "pixels"
# Pixels of the PNG per pixel of the 8x8 digit.
SCALE = 8
LABEL_CONFIG = """<View>
  <Header value="Which digit is this?"/>
  <Image name="image" value="$image" width="192px"/>
  <Choices name="digit" toName="image" choice="single-radio" showInline="true" required="true">
    {choices}
  </Choices>
</View>
""".format(choices="\n    ".join(f'<Choice value="{digit}"/>' for digit in range(10)))


@dataclass(frozen=True)
class DigitTasks:
    """Tasks to import, and each one's true digit (by ``ref``) for the simulated annotator."""

    tasks: list[dict[str, Any]]
    truth: dict[int, str]


def digit_tasks(count: int, seed: int = 0) -> DigitTasks:
    """``count`` digits drawn at random (``seed``) from ``load_digits``, as task data."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    if not 0 < count <= len(digits.target):
        raise ValueError(f"count must be in 1..{len(digits.target)}")
    rows = np.random.default_rng(seed).permutation(len(digits.target))[:count]
    tasks = [
        {
            "image": png_data_uri(digits.images[row]),
            FEATURES_FIELD: [int(value) for value in digits.data[row]],
            "ref": int(row),
        }
        for row in rows
    ]
    return DigitTasks(tasks, {int(row): str(digits.target[row]) for row in rows})


def png_data_uri(image: np.ndarray, scale: int = SCALE) -> str:
    """A grayscale digit (0 blank to 16 ink) as a ``data:image/png`` URI, dark on light."""
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim != 2:
        raise ValueError("the image must be 2-D")
    gray = (255 - np.clip(pixels, 0, 16) * (255 / 16)).round().astype(np.uint8)
    big = np.kron(gray, np.ones((scale, scale), dtype=np.uint8))
    return "data:image/png;base64," + base64.b64encode(png_bytes(big)).decode("ascii")


def png_bytes(gray: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of ``gray`` (H x W uint8), with the standard library only."""
    height, width = gray.shape
    raw = b"".join(b"\x00" + gray[row].tobytes() for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)
