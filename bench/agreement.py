"""Do two selections pick the same items? Compared as sets, allowing for ties at the cut."""

from __future__ import annotations

import numpy as np

# Picks scoring within this relative distance of our k-th best score count as
# tied with it: equal scores, or the same score rounded another way.
TIE_RTOL = 1e-5

IDENTICAL = "identical"
SAME_UP_TO_TIES = "same up to ties"
DIFFERS = "differs"


def compare(picks: np.ndarray, ours: np.ndarray, scores: np.ndarray) -> dict[str, object]:
    """Compare a peer's ``picks`` with our selection ``ours`` (k,), by our ``scores`` (n,).

    "identical" when the sets are equal; "same up to ties" when they differ
    only among items tied with our k-th best score, so that the peer's set
    is also a valid top-k under our scores; "differs" otherwise. ``overlap``
    counts the items both picked.
    """
    picked = np.unique(np.asarray(picks, dtype=np.int64).reshape(-1))
    ours = np.unique(ours)
    overlap = int(np.intersect1d(picked, ours).shape[0])
    if picked.shape[0] != ours.shape[0]:
        status = DIFFERS
    elif overlap == ours.shape[0]:
        status = IDENTICAL
    elif _valid_top_k(picked, scores, float(scores[ours].min())):
        status = SAME_UP_TO_TIES
    else:
        status = DIFFERS
    return {"agreement": status, "overlap": overlap, "k": int(ours.shape[0])}


def _valid_top_k(picked: np.ndarray, scores: np.ndarray, kth: float) -> bool:
    tolerance = TIE_RTOL * max(abs(kth), 1e-12)
    return bool(scores[picked].min() >= kth - tolerance)
