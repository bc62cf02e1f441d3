"""What a strategy is: how it scores a pool or picks a batch, and what it needs.

A pointwise strategy scores each pool item on its own, so it runs chunk by
chunk in bounded memory; its ``make_scorer`` returns a function from a chunk
of probabilities to scores (n,), higher = label first. The chunk is (n, c)
for strategies of form "probs" (samples are averaged over passes first) and
(n, t, c) for strategies of form "samples". A pointwise strategy may also
score a chunk laid out by columns (see rowops): class columns (c, n) for form
"probs", pass columns (t, c, n) for form "samples". Its
``make_column_scorer`` returns such a function, which the pipeline uses with
the input kinds that prepare columns.

A batch strategy picks the whole batch at once from whole arrays (to make
it diverse, say); its ``select`` gets a BatchInputs and returns the picks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from service.ranking.params import Param
from service.ranking.selection import SELECTION_METHODS

Scorer = Callable[[np.ndarray], np.ndarray]
ScorerFactory = Callable[[Mapping[str, object], np.random.Generator], Scorer]


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
    params: Mapping[str, object]
    rng: np.random.Generator


Picks = tuple[np.ndarray, np.ndarray]
BatchSelect = Callable[[BatchInputs, int], Picks]


@dataclass(frozen=True)
class Strategy:
    """A registered strategy.

    ``inputs`` lists the probability-like input kinds it accepts (empty: it
    takes none); ``arrays`` the other arrays it requires and
    ``optional_arrays`` those it can use. ``form`` is the shape its scorer
    takes ("probs" or "samples"); ``randomized`` says whether its answer
    depends on the request's seed; ``selectable`` whether a stochastic
    selection may draw the batch from its scores. Exactly one of
    ``make_scorer`` (pointwise) and ``select`` (batch) is set;
    ``make_column_scorer``, if set, gives the same scores as ``make_scorer``
    from the chunk laid out by columns.
    """

    name: str
    family: str
    description: str
    formula: str
    inputs: tuple[str, ...]
    make_scorer: ScorerFactory | None = None
    select: BatchSelect | None = None
    params: tuple[Param, ...] = ()
    randomized: bool = False
    form: str = "probs"
    aliases: tuple[str, ...] = ()
    arrays: tuple[str, ...] = ()
    optional_arrays: tuple[str, ...] = ()
    make_column_scorer: ScorerFactory | None = None

    @property
    def pointwise(self) -> bool:
        return self.make_scorer is not None

    @property
    def selectable(self) -> bool:
        return self.pointwise

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
