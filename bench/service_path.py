"""The service's ranking path driven in-process, chunked the way POST /v1/rank chunks it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from functools import partial

import numpy as np

from bench.floor import floor_calls
from service.decoding.sources import ArraySource
from service.ranking.chunks import DEFAULT_CHUNK_BYTES, chunk_rows, chunk_slices
from service.ranking.inputs import INPUT_KINDS
from service.ranking.pipeline import Ranking, RankPlan, rank_chunks
from service.ranking.registry import STRATEGIES
from service.ranking.selection import Selection
from service.ranking.strategy import Strategy

BUDGET = 100
SEED = 0
CHECKS = "checks"


def pointwise_strategies(input_kind: str, form: str | None = None) -> list[Strategy]:
    """Registered pointwise strategies that accept ``input_kind`` (and have ``form``)."""
    return [
        strategy
        for strategy in STRATEGIES.values()
        if strategy.pointwise
        and input_kind in strategy.inputs
        and (form is None or strategy.form == form)
    ]


def service_chunk_rows(shape: tuple[int, ...]) -> int:
    """Rows per chunk as the web layer picks them: 8 bytes per element of a row."""
    return chunk_rows(math.prod(shape[1:]) * 8, DEFAULT_CHUNK_BYTES)


def make_plan(
    strategy: str,
    *,
    input_kind: str = "probabilities",
    budget: int = BUDGET,
    selection: Selection | None = None,
    keep_all_scores: bool = False,
) -> RankPlan:
    """A plan for ``strategy`` with default options and a fixed seed."""
    return RankPlan(
        strategy=STRATEGIES[strategy],
        input_kind=INPUT_KINDS[input_kind],
        budget=budget,
        seed=SEED,
        keep_all_scores=keep_all_scores,
        selection=selection or Selection(),
    )


def rank_array(array: np.ndarray, plan: RankPlan) -> Ranking:
    """The full service path on an in-memory pool: checks, scoring and selection."""
    source = ArraySource(array, name=plan.input_kind.name if plan.input_kind else "pool")
    chunks = source.chunks(service_chunk_rows(array.shape))
    return rank_chunks(chunks, pool_size=array.shape[0], plan=plan)


def chunked_scoring(strategy: Strategy, array: np.ndarray) -> Callable[[], None]:
    """A call that runs ``strategy``'s scoring function alone over the pool's chunks."""
    make_scorer = strategy.make_scorer
    if make_scorer is None:
        raise ValueError(f"{strategy.name} is not pointwise")
    options: Mapping[str, object] = {}
    rows = service_chunk_rows(array.shape)

    def run() -> None:
        score = make_scorer(options, np.random.default_rng(SEED))
        for part in chunk_slices(array.shape[0], rows):
            score(array[part])

    return run


def chunked_checks(array: np.ndarray, input_kind: str = "probabilities") -> Callable[[], None]:
    """A call that prepares the pool's chunks as the full path does: each chunk
    copied into its class columns and checked (see InputKind.prepare_columns)."""
    kind = INPUT_KINDS[input_kind]
    prepare = kind.prepare_columns or kind.prepare
    options: Mapping[str, object] = {}
    rows = service_chunk_rows(array.shape)

    def run() -> None:
        for part in chunk_slices(array.shape[0], rows):
            prepare(array[part], options, part.start)

    return run


def reference_ranking(
    array: np.ndarray, strategy: str, input_kind: str = "probabilities", budget: int = BUDGET
) -> tuple[np.ndarray, np.ndarray]:
    """(our top-k indices, every item's score) for ``array``, to compare other answers with."""
    plan = make_plan(strategy, input_kind=input_kind, budget=budget, keep_all_scores=True)
    ranking = rank_array(array, plan)
    if ranking.all_scores is None:
        raise RuntimeError("the ranking kept no scores")
    return ranking.indices, ranking.all_scores


def in_process_calls(
    array: np.ndarray, input_kind: str, strategies: Iterable[str]
) -> dict[str, Callable[[], object]]:
    """Calls to time on one array: the floor, the input checks alone, and per
    strategy its scoring alone ("scoring NAME") and the full path ("full NAME")."""
    calls = floor_calls(array) | {CHECKS: chunked_checks(array, input_kind)}
    for name in strategies:
        calls[f"scoring {name}"] = chunked_scoring(STRATEGIES[name], array)
        plan = make_plan(name, input_kind=input_kind)
        calls[f"full {name}"] = partial(rank_array, array, plan)
    return calls
