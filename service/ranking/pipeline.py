"""Rank a pool that arrives as consecutive row chunks.

The same function ranks an in-memory array (cut into chunks) and a streamed
body (chunks as they arrive), so both give the same answer by construction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from service.ranking.bayesian import mean_over_passes
from service.ranking.inputs import InputKind
from service.ranking.registry import Strategy
from service.ranking.topk import RunningTopK

# Seeds the service draws fit in 53 bits, so JavaScript clients can echo them.
SEED_BITS = 53


@dataclass(frozen=True)
class RankPlan:
    """Everything about one ranking except the pool's rows.

    ``exclude`` holds sorted, unique, in-range pool indices (see check_exclude);
    ``options`` holds the request's parameters and input options.
    """

    strategy: Strategy
    input_kind: InputKind
    budget: int
    exclude: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    options: Mapping[str, object] = field(default_factory=dict)
    seed: int | None = None
    keep_all_scores: bool = False


@dataclass(frozen=True)
class Ranking:
    """The answer: ``indices`` (k,) best first and their ``scores`` (k,).

    ``seed`` is set when the strategy used randomness; ``all_scores`` (n,)
    holds every pool item's score in pool order when it was asked for.
    """

    indices: np.ndarray
    scores: np.ndarray
    pool_size: int
    seed: int | None
    all_scores: np.ndarray | None


def draw_seed() -> int:
    """A fresh seed from the operating system's entropy."""
    return secrets.randbits(SEED_BITS)


def rank_chunks(
    chunks: Iterable[tuple[int, np.ndarray]], *, pool_size: int, plan: RankPlan
) -> Ranking:
    """Score and rank ``chunks``, pairs of (first row number, rows), in pool order.

    The chunks must cover rows 0 .. pool_size - 1 in order; the budget and
    exclusions must already be checked against ``pool_size``.
    """
    seed = None
    if plan.strategy.randomized:
        seed = plan.seed if plan.seed is not None else draw_seed()
    rng = np.random.default_rng(seed)
    score = plan.strategy.make_scorer(plan.options, rng)
    best = RunningTopK(plan.budget)
    all_scores: np.ndarray | None = None
    for offset, rows in chunks:
        probs = plan.input_kind.prepare(rows, plan.options, offset)
        if plan.strategy.form == "probs" and probs.ndim == 3:
            probs = mean_over_passes(probs)
        scores = score(probs)
        if plan.keep_all_scores:
            if all_scores is None:
                all_scores = np.empty(pool_size, dtype=scores.dtype)
            all_scores[offset : offset + scores.shape[0]] = scores
        best.push(_mask_excluded(scores, offset, plan.exclude), offset)
    indices, top_scores = best.result()
    return Ranking(indices, top_scores, pool_size, seed, all_scores)


def _mask_excluded(scores: np.ndarray, offset: int, exclude: np.ndarray) -> np.ndarray:
    """Scores with the excluded rows of this chunk set to -inf (a copy if any)."""
    lo, hi = np.searchsorted(exclude, [offset, offset + scores.shape[0]])
    if lo == hi:
        return scores
    masked = scores.copy()
    masked[exclude[lo:hi] - offset] = -np.inf
    return masked
