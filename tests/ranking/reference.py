"""Slow, obvious reference implementations: Python loops over rows, math.log, sorted()."""

from __future__ import annotations

import math


def least_confidence(row):
    return 1.0 - max(row)


def margin(row):
    first, second = sorted(row, reverse=True)[:2]
    return 1.0 - (first - second)


def ratio(row):
    first, second = sorted(row, reverse=True)[:2]
    return second / first


def entropy(row):
    return -math.fsum(p * math.log(p) for p in row if p > 0)


def mean_row(passes):
    return [math.fsum(column) / len(passes) for column in zip(*passes, strict=True)]


def vote(row):
    """The argmax of a pass, the lowest class among tied maxima."""
    return min(range(len(row)), key=lambda j: (-row[j], j))


def vote_counts(passes):
    counts = [0] * len(passes[0])
    for row in passes:
        counts[vote(row)] += 1
    return counts


def kl(row, reference):
    return math.fsum(p * math.log(p / q) for p, q in zip(row, reference, strict=True) if p > 0)


def predictive_entropy(passes):
    return entropy(mean_row(passes))


def bald(passes):
    expected = math.fsum(entropy(row) for row in passes) / len(passes)
    return max(0.0, entropy(mean_row(passes)) - expected)


def variation_ratios(passes):
    return 1.0 - max(vote_counts(passes)) / len(passes)


def vote_entropy(passes):
    return entropy([count / len(passes) for count in vote_counts(passes)])


def mean_std(passes):
    mean = mean_row(passes)
    spreads = [
        math.sqrt(math.fsum((row[j] - mean[j]) ** 2 for row in passes) / len(passes))
        for j in range(len(mean))
    ]
    return math.fsum(spreads) / len(spreads)


def kl_max_disagreement(passes):
    mean = mean_row(passes)
    return max(0.0, max(kl(row, mean) for row in passes))


SCORERS = {
    "least_confidence": least_confidence,
    "margin": margin,
    "ratio": ratio,
    "entropy": entropy,
    "predictive_entropy": predictive_entropy,
    "bald": bald,
    "variation_ratios": variation_ratios,
    "vote_entropy": vote_entropy,
    "mean_std": mean_std,
    "kl_max_disagreement": kl_max_disagreement,
}


def scores(name, pool):
    """One reference score per pool item, computed in Python floats."""
    return [SCORERS[name](item) for item in pool.tolist()]


def top_k(scores, k, exclude=()):
    skipped = set(exclude)
    order = sorted(
        (i for i in range(len(scores)) if i not in skipped), key=lambda i: (-scores[i], i)
    )
    return order[:k]
