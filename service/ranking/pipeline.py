"""Rank a pool: pointwise strategies over chunks of items, batch strategies over whole arrays.

``rank_pool`` ranks an in-memory array (cut into chunks) and a streamed body
(chunks as they arrive) with the same code, so both give the same answer by
construction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from service.ranking.bayesian import mean_of_pass_columns
from service.ranking.composition import Balance, BalancedSelector, prefilter_positions
from service.ranking.inputs import ARRAY_ROLES, ChunkContext, InputKind
from service.ranking.items import Chunk
from service.ranking.params import ParamValue, ParamValues
from service.ranking.selection import Selection, make_selector
from service.ranking.strategy import BatchInputs, Strategy

# Seeds the service draws fit in 53 bits, so JavaScript clients can echo them.
SEED_BITS = 53


@dataclass(frozen=True)
class PrefilterPlan:
    """The pointwise ``strategy`` whose ``keep`` best items a batch strategy picks from."""

    strategy: Strategy
    keep: int

    def describe(self) -> dict[str, object]:
        return {"strategy": self.strategy.name, "keep": self.keep}


@dataclass(frozen=True)
class RankPlan:
    """Everything about one ranking except the pool's arrays.

    ``input_kind`` is None for a strategy that takes no probability input.
    ``exclude`` holds sorted, unique, in-range pool indices; ``params`` the
    checked parameters of the strategy and the input kind; ``normalize``
    whether the input's rows are rescaled to sum to 1. ``prefilter`` (batch
    strategies) narrows the pool first; ``balance`` (pointwise strategies)
    splits the batch into quotas over the predicted classes.
    """

    strategy: Strategy
    input_kind: InputKind | None
    budget: int
    exclude: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    params: ParamValues = field(default_factory=dict)
    normalize: bool = False
    seed: int | None = None
    keep_all_scores: bool = False
    selection: Selection = field(default_factory=Selection)
    prefilter: PrefilterPlan | None = None
    balance: Balance | None = None

    @property
    def randomized(self) -> bool:
        prefilter_randomized = self.prefilter is not None and self.prefilter.strategy.randomized
        return self.strategy.randomized or self.selection.randomized or prefilter_randomized


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


def rank_pool(
    chunks: Iterable[Chunk] | None,
    arrays: Mapping[str, np.ndarray],
    *,
    pool_size: int,
    plan: RankPlan,
) -> Ranking:
    """Rank a pool with the plan's strategy.

    ``chunks`` hold the probability-like input's items in pool order, covering
    items 0 .. pool_size - 1 (None when the strategy takes no such input);
    ``arrays`` the other arrays by role, whole and checked. The budget and
    exclusions must already be checked against ``pool_size``.
    """
    if plan.strategy.pointwise:
        if chunks is None:
            raise ValueError(f"{plan.strategy.name} scores an input: send its chunks")
        return _rank_pointwise(chunks, pool_size=pool_size, plan=plan)
    return _rank_batch(chunks, arrays, pool_size=pool_size, plan=plan)


def _rank_pointwise(chunks: Iterable[Chunk], *, pool_size: int, plan: RankPlan) -> Ranking:
    """Score and rank chunk by chunk, in memory bounded by the chunk size."""
    make_scorer = plan.strategy.make_scorer
    if make_scorer is None:
        raise ValueError(f"{plan.strategy.name} is a batch strategy")
    seed = _seed(plan)
    # Separate streams for scoring and for drawing, so neither depends on
    # how many numbers the other consumed per chunk.
    score_rng, select_rng = (np.random.default_rng(s) for s in _seed_streams(seed))
    score = make_scorer(plan.params, score_rng)
    reduce = plan.input_kind.reduce if plan.input_kind is not None else None
    selector = make_selector(plan.selection, plan.budget, select_rng, pool_size)
    balanced: BalancedSelector | None = None
    all_scores: np.ndarray | None = None
    for chunk, probs in _prepared(chunks, plan):
        scores = score(probs)
        if reduce is not None:
            scores = reduce(scores, chunk)
        offset, size = chunk.offset, scores.shape[0]
        if plan.keep_all_scores:
            if all_scores is None:
                all_scores = np.empty(pool_size, dtype=scores.dtype)
            all_scores[offset : offset + size] = scores
        excluded = _excluded(plan.exclude, offset, size)
        if plan.balance is None:
            selector.push(scores, offset, excluded)
            continue
        if balanced is None:
            n_classes = probs.shape[-2]
            balanced = BalancedSelector(
                plan.budget, plan.selection, select_rng, n_classes, plan.balance
            )
        balanced.push(scores, offset, excluded, predicted_classes(probs))
    indices, top_scores = (balanced or selector).result()
    return Ranking(indices, top_scores, pool_size, seed, all_scores)


def _rank_batch(
    chunks: Iterable[Chunk] | None,
    arrays: Mapping[str, np.ndarray],
    *,
    pool_size: int,
    plan: RankPlan,
) -> Ranking:
    """Pick a batch with a batch strategy from whole arrays; the input's class
    distributions are gathered into rows (n, c) first, or (n, t, c) for a
    strategy that scores samples."""
    select = plan.strategy.select
    if select is None:
        raise ValueError(f"{plan.strategy.name} is a pointwise strategy")
    seed = _seed(plan)
    probs = None
    if chunks is not None:
        # Class columns (c, u) or pass columns (t, c, u): items are the last axis.
        gathered = np.concatenate([cols for _, cols in _prepared(chunks, plan)], axis=-1)
        probs = np.moveaxis(gathered, -1, 0)
    eligible = np.ones(pool_size, dtype=bool)
    eligible[plan.exclude] = False
    streams = _seed_streams(seed)
    rng = np.random.default_rng(streams[0])
    if plan.prefilter is None:
        whole = BatchInputs(probs, arrays, eligible, plan.params, rng)
        indices, scores = select(whole, plan.budget)
        return Ranking(indices, scores, pool_size, seed, None)
    if probs is None:
        raise ValueError("a prefilter scores the request's input: send its chunks")
    survivors = _prefiltered(
        np.moveaxis(probs, 0, -1), eligible, plan.prefilter, np.random.default_rng(streams[1])
    )
    kept = {
        role: array[survivors] if ARRAY_ROLES[role].axes[0] == "N" else array
        for role, array in arrays.items()
    }
    narrowed = BatchInputs(
        probs[survivors] if plan.strategy.form is not None else None,
        kept,
        np.ones(survivors.shape[0], dtype=bool),
        plan.params,
        rng,
    )
    indices, scores = select(narrowed, plan.budget)
    return Ranking(survivors[indices], scores, pool_size, seed, None)


def _prefiltered(
    cols: np.ndarray, eligible: np.ndarray, prefilter: PrefilterPlan, rng: np.random.Generator
) -> np.ndarray:
    """Pool positions (keep,) ascending of the eligible items the prefilter's
    pointwise strategy scores highest, from class columns (c, n) or pass
    columns (t, c, n)."""
    strategy = prefilter.strategy
    if strategy.make_scorer is None:
        raise ValueError(f"{strategy.name} is a batch strategy")
    if strategy.form == "probs" and cols.ndim == 3:
        cols = mean_of_pass_columns(cols)
    defaults: ParamValues = {param.name: _default(param.default) for param in strategy.params}
    scores = strategy.make_scorer(defaults, rng)(cols)
    return prefilter_positions(scores, eligible, prefilter.keep)


def _default(value: object) -> ParamValue:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a parameter default must be a JSON scalar, got {value!r}")


def predicted_classes(cols: np.ndarray) -> np.ndarray:
    """Each item's most likely class (n,) from class columns (c, n), or from the
    mean over passes of pass columns (t, c, n); ties: the lower class."""
    mean = mean_of_pass_columns(cols) if cols.ndim == 3 else cols
    classes: np.ndarray = np.argmax(mean, axis=0)
    return classes


def _prepared(chunks: Iterable[Chunk], plan: RankPlan) -> Iterator[tuple[Chunk, np.ndarray]]:
    """Each chunk with its checked probabilities, laid out by columns as the
    strategy scores them (see InputKind.prepare)."""
    kind = plan.input_kind
    if kind is None:
        raise ValueError(f"{plan.strategy.name} takes no probability input")
    # Strategies of form "probs" score the mean over passes of samples.
    averaged = plan.strategy.form == "probs" and kind.yields == "samples"
    # One context for the request; only its row offset follows the chunks.
    context = ChunkContext(kind.name, 0, plan.params, plan.normalize)
    for chunk in chunks:
        context.row_offset = chunk.row_offset
        probs = kind.prepare(chunk.rows, context)
        yield chunk, mean_of_pass_columns(probs) if averaged else probs


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
