"""One active-learning run: train the CRF, ask the service which sentences to label, repeat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from examples.ner import model
from examples.ner.cost import TokenLedger
from examples.ner.rank import Plan, RankClient, rank_body
from examples.ner.task import Task

# Request seeds are derived from the run's seed and the round, so a run is repeatable.
SEED_STRIDE = 1000


@dataclass(frozen=True)
class Schedule:
    """How a run labels: ``initial`` random sentences first, then ``batch`` per round."""

    initial: int
    batch: int
    rounds: int


@dataclass(frozen=True)
class Curve:
    """Test entity F1 after each round, against what the model was trained on.

    Entry r is after round r (entry 0: the seed set alone): ``sentences``
    and ``tokens`` labeled so far, cumulative; ``f1`` on the test set.
    """

    sentences: list[int]
    tokens: list[int]
    f1: list[float]


def seed_set(pool_size: int, initial: int, seed: int) -> np.ndarray:
    """The pool indices labeled before round 1: random, the same for every strategy."""
    if not 0 < initial <= pool_size:
        raise ValueError(f"initial must be in 1..{pool_size}, got {initial}")
    return np.sort(np.random.default_rng([seed, 0]).choice(pool_size, initial, replace=False))


def run(
    client: RankClient,
    task: Task,
    plan: Plan,
    schedule: Schedule,
    seed: int,
    settings: model.CrfSettings,
) -> Curve:
    """Simulate ``schedule.rounds`` rounds of labeling ``schedule.batch`` sentences.

    Each round fits the CRF on the labeled sentences, records its test F1,
    sends the unlabeled sentences' token marginals to the service and labels
    the sentences it returns from the gold tags. The last fit is on every
    sentence bought.
    """
    ledger = TokenLedger(task.lengths)
    ledger.label(seed_set(len(task.pool_x), schedule.initial, seed))
    sentences, tokens, f1 = [], [], []
    for round_index in range(schedule.rounds + 1):
        labeled = np.flatnonzero(ledger.labeled)
        tagger = model.fit(
            [task.pool_x[i] for i in labeled], [task.pool_tags[i] for i in labeled], settings
        )
        sentences.append(ledger.sentences)
        tokens.append(ledger.tokens)
        f1.append(model.entity_f1(tagger, task.test_x, task.test_tags))
        unlabeled = ledger.unlabeled()
        if round_index == schedule.rounds or len(unlabeled) == 0:
            break
        budget = min(schedule.batch, len(unlabeled))
        rows = model.probability_rows(tagger, [task.pool_x[i] for i in unlabeled], task.labels)
        body = rank_body(plan, budget, rows, seed=seed * SEED_STRIDE + round_index)
        ledger.label(unlabeled[checked(client.rank(body), budget, len(unlabeled))])
    return Curve(sentences, tokens, f1)


def checked(indices: np.ndarray, budget: int, pool_size: int) -> np.ndarray:
    """The answer's indices, if they are ``budget`` distinct positions in the pool sent."""
    if len(indices) != budget or len(np.unique(indices)) != budget:
        raise ValueError(f"expected {budget} distinct indices, got {indices.tolist()}")
    if np.any((indices < 0) | (indices >= pool_size)):
        raise ValueError(f"indices outside the pool of {pool_size}: {indices.tolist()}")
    return indices
