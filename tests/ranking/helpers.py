"""Pool builders and a one-call ranking through the service's entry point."""

from __future__ import annotations

import math

import numpy as np

from service import jobs
from service.decoding.sources import ArraySource
from service.jobs import RankLimits, RankRequest, Selection
from service.jobs.planner import WORKING_ITEM_BYTES
from service.ranking.inputs import INPUT_KINDS
from service.ranking.pipeline import Ranking
from service.ranking.registry import STRATEGIES

DTYPES = (np.float32, np.float64)
# Pointwise strategies over class distributions, one per item; the token and
# multi-label strategies have their own tests (tests/jobs/test_structured_kinds.py).
CLASS_KINDS = ("probabilities", "logits", "samples")
POINTWISE = {
    name: s
    for name, s in STRATEGIES.items()
    if s.pointwise and any(kind in s.inputs for kind in CLASS_KINDS)
}
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


def chunk_bytes(shape, rows):
    """The chunk size (see RankLimits) that cuts a pool of ``shape`` into ``rows`` items."""
    return rows * math.prod(shape[1:]) * WORKING_ITEM_BYTES


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
    kinds=INPUT_KINDS,
) -> Ranking:
    """Rank ``arrays`` (a dict of numpy arrays by field name, e.g. "probabilities",
    "embeddings") with the registered ``strategy`` through the service's entry
    point, the pool's input read in chunks of ``chunk_rows`` items (default:
    one chunk).

    InvalidInput when the request is invalid (budget over the eligible pool, say).
    """
    request = RankRequest(
        strategy,
        budget,
        arrays={name: ArraySource(np.asarray(a), name=name) for name, a in arrays.items()},
        params=params or {},
        exclude=np.asarray(exclude, dtype=np.int64),
        normalize=normalize,
        seed=seed,
        return_all_scores=return_all_scores,
        selection=selection or Selection(),
    )
    given = [name for name in kinds if name in arrays]
    limits = RankLimits()
    if chunk_rows is not None and given:
        limits = RankLimits(chunk_bytes=chunk_bytes(np.shape(arrays[given[0]]), chunk_rows))
    return jobs.rank(request, limits=limits, kinds=kinds).ranking


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
    """Rank ``pool``, an array of the input kind ``kind`` (by default the one
    the strategy's form takes), keeping every item's score; ``options`` holds
    parameters and may hold "normalize"."""
    params = dict(options or {})
    normalize = bool(params.pop("normalize", False))
    return rank_request(
        name,
        {kind or kind_for(name): pool},
        budget,
        exclude=sorted(exclude),
        seed=seed,
        params=params,
        normalize=normalize,
        selection=selection,
        chunk_rows=chunk,
        return_all_scores=True,
    )
