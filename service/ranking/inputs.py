"""The input kinds of a rank request, and the other arrays it may carry, by name.

A kind is one declaration (see inputkind): the class-distribution kinds
(probabilities, logits, samples) and the structured ones (per-token and
per-label; see structured). The planner (service.jobs) validates shapes,
roles and cross-array agreement from the declarations alone.

Axis letters: N pool items, C classes, T passes, D features, M labeled items,
R rows of a ragged array (item ``i`` owns ``lengths[i]`` of them), L labels.
"""

from __future__ import annotations

from service.ranking.classkinds import CLASS_KINDS, LAYOUT, SPACE, TEMPERATURE
from service.ranking.inputkind import (
    AGGREGATES,
    ArraySpec,
    ChunkContext,
    InputKind,
    aggregate_units,
)
from service.ranking.structured import AGGREGATE, LENGTHS, STRUCTURED_KINDS, binary_columns

INPUT_KINDS: dict[str, InputKind] = {**CLASS_KINDS, **STRUCTURED_KINDS}

# Arrays other than the probability-like input, by role. Arrays sharing an
# axis letter must agree on its size (N: one row per pool item; D: width;
# L: labels).
ARRAY_ROLES: dict[str, ArraySpec] = {
    spec.name: spec
    for spec in (
        ArraySpec(
            "embeddings",
            "ND",
            "One feature vector per pool item, N x D (a penultimate layer, say).",
        ),
        ArraySpec(
            "labeled_embeddings", "MD", "Feature vectors of the already labeled items, M x D."
        ),
        ArraySpec(
            "labeled_labels",
            "ML",
            "The label sets of the already labeled items, M x L of 0 and 1.",
        ),
    )
}

__all__ = [
    "AGGREGATE",
    "AGGREGATES",
    "ARRAY_ROLES",
    "INPUT_KINDS",
    "LAYOUT",
    "LENGTHS",
    "SPACE",
    "TEMPERATURE",
    "ArraySpec",
    "ChunkContext",
    "InputKind",
    "aggregate_units",
    "binary_columns",
]
