"""Which strategies to simulate, and what each needs sent, from GET /v1/strategies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Arrays this simulation can build beside the input (see learner.py).
BUILDABLE_ARRAYS = frozenset({"embeddings", "labeled_embeddings"})


@dataclass(frozen=True)
class StrategyPlan:
    """One strategy and the arrays a request for it carries.

    ``input`` is "probabilities", "samples" (from the bootstrap committee) or
    None for strategies that take embeddings alone (coreset).
    """

    name: str
    family: str
    input: str | None
    embeddings: bool
    labeled_embeddings: bool
    randomized: bool


def plan_strategies(
    described: Iterable[Mapping[str, Any]], *, committee: bool = True
) -> tuple[list[StrategyPlan], dict[str, str]]:
    """(the strategies to run, in the service's order; skipped name -> why).

    Strategies that take probabilities get the model's probabilities; those
    that take only samples get the committee's, unless ``committee`` is off.
    """
    plans: list[StrategyPlan] = []
    skipped: dict[str, str] = {}
    for strategy in described:
        name = str(strategy["name"])
        inputs = list(strategy["inputs"])
        missing = set(strategy["arrays"]) - BUILDABLE_ARRAYS
        if missing:
            skipped[name] = f"needs {', '.join(sorted(missing))}"
            continue
        if "probabilities" in inputs:
            kind: str | None = "probabilities"
        elif "samples" in inputs and committee:
            kind = "samples"
        elif not inputs:
            kind = None
        else:
            skipped[name] = f"needs {' or '.join(inputs)}"
            continue
        optional = set(strategy.get("optional_arrays", ()))
        plans.append(
            StrategyPlan(
                name=name,
                family=str(strategy["family"]),
                input=kind,
                embeddings="embeddings" in strategy["arrays"],
                labeled_embeddings="labeled_embeddings" in {*strategy["arrays"], *optional},
                randomized=bool(strategy.get("randomized", False)),
            )
        )
    return plans, skipped


def choose(plans: Sequence[StrategyPlan], names: Sequence[str] | None) -> list[StrategyPlan]:
    """The plans named in ``names`` (all when None), always with the random baseline."""
    if not names:
        return list(plans)
    known = {plan.name: plan for plan in plans}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"cannot simulate {', '.join(unknown)}; available: {', '.join(sorted(known))}"
        )
    wanted = set(names) | {"random"}
    return [plan for plan in plans if plan.name in wanted]
