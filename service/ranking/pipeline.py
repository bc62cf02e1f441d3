"""Rank a pool: pointwise strategies over chunks of items, batch strategies over whole arrays.

``rank_pool`` ranks an in-memory array (cut into chunks) and a streamed body
(chunks as they arrive) with the same code, so both give the same answer by
construction.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from service.errors import InvalidInput
from service.ranking.bayesian import mean_of_pass_columns
from service.ranking.composition import Balance, BalancedSelector, prefilter_positions
from service.ranking.costs import CostPlan, spend
from service.ranking.diagnostics import Diagnostics, DiagnosticsPlan, PoolTally
from service.ranking.inputs import (
    ARRAY_ROLES,
    ChunkContext,
    InputKind,
    aggregate_units,
    binary_columns,
)
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
    ``keep_token_scores`` keeps every token's score to return the picks';
    ``lengths`` (n,) are a token kind's tokens per sequence. ``diagnostics``
    says what the answer's pool summary gathers (None: no summary).
    ``costs`` (pointwise strategies, selection top) spends a budget of money
    instead of taking ``budget`` items (see ranking.costs).
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
    keep_token_scores: bool = False
    lengths: np.ndarray | None = None
    diagnostics: DiagnosticsPlan | None = field(default_factory=DiagnosticsPlan)
    costs: CostPlan | None = None

    @property
    def randomized(self) -> bool:
        prefilter_randomized = self.prefilter is not None and self.prefilter.strategy.randomized
        return self.strategy.randomized or self.selection.randomized or prefilter_randomized


@dataclass(frozen=True)
class Ranking:
    """The answer: ``indices`` (k,) best first and their ``scores`` (k,).

    ``seed`` is set when randomness was used; ``all_scores`` (n,) holds every
    pool item's score in pool order when it was asked for; ``token_scores``
    each pick's per-token scores (L_i,), in pick order, when they were;
    ``diagnostics`` what the ranking saw of the pool; ``cost_used`` the
    money the picks cost, when a budget of money was spent.
    """

    indices: np.ndarray
    scores: np.ndarray
    pool_size: int
    seed: int | None
    all_scores: np.ndarray | None
    token_scores: tuple[np.ndarray, ...] | None = None
    diagnostics: Diagnostics | None = None
    cost_used: float | None = None


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
    """Score and rank chunk by chunk, in memory bounded by the chunk size (plus
    one score per token when the token scores are to be returned)."""
    make_scorer = plan.strategy.make_scorer
    if make_scorer is None:
        raise ValueError(f"{plan.strategy.name} is a batch strategy")
    seed = _seed(plan)
    # Separate streams for scoring and for drawing, so neither depends on
    # how many numbers the other consumed per chunk.
    score_rng, select_rng = (np.random.default_rng(s) for s in _seed_streams(seed))
    score = make_scorer(plan.params, score_rng)
    aggregate = _aggregate(plan)
    selector = make_selector(plan.selection, plan.budget, select_rng, pool_size)
    balanced: BalancedSelector | None = None
    all_scores: np.ndarray | None = None
    token_scores: list[np.ndarray] | None = [] if plan.keep_token_scores else None
    tally = PoolTally(plan.diagnostics) if plan.diagnostics is not None else None
    for chunk, probs, seen in _prepared(chunks, plan):
        scores = _item_scores(score, aggregate, chunk, probs, token_scores)
        offset, size = chunk.offset, scores.shape[0]
        if tally is not None:
            tally.push(offset, scores, seen)
        if plan.keep_all_scores or plan.costs is not None:
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
    diagnostics = tally.result() if tally is not None else None
    if plan.costs is not None and all_scores is not None:
        return _spent(all_scores, plan, seed, diagnostics, token_scores)
    indices, top_scores = (balanced or selector).result()
    picked_tokens = None
    if token_scores is not None and plan.lengths is not None:
        picked_tokens = _picked_units(token_scores, plan.lengths, indices)
    return Ranking(indices, top_scores, pool_size, seed, all_scores, picked_tokens, diagnostics)


def _spent(
    all_scores: np.ndarray,
    plan: RankPlan,
    seed: int | None,
    diagnostics: Diagnostics | None,
    token_scores: list[np.ndarray] | None,
) -> Ranking:
    """The ranking of a budget of money: greedy by score per unit cost."""
    if plan.costs is None:
        raise ValueError("a ranking by cost needs the plan's costs")
    eligible = np.ones(all_scores.shape[0], dtype=bool)
    eligible[plan.exclude] = False
    spent = spend(all_scores, eligible, plan.costs)
    kept = all_scores if plan.keep_all_scores else None
    picked_tokens = None
    if token_scores is not None and plan.lengths is not None:
        picked_tokens = _picked_units(token_scores, plan.lengths, spent.indices)
    return Ranking(
        spent.indices,
        spent.scores,
        all_scores.shape[0],
        seed,
        kept,
        picked_tokens,
        diagnostics=diagnostics,
        cost_used=spent.cost_used,
    )


def _item_scores(
    score: Callable[[np.ndarray], np.ndarray],
    aggregate: str | None,
    chunk: Chunk,
    probs: np.ndarray,
    token_scores: list[np.ndarray] | None,
) -> np.ndarray:
    """The chunk's item scores (n,): the strategy's scores of its columns, or of
    its units aggregated per item (each unit's score kept in ``token_scores``)."""
    if aggregate is None:
        return score(probs)
    unit_scores = score(probs) if chunk.rows.shape[0] else np.zeros(0, probs.dtype)
    if token_scores is not None:
        token_scores.append(unit_scores)
    return aggregate_units(unit_scores, chunk, aggregate)


def _aggregate(plan: RankPlan) -> str | None:
    """How unit scores become item scores, or None when the strategy scores items."""
    kind = plan.input_kind
    if kind is None or not kind.has_units or plan.strategy.unit_scores == "item":
        return None
    if plan.strategy.unit_scores == "mean":
        return "mean"
    return str(plan.params.get("aggregate", "mean"))


def _picked_units(
    unit_scores: list[np.ndarray], lengths: np.ndarray, indices: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Each picked item's unit scores, in pick order, from every unit's score in
    pool order (the items' units consecutive, ``lengths`` (n,) of them)."""
    every = np.concatenate(unit_scores) if unit_scores else np.zeros(0)
    ends = np.cumsum(lengths, dtype=np.int64)
    starts = ends - lengths
    return tuple(every[starts[i] : ends[i]] for i in indices.tolist())


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
    tally = PoolTally(plan.diagnostics) if plan.diagnostics is not None else None
    if chunks is not None:
        # Class columns (c, u) or pass columns (t, c, u): items are the last axis.
        parts = []
        for chunk, cols, seen in _prepared(chunks, plan):
            parts.append(cols)
            if tally is not None:
                tally.push_input(chunk.offset, seen)
        probs = np.moveaxis(np.concatenate(parts, axis=-1), -1, 0)
    eligible = np.ones(pool_size, dtype=bool)
    eligible[plan.exclude] = False
    streams = _seed_streams(seed)
    rng = np.random.default_rng(streams[0])
    if plan.prefilter is None:
        whole = BatchInputs(probs, arrays, eligible, plan.params, rng)
        indices, scores = select(whole, plan.budget)
        picked_from = pool_size - plan.exclude.shape[0]
        return Ranking(
            indices, scores, pool_size, seed, None, diagnostics=_batch_result(tally, picked_from)
        )
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
    diagnostics = _batch_result(tally, survivors.shape[0])
    return Ranking(survivors[indices], scores, pool_size, seed, None, diagnostics=diagnostics)


def _batch_result(tally: PoolTally | None, picked_from: int) -> Diagnostics | None:
    """A batch strategy's diagnostics: it scores only its picks, from ``picked_from`` items."""
    return None if tally is None else tally.result(items_scored=picked_from, scored=False)


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


def _prepared(
    chunks: Iterable[Chunk], plan: RankPlan
) -> Iterator[tuple[Chunk, np.ndarray, np.ndarray]]:
    """Each chunk with its checked probabilities, laid out by columns as the
    strategy scores them (see InputKind.prepare), and as the kind gives them
    (before a mean over passes or a split of labels into two classes; the
    mean itself when it was taken). A token kind's errors name the sequence
    and token of the bad row."""
    kind = plan.input_kind
    if kind is None:
        raise ValueError(f"{plan.strategy.name} takes no probability input")
    # Strategies of form "probs" score the mean over passes of samples, and
    # each label of a multi-label item as two classes.
    averaged = plan.strategy.form == "probs" and kind.yields == "samples"
    binary = plan.strategy.form == "probs" and kind.yields == "labels"
    # Strategies that score items (random) see one column per item of a kind with units.
    per_item = (
        kind.has_units and plan.strategy.unit_scores == "item" and plan.strategy.form != "labels"
    )
    # One context for the request; only its row offset follows the chunks.
    context = ChunkContext(kind.name, 0, plan.params, plan.normalize)
    for chunk in chunks:
        context.row_offset = chunk.row_offset
        if chunk.rows.shape[0]:
            try:
                probs = kind.prepare(chunk.rows, context)
            except InvalidInput as error:
                if chunk.lengths is not None:
                    error.detail = name_token(error.detail, chunk)
                raise
            if averaged:
                probs = mean_of_pass_columns(probs)
            seen = probs
            if binary:
                probs = binary_columns(probs)
        else:  # sequences without tokens only
            probs = seen = np.zeros((2, 0), np.float64)
        yield chunk, np.zeros((1, chunk.size), probs.dtype) if per_item else probs, seen


_ROW_AT_START = re.compile(r"^row (\d+)")


def name_token(detail: str, chunk: Chunk) -> str:
    """``detail`` with a leading "row R" (an array row of the chunk's ragged
    input) said as the sequence and token it is."""
    match = _ROW_AT_START.match(detail)
    if match is None or chunk.lengths is None:
        return detail
    row = int(match.group(1))
    ends = chunk.row_offset + np.cumsum(chunk.lengths, dtype=np.int64)
    within = int(np.searchsorted(ends, row, side="right"))
    if within >= chunk.size:
        return detail
    token = row - int(ends[within] - chunk.lengths[within])
    where = f"sequence {chunk.offset + within}, token {token} (token row {row})"
    return where + detail[match.end() :]


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
