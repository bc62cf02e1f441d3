"""Back-pressure: a bounded number of rankings at once, the rest told to retry.

Two limits apply to every compute-heavy request (a ranking, a model upload):

- **compute slots**, shared by every worker of the service: one lock file per
  slot in a directory the gunicorn master creates. A request holds an
  exclusive ``flock`` on one slot file while it computes. The kernel drops the
  lock when its holder exits, so a worker killed mid-ranking never leaks a
  slot. A request waits up to ``wait_seconds`` for a slot, then gets 503 with
  Retry-After.
- **per-worker admission**: at most ``threads - 1`` compute requests per
  worker, waiting or running, so one thread is always left for /healthz,
  /readyz and /metrics. A request past that limit gets 503 at once.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app

from service import config, metrics
from service.errors import ServiceBusy

# First and longest pause between two tries for a slot, seconds.
_FIRST_PAUSE_S = 0.002
_LONGEST_PAUSE_S = 0.05


@dataclass
class ComputeSlots:
    """``count`` slots shared through lock files in ``directory``."""

    directory: Path
    count: int

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def try_acquire(self) -> int | None:
        """A descriptor holding a free slot's lock, or None when all are taken."""
        for slot in range(self.count):
            descriptor = os.open(self.directory / f"slot-{slot}", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                continue
            except BaseException:
                os.close(descriptor)
                raise
            return descriptor
        return None

    def acquire(self, wait_seconds: float) -> int | None:
        """A slot's descriptor, waiting up to ``wait_seconds``; None if none came free."""
        deadline = time.monotonic() + wait_seconds
        pause = _FIRST_PAUSE_S
        while True:
            descriptor = self.try_acquire()
            if descriptor is not None:
                return descriptor
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, _LONGEST_PAUSE_S)

    @staticmethod
    def release(descriptor: int) -> None:
        """Give the slot back (closing the descriptor drops its lock)."""
        os.close(descriptor)


@dataclass
class Admission:
    """The two limits of one app; see the module docstring."""

    slots: ComputeSlots
    per_worker: int
    wait_seconds: float
    retry_after: int
    _admitted: threading.BoundedSemaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._admitted = threading.BoundedSemaphore(self.per_worker)

    @contextmanager
    def compute(self) -> Iterator[None]:
        """Hold a compute slot for the body; ServiceBusy when none is to be had."""
        if not self._admitted.acquire(blocking=False):
            raise ServiceBusy(
                "this worker is already handling as many rankings as it can; "
                f"retry after {self.retry_after} s",
                retry_after=self.retry_after,
            )
        try:
            descriptor = self.slots.acquire(self.wait_seconds)
            if descriptor is None:
                raise ServiceBusy(
                    f"all {self.slots.count} compute slots stayed busy for "
                    f"{self.wait_seconds:g} s; retry after {self.retry_after} s",
                    retry_after=self.retry_after,
                )
            try:
                yield
            finally:
                ComputeSlots.release(descriptor)
        finally:
            self._admitted.release()


def slot_directory(configured: str | None) -> Path:
    """Where the slot files live: the configured directory (shared by every
    worker under gunicorn), else one private to this process."""
    if configured:
        return Path(configured)
    return _process_directory()


@functools.cache
def _process_directory() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="alrank-slots-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


EXTENSION = "alrank.admission"


def init_app(app: Flask) -> None:
    """Build the app's admission limits from its settings."""
    settings = config.settings_of(app)
    app.extensions[EXTENSION] = Admission(
        slots=ComputeSlots(slot_directory(settings.slot_dir), settings.compute_slots),
        per_worker=max(1, settings.threads - 1),
        wait_seconds=settings.slot_wait_seconds,
        retry_after=settings.retry_after_seconds,
    )


@contextmanager
def computing() -> Iterator[None]:
    """Hold a compute slot for the body; ServiceBusy (503) when none comes free in time."""
    admission: Admission = current_app.extensions[EXTENSION]
    with admission.compute():
        metrics.RANKINGS_IN_PROGRESS.inc()
        try:
            yield
        finally:
            metrics.RANKINGS_IN_PROGRESS.dec()
