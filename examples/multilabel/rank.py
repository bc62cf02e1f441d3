"""The strategies and the ranking request: label probabilities as JSON to POST /v1/rank.

The body is ``application/json``::

    {"strategy": "entropy", "budget": 20,
     "label_probabilities": [[p_1, ..., p_L] per item],
     "params": {"aggregate": "mean" | "max" | "sum"},
     "labeled_labels": [[y_1, ..., y_L] per labeled item],
     "seed": 7}

``params.aggregate`` goes with the class-probability strategies, which score
each label as the two classes (p, 1 - p) and aggregate over the labels;
``labeled_labels`` (the labeled items' 0/1 label sets) with
``label_cardinality_inconsistency``, which compares each item's predicted
number of labels with their mean; ``seed`` with ``random``. The modAL
strategies read each row whole and take none of them. The answer's
``indices`` are positions in ``label_probabilities``, best first; the
connection is examples.ner's :class:`RankClient`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from examples.ner.rank import RankClient

__all__ = ["BASELINE", "PLANS", "PLANS_BY_NAME", "Plan", "RankClient", "rank_body"]

LABEL_CARDINALITY = "label_cardinality_inconsistency"
MULTILABEL = ("min_confidence", "avg_confidence", "max_score", "avg_score", LABEL_CARDINALITY)


@dataclass(frozen=True)
class Plan:
    """A strategy as the simulation runs it: the service's name and, if any, its aggregate."""

    strategy: str
    aggregate: str | None = None

    @property
    def name(self) -> str:
        """How tables and legends name it: "random", "max_score", "entropy/mean"."""
        return self.strategy if self.aggregate is None else f"{self.strategy}/{self.aggregate}"

    @property
    def randomized(self) -> bool:
        """Whether the request carries a seed (``random`` only)."""
        return self.strategy == "random"

    @property
    def needs_labeled(self) -> bool:
        """Whether the request carries the labeled items' label sets."""
        return self.strategy == LABEL_CARDINALITY

    @property
    def family(self) -> str:
        """baseline, per-label uncertainty (aggregated) or multi-label (a whole row)."""
        if self.randomized:
            return "baseline"
        return "multi-label" if self.strategy in MULTILABEL else "per-label uncertainty"


BASELINE = Plan("random")
PLANS: tuple[Plan, ...] = (
    BASELINE,
    Plan("entropy", "mean"),
    Plan("margin", "mean"),
    Plan("least_confidence", "max"),
    *(Plan(name) for name in MULTILABEL),
)
PLANS_BY_NAME = {plan.name: plan for plan in PLANS}


def rank_body(
    plan: Plan,
    budget: int,
    probabilities: np.ndarray,
    labeled_labels: np.ndarray | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """The JSON body asking for ``budget`` of the items whose label probabilities are given.

    ``probabilities`` is N x L; ``labeled_labels`` the labeled items' M x L
    0/1 label sets, sent only to the strategy that needs them.
    """
    body: dict[str, Any] = {
        "strategy": plan.strategy,
        "budget": budget,
        "label_probabilities": np.ascontiguousarray(probabilities, dtype=np.float64),
    }
    if plan.aggregate is not None:
        body["params"] = {"aggregate": plan.aggregate}
    if plan.needs_labeled:
        if labeled_labels is None or len(labeled_labels) == 0:
            raise ValueError(f"{plan.name} needs the labeled items' label sets")
        body["labeled_labels"] = np.ascontiguousarray(labeled_labels, dtype=np.int64)
    if plan.randomized:
        if seed is None:
            raise ValueError(f"{plan.name} needs a seed")
        body["seed"] = seed
    return body
