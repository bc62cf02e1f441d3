"""Two input kinds that exist only in the tests: a ragged token-level kind and an
N x L multi-label kind. Each is one declaration plus its check and transform,
ranked through the service's entry point with no other change to the service.
"""

from __future__ import annotations

import numpy as np

from service.errors import InvalidInput
from service.ranking.checks import check_finite, check_probability_columns
from service.ranking.inputs import (
    INPUT_KINDS,
    ArraySpec,
    ChunkContext,
    InputKind,
    max_over_units,
    mean_over_units,
)


def _check_token_rows(cols: np.ndarray, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    check_probability_columns(cols, rows, name=ctx.name, row_offset=ctx.row_offset)
    return cols


def _check_unit_interval(cols: np.ndarray, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    """Every entry a probability in [0, 1]; the rows need not sum to anything."""
    if cols.min() >= 0 and cols.max() <= 1:
        return cols
    check_finite(rows, name=ctx.name, row_offset=ctx.row_offset)
    row, label = (int(i[0]) for i in np.nonzero((rows < 0) | (rows > 1)))
    raise InvalidInput(
        f"row {row + ctx.row_offset}, label {label}: probability {float(rows[row, label])!r} "
        "is outside [0, 1]",
        field=ctx.name,
    )


def _binary_columns(cols: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    """Label columns (l, n) as the class columns (2, l * n) of l * n two-class
    distributions (p, 1 - p), label-major: unit k * n + i is label k of item i."""
    positive = cols.reshape(-1)
    binary = np.empty((2, positive.shape[0]), cols.dtype)
    binary[0] = positive
    np.subtract(1, positive, out=binary[1])
    return binary


TOKENS = InputKind(
    "token_probabilities",
    "RC",
    "Per-token class probabilities of N sequences, (sum of lengths) x C, the tokens of "
    "each sequence consecutive; a sequence scores as its most uncertain token.",
    "probability rows",
    _check_token_rows,
    lambda n, dtype: {
        "token_probabilities": np.full((2 * n, 3), 1 / 3, dtype),
        "lengths": np.full(n, 2, np.int64),
    },
    lengths=ArraySpec("lengths", "N", "Tokens per sequence, N integers >= 1."),
    reduce=max_over_units,
)

LABELS = InputKind(
    "label_probabilities",
    "NL",
    "Per-label probabilities of N items with L labels each, N x L in [0, 1]; each label "
    "is a two-class problem and an item scores as the mean over its labels.",
    "[0, 1] values",
    _check_unit_interval,
    lambda n, dtype: {"label_probabilities": np.full((n, 4), 0.5, dtype)},
    transform=_binary_columns,
    reduce=mean_over_units,
)

# The public kinds plus the two test kinds.
KINDS: dict[str, InputKind] = {**INPUT_KINDS, TOKENS.name: TOKENS, LABELS.name: LABELS}
