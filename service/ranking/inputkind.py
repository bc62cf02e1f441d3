"""What an input kind is: its arrays, its element check, its transform and,
for kinds with several scored units per item (tokens, labels), how unit
scores become item scores.

Axis letters: N pool items, C classes, T passes, D features, M labeled items,
R rows of a ragged array (item ``i`` owns ``lengths[i]`` of them), L labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from service.ranking.items import Chunk, reduce_units
from service.ranking.params import Param, ParamValues
from service.ranking.rowops import columns, pass_columns

# What a kind's prepared columns hold: class distributions ("probs"), the
# passes of samples ("samples") or independent per-label probabilities
# ("labels", label columns (l, n)).
Yields = Literal["probs", "samples", "labels"]
# What a kind scores: one unit per item, or several (tokens of a sequence,
# labels of a document), turned into one item score by ``aggregate``.
Unit = Literal["item", "token", "label"]


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
# (rows, dtype) -> a valid pool of the kind, by array name: for warm-up and tests.
Example = Callable[[int, type], dict[str, np.ndarray]]


@dataclass(frozen=True)
class ArraySpec:
    """One array of a request: its name, its axes (letters above) and what it holds.

    A ragged kind's lengths array holds whole numbers >= 0, which decoders
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
    makes. ``lengths`` declares the array of rows per item of a ragged kind
    (axes "R..."), which may also be sent padded, item-major (N x L_max x
    ...). ``unit`` says what one score is of: an item, or one of its tokens
    or labels, which ``params.aggregate`` turns into the item's score.
    """

    name: str
    axes: str
    description: str
    element: str
    check: ElementCheck
    example: Example
    transform: Transform | None = None
    yields: Yields = "probs"
    params: tuple[Param, ...] = ()
    layout_param: str | None = None
    normalizable: bool = False
    lengths: ArraySpec | None = None
    unit: Unit = "item"

    @property
    def has_units(self) -> bool:
        """Whether an item's score aggregates the scores of several units."""
        return self.unit != "item"

    def sent_axes(self, params: ParamValues) -> str:
        """The axis order the client sent, e.g. "TNC"."""
        return str(params[self.layout_param]) if self.layout_param else self.axes

    def prepare(self, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
        """A chunk's rows (pool axis first, in ``axes`` order) as checked probability
        columns: class columns (c, u), pass columns (t, c, u) or label columns
        (l, n), a new array."""
        cols = self.check(columns(rows) if rows.ndim == 2 else pass_columns(rows), rows, ctx)
        return cols if self.transform is None else self.transform(cols, ctx)


AGGREGATES = ("mean", "max", "sum")


def aggregate_units(unit_scores: np.ndarray, chunk: Chunk, how: str) -> np.ndarray:
    """Item scores (n,) of a chunk from its units' scores, by ``how`` (see AGGREGATES).

    Token units are each item's consecutive rows (``chunk.lengths``); label
    units are label-major (label k of item i at k * n + i). An item with no
    units scores 0.
    """
    return reduce_units(unit_scores, chunk.lengths, chunk.size, how)
