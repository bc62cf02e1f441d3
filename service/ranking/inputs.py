"""Input kinds, declared as data: the arrays of each, their element check and
the transform to the probabilities strategies score.

A kind's primary array has the pool axis first and is read in chunks of
items (see items). Each chunk is copied once into its columns (see rowops:
class columns (c, u) for a 2-D array, pass columns (t, c, u) for samples),
then checked and transformed in cache. The check raises InvalidInput naming
the array and the array row (and pass) of the first bad entry.

Axis letters: N pool items, C classes, T passes, D features, M labeled items,
R rows of a ragged array (item ``i`` owns ``lengths[i]`` of them), L labels.
The kinds here are the public ones; a kind is one declaration, and the
planner (service.jobs) validates shapes, roles and cross-array agreement
from the declarations alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from service.errors import InvalidInput
from service.ranking.checks import (
    check_finite,
    check_log_pass_columns,
    check_pass_columns,
    check_probability_columns,
    normalize_columns,
    normalize_pass_columns,
)
from service.ranking.items import Chunk, reduce_units
from service.ranking.params import Param, ParamValues
from service.ranking.rowops import columns, pass_columns
from service.ranking.transforms import softmax_of_columns


@dataclass(slots=True)  # made once per chunk: see items.Chunk
class ChunkContext:
    """What a check or transform knows of its chunk: the array's name (for
    errors), the chunk's first array row, the request's parameters and whether
    rows are to be rescaled to sum to 1. Checks and transforms must not keep
    it: the pipeline moves one context's row offset from chunk to chunk."""

    name: str
    row_offset: int
    params: ParamValues
    normalize: bool = False


# (columns, the chunk's rows, context) -> the checked columns (rescaled, maybe).
ElementCheck = Callable[[np.ndarray, np.ndarray, ChunkContext], np.ndarray]
# (checked columns, context) -> the probabilities' columns, in place or new.
Transform = Callable[[np.ndarray, ChunkContext], np.ndarray]
# (scores of a chunk's units, the chunk) -> one score per item of the chunk.
Reduce = Callable[[np.ndarray, Chunk], np.ndarray]
# (rows, dtype) -> a valid pool of the kind, by array name: for warm-up and tests.
Example = Callable[[int, type], dict[str, np.ndarray]]


@dataclass(frozen=True)
class ArraySpec:
    """One array of a request: its name, its axes (letters above) and what it holds.

    A ragged kind's lengths array holds whole numbers >= 1, which decoders
    may have widened to floats; the planner checks them.
    """

    name: str
    axes: str
    description: str


@dataclass(frozen=True)
class InputKind:
    """A kind of probability-like pool input.

    ``axes`` are the primary array's axes in the order the core works with;
    ``layout_param`` names the parameter, if any, by which a client sends
    them in another order. ``element`` says in words what ``check`` accepts.
    ``yields`` is what ``transform`` (None: the checked values themselves)
    makes: class distributions ("probs") or
    the passes of samples ("samples"). ``lengths`` declares the array of
    rows per item of a ragged kind (axes "R..."); a kind whose transform
    gives several units per item (tokens, labels) sets ``reduce``, which turns
    unit scores into item scores.
    """

    name: str
    axes: str
    description: str
    element: str
    check: ElementCheck
    example: Example
    transform: Transform | None = None
    yields: Literal["probs", "samples"] = "probs"
    params: tuple[Param, ...] = ()
    layout_param: str | None = None
    normalizable: bool = False
    lengths: ArraySpec | None = None
    reduce: Reduce | None = None

    def sent_axes(self, params: ParamValues) -> str:
        """The axis order the client sent, e.g. "TNC"."""
        return str(params[self.layout_param]) if self.layout_param else self.axes

    def prepare(self, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
        """A chunk's rows (pool axis first, in ``axes`` order) as checked probability
        columns: class columns (c, u) or pass columns (t, c, u), a new array."""
        cols = self.check(columns(rows) if rows.ndim == 2 else pass_columns(rows), rows, ctx)
        return cols if self.transform is None else self.transform(cols, ctx)


def _check_probabilities(cols: np.ndarray, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    if ctx.normalize:
        return normalize_columns(cols, rows, name=ctx.name, row_offset=ctx.row_offset)
    check_probability_columns(cols, rows, name=ctx.name, row_offset=ctx.row_offset)
    return cols


def _check_logits(cols: np.ndarray, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    """Finite logits whose quotient by the temperature fits the dtype."""
    low, high = float(cols.min()), float(cols.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        check_finite(rows, name=ctx.name, row_offset=ctx.row_offset)
    temperature = _temperature(ctx)
    # Python floats here: the check must not itself overflow or warn.
    in_dtype = float(rows.dtype.type(_fitting(temperature, rows.dtype)))
    largest = max(abs(low), abs(high))
    if not (in_dtype > 0 and largest / in_dtype <= float(np.finfo(rows.dtype).max)):
        raise InvalidInput(
            f"logits divided by temperature {temperature:g} overflow {rows.dtype}",
            field="temperature",
        )
    return cols


def _softmax(cols: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    return softmax_of_columns(cols, _fitting(_temperature(ctx), cols.dtype))


def _fitting(temperature: float, dtype: np.dtype) -> float:
    """``temperature``, or the dtype's largest value when it is larger: dividing
    by either gives the same all-but-zero logits, and the cast cannot overflow."""
    return min(temperature, float(np.finfo(dtype).max))


def _temperature(ctx: ChunkContext) -> float:
    value = ctx.params.get("temperature", 1.0)
    return float(value) if isinstance(value, int | float) else 1.0


def _check_samples(cols: np.ndarray, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    """Each pass's row a distribution, sent as probabilities or natural logs."""
    if ctx.params.get("space") == "log":
        check_log_pass_columns(cols, name=ctx.name, row_offset=ctx.row_offset)
        # exp underflows only below the float's smallest subnormal, where a
        # probability can no longer change any score.
        np.exp(cols, out=cols)
    if ctx.normalize:
        return normalize_pass_columns(cols, name=ctx.name, row_offset=ctx.row_offset)
    check_pass_columns(cols, name=ctx.name, row_offset=ctx.row_offset)
    return cols


# Enough rows for a full block of the compiled loops and a remainder.
_EXAMPLE_CLASSES, _EXAMPLE_PASSES = 3, 2


def _uniform(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return np.full(shape, 1 / shape[-1], dtype)


TEMPERATURE = Param(
    "temperature",
    "number",
    1.0,
    "Softmax temperature: probabilities = softmax(logits / temperature).",
    minimum=0.0,
    exclusive_minimum=True,
)

LAYOUT = Param(
    "layout",
    "string",
    "NTC",
    "Axis order of samples: N pool items, T passes, C classes.",
    choices=("NTC", "TNC", "NCT"),
)

SPACE = Param(
    "space",
    "string",
    "prob",
    "Whether samples hold probabilities (prob) or natural-log probabilities (log).",
    choices=("prob", "log"),
)

INPUT_KINDS: dict[str, InputKind] = {
    kind.name: kind
    for kind in (
        InputKind(
            "probabilities",
            "NC",
            "Class probabilities, N x C; each row sums to 1 within 1e-3 "
            "(or send normalize=true to rescale non-negative rows).",
            "probability rows",
            _check_probabilities,
            lambda n, dtype: {"probabilities": _uniform((n, _EXAMPLE_CLASSES), dtype)},
            normalizable=True,
        ),
        InputKind(
            "logits",
            "NC",
            "Unnormalized class scores, N x C; turned into probabilities with a "
            "numerically stable softmax.",
            "finite reals",
            _check_logits,
            lambda n, dtype: {"logits": np.zeros((n, _EXAMPLE_CLASSES), dtype)},
            transform=_softmax,
            params=(TEMPERATURE,),
        ),
        InputKind(
            "samples",
            "NTC",
            "Class probabilities from T >= 2 Monte-Carlo passes or committee members, "
            "N x T x C by default (see layout); each pass's row sums to 1 within 1e-3.",
            "probability rows per pass, or their natural logs",
            _check_samples,
            lambda n, dtype: {
                "samples": _uniform((n, _EXAMPLE_PASSES, _EXAMPLE_CLASSES), dtype)
            },
            yields="samples",
            params=(LAYOUT, SPACE),
            layout_param="layout",
            normalizable=True,
        ),
    )
}


# Arrays other than the probability-like input, by role. Arrays sharing an
# axis letter must agree on its size (N: one row per pool item; D: width).
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
    )
}


def max_over_units(unit_scores: np.ndarray, chunk: Chunk) -> np.ndarray:
    """An item scores as its most uncertain unit (token or label)."""
    return reduce_units(unit_scores, chunk.lengths, chunk.size, "max")


def mean_over_units(unit_scores: np.ndarray, chunk: Chunk) -> np.ndarray:
    """An item scores as the mean over its units (tokens or labels)."""
    return reduce_units(unit_scores, chunk.lengths, chunk.size, "mean")
