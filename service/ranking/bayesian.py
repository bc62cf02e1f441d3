"""Scores from Monte-Carlo or ensemble samples: disagreement between passes.

Each ``*_of_columns`` function maps the pass columns ``cols`` of shape
(t, c, n) (see rowops.pass_columns: for each pass and class, the pool items'
probabilities, contiguous) to scores of shape (n,) in the same float dtype;
higher means "label first". It leaves ``cols`` alone. The t passes are
Monte-Carlo dropout passes or committee members.

Entropies are in nats with 0 log 0 = 0. Sums over passes and over classes
add in order, so an item's score never depends on the other items scored
with it.
"""

from __future__ import annotations

import numpy as np

from service.ranking.rowops import column_max, column_sum, ordered_sum
from service.ranking.uncertainty import entropy_of_columns


def mean_of_pass_columns(cols: np.ndarray) -> np.ndarray:
    """The mean prediction's class columns (c, n): mean over the passes of (t, c, n)."""
    total = ordered_sum(cols, axis=0)
    total /= cols.shape[0]
    return total


def pass_entropies_of_columns(cols: np.ndarray) -> np.ndarray:
    """Entropy of each pass's prediction, clipped at 0: (t, c, n) -> (t, n)."""
    terms = np.maximum(cols, np.finfo(cols.dtype).tiny)
    np.log(terms, out=terms)
    np.multiply(terms, cols, out=terms)
    entropies = ordered_sum(terms, axis=1)
    np.negative(entropies, out=entropies)
    return _clipped_at_zero(entropies)


def predictive_entropy_of_columns(cols: np.ndarray) -> np.ndarray:
    """H(mean_t p_t): entropy of the mean prediction. Range [0, log c].

    modAL calls this consensus entropy.
    """
    return entropy_of_columns(mean_of_pass_columns(cols))


def bald_of_columns(cols: np.ndarray) -> np.ndarray:
    """Mutual information H(mean_t p_t) - mean_t H(p_t), clipped at 0 (Houlsby et al. 2011).

    The information the label would give about the model parameters: high
    when passes are each confident but disagree. Range [0, log min(c, t)].
    """
    expected = ordered_sum(pass_entropies_of_columns(cols), axis=0)
    expected /= cols.shape[0]
    scores = predictive_entropy_of_columns(cols)
    scores -= expected
    return _clipped_at_zero(scores)


def votes_of_columns(cols: np.ndarray) -> np.ndarray:
    """Vote counts as class columns (c, n): how many passes have each class as their argmax.

    A pass whose top probability is tied votes once, for the lowest such class.
    """
    _, c, n = cols.shape
    top = np.maximum.reduce(cols, axis=1)  # (t, n)
    # Weigh class j by c - j where it holds its pass's top: the heaviest is
    # the lowest such class.
    weights = (c - np.arange(c)).astype(np.min_scalar_type(c))[:, None]
    held = np.multiply(cols == top[:, None, :], weights, dtype=weights.dtype)
    winners = c - np.maximum.reduce(held, axis=1).astype(np.intp)  # (t, n)
    cells = winners * n + np.arange(n)  # a vote for class j by item i counts in cell j * n + i
    counts = np.bincount(cells.reshape(-1), minlength=c * n)
    return counts.reshape(c, n).astype(cols.dtype)


def variation_ratios_of_columns(cols: np.ndarray) -> np.ndarray:
    """1 - (votes for the modal class) / t, votes from each pass's argmax (Freeman 1965).

    Range [0, 1 - 1/min(c, t)]; 0 when every pass votes for the same class.
    """
    modal = column_max(votes_of_columns(cols))
    modal /= cols.shape[0]
    np.subtract(1, modal, out=modal)
    return modal


def vote_entropy_of_columns(cols: np.ndarray) -> np.ndarray:
    """Entropy of the vote distribution votes / t over classes (Dagan & Engelson 1995)."""
    shares = votes_of_columns(cols)
    shares /= cols.shape[0]
    return entropy_of_columns(shares)


def mean_std_of_columns(cols: np.ndarray) -> np.ndarray:
    """Mean over classes of the standard deviation over passes (population, ddof=0).

    Kampffmeyer et al. 2016; 0 when every pass predicts the same distribution.
    """
    deviations = cols - mean_of_pass_columns(cols)
    np.multiply(deviations, deviations, out=deviations)
    spread = ordered_sum(deviations, axis=0)  # (c, n)
    spread /= cols.shape[0]
    np.sqrt(spread, out=spread)
    scores = column_sum(spread)
    scores /= cols.shape[1]
    return scores


def kl_max_disagreement_of_columns(cols: np.ndarray) -> np.ndarray:
    """max_t KL(p_t || mean_t p_t), clipped at 0 (McCallum & Nigam 1998; modAL).

    The mean of the same divergences over passes equals BALD.
    """
    tiny = np.finfo(cols.dtype).tiny
    log_mean = np.log(np.maximum(mean_of_pass_columns(cols), tiny))
    # p (log p - log mean); p = 0 gives 0 since both logs are finite.
    terms = np.maximum(cols, tiny)
    np.log(terms, out=terms)
    terms -= log_mean
    terms *= cols
    divergences = ordered_sum(terms, axis=1)  # (t, n)
    worst: np.ndarray = np.maximum.reduce(divergences, axis=0)
    return _clipped_at_zero(worst)


def _clipped_at_zero(scores: np.ndarray) -> np.ndarray:
    """``scores`` with rounding residue below 0 raised to 0, in place."""
    np.maximum(scores, 0, out=scores)
    return scores
