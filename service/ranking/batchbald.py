"""BatchBALD (Kirsch, van Amersfoort & Gal 2019): the batch whose labels
jointly tell the most about the model.

Greedy: pick i maximizes a(x_1..x_i) = H(y_1, ..., y_i) - sum_j E_t H(y_j | t),
the joint entropy of the batch's labels under the mean over passes less the
passes' mean entropies. The joint entropy is exact while the label
configurations of the batch so far (C^(i-1)) number at most
``joint_samples``: their probabilities under each pass are held as an
(M, T) matrix, M = C^(i-1). Past that, M = ``joint_samples`` configurations
are drawn from the passes (``joint_samples // T`` per pass, seeded), and
the joint entropy is their importance-weighted estimate, as batchbald_redux
computes it. With budget 1 the score is BALD.

Memory: the (M, T) matrix, and (b, M, C) joint probabilities for a block
of b candidates, b chosen so that a block holds at most ``BLOCK_ELEMENTS``
floats. Time per pick: O(N M T C).
"""

from __future__ import annotations

import numpy as np

from service.deadline import check_deadline

BLOCK_ELEMENTS = 1 << 22
DEFAULT_JOINT_SAMPLES = 1000


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
    in nats (so scores grow along the batch). Computed in float64.
    """
    _, passes, classes = samples.shape
    if not 1 <= budget <= int(np.count_nonzero(eligible)):
        raise ValueError(f"expected 1 <= budget <= eligible items, got {budget}")
    probs = np.asarray(samples, dtype=np.float64)
    conditional = -_xlogx(probs).sum(axis=2).mean(axis=1)  # (n,) E_t H(y | t)
    joint = np.ones((1, passes))  # (M, T): p(configuration | pass)
    weights: np.ndarray | None = None  # 1 / q(configuration) when sampled
    picked: list[int] = []
    scores = np.empty(budget)
    available = eligible.copy()
    for k in range(budget):
        check_deadline()
        entropies = _joint_entropies(probs, joint, weights)
        gains = entropies - conditional - conditional[picked].sum()
        gains[~available] = -np.inf
        pick = int(np.argmax(gains))
        picked.append(pick)
        scores[k] = gains[pick]
        available[pick] = False
        if k + 1 < budget:
            if classes ** len(picked) <= joint_samples:
                # Every configuration of the batch so far, times each label of the pick.
                joint = (joint[:, None, :] * probs[pick].T[None, :, :]).reshape(-1, passes)
            else:
                joint = _sampled_configurations(probs[picked], joint_samples, rng)
                weights = 1 / joint.mean(axis=1)
    return np.asarray(picked, dtype=np.int64), scores.astype(samples.dtype, copy=False)


def _joint_entropies(
    probs: np.ndarray, joint: np.ndarray, weights: np.ndarray | None
) -> np.ndarray:
    """H(batch so far, y_x) for every item x (n,): exact over the (M, T)
    configurations, or their importance-weighted estimate when ``weights``
    (1 / the configurations' probabilities, (M,)) are given."""
    n, passes, classes = probs.shape
    configurations = joint.shape[0]
    out = np.empty(n)
    block = max(1, BLOCK_ELEMENTS // (configurations * classes))
    for start in range(0, n, block):
        check_deadline()
        # (b, M, C) = p(configuration, y_x = c), the mean over passes.
        together = np.einsum("mt,btc->bmc", joint, probs[start : start + block]) / passes
        terms = -_xlogx(together)
        if weights is None:
            out[start : start + block] = terms.sum(axis=(1, 2))
        else:
            out[start : start + block] = np.einsum("bmc,m->b", terms, weights) / configurations
    return out


def _sampled_configurations(chosen: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """(M, T) probabilities under each pass of M label configurations of the
    ``chosen`` items (i, t, c), ``count // t`` drawn from each pass."""
    items, passes, classes = chosen.shape
    per_pass = max(1, count // passes)
    # labels[j, s, r]: item j's label in the r-th draw from pass s.
    cumulative = np.cumsum(chosen, axis=2)
    cumulative[:, :, -1] = 1.0
    draws = rng.random((items, passes, per_pass))
    labels = np.minimum((draws[..., None] >= cumulative[:, :, None, :]).sum(axis=3), classes - 1)
    # p_t(configuration (s, r)) = prod_j chosen[j, t, labels[j, s, r]].
    log_joint = np.zeros((passes, passes, per_pass))  # (t, s, r)
    for j in range(items):
        log_joint += np.log(np.maximum(chosen[j][:, labels[j]], np.finfo(np.float64).tiny))
    return np.exp(log_joint).reshape(passes, -1).T


def _xlogx(values: np.ndarray) -> np.ndarray:
    """values * log(values), 0 where values is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, values * np.log(values), 0.0)
