"""Batch strategies as the registry calls them: BatchInputs in, picks out.

Each adapter takes the arrays it needs from BatchInputs, checks the
parameters that depend on the pool (InvalidInput naming the parameter),
and calls the pure function in ``diversity``.
"""

from __future__ import annotations

import numpy as np

from service.errors import InvalidInput
from service.ranking import diversity
from service.ranking.params import Param
from service.ranking.strategy import BatchInputs, Picks

# Citovsky et al. (2021) draw the batch from about ten times as many
# low-margin candidates as it holds.
CANDIDATES_PER_PICK = 10

CLUSTER_MARGIN_PARAMS = (
    Param(
        "candidates",
        "integer",
        None,
        "Smallest-margin items to cluster and draw from; default 10 x budget "
        "(at most the pool left after exclusions).",
        minimum=1,
    ),
    Param(
        "clusters",
        "integer",
        None,
        "Clusters the candidates are split into (k-means); default the budget.",
        minimum=1,
    ),
)


def coreset(inputs: BatchInputs, budget: int) -> Picks:
    """k-center greedy over the embeddings, from the labeled set when given."""
    return diversity.coreset(
        inputs.arrays["embeddings"],
        budget,
        eligible=inputs.eligible,
        labeled=inputs.arrays.get("labeled_embeddings"),
    )


def badge(inputs: BatchInputs, budget: int) -> Picks:
    """k-means++ seeding over gradient embeddings, seeded by the request."""
    return diversity.badge(
        _probs(inputs),
        inputs.arrays["embeddings"],
        budget,
        rng=inputs.rng,
        eligible=inputs.eligible,
    )


def cluster_margin(inputs: BatchInputs, budget: int) -> Picks:
    """Smallest margins, spread round-robin over clusters of their embeddings."""
    available = int(inputs.eligible.sum())
    candidates = _int_param(inputs, "candidates", min(available, CANDIDATES_PER_PICK * budget))
    if not budget <= candidates <= available:
        raise InvalidInput(
            f"candidates must lie between the budget ({budget}) and the pool items "
            f"available ({available}), got {candidates}",
            field="candidates",
        )
    clusters = _int_param(inputs, "clusters", budget)
    if clusters > candidates:
        raise InvalidInput(
            f"clusters must be at most candidates ({candidates}), got {clusters}",
            field="clusters",
        )
    return diversity.cluster_margin(
        _probs(inputs),
        inputs.arrays["embeddings"],
        budget,
        rng=inputs.rng,
        eligible=inputs.eligible,
        candidates=candidates,
        clusters=clusters,
    )


def _probs(inputs: BatchInputs) -> np.ndarray:
    if inputs.probs is None:
        raise ValueError("this strategy needs a probability input")
    return inputs.probs


def _int_param(inputs: BatchInputs, name: str, default: int) -> int:
    value = inputs.params.get(name)
    return default if value is None else int(value)
