"""Run every strategy on a dataset for every seed, through the service.

Runs are independent (each has its own seeds, labels and connection), so
they can run in several worker processes at once: the curves are the same as
when they run one after another.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from types import TracebackType

from threadpoolctl import threadpool_limits

from examples.simulation import learner, loop
from examples.simulation.datasets import DatasetSpec, Split, make_split
from examples.simulation.plans import StrategyPlan
from examples.simulation.progress import Progress
from examples.simulation.results import DatasetResult
from examples.simulation.starts import Start
from service.client import AlrankClient, AlrankError


@dataclass(frozen=True)
class Run:
    """One strategy's run on one seed's split."""

    split: Split
    plan: StrategyPlan
    batch: int
    rounds: int
    seed: int


@dataclass(frozen=True)
class Failure:
    """The service answered a run's request with an error: the exact status and body."""

    reason: str


def simulate(url: str, run: Run) -> loop.Curve | Failure:
    """One run over its own connection; an error answer becomes a Failure."""
    # The matrices are small: one BLAS thread fits them an order of magnitude
    # faster than several threads that spend their time synchronizing.
    with threadpool_limits(limits=1), AlrankClient(url) as client:
        try:
            return loop.run(
                client, run.split, run.plan, batch=run.batch, rounds=run.rounds, seed=run.seed
            )
        except AlrankError as error:
            return Failure(f"HTTP {error.status}: {json.dumps(error.problem, sort_keys=True)}")


class Runner:
    """Runs simulation runs against ``url`` and yields their outcomes in order:
    one after another here (``jobs`` 1) or in ``jobs`` worker processes."""

    def __init__(self, url: str, jobs: int = 1) -> None:
        if jobs < 1:
            raise ValueError(f"expected at least 1 job, got {jobs}")
        self.url = url
        # spawn: a worker never inherits the parent's thread pools or sockets.
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

    def outcomes(self, runs: Sequence[Run]) -> Iterator[loop.Curve | Failure]:
        """Each run's curve or failure, in the order of ``runs``."""
        if self.pool is None:
            return (simulate(self.url, run) for run in runs)
        return self.pool.map(simulate, [self.url] * len(runs), runs)


def run_dataset(
    runner: Runner,
    spec: DatasetSpec,
    start: Start,
    plans: Sequence[StrategyPlan],
    seeds: Sequence[int],
    *,
    batch: int,
    rounds: int,
    fraction: float,
    progress: Progress,
) -> DatasetResult:
    """Every plan's learning curve on ``spec`` from ``start`` for each seed, and the ceiling.

    A seed fixes the pool/test split and the seed set, so every strategy
    starts from the same labels and is tested on the same items. A strategy
    the service answers with an error on some run is left out, with the
    answer in ``failed``.
    """
    splits = [make_split(spec, seed, start) for seed in seeds]
    result = _empty_result(spec, start, splits, seeds, batch, rounds, fraction)
    progress.dataset(result)
    runs = [
        Run(split, plan, batch, rounds, seed)
        for plan in plans
        for seed, split in zip(seeds, splits, strict=True)
    ]
    outcomes = runner.outcomes(runs)
    for plan in plans:
        curves, failures = [], []
        for seed in seeds:
            outcome = next(outcomes)
            if isinstance(outcome, Failure):
                failures.append(f"seed {seed}: {outcome.reason}")
            else:
                curves.append(outcome)
            progress.run_finished(result, plan.name, seed)
        if failures:
            result.failed[plan.name] = failures[0]
            progress.say(f"  {plan.name} left out: {failures[0]}")
            continue
        result.families[plan.name] = plan.family
        result.curves[plan.name] = curves
        progress.strategy_finished(result, plan.name)
    return result


def _empty_result(
    spec: DatasetSpec,
    start: Start,
    splits: Sequence[Split],
    seeds: Sequence[int],
    batch: int,
    rounds: int,
    fraction: float,
) -> DatasetResult:
    first = splits[0]
    return DatasetResult(
        name=spec.name,
        title=spec.title,
        start=start,
        fraction=fraction,
        pool_size=len(first.y_pool),
        test_size=len(first.y_test),
        classes=len(first.classes),
        initial=len(first.initial),
        batch=batch,
        rounds=rounds,
        seeds=list(seeds),
        full_accuracy=[
            float(learner.fit(split.x_pool, split.y_pool).score(split.x_test, split.y_test))
            for split in splits
        ],
    )
