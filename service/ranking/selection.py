"""How the k items of a batch are drawn from the pool's scores.

- ``top``: the k highest scores (ties toward the lower index).
- ``power``, ``softmax``, ``softrank``: stochastic batch acquisition (Kirsch
  et al. 2023, "Stochastic Batch Acquisition"): k items drawn without
  replacement with probability proportional to score^beta, exp(beta * score)
  or rank^-beta (rank 1 = best score). Drawn with the Gumbel-top-k trick
  (Kool et al. 2019): add iid Gumbel(0, 1) noise to each log-weight and keep
  the k largest keys, an exact sample without replacement in one O(N) pass.
  beta = 0 is a uniform sample; as beta grows the draw approaches top-k.

Each selector consumes scores chunk by chunk in pool order, so its answer
does not depend on the chunk boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.ranking.topk import RunningTopK, rank_order

SELECTION_METHODS = ("top", "power", "softmax", "softrank")

# log(x) >= -745 for every positive float64 x, so log-weights of items scoring
# 0 under power selection sit below every positive item's, by a margin the
# Gumbel noise (whose tail beyond 100 has probability e^-100) cannot bridge.
_LOWEST_LOG = 746.0
_NOISE_MARGIN = 100.0


@dataclass(frozen=True)
class Selection:
    """A selection method and its inverse temperature ``beta`` >= 0."""

    method: str = "top"
    beta: float = 1.0

    @property
    def randomized(self) -> bool:
        return self.method != "top"

    def describe(self) -> dict[str, object]:
        if self.method == "top":
            return {"method": "top"}
        return {"method": self.method, "beta": self.beta}


def power_log_weights(scores: np.ndarray, beta: float) -> np.ndarray:
    """log(score^beta) as float64 (m,).

    Scores of 0, and negative rounding residue, get weight 0 in spirit: they
    fall in a tier below every positive score and are drawn, uniformly among
    themselves, only once every positive item is taken. beta = 0 weighs every
    item alike.
    """
    if beta == 0:
        return np.zeros(scores.shape[0])
    positive = scores > 0
    log_weights = np.full(scores.shape[0], -(beta * _LOWEST_LOG + _NOISE_MARGIN))
    log_weights[positive] = beta * np.log(scores[positive].astype(np.float64))
    return log_weights


def softmax_log_weights(scores: np.ndarray, beta: float) -> np.ndarray:
    """log(exp(beta * score)) = beta * score as float64 (m,)."""
    return beta * scores.astype(np.float64)


def gumbel_keys(
    scores: np.ndarray, selection: Selection, rng: np.random.Generator
) -> np.ndarray:
    """Keys (m,) float64 whose top k are a draw of k items without replacement
    under ``selection`` ("power" or "softmax"): each item's log-weight plus
    Gumbel(0, 1) noise, one draw per item in order."""
    weights = {"power": power_log_weights, "softmax": softmax_log_weights}
    keys = weights[selection.method](scores, selection.beta)
    keys += rng.gumbel(size=scores.shape[0])
    return keys


class TopSelector:
    """The k best scores."""

    def __init__(self, k: int) -> None:
        self._best = RunningTopK(k)

    def push(self, scores: np.ndarray, offset: int, excluded: np.ndarray) -> None:
        """Add the scores (m,) of items ``offset ..``; ``excluded`` are chunk positions."""
        self._best.push(_masked(scores, excluded), offset)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices (k,), scores (k,)) in selection order."""
        return self._best.result()


class GumbelSelector:
    """A draw without replacement, proportional to score^beta or exp(beta * score).

    Returned in the order drawn (the order of the perturbed keys).
    """

    def __init__(self, k: int, selection: Selection, rng: np.random.Generator) -> None:
        self._selection = selection
        self._rng = rng
        self._best = RunningTopK(k)

    def push(self, scores: np.ndarray, offset: int, excluded: np.ndarray) -> None:
        keys = gumbel_keys(scores, self._selection, self._rng)
        self._best.push(_masked(keys, excluded), offset, values=scores)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        indices, _, scores = self._best.result_with_values()
        return indices, scores


class SoftRankSelector:
    """A draw without replacement, proportional to rank^-beta.

    Ranks need every score, so they are kept (8 bytes per pool item) and the
    ranking costs one O(N log N) sort at the end; the draw itself is O(N).
    Excluded items are ranked after every other item, so they do not shift
    the ranks of the rest.
    """

    def __init__(
        self, k: int, selection: Selection, rng: np.random.Generator, pool_size: int
    ) -> None:
        self._k = k
        self._beta = selection.beta
        self._rng = rng
        self._scores = np.empty(pool_size)
        self._excluded: list[np.ndarray] = []

    def push(self, scores: np.ndarray, offset: int, excluded: np.ndarray) -> None:
        self._scores[offset : offset + scores.shape[0]] = scores
        self._excluded.append(excluded + offset)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        n = self._scores.shape[0]
        excluded = np.concatenate(self._excluded) if self._excluded else np.empty(0, np.int64)
        ranked = _masked(self._scores, excluded)
        ranks = np.empty(n)
        ranks[rank_order(np.arange(n), ranked)] = np.arange(1, n + 1)
        keys = -self._beta * np.log(ranks) + self._rng.gumbel(size=n)
        best = RunningTopK(self._k)
        best.push(_masked(keys, excluded), 0, values=self._scores)
        indices, _, scores = best.result_with_values()
        return indices, scores


Selector = TopSelector | GumbelSelector | SoftRankSelector


def make_selector(
    selection: Selection, k: int, rng: np.random.Generator, pool_size: int
) -> Selector:
    """The selector for ``selection``; ``rng`` is used by the stochastic ones only."""
    if selection.method == "top":
        return TopSelector(k)
    if selection.method == "softrank":
        return SoftRankSelector(k, selection, rng, pool_size)
    return GumbelSelector(k, selection, rng)


def _masked(values: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """``values`` with the ``excluded`` positions set to -inf (a copy if any)."""
    if excluded.shape[0] == 0:
        return values
    masked = values.astype(np.float64 if values.dtype.kind != "f" else values.dtype)
    masked[excluded] = -np.inf
    return masked
