"""The one entry point from a decoded request to a ranking.

POST /v1/rank, the worker's warm-up, the benchmarks and the tests all call
``rank``: it resolves the strategy, scores features with their model, plans
the job against the input kinds' declarations, then ranks the input chunk by
chunk (pointwise strategies) or whole (batch strategies).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from service.decoding.sources import PoolSource
from service.errors import InvalidInput, PayloadTooLarge
from service.jobs.features import SAMPLES, score_features
from service.jobs.planner import plan_job
from service.jobs.request import JobSummary, RankAnswer, RankLimits, RankRequest
from service.models.inference import OUTPUT_KINDS
from service.models.store import ModelStore
from service.ranking.composition import Prefilter
from service.ranking.inputs import INPUT_KINDS, InputKind
from service.ranking.pipeline import rank_pool
from service.ranking.registry import get_strategy


def rank(
    request: RankRequest,
    *,
    limits: RankLimits | None = None,
    store: ModelStore | None = None,
    kinds: Mapping[str, InputKind] = INPUT_KINDS,
    on_planned: Callable[[JobSummary], None] | None = None,
) -> RankAnswer:
    """Rank the pool ``request`` sends.

    ``store`` resolves the model of a request that sends features (None: such
    a request is a programming error). ``kinds`` are the input kinds the
    request may use. ``on_planned`` hears what the job will do once it is
    checked, before any ranking. InvalidInput (or another AlrankError) names
    what is wrong with the request; DeadlineExceeded ends a ranking that runs
    past the current deadline (see service.deadline).
    """
    limits = limits or RankLimits()
    strategy = get_strategy(request.strategy)
    scored = score_features(
        request.arrays,
        request.params,
        request.model,
        store=store,
        chunk_bytes=limits.inference_chunk_bytes,
        typed=request.params_typed,
        strategy=strategy,
        max_held_bytes=limits.max_held_output_bytes,
        seed=request.seed,
    )
    sources, params = scored.sources, scored.params
    if scored.model is not None and not strategy.pointwise:
        _check_held_output(sources, limits.max_held_output_bytes)
    model_id = scored.model
    job = plan_job(
        request,
        strategy,
        sources,
        params,
        kinds=kinds,
        limits=limits,
        model_id=model_id if not isinstance(model_id, tuple) else ",".join(model_id),
    )
    if on_planned is not None:
        on_planned(job.summary())
    chunks = job.chunks(limits.chunk_bytes)
    arrays = {} if strategy.pointwise else job.read_arrays()
    try:
        ranking = rank_pool(chunks, arrays, pool_size=job.pool_size, plan=job.plan)
    except InvalidInput as error:
        # The core names a parameter it refuses by the parameter's name; the
        # request holds it under params.
        if error.field in job.plan.params:
            error.field = f"params.{error.field}"
        raise
    if scored.samples is not None and scored.samples.seed is not None and ranking.seed is None:
        # The dropout's seed reproduces the ranking, so the answer names it.
        ranking = replace(ranking, seed=scored.samples.seed)
    prefilter = job.plan.prefilter
    # With a budget of money, the budget is what it bought.
    budget = job.plan.budget if job.plan.costs is None else int(ranking.indices.shape[0])
    return RankAnswer(
        ranking,
        strategy.name,
        budget,
        job.plan.selection,
        model_id,
        prefilter=None if prefilter is None else Prefilter(prefilter.strategy.name, prefilter.keep),
        balance=job.plan.balance,
        budget_cost=request.budget_cost,
    )


def _check_held_output(sources: Mapping[str, PoolSource], max_bytes: int | None) -> None:
    """Refuse a model output a batch strategy would hold whole when it is larger
    than a body of the same array could be: streamed to a pointwise strategy,
    it never is."""
    if max_bytes is None:
        return
    for name in (*OUTPUT_KINDS, SAMPLES):
        source = sources.get(name)
        if source is None:
            continue
        held = math.prod(source.shape) * np.dtype(np.float32).itemsize
        if held > max_bytes:
            raise PayloadTooLarge(
                f"the model's {name} for these features would be {list(source.shape)} "
                f"float32 ({held} bytes), more than the {max_bytes} bytes a body may hold "
                "(ALRANK_MAX_NPY_BYTES); a batch strategy holds it whole: send fewer rows, "
                "or rank with a pointwise strategy, which streams it",
                field="features",
            )
