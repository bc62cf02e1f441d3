"""The service's ranking path driven in-process, through the entry point POST /v1/rank calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from bench.floor import floor_calls
from service import jobs
from service.decoding.sources import ArraySource
from service.jobs import RankRequest, Selection
from service.jobs.planner import WORKING_ITEM_BYTES
from service.ranking.chunks import DEFAULT_CHUNK_BYTES, chunk_rows, chunk_slices
from service.ranking.inputs import INPUT_KINDS, ChunkContext
from service.ranking.pipeline import Ranking
from service.ranking.registry import STRATEGIES
from service.ranking.rowops import columns, pass_columns
from service.ranking.strategy import Strategy

BUDGET = 100
SEED = 0
CHECKS = "checks"


@dataclass(frozen=True)
class BenchPlan:
    """A request to time, all but its array: ``input_kind`` names the array's field."""

    strategy: str
    input_kind: str = "probabilities"
    budget: int = BUDGET
    selection: Selection = field(default_factory=Selection)
    keep_all_scores: bool = False


def pointwise_strategies(input_kind: str, form: str | None = None) -> list[Strategy]:
    """Registered pointwise strategies that accept ``input_kind`` (and have ``form``)."""
    return [
        strategy
        for strategy in STRATEGIES.values()
        if strategy.pointwise
        and strategy.accepts(INPUT_KINDS[input_kind])
        and (form is None or strategy.form == form)
    ]


def service_chunk_rows(shape: tuple[int, ...]) -> int:
    """Rows per chunk as the entry point picks them (see Job.chunks)."""
    return chunk_rows(int(np.prod(shape[1:])) * WORKING_ITEM_BYTES, DEFAULT_CHUNK_BYTES)


def make_plan(
    strategy: str,
    *,
    input_kind: str = "probabilities",
    budget: int = BUDGET,
    selection: Selection | None = None,
    keep_all_scores: bool = False,
) -> BenchPlan:
    """A plan for ``strategy`` with default options and a fixed seed."""
    return BenchPlan(strategy, input_kind, budget, selection or Selection(), keep_all_scores)


def rank_array(array: np.ndarray, plan: BenchPlan) -> Ranking:
    """The full service path on an in-memory pool: checks, scoring and selection."""
    request = RankRequest(
        plan.strategy,
        plan.budget,
        arrays={plan.input_kind: ArraySource(array, name=plan.input_kind)},
        seed=SEED,
        return_all_scores=plan.keep_all_scores,
        selection=plan.selection,
    )
    return jobs.rank(request).ranking


def _layout(chunk: np.ndarray) -> np.ndarray:
    return columns(chunk) if chunk.ndim == 2 else pass_columns(chunk)


def chunked_scoring(strategy: Strategy, array: np.ndarray) -> Callable[[], None]:
    """A call that runs ``strategy``'s scoring function alone over the pool's chunks,
    each laid out by columns first as its scorer takes it."""
    make_scorer = strategy.make_scorer
    if make_scorer is None:
        raise ValueError(f"{strategy.name} is not pointwise")
    rows = service_chunk_rows(array.shape)

    def run() -> None:
        score = make_scorer({}, np.random.default_rng(SEED))
        for part in chunk_slices(array.shape[0], rows):
            score(_layout(array[part]))

    return run


def chunked_checks(array: np.ndarray, input_kind: str = "probabilities") -> Callable[[], None]:
    """A call that prepares the pool's chunks as the full path does: each chunk
    copied into its columns, checked and transformed (see InputKind.prepare)."""
    kind = INPUT_KINDS[input_kind]
    rows = service_chunk_rows(array.shape)
    params = {param.name: param.default for param in kind.params}

    def run() -> None:
        for part in chunk_slices(array.shape[0], rows):
            kind.prepare(array[part], ChunkContext(kind.name, part.start, params))

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
