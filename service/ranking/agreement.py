"""Agreement between two rounds' predictions, and the stopping rule built on it.

Stabilizing predictions (Bloodgood and Vijay-Shanker, "A Method for
Stopping Active Learning Based on Stabilizing Predictions and the Need for
User-Adjustable Stopping", CoNLL 2009): score one fixed set of unlabeled
items (the "stop set") with each round's model, and measure Cohen's kappa
between consecutive rounds' predicted classes. Once the predictions stop
changing, further labels change the model little. The paper stops when the
mean kappa of the last three round pairs reaches 0.99.

The service holds no state: a request sends the previous round's
predictions over the same pool, and the kappas of the rounds before, and
the answer says whether the rule would stop now.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.ranking import kernels

# The paper's window of consecutive kappas and their threshold.
DEFAULT_STOP_KAPPA = 0.99
DEFAULT_STOP_ROUNDS = 3
MAX_STOP_ROUNDS = 100


def cohen_kappa(confusion: np.ndarray) -> float:
    """Cohen's kappa of a confusion matrix (c, c) of two raters' counts.

    kappa = (p_o - p_e) / (1 - p_e), p_o the observed agreement (the
    diagonal's share) and p_e the agreement expected by chance (the sum over
    classes of the two raters' shares). When chance agreement is certain
    (both raters name one class for every item, p_e = 1) kappa is 1 if they
    agree on every item, as they then must; 1.0 for an empty matrix.
    """
    total = float(confusion.sum())
    if total == 0:
        return 1.0
    observed = float(np.trace(confusion)) / total
    rows = confusion.sum(axis=1, dtype=np.float64) / total
    cols = confusion.sum(axis=0, dtype=np.float64) / total
    expected = float(rows @ cols)
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


@dataclass(frozen=True)
class Agreement:
    """How the previous round's predicted classes compare with this round's over
    the ``compared`` pool items: Cohen's kappa, and the share that changed."""

    kappa: float
    changed_fraction: float
    compared: int

    def describe(self) -> dict[str, object]:
        return {
            "kappa": self.kappa,
            "changed_fraction": self.changed_fraction,
            "compared": self.compared,
        }


class AgreementTally:
    """The confusion matrix of (previous, current) classes, pushed chunk by chunk."""

    def __init__(self, previous: np.ndarray, n_classes: int) -> None:
        """``previous`` (n,) integer class ids in 0 .. n_classes - 1, in pool order."""
        self.previous = previous
        self.confusion = np.zeros((n_classes, n_classes), dtype=np.int64)

    def push(self, offset: int, current: np.ndarray) -> None:
        """Count pool items ``offset`` .. offset + m - 1, their classes ``current`` (m,)."""
        before = self.previous[offset : offset + current.shape[0]]
        kernels.confusion_into(before, current, self.confusion)

    def result(self) -> Agreement:
        compared = int(self.confusion.sum())
        changed = compared - int(np.trace(self.confusion))
        changed_fraction = changed / compared if compared else 0.0
        return Agreement(cohen_kappa(self.confusion), changed_fraction, compared)


@dataclass(frozen=True)
class StoppingRule:
    """Stop once the mean of the last ``rounds`` kappas reaches ``kappa``.

    ``history`` holds the kappas of earlier round pairs, oldest first, as
    earlier answers gave them; this round's kappa completes the window.
    """

    kappa: float = DEFAULT_STOP_KAPPA
    rounds: int = DEFAULT_STOP_ROUNDS
    history: tuple[float, ...] = ()

    def advise(self, kappa_now: float) -> StopAdvice:
        window = (*self.history, kappa_now)[-self.rounds :]
        mean = float(np.mean(window))
        suggested = len(window) == self.rounds and mean >= self.kappa
        return StopAdvice(suggested, window, mean, self)


@dataclass(frozen=True)
class StopAdvice:
    """Whether the rule stops now, and the window of kappas it judged."""

    suggested: bool
    window: tuple[float, ...]
    mean_kappa: float
    rule: StoppingRule

    def describe(self) -> dict[str, object]:
        return {
            "rule": "stabilizing_predictions",
            "kappa": self.rule.kappa,
            "rounds": self.rule.rounds,
            "window": list(self.window),
            "mean_kappa": self.mean_kappa,
        }
