"""Measure a model's peak memory per run, in the validating child process.

The model runs on zeros at batch sizes growing eightfold from one row, for
as long as the next is expected to need at most ``TRIAL_BYTES`` (eight times
the last peak). After each run the process's high-water mark of resident
memory (VmHWM), less the resident memory just before the first run, is the
peak of the largest run so far; the arena returns its chunks after each run,
so each mark is that run's own peak. The peaks are fitted by
memory.fit_footprint. Linux only: where /proc cannot reset or report the mark,
no footprint is measured, and inference relies on the arena's cap alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnxruntime as ort

from service.models.memory import (
    MemoryFootprint,
    fit_footprint,
    is_memory_error,
    is_over_cap,
    shrinking_run_options,
)
from service.models.sessions import ORT_ERRORS

# The memory the largest trial run is sized to need, bytes.
TRIAL_BYTES = 32 << 20
MAX_TRIAL_ROWS = 1 << 15
GROWTH = 8
_PAGE = 4096
# Writing this to /proc/self/clear_refs resets VmHWM to the current VmRSS.
_RESET_PEAK = "5"

Feed = Callable[[int], dict[str, np.ndarray]]


class FootprintExceeded(Exception):
    """A trial run ran out of memory: past the arena's cap (``over_cap``), or
    refused by the system (the process's address-space limit)."""

    def __init__(self, rows: int, error: BaseException, *, over_cap: bool) -> None:
        super().__init__(str(error))
        self.rows = rows
        self.over_cap = over_cap


# What ends the growing trials without refusing the model.
_TRIAL_FAILURES: tuple[type[Exception], ...] = (FootprintExceeded, *ORT_ERRORS)


def measure_footprint(
    session: ort.InferenceSession, feed: Feed, *, fixed_batch: int | None, budget_bytes: int
) -> MemoryFootprint | None:
    """The footprint of ``session`` run on ``feed(rows)``.

    ``fixed_batch`` is the batch the model fixes (the only size tried), None
    for a model of any batch. Raises FootprintExceeded when the smallest run
    fails for memory, an onnxruntime error when it fails otherwise (larger
    runs that fail are left out of the fit); None (after one run) when this
    system cannot measure resident memory.
    """
    runs = shrinking_run_options()
    smallest = fixed_batch or 1
    if not _reset_peak():
        _run(session, feed, smallest, runs)
        return None
    base = _status_bytes("VmRSS")
    _run(session, feed, smallest, runs)
    peaks = {smallest: max(0, _status_bytes("VmHWM") - base)}
    rows = smallest
    target = min(TRIAL_BYTES, budget_bytes // 4)
    while fixed_batch is None and rows * GROWTH <= MAX_TRIAL_ROWS:
        if max(peaks[rows], _PAGE) * GROWTH > target:
            break
        rows *= GROWTH
        try:
            _run(session, feed, rows, runs)
        except _TRIAL_FAILURES:
            # Fit on the smaller sizes. A model that runs on one row but fails
            # on more is refused by inference, naming the rows it failed on.
            break
        peaks[rows] = max(0, _status_bytes("VmHWM") - base)
    return fit_footprint(peaks)


def _run(session: ort.InferenceSession, feed: Feed, rows: int, runs: ort.RunOptions) -> None:
    """One run of ``rows`` rows; FootprintExceeded when it fails for memory (the
    arena's cap, or the process's address-space limit)."""
    try:
        session.run(None, feed(rows), runs)
    except MemoryError as error:
        raise FootprintExceeded(rows, error, over_cap=False) from None
    except ORT_ERRORS as error:
        if is_memory_error(error):
            raise FootprintExceeded(rows, error, over_cap=is_over_cap(error)) from None
        raise


def _reset_peak() -> bool:
    """Reset this process's VmHWM; False where the system does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write(_RESET_PEAK)
        return _status_bytes("VmHWM") > 0
    except OSError:
        return False


def _status_bytes(key: str) -> int:
    """A ``kB`` line of /proc/self/status in bytes (0 when missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0
