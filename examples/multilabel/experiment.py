"""Every strategy on every seed through the service, in worker processes, and the ceiling.

Runs are independent (each has its own seed set, draws and connection), so
they run in several processes at once with the same curves as one after
another. Each process prepares the task once and reuses it for its runs.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

from examples.multilabel import loop, model
from examples.multilabel.rank import Plan, RankClient
from examples.multilabel.task import prepare
from examples.simulation.experiment import Failure
from service.client import AlrankError

T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One strategy's run on one seed, against the service at ``url``.

    ``pool_limit`` and ``test_limit`` pick the task (see task.prepare).
    """

    url: str
    plan: Plan
    seed: int
    schedule: loop.Schedule
    settings: model.ModelSettings
    pool_limit: int | None = None
    test_limit: int | None = None


def simulate(job: Job) -> loop.Curve | Failure:
    """One run over its own connection; an error answer becomes a Failure with its body."""
    task = prepare(job.pool_limit, job.test_limit)
    # The matrices are small: one BLAS thread fits them faster than several.
    with threadpool_limits(limits=1), RankClient(job.url) as client:
        try:
            return loop.run(client, task, job.plan, job.schedule, job.seed, job.settings)
        except AlrankError as error:
            return Failure(f"HTTP {error.status}: {json.dumps(error.problem, sort_keys=True)}")


def full_pool_f1(
    settings: model.ModelSettings, pool_limit: int | None = None, test_limit: int | None = None
) -> tuple[float, float]:
    """Test (micro-F1, macro-F1) of the classifier trained on every pool item: the ceiling."""
    task = prepare(pool_limit, test_limit)
    with threadpool_limits(limits=1):
        classifier = model.fit(task.pool_x, task.pool_y, settings)
        return model.f1_scores(classifier, task.test_x, task.test_y)


class _Done(Future[T]):
    """A future whose result is already there (the one-process Runner)."""

    def __init__(self, value: T) -> None:
        super().__init__()
        self.set_result(value)


class Runner:
    """Runs functions here (``jobs`` 1) or in ``jobs`` spawned worker processes."""

    def __init__(self, jobs: int = 1) -> None:
        if jobs < 1:
            raise ValueError(f"expected at least 1 job, got {jobs}")
        # spawn: a worker never inherits the parent's sockets or the service's state.
        context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(jobs, mp_context=context) if jobs > 1 else None

    def __enter__(self) -> Runner:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        """``function(*args)``: started in a worker, or run here before returning."""
        if self.pool is None:
            return _Done(function(*args))
        return self.pool.submit(function, *args)

    def outcomes(self, jobs: Sequence[Job]) -> Iterator[loop.Curve | Failure]:
        """Each job's curve or failure, in the order of ``jobs``."""
        if self.pool is None:
            return (simulate(job) for job in jobs)
        return self.pool.map(simulate, jobs)
