"""Spend a budget of money rather than a count: greedy by score per unit cost.

Each eligible item's key is its score divided by its cost (a negative
score is multiplied by the cost instead, so that a dearer item never ranks
higher). Items are taken in key order, highest first; equal keys go to the
cheaper item, then to the lower pool index. An item whose cost no longer
fits in what is left is skipped and the walk goes on, so a cheaper item
further down may still be taken: the total never exceeds the budget. A
deployment's cap on the items per answer stops the walk early.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.ranking import kernels


@dataclass(frozen=True)
class CostPlan:
    """Each pool item's cost (n,) float64 > 0, the money to spend, and at most
    how many items to take (None: as many as it buys)."""

    costs: np.ndarray
    budget_cost: float
    max_items: int | None = None


@dataclass(frozen=True)
class CostRanking:
    """The items taken (k,) in key order, their scores (k,), and the money spent."""

    indices: np.ndarray
    scores: np.ndarray
    cost_used: float


def keys_per_cost(scores: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Score per unit cost (n,): score / cost, or score * cost for a negative score."""
    keys: np.ndarray = np.where(scores >= 0, scores / costs, scores * costs)
    return keys


def spend(scores: np.ndarray, eligible: np.ndarray, plan: CostPlan) -> CostRanking:
    """The greedy selection of ``scores`` (n,) among ``eligible`` (n,) bool items."""
    positions = np.flatnonzero(eligible)
    keys = keys_per_cost(scores[positions], plan.costs[positions])
    order = positions[np.lexsort((positions, plan.costs[positions], -keys))]
    taken = np.empty(order.shape[0], dtype=np.int64)
    most = order.shape[0] if plan.max_items is None else plan.max_items
    count, spent = kernels.greedy_fill_into(order, plan.costs, plan.budget_cost, most, taken)
    indices = taken[:count]
    return CostRanking(indices, scores[indices], spent)
