"""One active-learning run: train, ask the service what to label, label it, repeat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from examples.simulation import learner
from examples.simulation.datasets import Split
from examples.simulation.plans import StrategyPlan
from service.client import AlrankClient, RankResult

# Request seeds are derived from the run's seed and the round, so a run is repeatable.
SEED_STRIDE = 1000


@dataclass(frozen=True)
class Curve:
    """Test accuracy after each round, against the number of labels it was trained on."""

    labels: list[int]
    accuracy: list[float]


def run(
    client: AlrankClient,
    split: Split,
    plan: StrategyPlan,
    *,
    batch: int,
    rounds: int,
    seed: int,
) -> Curve:
    """Simulate ``rounds`` rounds of labeling ``batch`` items chosen by ``plan``'s strategy.

    Each round fits the model on the labeled items, records its test
    accuracy, sends the unlabeled items to the service and labels what it
    returns from the ground truth. The last fit is on every label bought.
    """
    labeled = np.zeros(len(split.y_pool), dtype=bool)
    labeled[split.initial] = True
    committee_rng = np.random.default_rng([seed, 1])
    labels, accuracy = [], []
    for round_index in range(rounds + 1):
        model = learner.fit(split.x_pool[labeled], split.y_pool[labeled])
        labels.append(int(labeled.sum()))
        accuracy.append(float(model.score(split.x_test, split.y_test)))
        unlabeled = np.flatnonzero(~labeled)
        if round_index == rounds or len(unlabeled) == 0:
            break
        budget = min(batch, len(unlabeled))
        request_seed = seed * SEED_STRIDE + round_index
        result = ask(client, plan, split, model, labeled, committee_rng, budget, request_seed)
        labeled[unlabeled[result.indices]] = True
    return Curve(labels, accuracy)


def ask(
    client: AlrankClient,
    plan: StrategyPlan,
    split: Split,
    model: LogisticRegression,
    labeled: np.ndarray,
    committee_rng: np.random.Generator,
    budget: int,
    seed: int,
) -> RankResult:
    """POST /v1/rank over the unlabeled items, with the arrays ``plan`` needs.

    The pool sent is the unlabeled items only; the answer's indices are
    positions in it.
    """
    pool = split.x_pool[~labeled]
    arrays: dict[str, np.ndarray] = {}
    if plan.input == "probabilities":
        arrays["probabilities"] = learner.probabilities(model, pool, split.classes)
    elif plan.input == "samples":
        arrays["samples"] = learner.committee_samples(
            split.x_pool[labeled], split.y_pool[labeled], pool, split.classes, committee_rng
        )
    if plan.embeddings:
        arrays["embeddings"] = learner.embeddings(pool)
    if plan.labeled_embeddings:
        arrays["labeled_embeddings"] = learner.embeddings(split.x_pool[labeled])
    return client.rank(plan.name, budget, seed=seed, **arrays)
