"""What a rank request may send, for the layers that read and document requests."""

from __future__ import annotations

from service.jobs.costs import COSTS
from service.jobs.diagnostics import PREVIOUS_ROLES
from service.jobs.features import FEATURE_PARAMS, FEATURES, LABELED_FEATURES
from service.ranking.inputs import ARRAY_ROLES, INPUT_KINDS, LENGTHS
from service.ranking.selection import SELECTION_METHODS

# Every array field of a request: the input kinds, the other roles, the
# features a model scores into an input, and the labeled items' features it
# turns into labeled embeddings, the previous round's predictions, and the
# items' label costs.
ARRAY_FIELDS: tuple[str, ...] = (
    *INPUT_KINDS,
    LENGTHS.name,
    *ARRAY_ROLES,
    FEATURES,
    LABELED_FEATURES,
    *PREVIOUS_ROLES,
    COSTS.name,
)
# The token kinds, by name: the axes of one token (1: C; 2: T x C).
TOKEN_FIELDS: dict[str, int] = {
    name: len(kind.axes) - 1 for name, kind in INPUT_KINDS.items() if kind.lengths is not None
}

__all__ = [
    "ARRAY_FIELDS",
    "FEATURE_PARAMS",
    "LENGTHS",
    "SELECTION_METHODS",
    "TOKEN_FIELDS",
    "describe_inputs",
]


def describe_inputs() -> list[dict[str, object]]:
    """The public input kinds, JSON-ready, as listed by GET /v1/strategies."""
    return [
        {
            "name": kind.name,
            "axes": kind.axes,
            "description": kind.description,
            "params": [param.describe() for param in kind.params],
        }
        for kind in INPUT_KINDS.values()
    ]
