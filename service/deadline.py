"""A per-request compute deadline that long loops check between steps.

The web layer opens ``within(seconds)`` around a request's work; loops over
chunks, picks or iterations call ``check_deadline()`` between steps, which
raises DeadlineExceeded once the deadline has passed. Outside ``within``
there is no deadline, so the numpy core runs unchanged in a notebook or a
test. The deadline lives in a context variable: each request thread has its
own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from service.errors import DeadlineExceeded

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("alrank_deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Run the body under a deadline ``seconds`` from now (monotonic clock)."""
    token = _deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def check_deadline() -> None:
    """Raise DeadlineExceeded when the current deadline has passed."""
    current = _deadline.get()
    if current is not None and time.monotonic() > current[0]:
        raise DeadlineExceeded(
            f"the request did not finish within the deadline of {current[1]:g} s; "
            "send a smaller pool or budget, a cheaper strategy, or the body faster"
        )


def seconds_left() -> float | None:
    """Seconds until the current deadline (0 once passed); None without one."""
    current = _deadline.get()
    if current is None:
        return None
    return max(0.0, current[0] - time.monotonic())

