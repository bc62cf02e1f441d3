"""Run every strategy on a dataset for every seed, through the service."""

from __future__ import annotations

from collections.abc import Sequence

from examples.simulation import learner, loop
from examples.simulation.datasets import DatasetSpec, make_split
from examples.simulation.plans import StrategyPlan
from examples.simulation.progress import Progress
from examples.simulation.results import DatasetResult
from service.client import AlrankClient


def run_dataset(
    client: AlrankClient,
    spec: DatasetSpec,
    plans: Sequence[StrategyPlan],
    seeds: Sequence[int],
    *,
    batch: int,
    rounds: int,
    fraction: float,
    progress: Progress,
) -> DatasetResult:
    """Every plan's learning curve on ``spec`` for each seed, and the full-pool ceiling.

    A seed fixes the pool/test split and the seed set, so every strategy
    starts from the same labels and is tested on the same items.
    """
    splits = [make_split(spec, seed) for seed in seeds]
    first = splits[0]
    result = DatasetResult(
        name=spec.name,
        title=spec.title,
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
    progress.dataset(result, fraction)
    for plan in plans:
        result.families[plan.name] = plan.family
        result.curves[plan.name] = []
        for seed, split in zip(seeds, splits, strict=True):
            curve = loop.run(client, split, plan, batch=batch, rounds=rounds, seed=seed)
            result.curves[plan.name].append(curve)
            progress.run_finished(spec.name, plan.name, seed)
        progress.strategy_finished(result, plan.name, fraction)
    return result
