"""Selection composed around a strategy: a pointwise prefilter, and class quotas.

- ``Prefilter``: a pointwise strategy's scores narrow the pool to the
  ``keep`` best items before a batch strategy runs on them alone (the
  SEALS, FASS and cluster-margin pattern). Picks are mapped back to pool
  indices.
- ``Balance``: the batch is split into quotas over the predicted classes
  (argmax of the class distribution, of the mean over passes for samples),
  equal or in the proportions ``targets`` (small-text's ClassBalancer,
  Lightly's BALANCE). A class with fewer items than its quota gives the
  rest to the other classes (``class_quotas``), unless ``strict``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.errors import InvalidInput
from service.ranking.selection import Selection, gumbel_keys
from service.ranking.topk import RunningTopK, rank_order, top_k_positions

BALANCE_BY = ("predicted_class",)
# Selections a balanced batch can be drawn with: each class keeps its own
# best keys, and a prefix of a Gumbel top-k is itself an exact draw.
BALANCED_SELECTIONS = ("top", "power", "softmax")


@dataclass(frozen=True)
class Prefilter:
    """Keep the ``keep`` items a pointwise ``strategy`` scores highest."""

    strategy: str
    keep: int

    def describe(self) -> dict[str, object]:
        return {"strategy": self.strategy, "keep": self.keep}


@dataclass(frozen=True)
class Balance:
    """Quotas over ``by`` ("predicted_class"), in proportions ``targets`` (one
    per class, >= 0, any positive sum) or equal when None. ``strict`` refuses
    a batch a class cannot fill instead of giving its rest to the others."""

    by: str = "predicted_class"
    targets: tuple[float, ...] | None = None
    strict: bool = False

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"by": self.by, "strict": self.strict}
        if self.targets is not None:
            out["targets"] = list(self.targets)
        return out


def class_quotas(
    budget: int,
    available: np.ndarray,
    targets: np.ndarray,
    priority: np.ndarray | None = None,
) -> np.ndarray:
    """Items to take per class (c,) int64: ``budget`` split in proportion to
    ``targets`` (c,) >= 0 by largest remainders, each capped at the class's
    ``available`` (c,) items. Equal remainders go to the higher ``priority``
    (c,) first (a class's best score, say: with a budget below the class
    count, the classes with the most uncertain items), then the lower class.

    The quota a class cannot fill goes to the classes with room left, again
    in proportion to their targets; once those are full, to the classes of
    target 0, equally. Needs budget <= available.sum().
    """
    quotas = np.zeros(available.shape[0], dtype=np.int64)
    weights = np.asarray(targets, dtype=np.float64)
    if weights.max(initial=0.0) > 0:
        weights = weights / weights.max()  # no overflow in the sums, whatever the scale
    for tier in (weights > 0, weights == 0):
        tier_weights = np.where(tier, weights, 0.0) if tier is not None else weights
        if not tier_weights.any():
            tier_weights = tier.astype(np.float64)
        while quotas.sum() < budget:
            room = (available - quotas) * tier
            open_weights = np.where(room > 0, tier_weights, 0.0)
            if not open_weights.any():
                break
            share = _largest_remainders(int(budget - quotas.sum()), open_weights, priority)
            quotas += np.minimum(share, room)
    return quotas


def _largest_remainders(
    total: int, weights: np.ndarray, priority: np.ndarray | None = None
) -> np.ndarray:
    """``total`` whole units split in proportion to ``weights`` (c,) >= 0, with a
    positive sum: floors first, then one more for the largest remainders
    (ties: higher ``priority``, then lower class)."""
    ideal = total * weights / weights.sum()
    share: np.ndarray = np.floor(ideal).astype(np.int64)
    left = total - int(share.sum())
    if left:
        remainders = np.where(weights > 0, ideal - share, -1.0)
        classes = np.arange(weights.shape[0])
        rank = np.zeros(weights.shape[0]) if priority is None else -priority
        share[np.lexsort((classes, rank, -remainders))[:left]] += 1
    return share


def prefilter_positions(scores: np.ndarray, eligible: np.ndarray, keep: int) -> np.ndarray:
    """The pool positions (k,) ascending of the ``keep`` best ``scores`` (n,)
    among the ``eligible`` (n,) items (ties: lower index); all of them when
    fewer are eligible."""
    pool = np.flatnonzero(eligible)
    kept: np.ndarray = pool[top_k_positions(scores[pool], keep)]
    return kept


class BalancedSelector:
    """The batch of ``budget`` items drawn with ``selection`` within class quotas.

    Each class keeps its best ``budget`` keys (scores for "top", Gumbel-
    perturbed log-weights for "power" and "softmax", drawn once per item in
    pool order), so the answer does not depend on chunk boundaries. The
    quotas are fixed at the end, from the eligible items each class holds.
    """

    def __init__(
        self,
        budget: int,
        selection: Selection,
        rng: np.random.Generator,
        n_classes: int,
        balance: Balance,
    ) -> None:
        if selection.method not in BALANCED_SELECTIONS:
            raise ValueError(f"balance cannot draw with selection {selection.method!r}")
        self._budget, self._selection, self._rng, self._balance = budget, selection, rng, balance
        self._best: dict[int, RunningTopK] = {}
        self._available = np.zeros(n_classes, dtype=np.int64)

    def push(
        self, scores: np.ndarray, offset: int, excluded: np.ndarray, classes: np.ndarray
    ) -> None:
        """Add the scores (m,) of items ``offset ..`` and their predicted classes
        (m,); ``excluded`` are chunk positions."""
        keys = self._keys(scores)
        eligible = np.ones(scores.shape[0], dtype=bool)
        eligible[excluded] = False
        positions = np.flatnonzero(eligible)
        if not positions.shape[0]:
            return
        by_class = positions[np.argsort(classes[positions], kind="stable")]
        found, starts = np.unique(classes[by_class], return_index=True)
        self._available[found] += np.diff(np.append(starts, by_class.shape[0]))
        for label, rows in zip(found, np.split(by_class, starts[1:]), strict=True):
            best = self._best.setdefault(int(label), RunningTopK(self._budget))
            best.push(keys[rows], offset, values=scores[rows], indices=rows + offset)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices (k,), scores (k,)): every class's quota of its best keys,
        best score first (ties: lower index)."""
        targets = (
            np.ones(self._available.shape[0])
            if self._balance.targets is None
            else np.asarray(self._balance.targets, dtype=np.float64)
        )
        ranked = {label: best.result_with_values() for label, best in self._best.items()}
        # Between classes owed the same share, the one whose best key is higher.
        priority = np.full(self._available.shape[0], -np.inf)
        for label, (_, keys, _) in ranked.items():
            priority[label] = keys[0]
        quotas = class_quotas(self._budget, self._available, targets, priority)
        if self._balance.strict:
            self._check_filled(targets, priority)
        indices, scores = [], []
        for label, (picked, _, values) in ranked.items():
            indices.append(picked[: quotas[label]])
            scores.append(values[: quotas[label]])
        all_indices, all_scores = np.concatenate(indices), np.concatenate(scores)
        order = rank_order(all_indices, all_scores)
        return all_indices[order], all_scores[order]

    def _keys(self, scores: np.ndarray) -> np.ndarray:
        if self._selection.method == "top":
            return scores.astype(np.float64)
        return gumbel_keys(scores, self._selection, self._rng)

    def _check_filled(self, targets: np.ndarray, priority: np.ndarray) -> None:
        wanted = _largest_remainders(self._budget, targets, priority)
        short = np.flatnonzero(self._available < wanted)
        if short.shape[0]:
            label = int(short[0])
            raise InvalidInput(
                f"class {label} is predicted for {int(self._available[label])} eligible "
                f"items, fewer than its quota of {int(wanted[label])}; send strict: false "
                "to give its rest to the other classes",
                field="balance.strict",
            )
