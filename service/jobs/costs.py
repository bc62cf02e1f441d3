"""A budget of money: the request's costs and budget_cost, checked into a CostPlan."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from service.decoding.sources import PoolSource
from service.errors import InvalidInput
from service.jobs.request import RankRequest
from service.ranking.checks import check_shape
from service.ranking.costs import CostPlan
from service.ranking.inputs import ArraySpec
from service.ranking.strategy import Strategy

COSTS = ArraySpec(
    "costs",
    "N",
    "What labeling each pool item costs, N positive numbers (money, seconds, tokens...): "
    "with budget_cost, the picks are the most score per unit cost the budget buys.",
)


def split_costs(
    sources: Mapping[str, PoolSource],
) -> tuple[PoolSource | None, dict[str, PoolSource]]:
    """(the costs array, every other array) of a request's ``sources``."""
    others = {name: source for name, source in sources.items() if name != COSTS.name}
    return sources.get(COSTS.name), others


def check_budget_fields(request: RankRequest) -> None:
    """One of budget (items) and budget_cost (money), not both."""
    if request.budget is None and request.budget_cost is None:
        raise InvalidInput(
            "budget is missing: send budget (the items to pick) or budget_cost (the money to "
            "spend, with costs)",
            field="budget",
        )
    if request.budget is not None and request.budget_cost is not None:
        raise InvalidInput(
            "send budget (the items to pick) or budget_cost (the money to spend), not both",
            field="budget_cost",
        )


def cost_plan(
    request: RankRequest,
    costs: PoolSource | None,
    strategy: Strategy,
    *,
    pool_size: int,
    max_items: int | None,
) -> CostPlan | None:
    """The request's costs (n,) and budget_cost, or None when it counts items."""
    if request.budget_cost is None:
        if costs is not None:
            raise InvalidInput(
                "costs are spent by budget_cost: send budget_cost instead of budget",
                field=COSTS.name,
            )
        return None
    if not strategy.pointwise:
        raise InvalidInput(
            f"{strategy.name!r} picks its batch as a whole, by count: send budget; a budget "
            "of money (budget_cost) takes a strategy that scores each item on its own",
            field="budget_cost",
        )
    if request.selection.method != "top":
        raise InvalidInput(
            "a budget of money is spent greedily by score per unit cost: it takes selection top",
            field="selection",
        )
    if request.balance is not None:
        raise InvalidInput("balance splits a count of items; send budget", field="balance")
    if costs is None:
        raise InvalidInput(
            "budget_cost spends on each item's cost: send costs (N positive numbers)",
            field=COSTS.name,
        )
    check_shape(costs.shape, name=COSTS.name, axes=COSTS.axes)
    if costs.shape[0] != pool_size:
        raise InvalidInput(
            f"costs has {costs.shape[0]} entries but the pool has {pool_size} items",
            field=COSTS.name,
        )
    values = np.asarray(costs.read_all(), dtype=np.float64)
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        item = int(np.flatnonzero(bad)[0])
        raise InvalidInput(
            f"item {item} costs {float(values[item])!r}: expected a positive finite number",
            field=COSTS.name,
        )
    return CostPlan(values, float(request.budget_cost), max_items)


def check_affordable(plan: CostPlan, exclude: np.ndarray) -> None:
    """Refuse a budget below every eligible item's cost: it would buy nothing."""
    eligible = np.ones(plan.costs.shape[0], dtype=bool)
    eligible[exclude] = False
    if not eligible.any():
        raise InvalidInput("every pool item is excluded", field="exclude")
    cheapest = float(plan.costs[eligible].min())
    if cheapest > plan.budget_cost:
        raise InvalidInput(
            f"budget_cost {plan.budget_cost:g} buys nothing: the cheapest item not excluded "
            f"costs {cheapest:g}",
            field="budget_cost",
        )
