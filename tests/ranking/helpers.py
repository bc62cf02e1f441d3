"""Pool builders and a one-call ranking through the chunked pipeline."""

from __future__ import annotations

import numpy as np

from service.ranking.inputs import INPUT_KINDS
from service.ranking.pipeline import Ranking, RankPlan, rank_chunks
from service.ranking.registry import STRATEGIES
from service.ranking.selection import Selection

DTYPES = (np.float32, np.float64)
POINTWISE = {name: s for name, s in STRATEGIES.items() if s.pointwise}
ALL = sorted(POINTWISE)
DETERMINISTIC = sorted(name for name, s in POINTWISE.items() if not s.randomized)
UNCERTAINTY = sorted(name for name, s in POINTWISE.items() if s.family == "uncertainty")
PASSES = 3

# Absolute tolerance between the core and the float64 reference, per dtype.
ATOL = {np.float32: 5e-5, np.float64: 1e-12}


def normalized(weights, dtype=np.float64):
    """Rows of non-negative ``weights`` (last axis) rescaled to sum to 1, then cast."""
    w = np.array(weights, dtype=np.float64)
    w[w.sum(axis=-1) == 0, 0] = 1.0
    return (w / w.sum(axis=-1, keepdims=True)).astype(dtype)


def kind_for(name):
    return "samples" if STRATEGIES[name].form == "samples" else "probabilities"


def shape_for(name, n, c):
    return (n, PASSES, c) if STRATEGIES[name].form == "samples" else (n, c)


def random_pool(rng, name, n, c, dtype):
    """A pool of continuous random rows, about one entry in five exactly 0."""
    weights = rng.gamma(rng.uniform(0.2, 2.0), size=shape_for(name, n, c))
    weights[rng.random(weights.shape) < 0.2] = 0.0
    return normalized(weights, dtype)


def chunked(array, size):
    return [(start, array[start : start + size]) for start in range(0, len(array), size)]


def rank(
    pool,
    name,
    budget,
    *,
    exclude=(),
    chunk=None,
    kind=None,
    seed=None,
    options=None,
    selection=None,
) -> Ranking:
    plan = RankPlan(
        strategy=STRATEGIES[name],
        input_kind=INPUT_KINDS[kind or kind_for(name)],
        budget=budget,
        exclude=np.array(sorted(exclude), dtype=np.int64),
        options=options or {},
        seed=seed,
        keep_all_scores=True,
        selection=selection or Selection(),
    )
    return rank_chunks(chunked(pool, chunk or len(pool)), pool_size=len(pool), plan=plan)


def rank_request(
    strategy,
    arrays,
    budget,
    *,
    exclude=(),
    seed=None,
    params=None,
    normalize=False,
    selection=None,
    chunk_rows=None,
    return_all_scores=False,
) -> Ranking:
    """Rank ``arrays`` (a dict of numpy arrays by field name, e.g. "probabilities",
    "embeddings") with the registered ``strategy`` as the service does, the pool's
    input read in chunks of ``chunk_rows`` rows (default: one chunk).

    InvalidInput when the request is invalid (budget over the eligible pool, say).
    """
    from service.ranking.checks import check_budget, check_exclude
    from service.ranking.pipeline import rank_batch

    chosen = STRATEGIES[strategy]
    given = [name for name in INPUT_KINDS if name in arrays]
    kind = INPUT_KINDS[given[0]] if given else None
    pool = arrays[given[0]] if given else arrays["embeddings"]
    checked_exclude = check_exclude(np.asarray(exclude, dtype=np.int64), pool_size=len(pool))
    check_budget(budget, pool_size=len(pool), n_excluded=checked_exclude.shape[0])
    plan = RankPlan(
        strategy=chosen,
        input_kind=kind,
        budget=budget,
        exclude=checked_exclude,
        options={**(params or {}), "normalize": normalize},
        seed=seed,
        keep_all_scores=return_all_scores,
        selection=selection or Selection(),
    )
    chunks = chunked(pool, chunk_rows or len(pool)) if kind is not None else None
    if chosen.pointwise:
        return rank_chunks(chunks, pool_size=len(pool), plan=plan)
    others = {role: array for role, array in arrays.items() if role not in INPUT_KINDS}
    return rank_batch(chunks, others, pool_size=len(pool), plan=plan)
