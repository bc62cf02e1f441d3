"""Structured predictions: token-level kinds (sequence labeling, NER) and
multi-label kinds, each item scored from several units.

Token kinds hold one row per token, the tokens of each sequence consecutive
(axes "R..."), with ``lengths`` giving each sequence's token count; a
sequence may also be sent padded (N x L_max x ...), its padding ignored.
Pointwise strategies score every token, and ``params.aggregate`` turns a
sequence's token scores into its score.

Label kinds hold N x L independent per-label probabilities (sigmoid outputs:
rows need not sum to anything). Strategies over class distributions see
each label as the two-class distribution (p, 1 - p), aggregated over the
labels like tokens; the multi-label strategies (form "labels") read the
label columns whole.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from service.errors import InvalidInput
from service.ranking.checks import check_finite
from service.ranking.classkinds import (
    EXAMPLE_CLASSES,
    EXAMPLE_PASSES,
    SPACE,
    TEMPERATURE,
    check_logits,
    check_probabilities,
    check_samples,
    softmax_logits,
    uniform_rows,
)
from service.ranking.inputkind import AGGREGATES, ArraySpec, ChunkContext, Example, InputKind
from service.ranking.params import Param

AGGREGATE = Param(
    "aggregate",
    "string",
    "mean",
    "How the scores of an item's units become its score: mean (the default), max "
    "(its most uncertain token or label) or sum (total uncertainty, which favours "
    "long sequences and many labels).",
    choices=AGGREGATES,
)

LENGTHS = ArraySpec(
    "lengths",
    "N",
    "Tokens per sequence, N whole numbers >= 0, for a flat (sum of lengths) x ... "
    "token array or a padded N x L_max x ... one.",
)

# Tokens per sequence in the warm-up's example pools.
_EXAMPLE_TOKENS = 2


def _token_example(name: str, unit_shape: tuple[int, ...], *, zeros: bool = False) -> Example:
    """Warm-up pools of ``name``: sequences of two uniform (or zero) tokens."""

    def example(n: int, dtype: type) -> dict[str, np.ndarray]:
        shape = (_EXAMPLE_TOKENS * n, *unit_shape)
        tokens = np.zeros(shape, dtype) if zeros else uniform_rows(shape, dtype)
        return {name: tokens, LENGTHS.name: np.full(n, _EXAMPLE_TOKENS, np.int64)}

    return example


def check_unit_interval(cols: np.ndarray, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
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


def check_label_logits(cols: np.ndarray, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    """Finite per-label logits."""
    low, high = cols.min(), cols.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        check_finite(rows, name=ctx.name, row_offset=ctx.row_offset)
    return cols


def sigmoid_logits(cols: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    """Per-label probabilities 1 / (1 + exp(-x)), in place on label columns (l, n)."""
    result: np.ndarray = expit(cols, out=cols)
    return result


def binary_columns(label_cols: np.ndarray) -> np.ndarray:
    """Label columns (l, n) of P(label present) as the class columns (2, l * n)
    of l * n two-class distributions (p, 1 - p), label-major: unit k * n + i
    is label k of item i."""
    positive = label_cols.reshape(-1)
    binary = np.empty((2, positive.shape[0]), label_cols.dtype)
    binary[0] = positive
    np.subtract(1, positive, out=binary[1])
    return binary


def _label_example(name: str, fill: float) -> Example:
    """Warm-up pools of ``name``: every entry ``fill``."""

    def example(n: int, dtype: type) -> dict[str, np.ndarray]:
        return {name: np.full((n, EXAMPLE_CLASSES), fill, dtype)}

    return example


STRUCTURED_KINDS: dict[str, InputKind] = {
    kind.name: kind
    for kind in (
        InputKind(
            "token_probabilities",
            "RC",
            "Per-token class probabilities of N sequences: (sum of lengths) x C with each "
            "sequence's tokens consecutive, or padded N x L_max x C, with lengths; as JSON, "
            "a list of N lists of token rows. Each row sums to 1 within 1e-3 (or send "
            "normalize=true). A sequence scores by params.aggregate over its tokens.",
            "probability rows",
            check_probabilities,
            _token_example("token_probabilities", (EXAMPLE_CLASSES,)),
            params=(AGGREGATE,),
            normalizable=True,
            lengths=LENGTHS,
            unit="token",
        ),
        InputKind(
            "token_logits",
            "RC",
            "Per-token unnormalized class scores, laid out as token_probabilities; each "
            "token's row goes through a stable softmax (with params.temperature).",
            "finite reals",
            check_logits,
            _token_example("token_logits", (EXAMPLE_CLASSES,), zeros=True),
            transform=softmax_logits,
            params=(TEMPERATURE, AGGREGATE),
            lengths=LENGTHS,
            unit="token",
        ),
        InputKind(
            "token_samples",
            "RTC",
            "Per-token class probabilities from T >= 2 passes: (sum of lengths) x T x C, "
            "or padded N x L_max x T x C, with lengths; as JSON, a list of N lists of "
            "T x C tokens. Each pass's row sums to 1 within 1e-3.",
            "probability rows per pass, or their natural logs",
            check_samples,
            _token_example("token_samples", (EXAMPLE_PASSES, EXAMPLE_CLASSES)),
            yields="samples",
            params=(SPACE, AGGREGATE),
            normalizable=True,
            lengths=LENGTHS,
            unit="token",
        ),
        InputKind(
            "label_probabilities",
            "NL",
            "Independent per-label probabilities (sigmoid outputs) of N items with L "
            "labels, N x L, each in [0, 1]; rows need not sum to 1. Strategies over class "
            "distributions score each label as (p, 1 - p) and aggregate over the labels.",
            "[0, 1] values",
            check_unit_interval,
            _label_example("label_probabilities", 0.5),
            yields="labels",
            params=(AGGREGATE,),
            unit="label",
        ),
        InputKind(
            "label_logits",
            "NL",
            "Per-label logits, N x L; each goes through the sigmoid 1 / (1 + exp(-x)).",
            "finite reals",
            check_label_logits,
            _label_example("label_logits", 0.0),
            transform=sigmoid_logits,
            yields="labels",
            params=(AGGREGATE,),
            unit="label",
        ),
    )
}
