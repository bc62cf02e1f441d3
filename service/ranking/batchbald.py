"""BatchBALD (Kirsch, van Amersfoort & Gal 2019): the batch whose labels
jointly tell the most about the model.

Greedy: pick i maximizes a(x_1..x_i) = H(y_1, ..., y_i) - sum_j E_t H(y_j | t),
the joint entropy of the batch's labels under the mean over passes less the
passes' mean entropies. The joint entropy is exact while the label
configurations of the batch so far (C^(i-1)) number at most
``joint_samples``; past that, M = ``joint_samples`` configurations are drawn
from the passes (``joint_samples // T`` per pass, seeded) and the joint
entropy is their importance-weighted estimate, as batchbald_redux computes
it. With budget 1 the score is BALD.

Both are computed in one well-scaled form. With q_m the probability of
configuration m and r_mt = p(m | pass t) / q_m (mean 1 over passes), a
candidate's joint probabilities are p(m, y = c) = q_m u_mc with
u_m = (1/T) sum_t r_mt p_t(y) a distribution over c, so

    H(batch, y) = sum_m w_m H(u_m) + H0,

exact: w_m = q_m and H0 = H(q); sampled: w_m = 1 / M and H0 = -mean_m log q_m.
The per-candidate part touches only r (in [0, T]) and distributions, so it
runs in the samples' float type (float32 stays float32); q and H0 are kept
in float64 and in log space.

Memory: the (M, T) ratios, and (b, M, C) joint probabilities for a block of b
candidates, b chosen so that a block holds at most ``BLOCK_ELEMENTS`` floats.
Time per pick: O(N M T C).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from service.deadline import check_deadline

BLOCK_ELEMENTS = 1 << 22
DEFAULT_JOINT_SAMPLES = 1000


@dataclass(frozen=True)
class Configurations:
    """The label configurations of the batch so far: ``ratios`` (M, T), p(m | t)
    over q_m; ``weights`` (M,) w_m; ``constant`` H0, in nats."""

    ratios: np.ndarray
    weights: np.ndarray
    constant: float


def batchbald(
    samples: np.ndarray,
    budget: int,
    *,
    eligible: np.ndarray,
    rng: np.random.Generator,
    joint_samples: int = DEFAULT_JOINT_SAMPLES,
) -> tuple[np.ndarray, np.ndarray]:
    """(indices (k,), scores (k,)) of the BatchBALD batch of ``samples`` (n, t, c),
    class probabilities per pass, in pick order; ties toward the lower index.

    A pick's score is the batch's joint mutual information once it is added,
    in nats (so scores grow along the batch), in the samples' float type.
    """
    _, passes, classes = samples.shape
    if not 1 <= budget <= int(np.count_nonzero(eligible)):
        raise ValueError(f"expected 1 <= budget <= eligible items, got {budget}")
    dtype = np.float32 if samples.dtype == np.float32 else np.float64
    probs = np.asarray(samples, dtype=dtype)
    conditional = entropies(np.asarray(samples, np.float64)).mean(axis=1)  # (n,) E_t H(y | t)
    configurations = exact_configurations(np.zeros((1, passes)), dtype)
    picked: list[int] = []
    scores = np.empty(budget)
    available = eligible.copy()
    for k in range(budget):
        check_deadline()
        gains = joint_entropies(probs, configurations) - conditional - conditional[picked].sum()
        gains[~available] = -np.inf
        pick = int(np.argmax(gains))
        picked.append(pick)
        scores[k] = gains[pick]
        available[pick] = False
        if k + 1 < budget:
            chosen = np.asarray(samples[picked], np.float64)
            if classes ** len(picked) <= joint_samples:
                configurations = exact_configurations(_every_configuration(chosen), dtype)
            else:
                log_joint = sampled_log_joint(chosen, joint_samples, rng)
                configurations = sampled_configurations(log_joint, dtype)
    return np.asarray(picked, dtype=np.int64), scores.astype(dtype)


def joint_entropies(probs: np.ndarray, configurations: Configurations) -> np.ndarray:
    """H(batch so far, y_x) for every item x of ``probs`` (n, t, c), float64 (n,)."""
    n, passes, classes = probs.shape
    ratios = configurations.ratios / passes
    count = ratios.shape[0]
    ones = np.ones(classes, ratios.dtype)
    weights = configurations.weights.astype(ratios.dtype)
    out = np.empty(n)
    block = max(1, BLOCK_ELEMENTS // (count * classes))
    for start in range(0, n, block):
        check_deadline()
        items = probs[start : start + block]
        # One GEMM for the block: (M, T) x (T, b C) -> u (M, b, C).
        mixed = ratios @ items.transpose(1, 0, 2).reshape(passes, -1)
        logs = np.maximum(mixed, np.finfo(mixed.dtype).tiny)
        np.log(logs, out=logs)
        logs *= mixed
        # Sums over classes as a matrix-vector product, then weighted over configurations.
        per_configuration = (logs.reshape(-1, classes) @ ones).reshape(count, -1)
        out[start : start + block] = -(weights @ per_configuration)
    return out + configurations.constant


def exact_configurations(log_joint: np.ndarray, dtype: type) -> Configurations:
    """Every configuration, from ``log_joint`` (M, T) = log p(m | t)."""
    log_q = logsumexp(log_joint, axis=1) - np.log(log_joint.shape[1])
    q = np.exp(log_q)
    constant = float(-(q * np.where(q > 0, log_q, 0.0)).sum())
    return Configurations(_ratios(log_joint, log_q, dtype), q, constant)


def sampled_configurations(log_joint: np.ndarray, dtype: type) -> Configurations:
    """M configurations drawn from the passes, from ``log_joint`` (M, T)."""
    log_q = logsumexp(log_joint, axis=1) - np.log(log_joint.shape[1])
    count = log_joint.shape[0]
    return Configurations(
        _ratios(log_joint, log_q, dtype), np.full(count, 1 / count), float(-log_q.mean())
    )


def sampled_log_joint(chosen: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """log p(m | t) (M, T) of M label configurations of the ``chosen`` items
    (i, t, c), ``count // t`` drawn from each pass: each item's label from that
    pass's distribution."""
    items, passes, classes = chosen.shape
    per_pass = max(1, count // passes)
    cumulative = np.cumsum(chosen, axis=2)
    cumulative[:, :, -1] = 1.0
    draws = rng.random((items, passes, per_pass))
    # labels[j, s, r]: item j's label in the r-th draw from pass s.
    labels = np.minimum((draws[..., None] >= cumulative[:, :, None, :]).sum(axis=3), classes - 1)
    logs = np.log(np.maximum(chosen, np.finfo(np.float64).tiny))
    log_joint = np.zeros((passes, passes, per_pass))  # (t, s, r)
    for j in range(items):
        log_joint += logs[j][:, labels[j]]
    return log_joint.reshape(passes, -1).T


def entropies(distributions: np.ndarray) -> np.ndarray:
    """-sum over the last axis of p log p (0 log 0 = 0), in the input's float type."""
    logs = np.maximum(distributions, np.finfo(distributions.dtype).tiny)
    np.log(logs, out=logs)
    logs *= distributions
    negated: np.ndarray = -(logs @ np.ones(logs.shape[-1], logs.dtype))
    return negated


def _every_configuration(chosen: np.ndarray) -> np.ndarray:
    """log p(m | t) (C^i, T) of every label configuration of the ``chosen`` items
    (i, t, c), the first item's label varying slowest."""
    logs = np.log(np.maximum(chosen, np.finfo(np.float64).tiny))
    log_joint = np.zeros((1, chosen.shape[1]))
    for item in logs:
        log_joint = (log_joint[:, None, :] + item.T[None, :, :]).reshape(-1, chosen.shape[1])
    return log_joint


def _ratios(log_joint: np.ndarray, log_q: np.ndarray, dtype: type) -> np.ndarray:
    """p(m | t) / q_m, 0 for configurations of probability 0."""
    ratios: np.ndarray = np.exp(log_joint - log_q[:, None])
    ratios[~np.isfinite(log_q)] = 0.0
    return ratios.astype(dtype)
