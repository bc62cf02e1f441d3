"""Inference memory: the per-worker cap on onnxruntime's arena, and a model's footprint.

Every session the service creates allocates its tensors from one CPU arena
per process, registered with onnxruntime's environment and capped at the
inference memory budget (``ALRANK_INFERENCE_MEMORY_BYTES``): an allocation
past the cap fails inside ``InferenceSession.run`` as an ordinary error,
so a model that asks for more than it may cannot take the worker. The arena
keeps its free chunks for the next run: released after each run, they went
back to the C allocator, which kept them fragmented (a loop of equal runs
grew to twice the resident memory it held without releasing). Only the
validating child releases them, so that each trial's peak is its own.

A model's footprint (``MemoryFootprint``) is measured when it is validated:
peak bytes of one run as an affine function of its rows. Inference sizes its
runs from it so that one run needs at most ``RUN_SHARE`` of the budget: the
rest absorbs an estimate that is off, and a second ranking in the same worker.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from typing import Any

import onnxruntime as ort

MiB = 1 << 20
INFERENCE_MEMORY_BYTES = 256 * MiB
# The share of the budget one run is sized to use.
RUN_SHARE = 0.5
# The session option that makes a session allocate from the environment's arena.
USE_ENV_ALLOCATORS = "session.use_env_allocators"
# The run option that returns an arena's free chunks to the system after the run.
ARENA_SHRINKAGE = "memory.enable_memory_arena_shrinkage"
# kSameAsRequested: the arena grows by what is asked, never by powers of two,
# so its size follows the tensors it holds.
_EXTEND_SAME_AS_REQUESTED = 1
# How onnxruntime words an allocation that would pass the arena's cap, and
# one the system refused.
_CAP_SIGN = "Available memory of"
_SYSTEM_SIGNS = ("bad_alloc", "bad allocation", "Failed to allocate")

_arena_lock = threading.Lock()
_arena: tuple[int, int] | None = None  # (process id, cap in bytes) of the registered arena


@dataclass(frozen=True)
class MemoryFootprint:
    """Peak memory of one run of a model, measured at validation.

    One run of ``rows`` rows needs about ``fixed_bytes + rows * bytes_per_row``
    bytes: its tensors, its input and its output. ``measured_rows`` are the
    batch sizes the figure was fitted on.
    """

    bytes_per_row: int
    fixed_bytes: int
    measured_rows: tuple[int, ...]

    def run_bytes(self, rows: int) -> int:
        """Bytes one run of ``rows`` rows needs, by this figure."""
        return self.fixed_bytes + rows * self.bytes_per_row

    def rows_within(self, budget_bytes: int) -> int:
        """The most rows one run may take so that it needs at most ``RUN_SHARE``
        of ``budget_bytes`` (at least 1)."""
        room = int(budget_bytes * RUN_SHARE) - self.fixed_bytes
        return max(1, room // max(1, self.bytes_per_row))

    def to_json(self) -> dict[str, Any]:
        return {
            "bytes_per_row": self.bytes_per_row,
            "fixed_bytes": self.fixed_bytes,
            "measured_rows": list(self.measured_rows),
        }

    @classmethod
    def from_json(cls, record: object) -> MemoryFootprint | None:
        """The footprint a record holds, or None for a record without one (a
        model stored before footprints were measured, or one that could not be
        run on zeros)."""
        if not isinstance(record, dict):
            return None
        try:
            return cls(
                bytes_per_row=int(record["bytes_per_row"]),
                fixed_bytes=int(record["fixed_bytes"]),
                measured_rows=tuple(int(rows) for rows in record["measured_rows"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


def fit_footprint(peaks: dict[int, int]) -> MemoryFootprint:
    """The footprint of peak bytes measured at several batch sizes (rows -> bytes).

    The slope is taken between the two largest sizes: they are the least
    blurred by the page-sized grain of the measure and by one-time costs of a
    first run, and memory that grows faster than linearly is steepest there.
    The fixed part is what the largest run leaves over at that slope (never
    negative). One size alone is all per-row cost.
    """
    sizes = sorted(peaks)
    largest = sizes[-1]
    if len(sizes) == 1:
        slope = peaks[largest] / largest
    else:
        previous = sizes[-2]
        slope = (peaks[largest] - peaks[previous]) / (largest - previous)
    per_row = max(1, math.ceil(slope))
    fixed = max(0, peaks[largest] - per_row * largest)
    return MemoryFootprint(per_row, fixed, tuple(sizes))


def use_capped_arena(options: ort.SessionOptions, budget_bytes: int) -> None:
    """Make sessions created with ``options`` allocate from this process's arena,
    capped at ``budget_bytes`` (registered on first use in each process)."""
    register_arena(budget_bytes)
    options.add_session_config_entry(USE_ENV_ALLOCATORS, "1")


def register_arena(budget_bytes: int) -> None:
    """Register this process's CPU arena, capped at ``budget_bytes``, unless it is
    registered already with that cap. A new cap replaces the arena for the
    sessions created afterwards; sessions created before keep theirs."""
    global _arena
    if budget_bytes < 1:
        raise ValueError(f"the inference memory budget must be positive, got {budget_bytes}")
    wanted = (os.getpid(), budget_bytes)
    with _arena_lock:
        if _arena == wanted:
            return
        config = ort.OrtArenaCfg(
            {"max_mem": budget_bytes, "arena_extend_strategy": _EXTEND_SAME_AS_REQUESTED}
        )
        where = ort.OrtMemoryInfo(
            "Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT
        )
        ort.create_and_register_allocator(where, config)
        _arena = wanted


def shrinking_run_options() -> ort.RunOptions:
    """Run options that release the CPU arena's free chunks when the run ends
    (for measuring one run's peak; see the module's docstring)."""
    options = ort.RunOptions()
    options.add_run_config_entry(ARENA_SHRINKAGE, "cpu:0")
    return options


def is_memory_error(error: BaseException) -> bool:
    """Whether onnxruntime's ``error`` says an allocation failed or passed the cap."""
    return is_over_cap(error) or any(sign in str(error) for sign in _SYSTEM_SIGNS)


def is_over_cap(error: BaseException) -> bool:
    """Whether onnxruntime's ``error`` says an allocation would pass the arena's cap."""
    return _CAP_SIGN in str(error)


def mib(count: int) -> str:
    """``count`` bytes in MiB for messages, to a tenth ("12.5 MiB", "4096 MiB")."""
    return f"{count / MiB:.1f}".removesuffix(".0") + " MiB"
