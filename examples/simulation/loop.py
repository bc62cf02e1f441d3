"""One active-learning run: train, ask the service what to label, label it, repeat.

Every round after the first also measures how much the model's predictions
on the unlabeled pool changed since the previous round (Cohen's kappa) and
whether the stabilizing-predictions rule (see stopping.py) would stop there;
the run itself goes on to the last round, so the learning curve is the same
as without the rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression

from examples.simulation import learner
from examples.simulation.datasets import Split
from examples.simulation.plans import StrategyPlan
from examples.simulation.stopping import (
    LOCAL,
    SERVICE,
    SERVICE_COMMITTEE,
    STOP_KAPPA,
    STOP_ROUNDS,
    first_stop,
    kappa,
    predicted,
    stop_suggested,
)
from service.client import AlrankClient, RankResult

# Request seeds are derived from the run's seed and the round, so a run is repeatable.
SEED_STRIDE = 1000


@dataclass(frozen=True)
class Curve:
    """Test accuracy after each round, against the number of labels it was trained on,
    and how the predictions changed from round to round.

    ``labels`` and ``accuracy`` have an entry per round (R + 1 with R labeling
    rounds). So do ``kappa``, ``model_kappa`` and ``stop``, when recorded:
    ``kappa[i]`` (i >= 1) is Cohen's kappa between the predicted classes of
    round i - 1's and round i's models over round i's unlabeled pool, the one
    the stopping rule judged, and ``stop[i]`` is the rule's verdict after it;
    round 0 has no previous model (None, False). ``model_kappa`` is the same
    measure for the evaluated model, computed here; it differs from ``kappa``
    only when ``kappa_source`` is "service-committee" (stopping.SOURCES).
    """

    labels: list[int]
    accuracy: list[float]
    kappa: list[float | None] = field(default_factory=list)
    model_kappa: list[float | None] = field(default_factory=list)
    stop: list[bool] = field(default_factory=list)
    kappa_source: str | None = None

    @property
    def stop_round(self) -> int | None:
        """The first round index at which the rule suggested stopping; None if it never did."""
        return first_stop(self.stop)


@dataclass(frozen=True)
class Fitted:
    """A round's models: the evaluated one, and the committee when the strategy needs samples."""

    model: LogisticRegression
    committee: list[LogisticRegression] | None = None


@dataclass(frozen=True)
class Round:
    """What one round did.

    ``unlabeled`` (M,) are the pool indices not yet labeled, in the order
    they were sent; ``kappa``, ``model_kappa`` and ``stop`` as in Curve.
    ``result`` is the service's answer, None when no request was sent (the
    last round of a strategy whose kappa is computed here).
    """

    index: int
    labels: int
    accuracy: float
    fitted: Fitted
    unlabeled: np.ndarray
    kappa: float | None
    model_kappa: float | None
    stop: bool
    result: RankResult | None


def kappa_source(plan: StrategyPlan) -> str:
    """Where ``plan``'s kappas come from: the service, given a class distribution, or here."""
    if plan.input == "probabilities":
        return SERVICE
    if plan.input == "samples":
        return SERVICE_COMMITTEE
    return LOCAL


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
    accuracy and its agreement with the previous round's model, sends the
    unlabeled items to the service and labels what it returns from the
    ground truth. The last fit is on every label bought.
    """
    steps = list(run_rounds(client, split, plan, batch=batch, rounds=rounds, seed=seed))
    return Curve(
        labels=[step.labels for step in steps],
        accuracy=[step.accuracy for step in steps],
        kappa=[step.kappa for step in steps],
        model_kappa=[step.model_kappa for step in steps],
        stop=[step.stop for step in steps],
        kappa_source=kappa_source(plan),
    )


def run_rounds(
    client: AlrankClient,
    split: Split,
    plan: StrategyPlan,
    *,
    batch: int,
    rounds: int,
    seed: int,
) -> Iterator[Round]:
    """The rounds of ``run``, one at a time, with their models and the service's answers.

    After the last labeling round the run still asks the service once more,
    when its kappa comes from the service, for that round's agreement and
    verdict; the items it returns are not labeled.
    """
    labeled = np.zeros(len(split.y_pool), dtype=bool)
    labeled[split.initial] = True
    committee_rng = np.random.default_rng([seed, 1])
    source = kappa_source(plan)
    previous: Fitted | None = None
    history: list[float] = []
    for round_index in range(rounds + 1):
        fitted = fit_round(split, labeled, plan, committee_rng)
        unlabeled = np.flatnonzero(~labeled)
        last = round_index == rounds or len(unlabeled) == 0
        compared = previous is not None and len(unlabeled) > 0
        result = None
        if len(unlabeled) > 0 and (not last or (compared and source != LOCAL)):
            budget = min(batch, len(unlabeled))
            request_seed = seed * SEED_STRIDE + round_index
            result = ask(
                client, plan, split, labeled, fitted, previous, history, budget, request_seed
            )
        agreement, model_agreement, stop = None, None, False
        if compared and previous is not None:
            agreement, model_agreement, stop = judge(
                split, unlabeled, fitted, previous, history, result, source
            )
            history.append(agreement)
        yield Round(
            index=round_index,
            labels=int(labeled.sum()),
            accuracy=float(fitted.model.score(split.x_test, split.y_test)),
            fitted=fitted,
            unlabeled=unlabeled,
            kappa=agreement,
            model_kappa=model_agreement,
            stop=stop,
            result=result,
        )
        if last or result is None:
            break
        labeled[unlabeled[result.indices]] = True
        previous = fitted


def fit_round(
    split: Split, labeled: np.ndarray, plan: StrategyPlan, committee_rng: np.random.Generator
) -> Fitted:
    """The model on the labeled items, and the bootstrap committee when ``plan`` sends samples."""
    features, labels = split.x_pool[labeled], split.y_pool[labeled]
    model = learner.fit(features, labels)
    if plan.input != "samples":
        return Fitted(model)
    return Fitted(model, learner.committee(features, labels, committee_rng))


def judge(
    split: Split,
    unlabeled: np.ndarray,
    fitted: Fitted,
    previous: Fitted,
    history: list[float],
    result: RankResult | None,
    source: str,
) -> tuple[float, float, bool]:
    """(the kappa the rule judges, the evaluated model's kappa, the rule's verdict).

    From the service's answer when it computed them, else here: the previous
    and current models' predicted classes over the unlabeled items, and
    ``stopping.stop_suggested`` over ``history`` (the earlier kappas, oldest
    first) and this one.
    """
    pool = split.x_pool[unlabeled]
    model_kappa = kappa(
        predicted(learner.probabilities(previous.model, pool, split.classes)),
        predicted(learner.probabilities(fitted.model, pool, split.classes)),
    )
    if source == LOCAL or result is None:
        return model_kappa, model_kappa, stop_suggested([*history, model_kappa])
    diagnostics = result.diagnostics
    return (
        float(diagnostics["agreement"]["kappa"]),
        model_kappa,
        bool(diagnostics["stop_suggested"]),
    )


def distribution(fitted: Fitted, pool: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The class distribution the service reads from a round's request, N x C float32:
    the model's probabilities, or the committee's mean over its members."""
    if fitted.committee is None:
        return learner.probabilities(fitted.model, pool, classes)
    samples = learner.committee_probabilities(fitted.committee, pool, classes)
    return np.asarray(samples.mean(axis=1, dtype=np.float32))


def ask(
    client: AlrankClient,
    plan: StrategyPlan,
    split: Split,
    labeled: np.ndarray,
    fitted: Fitted,
    previous: Fitted | None,
    history: list[float],
    budget: int,
    seed: int,
) -> RankResult:
    """POST /v1/rank over the unlabeled items, with the arrays ``plan`` needs.

    The pool sent is the unlabeled items only; the answer's indices are
    positions in it. A strategy that sends a class distribution also sends,
    after the first round, the previous round's over the same items as
    ``previous_probabilities``, and asks for the stopping rule's verdict with
    the kappas of the rounds before (the last STOP_ROUNDS - 1 of ``history``).
    """
    pool = split.x_pool[~labeled]
    arrays: dict[str, np.ndarray] = {}
    if plan.input == "probabilities":
        arrays["probabilities"] = learner.probabilities(fitted.model, pool, split.classes)
    elif plan.input == "samples" and fitted.committee is not None:
        arrays["samples"] = learner.committee_probabilities(fitted.committee, pool, split.classes)
    if plan.embeddings:
        arrays["embeddings"] = learner.embeddings(pool)
    if plan.labeled_embeddings:
        arrays["labeled_embeddings"] = learner.embeddings(split.x_pool[labeled])
    stopping = None
    if previous is not None and plan.input is not None:
        arrays["previous_probabilities"] = distribution(previous, pool, split.classes)
        window = history[max(0, len(history) - (STOP_ROUNDS - 1)) :]
        stopping = {"kappa": STOP_KAPPA, "rounds": STOP_ROUNDS, "history": window}
    return client.rank(plan.name, budget, seed=seed, arrays=arrays, stopping=stopping)
