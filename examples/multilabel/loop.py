"""One active-learning run: train the classifier, ask the service which items to label, repeat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from examples.multilabel import model
from examples.multilabel.rank import Plan, RankClient, rank_body
from examples.multilabel.task import Task

# Request seeds are derived from the run's seed and the round, so a run is repeatable.
SEED_STRIDE = 1000
# Seed-set draws tried before settling for one where some label has a single class.
MAX_DRAWS = 1000


@dataclass(frozen=True)
class Schedule:
    """How a run labels: ``initial`` random items first, then ``batch`` per round."""

    initial: int
    batch: int
    rounds: int


@dataclass(frozen=True)
class Curve:
    """Test F1 after each round, against the number of items the model was trained on.

    Entry r is after round r (entry 0: the seed set alone): ``labels`` items
    labeled so far and ``positives`` labels present on them, cumulative;
    ``micro_f1`` and ``macro_f1`` on the test set.
    """

    labels: list[int]
    positives: list[int]
    micro_f1: list[float]
    macro_f1: list[float]


def covers(y: np.ndarray, reference: np.ndarray) -> bool:
    """Whether label sets ``y`` hold a positive and a negative of every label that
    ``reference`` (the pool) holds both of."""
    both = (reference.min(axis=0) == 0) & (reference.max(axis=0) == 1)
    return bool(np.all(y[:, both].max(axis=0) == 1) and np.all(y[:, both].min(axis=0) == 0))


def seed_set(pool_y: np.ndarray, initial: int, seed: int) -> np.ndarray:
    """The pool indices labeled before round 1: random, the same for every strategy.

    The first of the seed's draws that holds a positive and a negative of
    every label, so that no label starts with a constant predictor; after
    ``MAX_DRAWS`` draws without one, the last (the model then handles such
    labels with a constant predictor).
    """
    size = len(pool_y)
    if not 0 < initial <= size:
        raise ValueError(f"initial must be in 1..{size}, got {initial}")
    rng = np.random.default_rng([seed, 0])
    for _ in range(MAX_DRAWS):
        chosen = np.sort(rng.choice(size, initial, replace=False))
        if covers(pool_y[chosen], pool_y):
            break
    return chosen


def run(
    client: RankClient,
    task: Task,
    plan: Plan,
    schedule: Schedule,
    seed: int,
    settings: model.ModelSettings,
) -> Curve:
    """Simulate ``schedule.rounds`` rounds of labeling ``schedule.batch`` items.

    Each round fits the classifier on the labeled items, records its test
    F1, sends the unlabeled items' label probabilities to the service and
    labels the items it returns with their true label sets. The last fit is
    on every item bought.
    """
    labeled = np.zeros(len(task.pool_y), dtype=bool)
    labeled[seed_set(task.pool_y, schedule.initial, seed)] = True
    curve = Curve([], [], [], [])
    for round_index in range(schedule.rounds + 1):
        chosen = np.flatnonzero(labeled)
        classifier = model.fit(task.pool_x[chosen], task.pool_y[chosen], settings)
        micro, macro = model.f1_scores(classifier, task.test_x, task.test_y)
        curve.labels.append(len(chosen))
        curve.positives.append(int(task.pool_y[chosen].sum()))
        curve.micro_f1.append(micro)
        curve.macro_f1.append(macro)
        unlabeled = np.flatnonzero(~labeled)
        if round_index == schedule.rounds or len(unlabeled) == 0:
            break
        budget = min(schedule.batch, len(unlabeled))
        body = rank_body(
            plan,
            budget,
            model.probabilities(classifier, task.pool_x[unlabeled]),
            labeled_labels=task.pool_y[chosen],
            seed=seed * SEED_STRIDE + round_index,
        )
        labeled[unlabeled[checked(client.rank(body), budget, len(unlabeled))]] = True
    return curve


def checked(indices: np.ndarray, budget: int, pool_size: int) -> np.ndarray:
    """The answer's indices, if they are ``budget`` distinct positions in the pool sent."""
    if len(indices) != budget or len(np.unique(indices)) != budget:
        raise ValueError(f"expected {budget} distinct indices, got {indices.tolist()}")
    if np.any((indices < 0) | (indices >= pool_size)):
        raise ValueError(f"indices outside the pool of {pool_size}: {indices.tolist()}")
    return indices
