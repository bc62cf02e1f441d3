"""Scores from Monte-Carlo or ensemble samples: disagreement between passes.

Each function maps ``samples`` of shape (n, t, c), t passes (Monte-Carlo
dropout passes or committee members) of class probabilities per pool item, to
scores of shape (n,) in the same float dtype; higher means "label first".
Entropies are in nats with 0 log 0 = 0.
"""

from __future__ import annotations

import numpy as np

from service.ranking.rowops import row_max, row_sum
from service.ranking.uncertainty import entropy


def mean_over_passes(samples: np.ndarray) -> np.ndarray:
    """The mean prediction (n, c): mean over the t passes of (n, t, c)."""
    total = samples[:, 0, :].copy()
    for t in range(1, samples.shape[1]):
        total += samples[:, t, :]
    total /= samples.shape[1]
    return total


def pass_entropies(samples: np.ndarray) -> np.ndarray:
    """Entropy of each pass's prediction: (n, t, c) -> (n, t)."""
    n, t, c = samples.shape
    return entropy(samples.reshape(n * t, c)).reshape(n, t)


def predictive_entropy(samples: np.ndarray) -> np.ndarray:
    """H(mean_t p_t): entropy of the mean prediction. Range [0, log c].

    modAL calls this consensus entropy.
    """
    return entropy(mean_over_passes(samples))


def bald(samples: np.ndarray) -> np.ndarray:
    """Mutual information H(mean_t p_t) - mean_t H(p_t), clipped at 0 (Houlsby et al. 2011).

    The information the label would give about the model parameters: high
    when passes are each confident but disagree. Range [0, log min(c, t)].
    """
    expected = row_sum(pass_entropies(samples)) / samples.shape[1]
    scores = predictive_entropy(samples) - expected
    return np.maximum(scores, 0, out=scores)


def votes(samples: np.ndarray) -> np.ndarray:
    """Vote counts (n, c): how many passes have each class as their argmax.

    A pass whose top probability is tied votes once, for the lowest such class.
    """
    n, t, c = samples.shape
    winners = samples.argmax(axis=2)  # (n, t)
    counts = np.zeros((n, c), dtype=samples.dtype)
    rows = np.arange(n)
    for pass_index in range(t):
        counts[rows, winners[:, pass_index]] += 1
    return counts


def variation_ratios(samples: np.ndarray) -> np.ndarray:
    """1 - (votes for the modal class) / t, votes from each pass's argmax (Freeman 1965).

    Range [0, 1 - 1/min(c, t)]; 0 when every pass votes for the same class.
    """
    return np.subtract(1, row_max(votes(samples)) / samples.shape[1], dtype=samples.dtype)


def vote_entropy(samples: np.ndarray) -> np.ndarray:
    """Entropy of the vote distribution votes / t over classes (Dagan & Engelson 1995)."""
    return entropy(votes(samples) / samples.shape[1])


def mean_std(samples: np.ndarray) -> np.ndarray:
    """Mean over classes of the standard deviation over passes (population, ddof=0).

    Kampffmeyer et al. 2016; 0 when every pass predicts the same distribution.
    """
    mean = mean_over_passes(samples)
    spread = np.zeros_like(mean)
    for t in range(samples.shape[1]):
        deviation = samples[:, t, :] - mean
        deviation *= deviation
        spread += deviation
    spread /= samples.shape[1]
    np.sqrt(spread, out=spread)
    return row_sum(spread) / samples.shape[2]


def kl_max_disagreement(samples: np.ndarray) -> np.ndarray:
    """max_t KL(p_t || mean_t p_t), clipped at 0 (McCallum & Nigam 1998; modAL).

    The mean of the same divergences over passes equals BALD.
    """
    tiny = np.finfo(samples.dtype).tiny
    log_mean = np.log(np.maximum(mean_over_passes(samples), tiny))
    worst = np.full(samples.shape[0], -np.inf, dtype=samples.dtype)
    for t in range(samples.shape[1]):
        probs = samples[:, t, :]
        # p (log p - log mean); p = 0 gives 0 since both logs are finite.
        terms = np.log(np.maximum(probs, tiny))
        terms -= log_mean
        terms *= probs
        np.maximum(worst, row_sum(terms), out=worst)
    return np.maximum(worst, 0, out=worst)
