"""When to stop labeling: agreement between consecutive rounds' models, and the stopping rule.

Stabilizing predictions (Bloodgood and Vijay-Shanker, CoNLL 2009): after
every round, compare the new model's predicted classes on the unlabeled pool
with the previous round's model's predictions on the same items, as Cohen's
kappa; stop once the mean of the last ``STOP_ROUNDS`` kappas reaches
``STOP_KAPPA``. The service computes the kappa and the verdict when a request
carries a class distribution (probabilities or samples) and the previous
round's; for the strategies that send embeddings alone, the simulation
computes both here, with the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import cohen_kappa_score

# The paper's threshold and window, the service's defaults.
STOP_KAPPA = 0.99
STOP_ROUNDS = 3

# Where a run's kappas came from (Curve.kappa_source).
SERVICE = "service"
SERVICE_COMMITTEE = "service-committee"
LOCAL = "local"
SOURCES = {
    SERVICE: "computed by the service (`diagnostics.agreement`) from the model's "
    "probabilities and the previous round's model's over the same items",
    SERVICE_COMMITTEE: "computed by the service from the committee's samples (read by their "
    "mean over members) and the previous round's committee's mean over the same items; the "
    "evaluated model's own kappas are `model_kappa` in results.json",
    LOCAL: "computed here, cohen_kappa_score of the model's and the previous round's model's "
    "predicted classes (the strategy sends no class distribution)",
}


def predicted(probabilities: np.ndarray) -> np.ndarray:
    """Each item's most likely class (N,) from N x C probabilities; ties to the lower class."""
    return np.asarray(np.argmax(probabilities, axis=1))


def kappa(previous: np.ndarray, current: np.ndarray) -> float:
    """Cohen's kappa between two rounds' predicted classes (N,) and (N,) of the same items.

    sklearn's cohen_kappa_score, with the service's convention where it is
    undefined: when both rounds name one and the same class for every item
    (chance agreement is certain) kappa is 1. 1.0 for an empty pool.
    """
    if len(previous) == 0:
        return 1.0
    if np.all(previous == previous[0]) and np.array_equal(previous, current):
        return 1.0
    value = float(cohen_kappa_score(previous, current))
    return 1.0 if math.isnan(value) else value


def stop_suggested(
    kappas: Sequence[float], threshold: float = STOP_KAPPA, rounds: int = STOP_ROUNDS
) -> bool:
    """Whether the stabilizing-predictions rule stops after the last of ``kappas``.

    ``kappas`` are the consecutive rounds' kappas so far, oldest first, this
    round's last. The rule stops once there are ``rounds`` of them and the
    mean of the last ``rounds`` reaches ``threshold``; the service's rule,
    with history = ``kappas[:-1]``.
    """
    if rounds < 1:
        raise ValueError(f"expected at least 1 round, got {rounds}")
    window = list(kappas)[-rounds:]
    return len(window) == rounds and float(np.mean(window)) >= threshold


def first_stop(stops: Sequence[bool]) -> int | None:
    """The first round index at which the rule suggested stopping; None if it never did."""
    return next((index for index, stop in enumerate(stops) if stop), None)


def rule_stops(
    kappas: Sequence[float | None], threshold: float = STOP_KAPPA, rounds: int = STOP_ROUNDS
) -> list[bool]:
    """The rule's verdict after each round, from a run's kappas (None where there is none).

    ``kappas`` has an entry per round, as Curve.kappa; each verdict judges the
    kappas up to and including that round's.
    """
    seen: list[float] = []
    verdicts = []
    for value in kappas:
        if value is None:
            verdicts.append(False)
            continue
        seen.append(value)
        verdicts.append(stop_suggested(seen, threshold, rounds))
    return verdicts
