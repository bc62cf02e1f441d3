"""What a ranking saw of its pool, gathered chunk by chunk in the ranking's pass.

Every ranking answers with a summary of the pool besides its picks: how
many items were scored, the distribution of the strategy's score (its
mean, max and percentiles), and for class distributions the predicted-class
histogram and the mean top probability (per label, for multi-label pools).
A team reads these across rounds to see the pool's uncertainty fall, and
with ``agreement`` (see ``agreement.py``) to decide when to stop labeling.

Percentiles are nearest-rank: the score at rank ceil(q n / 100) of n,
ascending. Up to ``EXACT_SCORES`` scores they are exact. Beyond, they come
from a sketch whose size does not grow with the pool: every score is
counted in a bucket of float32 values that share their sign, exponent and 7
leading mantissa bits (65,536 buckets), and a percentile is the midpoint of
the bucket holding the score at its rank, clamped to the exact min and max:
within 2^-8 (0.39%) of that score, relative, plus float32 rounding (2^-24),
for scores within float32's range (beyond it, the nearest of min and max).
The mean and max are exact. Counts add, so any chunking gives the same
summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from service.ranking import kernels
from service.ranking.agreement import Agreement, AgreementTally, StopAdvice, StoppingRule
from service.ranking.bayesian import mean_of_pass_columns

PERCENTILES = (50, 90, 99)
# Bits of a float32 key below its bucket: 16 of the 23 mantissa bits.
SKETCH_SHIFT = 16
SKETCH_BUCKETS = 1 << (32 - SKETCH_SHIFT)
# Half a bucket's width, relative to the values in it, plus float32 rounding.
PERCENTILE_RELATIVE_ERROR = 2.0 ** -(23 - SKETCH_SHIFT + 1) + 2.0**-24
# Pools of at most this many scores get exact percentiles (their scores kept).
EXACT_SCORES = 4_096
# Scores rounded to float32 per call of the sketch's loop.
_NARROW_BLOCK = 512
# Highest set sign bit of a float32 key: keys at or above it are values >= +0.
_SIGN = 1 << 31


@dataclass(frozen=True)
class ScoreSummary:
    """The strategy's scores over every scored item: exact mean and max, and the
    percentiles (by ``PERCENTILES``) within ``percentile_relative_error`` (0:
    exact)."""

    mean: float
    max: float
    percentiles: tuple[float, ...]
    percentile_relative_error: float

    def describe(self) -> dict[str, object]:
        body: dict[str, object] = {"mean": self.mean, "max": self.max}
        body |= {f"p{q}": value for q, value in zip(PERCENTILES, self.percentiles, strict=True)}
        body["percentile_relative_error"] = self.percentile_relative_error
        return body


class ScoreSketch:
    """The summary of scores pushed in chunks, in memory independent of their number."""

    def __init__(self) -> None:
        self.count = 0
        # Sums, minima and maxima by pool position (see kernels.LANES).
        self._lanes = np.zeros((3, kernels.LANES), dtype=np.float64)
        self._lanes[1], self._lanes[2] = math.inf, -math.inf
        self._buckets = np.zeros(SKETCH_BUCKETS, dtype=np.int64)
        self._narrow = np.empty(_NARROW_BLOCK, dtype=np.float32)
        self._kept: list[np.ndarray] | None = []

    def push(self, scores: np.ndarray) -> None:
        """Count ``scores`` (m,) float32 or float64, holding no NaN."""
        if not scores.shape[0]:
            return
        values = np.ascontiguousarray(scores)
        if self._kept is not None:
            if self.count + values.shape[0] <= EXACT_SCORES:
                self._kept.append(values.astype(np.float64))
            else:
                self._kept = None
        kernels.sketch_into(
            values, self.count, self._narrow, SKETCH_SHIFT, self._buckets, self._lanes
        )
        self.count += int(values.shape[0])

    def summary(self) -> ScoreSummary | None:
        """The summary, or None when no score was pushed."""
        if not self.count:
            return None
        low, high = float(self._lanes[1].min()), float(self._lanes[2].max())
        mean = _bounded_mean(self._lanes[0], self.count, low, high)
        ranks = [max(1, math.ceil(q / 100 * self.count)) for q in PERCENTILES]
        if self._kept is not None:
            ordered = np.sort(np.concatenate(self._kept))
            exact = tuple(float(ordered[rank - 1]) for rank in ranks)
            return ScoreSummary(mean, high, exact, 0.0)
        ends = np.cumsum(self._buckets)
        percentiles = []
        for rank in ranks:
            bucket = int(np.searchsorted(ends, rank))
            percentiles.append(min(max(_bucket_midpoint(bucket), low), high))
        return ScoreSummary(mean, high, tuple(percentiles), PERCENTILE_RELATIVE_ERROR)


def _bounded_mean(lanes: np.ndarray, count: int, low: float, high: float) -> float:
    """The mean of ``count`` values from their sums by lane, within [low, high]
    even where the sum overflows (values near the float64 limit)."""
    try:
        total = math.fsum(lanes.tolist())
    except OverflowError:
        total = sum(lanes.tolist())  # +-inf, where fsum refuses
    if math.isnan(total):  # +inf and -inf lanes
        return (low + high) / 2 if math.isfinite(low + high) else 0.0
    return min(max(total / count, low), high)


def _bucket_midpoint(bucket: int) -> float:
    """The float midpoint of the float32 values in ``bucket`` (a key's high bits)."""
    first = bucket << SKETCH_SHIFT
    last = first | ((1 << SKETCH_SHIFT) - 1)
    low, high = _key_value(first), _key_value(last)
    if math.isfinite(low) and math.isfinite(high):
        return (low + high) / 2
    # The buckets of +-inf (float32's, so beyond its range) also hold NaN's bits.
    return next((value for value in (low, high) if not math.isnan(value)), 0.0)


def _key_value(key: int) -> float:
    """The float32 value whose order-preserving key is ``key``."""
    bits = key - _SIGN if key >= _SIGN else ~key & 0xFFFFFFFF
    return float(np.array(bits, dtype=np.uint32).view(np.float32))


@dataclass(frozen=True)
class ClassSummary:
    """Predicted classes over the pool: ``counts`` (c,) of units whose most likely
    class each is (ties: the lower class), and the mean top probability.
    ``unit`` is "items", or "tokens" for a token kind."""

    unit: str
    counts: tuple[int, ...]
    mean_top_probability: float

    def describe(self) -> dict[str, object]:
        return {
            "unit": self.unit,
            "predicted": list(self.counts),
            "mean_top_probability": self.mean_top_probability,
        }


class ClassTally:
    """Predicted-class counts and the top probabilities' sum, from class columns."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        # The top probabilities' sums by position (see kernels.LANES).
        self._counts: np.ndarray | None = None
        self._top_lanes = np.zeros(kernels.LANES, dtype=np.float64)
        self._units = 0

    def push(self, cols: np.ndarray) -> np.ndarray:
        """Count class columns (c, m) of probabilities; return each unit's class (m,)."""
        c, m = cols.shape
        if self._counts is None:
            self._counts = np.zeros(c, dtype=np.int64)
        classes = np.empty(m, dtype=np.int32)
        if not m:
            return classes
        if not kernels.compiled_layout(cols):
            cols = np.ascontiguousarray(cols, dtype=np.float64)
        best = np.empty(m, dtype=cols.dtype)
        kernels.top_class_into(cols, self._units, best, classes, self._top_lanes, self._counts)
        self._units += m
        return classes

    def summary(self) -> ClassSummary | None:
        if self._counts is None:
            return None
        total = math.fsum(self._top_lanes.tolist())
        mean_top = total / self._units if self._units else 0.0
        return ClassSummary(self.unit, tuple(int(n) for n in self._counts), mean_top)


@dataclass(frozen=True)
class LabelSummary:
    """Predicted label sets over a multi-label pool: ``counts`` (l,) of items whose
    probability of each label is at least ``threshold``, and their mean size."""

    threshold: float
    counts: tuple[int, ...]
    mean_labels_per_item: float

    def describe(self) -> dict[str, object]:
        return {
            "threshold": self.threshold,
            "predicted": list(self.counts),
            "mean_labels_per_item": self.mean_labels_per_item,
        }


class LabelTally:
    """Per-label counts of predicted labels, from label columns (l, m)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._counts: np.ndarray | None = None
        self._items = 0

    def push(self, cols: np.ndarray) -> None:
        if self._counts is None:
            self._counts = np.zeros(cols.shape[0], dtype=np.int64)
        self._counts += np.count_nonzero(cols >= self.threshold, axis=1)
        self._items += cols.shape[1]

    def summary(self) -> LabelSummary | None:
        if self._counts is None:
            return None
        mean = float(self._counts.sum()) / self._items if self._items else 0.0
        return LabelSummary(self.threshold, tuple(int(n) for n in self._counts), mean)


@dataclass(frozen=True)
class Diagnostics:
    """What one ranking saw of its pool (see the module docstring).

    ``items_scored``: pool items the strategy scored (excluded ones
    included for a pointwise strategy; the eligible ones a batch strategy
    picked from); ``units_scored`` the tokens or labels behind them for a
    kind with units. ``scores`` is None for a batch strategy, which scores
    only its picks. ``classes`` or ``labels`` summarize the input's
    predictions; ``agreement`` and ``stop`` answer a request that sent the
    previous round's predictions (and a stopping rule).
    """

    items_scored: int
    units_scored: int | None = None
    scores: ScoreSummary | None = None
    classes: ClassSummary | None = None
    labels: LabelSummary | None = None
    agreement: Agreement | None = None
    stop: StopAdvice | None = None

    def describe(self) -> dict[str, object]:
        body: dict[str, object] = {"items_scored": self.items_scored}
        if self.units_scored is not None:
            body["units_scored"] = self.units_scored
        body["scores"] = None if self.scores is None else self.scores.describe()
        if self.classes is not None:
            body["classes"] = self.classes.describe()
        if self.labels is not None:
            body["labels"] = self.labels.describe()
        if self.agreement is not None:
            body["agreement"] = self.agreement.describe()
        if self.stop is not None:
            body["stop_suggested"] = self.stop.suggested
            body["stopping"] = self.stop.describe()
        return body


@dataclass(frozen=True)
class DiagnosticsPlan:
    """What a ranking's diagnostics gather: per-class or per-label tallies of the
    input (``tally`` "classes", "labels" or None), the label ``threshold``,
    the previous round's classes (n,) to compare with, and a stopping rule.
    ``unit`` is what the input's columns are: "items", "tokens" or "labels"."""

    tally: str | None = None
    unit: str = "items"
    threshold: float = 0.5
    previous_classes: np.ndarray | None = None
    stopping: StoppingRule | None = None


class PoolTally:
    """Gathers a ranking's Diagnostics chunk by chunk."""

    def __init__(self, plan: DiagnosticsPlan) -> None:
        self.plan = plan
        self.items = 0
        self.units = 0
        self.sketch = ScoreSketch()
        self.classes = ClassTally(plan.unit) if plan.tally == "classes" else None
        self.labels = LabelTally(plan.threshold) if plan.tally == "labels" else None
        self.agreement: AgreementTally | None = None

    def push(self, offset: int, scores: np.ndarray, cols: np.ndarray) -> None:
        """Count the chunk of items from ``offset``: their scores (m,) and input
        ``cols`` (see push_input)."""
        self.push_scores(scores)
        self.push_input(offset, cols)

    def push_scores(self, scores: np.ndarray) -> None:
        """Count the item scores (m,) of the next chunk."""
        self.items += int(scores.shape[0])
        self.sketch.push(scores)

    def push_input(self, offset: int, cols: np.ndarray) -> None:
        """Count the checked input of the chunk of items from ``offset``: class
        columns (c, u), pass columns (t, c, u) or label columns (l, m); a chunk
        of sequences without tokens (u = 0) adds nothing."""
        if not cols.shape[-1]:
            return
        if self.labels is not None:
            self.units += int(cols.size)
            self.labels.push(cols)
            return
        self.units += int(cols.shape[-1])
        if self.classes is None:
            return
        means = mean_of_pass_columns(cols) if cols.ndim == 3 else cols
        classes = self.classes.push(means)
        previous = self.plan.previous_classes
        if previous is not None:
            if self.agreement is None:
                self.agreement = AgreementTally(previous, means.shape[0])
            self.agreement.push(offset, classes)

    def result(self, *, items_scored: int | None = None, scored: bool = True) -> Diagnostics:
        """The diagnostics; ``scored`` False for a strategy that scores only its picks."""
        agreement = self.agreement.result() if self.agreement is not None else None
        stopping = self.plan.stopping
        stop = stopping.advise(agreement.kappa) if stopping and agreement else None
        return Diagnostics(
            items_scored=self.items if items_scored is None else items_scored,
            units_scored=self.units if self.plan.unit != "items" else None,
            scores=self.sketch.summary() if scored else None,
            classes=self.classes.summary() if self.classes is not None else None,
            labels=self.labels.summary() if self.labels is not None else None,
            agreement=agreement,
            stop=stop,
        )
