"""The ranking request: token probabilities as JSON to POST /v1/rank, indices back.

The body is ``application/json``::

    {"strategy": "entropy", "budget": 25,
     "token_probabilities": [[[p_1, ..., p_L] per token] per sentence],
     "params": {"aggregate": "max" | "mean" | "sum"},
     "seed": 7}

``seed`` goes with ``random`` only; ``params.aggregate`` (how a sentence's
per-token scores become its score) with the strategies that take one:
``mnlp`` is mean-normalised by definition and takes none. The answer's
``indices`` are positions in ``token_probabilities``, best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from service.client import Request, Transport, decode_answer

RANK_PATH = "/v1/rank"
AGGREGATES = ("max", "mean", "sum")


@dataclass(frozen=True)
class Plan:
    """A strategy as the simulation runs it: the service's name and, if any, its aggregate."""

    strategy: str
    aggregate: str | None = None

    @property
    def name(self) -> str:
        """How tables and legends name it: "random", "mnlp", "entropy/sum"."""
        return self.strategy if self.aggregate is None else f"{self.strategy}/{self.aggregate}"

    @property
    def randomized(self) -> bool:
        """Whether the request carries a seed (``random`` only)."""
        return self.strategy == "random"


BASELINE = Plan("random")
PLANS: tuple[Plan, ...] = (
    BASELINE,
    Plan("mnlp"),
    *(Plan("least_confidence", aggregate) for aggregate in AGGREGATES),
    *(Plan("entropy", aggregate) for aggregate in AGGREGATES),
)
PLANS_BY_NAME = {plan.name: plan for plan in PLANS}


def rank_body(
    plan: Plan, budget: int, rows: Sequence[np.ndarray], seed: int | None = None
) -> dict[str, Any]:
    """The JSON body asking for ``budget`` of the sentences whose token rows are ``rows``.

    ``rows[i]`` is sentence i's (tokens, labels) array of probabilities.
    """
    body: dict[str, Any] = {
        "strategy": plan.strategy,
        "budget": budget,
        "token_probabilities": list(rows),
    }
    if plan.aggregate is not None:
        body["params"] = {"aggregate": plan.aggregate}
    if plan.randomized:
        if seed is None:
            raise ValueError(f"{plan.name} needs a seed")
        body["seed"] = seed
    return body


class RankClient:
    """POSTs JSON ranking requests to one alrank service over a kept-alive connection."""

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        self.transport = Transport(base_url.rstrip("/"), timeout)

    def __enter__(self) -> RankClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.transport.close()

    def rank(self, body: dict[str, Any]) -> np.ndarray:
        """The answer's ``indices`` (int64, best first); AlrankError for an error answer."""
        payload = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
        request = Request(
            "POST",
            self.transport.prefix + RANK_PATH,
            {"Content-Type": "application/json", "Accept": "application/json"},
            [payload],
        )
        answer = decode_answer(*self.transport.send(request))
        return np.asarray(answer["indices"], dtype=np.int64)
