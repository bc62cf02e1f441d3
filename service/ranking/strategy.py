"""What a strategy is: how it scores a pool or picks a batch, and what it needs.

A pointwise strategy scores each pool item on its own, so it runs chunk by
chunk in bounded memory. Its ``make_scorer`` returns a function from a chunk
laid out by columns (see rowops) to scores (n,), higher = label first: class
columns (c, n) for strategies of form "probs" (samples are averaged over
passes first, and each label of a multi-label item is the two classes
(p, 1 - p)), pass columns (t, c, n) for strategies of form "samples", label
columns (l, n) for strategies of form "labels".

A batch strategy picks the whole batch at once from whole arrays (to make
it diverse, say); its ``select`` gets a BatchInputs and returns the picks.

Which input kinds a strategy takes follows from its form (see ``accepts``),
so a new input kind reaches every strategy that can score it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from service.ranking.inputkind import Unit
from service.ranking.inputs import INPUT_KINDS, InputKind
from service.ranking.params import Param, ParamValues
from service.ranking.selection import SELECTION_METHODS

Scorer = Callable[[np.ndarray], np.ndarray]
ScorerFactory = Callable[[ParamValues, np.random.Generator], Scorer]
Form = Literal["probs", "samples", "labels"]
# How a pointwise strategy meets a kind with several units per item:
# "aggregated" scores each unit and takes params.aggregate over them, "mean"
# always averages its unit scores, "item" scores each item once.
UnitScores = Literal["aggregated", "mean", "item"]
ALL_UNITS: tuple[Unit, ...] = ("item", "token", "label")


@dataclass(frozen=True)
class BatchInputs:
    """Whole arrays for a batch strategy, pool axis first.

    ``probs`` (n, c) or None when the strategy takes no probability input;
    ``arrays`` maps array roles (e.g. "embeddings" (n, d), "labeled_embeddings"
    (m, d)) to arrays; ``eligible`` (n,) is False for excluded items.
    """

    probs: np.ndarray | None
    arrays: Mapping[str, np.ndarray]
    eligible: np.ndarray
    params: ParamValues
    rng: np.random.Generator


Picks = tuple[np.ndarray, np.ndarray]
BatchSelect = Callable[[BatchInputs, int], Picks]


@dataclass(frozen=True)
class Strategy:
    """A registered strategy.

    ``form`` is what it scores: a class distribution per item ("probs"), the
    passes of samples ("samples"), independent per-label probabilities
    ("labels"), or None when it takes no probability-like input. ``units``
    are the kinds of unit it can score (see InputKind.unit) and
    ``unit_scores`` how its scores of a multi-unit item are combined.
    ``arrays`` lists the other arrays it requires and ``optional_arrays``
    those it can use. ``randomized`` says whether its
    answer depends on the request's seed. Exactly one of ``make_scorer``
    (pointwise) and ``select`` (batch) is set.
    """

    name: str
    family: str
    description: str
    formula: str
    form: Form | None
    make_scorer: ScorerFactory | None = None
    select: BatchSelect | None = None
    params: tuple[Param, ...] = ()
    randomized: bool = False
    aliases: tuple[str, ...] = ()
    arrays: tuple[str, ...] = ()
    optional_arrays: tuple[str, ...] = ()
    units: tuple[Unit, ...] = ALL_UNITS
    unit_scores: UnitScores = "aggregated"

    @property
    def pointwise(self) -> bool:
        return self.make_scorer is not None

    @property
    def selectable(self) -> bool:
        """Whether a stochastic selection may draw the batch from its scores."""
        return self.pointwise

    def accepts(self, kind: InputKind) -> bool:
        """Whether it can rank pools of ``kind``: samples feed every form but
        "labels" (averaged over passes for "probs"), label kinds feed "probs" and
        "labels", the others only "probs"; a kind that scores several units per
        item (tokens, labels) feeds pointwise strategies only."""
        if self.form is None or kind.unit not in self.units:
            return False
        if self.form == "samples" and kind.yields != "samples":
            return False
        if self.form == "labels" and kind.yields != "labels":
            return False
        return self.pointwise or not kind.has_units

    @property
    def inputs(self) -> tuple[str, ...]:
        """The public input kinds it accepts, in the order they are listed."""
        return tuple(name for name, kind in INPUT_KINDS.items() if self.accepts(kind))

    def describe(self) -> dict[str, object]:
        """A JSON-ready description, as listed by GET /v1/strategies."""
        return {
            "name": self.name,
            "family": self.family,
            "description": self.description,
            "formula": self.formula,
            "inputs": list(self.inputs),
            "arrays": list(self.arrays),
            "optional_arrays": list(self.optional_arrays),
            "params": [param.describe() for param in self.params],
            "randomized": self.randomized,
            "pointwise": self.pointwise,
            "aliases": list(self.aliases),
            "selections": list(SELECTION_METHODS) if self.selectable else ["top"],
        }
