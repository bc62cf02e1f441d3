"""Rank a pool: pointwise strategies over row chunks, batch strategies over whole arrays.

``rank_chunks`` ranks an in-memory array (cut into chunks) and a streamed
body (chunks as they arrive) with the same code, so both give the same answer
by construction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from service.ranking.bayesian import mean_of_pass_columns, mean_over_passes
from service.ranking.inputs import InputKind
from service.ranking.selection import Selection, make_selector
from service.ranking.strategy import BatchInputs, Strategy

# Seeds the service draws fit in 53 bits, so JavaScript clients can echo them.
SEED_BITS = 53

Chunks = Iterable[tuple[int, np.ndarray]]


@dataclass(frozen=True)
class RankPlan:
    """Everything about one ranking except the pool's arrays.

    ``input_kind`` is None for a strategy that takes no probability input.
    ``exclude`` holds sorted, unique, in-range pool indices (see check_exclude);
    ``options`` holds the request's parameters and input options.
    """

    strategy: Strategy
    input_kind: InputKind | None
    budget: int
    exclude: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    options: Mapping[str, object] = field(default_factory=dict)
    seed: int | None = None
    keep_all_scores: bool = False
    selection: Selection = field(default_factory=Selection)

    @property
    def randomized(self) -> bool:
        return self.strategy.randomized or self.selection.randomized


@dataclass(frozen=True)
class Ranking:
    """The answer: ``indices`` (k,) best first and their ``scores`` (k,).

    ``seed`` is set when randomness was used; ``all_scores`` (n,) holds every
    pool item's score in pool order when it was asked for.
    """

    indices: np.ndarray
    scores: np.ndarray
    pool_size: int
    seed: int | None
    all_scores: np.ndarray | None


def draw_seed() -> int:
    """A fresh seed from the operating system's entropy."""
    return secrets.randbits(SEED_BITS)


def rank_chunks(chunks: Chunks, *, pool_size: int, plan: RankPlan) -> Ranking:
    """Score and rank ``chunks``, pairs of (first row number, rows), in pool order,
    with a pointwise strategy.

    The chunks must cover rows 0 .. pool_size - 1 in order; the budget and
    exclusions must already be checked against ``pool_size``.
    """
    if plan.strategy.make_scorer is None:
        raise ValueError(f"{plan.strategy.name} is a batch strategy: use rank_batch")
    seed = _seed(plan)
    # Separate streams for scoring and for drawing, so neither depends on
    # how many numbers the other consumed per chunk.
    score_rng, select_rng = (np.random.default_rng(s) for s in _seed_streams(seed))
    by_columns = _by_columns(plan)
    make_scorer = plan.strategy.make_scorer
    if by_columns and plan.strategy.make_column_scorer is not None:
        make_scorer = plan.strategy.make_column_scorer
    score = make_scorer(plan.options, score_rng)
    selector = make_selector(plan.selection, plan.budget, select_rng, pool_size)
    all_scores: np.ndarray | None = None
    for offset, probs in _prepared(chunks, plan, by_columns=by_columns):
        scores = score(probs)
        if plan.keep_all_scores:
            if all_scores is None:
                all_scores = np.empty(pool_size, dtype=scores.dtype)
            all_scores[offset : offset + scores.shape[0]] = scores
        selector.push(scores, offset, _excluded(plan.exclude, offset, scores.shape[0]))
    indices, top_scores = selector.result()
    return Ranking(indices, top_scores, pool_size, seed, all_scores)


def rank_batch(
    chunks: Chunks | None,
    arrays: Mapping[str, np.ndarray],
    *,
    pool_size: int,
    plan: RankPlan,
) -> Ranking:
    """Pick a batch with a batch strategy from whole arrays.

    ``chunks`` are the probability input's rows (None when the strategy takes
    none); ``arrays`` the other arrays by role, already checked.
    """
    if plan.strategy.select is None:
        raise ValueError(f"{plan.strategy.name} is a pointwise strategy: use rank_chunks")
    seed = _seed(plan)
    probs = None
    if chunks is not None:
        probs = np.concatenate([rows for _, rows in _prepared(chunks, plan)])
    eligible = np.ones(pool_size, dtype=bool)
    eligible[plan.exclude] = False
    inputs = BatchInputs(
        probs, arrays, eligible, plan.options, np.random.default_rng(_seed_streams(seed)[0])
    )
    indices, scores = plan.strategy.select(inputs, plan.budget)
    return Ranking(indices, scores, pool_size, seed, None)


def _by_columns(plan: RankPlan) -> bool:
    """Whether the plan's input kind and strategy meet on columns (see rowops)."""
    return (
        plan.strategy.make_column_scorer is not None
        and plan.input_kind is not None
        and plan.input_kind.prepare_columns is not None
    )


def _prepared(
    chunks: Chunks, plan: RankPlan, *, by_columns: bool = False
) -> Iterable[tuple[int, np.ndarray]]:
    """Chunks checked and turned into the probabilities the strategy scores: as
    rows, or laid out by columns when ``by_columns`` (see InputKind)."""
    if plan.input_kind is None:
        raise ValueError(f"{plan.strategy.name} takes no probability input")
    prepare = plan.input_kind.prepare_columns if by_columns else plan.input_kind.prepare
    if prepare is None:
        raise ValueError(f"{plan.input_kind.name} is not prepared by columns")
    # Strategies of form "probs" score the mean over passes of samples.
    averaged = plan.strategy.form == "probs" and plan.input_kind.axes == "NTC"
    mean = mean_of_pass_columns if by_columns else mean_over_passes
    for offset, rows in chunks:
        probs = prepare(rows, plan.options, offset)
        yield offset, mean(probs) if averaged else probs


def _excluded(exclude: np.ndarray, offset: int, size: int) -> np.ndarray:
    """Positions within the chunk ``offset .. offset + size - 1`` of the sorted pool
    indices ``exclude``."""
    if not exclude.shape[0]:
        return exclude
    lo, hi = np.searchsorted(exclude, [offset, offset + size])
    return exclude[lo:hi] - offset


def _seed(plan: RankPlan) -> int | None:
    if not plan.randomized:
        return None
    return plan.seed if plan.seed is not None else draw_seed()


def _seed_streams(seed: int | None) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(2)
