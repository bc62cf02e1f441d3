"""Synthetic pools: class probabilities and Monte-Carlo samples, made in bounded memory.

Rows are softmaxes of Gaussian logits, so most rows are confident and a few
are not, roughly as a trained classifier's are. Each pool is filled chunk by
chunk, so making a 4 GB array needs only the array itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from service.ranking.chunks import chunk_slices
from service.ranking.rowops import columns
from service.ranking.transforms import softmax_of_columns

# Logits are standard normal times this: larger means more confident rows.
LOGIT_SCALE = 3.0
# How far each Monte-Carlo pass strays from the item's mean logits.
PASS_SCALE = 1.0
_ELEMENTS_PER_STEP = 1 << 22


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``logits`` (m, c) as the service computes it."""
    return softmax_of_columns(columns(logits)).T


def probabilities(n: int, c: int, dtype: type = np.float32, seed: int = 0) -> np.ndarray:
    """Class probabilities (n, c); each row sums to 1 within the dtype's rounding."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, c), dtype=dtype)
    for part in chunk_slices(n, max(1, _ELEMENTS_PER_STEP // c)):
        logits = rng.standard_normal((part.stop - part.start, c), dtype=dtype)
        logits *= LOGIT_SCALE
        out[part] = softmax(logits)
    return out


def samples(n: int, t: int, c: int, dtype: type = np.float32, seed: int = 0) -> np.ndarray:
    """Monte-Carlo samples (n, t, c): t passes of class probabilities per item."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, t, c), dtype=dtype)
    for part in chunk_slices(n, max(1, _ELEMENTS_PER_STEP // (t * c))):
        rows = part.stop - part.start
        centre = rng.standard_normal((rows, 1, c), dtype=dtype) * LOGIT_SCALE
        logits = rng.standard_normal((rows, t, c), dtype=dtype) * PASS_SCALE + centre
        out[part] = softmax(logits.reshape(rows * t, c)).reshape(rows, t, c)
    return out


def save_npy(array: np.ndarray, path: Path) -> Path:
    """Write ``array`` as a .npy file and return its path."""
    with path.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)
    return path


def memory_available() -> int:
    """Bytes the kernel reports as available for new allocations."""
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("MemAvailable missing from /proc/meminfo")


def fits_in_memory(n_bytes: int, copies: float = 3.0, share: float = 0.6) -> bool:
    """Whether ``copies`` arrays of ``n_bytes`` fit in ``share`` of available memory."""
    return copies * n_bytes <= share * memory_available()
