"""Multi-label strategies over label columns (l, n): each column an item's
independent probabilities P(label k present), higher score = label first.

modAL.multilabel's strategies that work from probabilities, and small-text's
label cardinality inconsistency (Li & Guo 2013). modAL's orders are kept;
where its values are negative they are shifted by a constant so that every
score is >= 0, as power selection wants (see each function). A label counts
as predicted when p >= ``threshold``: modAL asks the classifier's predict and
small-text tests p > threshold, the same rule except at p = threshold exactly.
"""

from __future__ import annotations

import numpy as np

from service.errors import InvalidInput
from service.ranking.params import Param, ParamValues
from service.ranking.strategy import Scorer

THRESHOLD = Param(
    "threshold",
    "number",
    0.5,
    "The probability at or above which a label counts as predicted.",
    minimum=0.0,
    maximum=1.0,
)
LABEL_CARDINALITY = Param(
    "label_cardinality",
    "number",
    None,
    "The labeled items' mean number of labels; or send labeled_labels (M x L of 0 "
    "and 1) and it is computed from them.",
    minimum=0.0,
)
# The array the label cardinality can be computed from instead.
LABELED_LABELS = "labeled_labels"


def min_confidence_of_label_columns(cols: np.ndarray) -> np.ndarray:
    """1 - min_k p_k (n,): modAL's min_confidence picks the smallest minimum."""
    scores: np.ndarray = 1 - cols.min(axis=0)
    return scores


def avg_confidence_of_label_columns(cols: np.ndarray) -> np.ndarray:
    """mean_k p_k (n,): modAL's avg_confidence picks the largest mean."""
    scores: np.ndarray = cols.mean(axis=0)
    return scores


def _signed_scores(cols: np.ndarray, threshold: float) -> np.ndarray:
    """modAL's classwise scores p_k (y_k - 1/2), y_k = [p_k >= threshold]: (l, n)."""
    half = cols.dtype.type(0.5)
    signed: np.ndarray = np.where(cols >= threshold, cols * half, cols * -half)
    return signed


def max_score_of_label_columns(cols: np.ndarray, threshold: float) -> np.ndarray:
    """max_k p_k (y_k - 1/2) + 1/2 (n,), in [0, 1]: modAL's max_score plus 1/2."""
    scores: np.ndarray = _signed_scores(cols, threshold).max(axis=0) + cols.dtype.type(0.5)
    return scores


def avg_score_of_label_columns(cols: np.ndarray, threshold: float) -> np.ndarray:
    """mean_k p_k (y_k - 1/2) + 1/2 (n,), in [0, 1]: modAL's avg_score plus 1/2."""
    scores: np.ndarray = _signed_scores(cols, threshold).mean(axis=0) + cols.dtype.type(0.5)
    return scores


def label_cardinality_inconsistency_of_label_columns(
    cols: np.ndarray, threshold: float, cardinality: float
) -> np.ndarray:
    """|sum_k [p_k >= threshold] - cardinality| (n,): how far the predicted label
    count is from the labeled items' mean label count (small-text's LCI)."""
    counts = np.count_nonzero(cols >= threshold, axis=0)
    scores: np.ndarray = np.abs(counts - cols.dtype.type(cardinality)).astype(cols.dtype)
    return scores


def label_cardinality(labeled_labels: np.ndarray) -> float:
    """The mean number of labels of the labeled items, from their label sets
    (m, l) of 0 and 1; InvalidInput names a row holding another value."""
    bad = np.flatnonzero(((labeled_labels != 0) & (labeled_labels != 1)).any(axis=1))
    if bad.size:
        row = int(bad[0])
        label = int(np.flatnonzero((labeled_labels[row] != 0) & (labeled_labels[row] != 1))[0])
        raise InvalidInput(
            f"row {row}, label {label} holds {float(labeled_labels[row, label])!r}: "
            "expected 0 or 1",
            field=LABELED_LABELS,
        )
    return float(labeled_labels.sum(axis=1, dtype=np.float64).mean())


def _threshold(params: ParamValues) -> float:
    value = params.get(THRESHOLD.name, THRESHOLD.default)
    return float(value) if isinstance(value, int | float) else 0.5


def max_score_scorer(params: ParamValues, rng: np.random.Generator) -> Scorer:
    threshold = _threshold(params)
    return lambda cols: max_score_of_label_columns(cols, threshold)


def avg_score_scorer(params: ParamValues, rng: np.random.Generator) -> Scorer:
    threshold = _threshold(params)
    return lambda cols: avg_score_of_label_columns(cols, threshold)


def label_cardinality_inconsistency_scorer(
    params: ParamValues, rng: np.random.Generator
) -> Scorer:
    threshold = _threshold(params)
    value = params.get(LABEL_CARDINALITY.name)
    if not isinstance(value, int | float):
        raise ValueError("the planner sets label_cardinality")
    cardinality = float(value)
    return lambda cols: label_cardinality_inconsistency_of_label_columns(
        cols, threshold, cardinality
    )
