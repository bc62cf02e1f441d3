"""The strategy registry: the one source for validation, GET /v1/strategies and docs.

A pointwise strategy scores each pool item on its own, so it runs chunk by
chunk in bounded memory; its ``make_scorer`` returns a function from a chunk
of probabilities (n, c) to scores (n,), higher = label first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from service.errors import InvalidInput
from service.ranking import uncertainty
from service.ranking.params import Param

Scorer = Callable[[np.ndarray], np.ndarray]
ScorerFactory = Callable[[Mapping[str, object], np.random.Generator], Scorer]


@dataclass(frozen=True)
class Strategy:
    """A registered strategy.

    ``inputs`` lists the input kinds it accepts; ``randomized`` says whether
    its answer depends on the request's seed.
    """

    name: str
    family: str
    description: str
    formula: str
    inputs: tuple[str, ...]
    make_scorer: ScorerFactory
    params: tuple[Param, ...] = ()
    randomized: bool = False

    def describe(self) -> dict[str, object]:
        """A JSON-ready description, as listed by GET /v1/strategies."""
        return {
            "name": self.name,
            "family": self.family,
            "description": self.description,
            "formula": self.formula,
            "inputs": list(self.inputs),
            "params": [param.describe() for param in self.params],
            "randomized": self.randomized,
        }


def _fixed(score: Scorer) -> ScorerFactory:
    """A factory for a scorer that needs neither parameters nor randomness."""
    return lambda params, rng: score


def _random_scorer(params: Mapping[str, object], rng: np.random.Generator) -> Scorer:
    # Draws advance one per-request generator in pool order, so the scores do
    # not depend on where the chunk boundaries fall.
    return lambda probs: rng.random(probs.shape[0])


PROBABILITY_INPUTS = ("probabilities", "logits")

STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (
        Strategy(
            "least_confidence",
            "uncertainty",
            "One minus the probability of the most likely class.",
            "1 - p1",
            PROBABILITY_INPUTS,
            _fixed(uncertainty.least_confidence),
        ),
        Strategy(
            "margin",
            "uncertainty",
            "Small gap between the two most likely classes scores high.",
            "1 - (p1 - p2)",
            PROBABILITY_INPUTS,
            _fixed(uncertainty.margin),
        ),
        Strategy(
            "ratio",
            "uncertainty",
            "Ratio of the second most likely to the most likely class probability.",
            "p2 / p1",
            PROBABILITY_INPUTS,
            _fixed(uncertainty.ratio),
        ),
        Strategy(
            "entropy",
            "uncertainty",
            "Shannon entropy of the predicted class distribution, in nats.",
            "-sum_c p_c log p_c (0 log 0 = 0)",
            PROBABILITY_INPUTS,
            _fixed(uncertainty.entropy),
        ),
        Strategy(
            "random",
            "baseline",
            "Uniform random sample of the pool; the baseline every strategy must beat.",
            "u ~ Uniform[0, 1) per item, from the request's seeded generator",
            PROBABILITY_INPUTS,
            _random_scorer,
            randomized=True,
        ),
    )
}


def get_strategy(name: str) -> Strategy:
    """The strategy registered as ``name``; InvalidInput listing the known ones otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise InvalidInput(
            f"unknown strategy {name!r}; must be one of: {known}", field="strategy"
        ) from None
