"""The learning task: synthetic multi-label data on a fixed pool/test split.

No real multi-label dataset ships with scikit-learn, so the items come from
``make_multilabel_classification``: each item draws its number of labels
from a Poisson around ``n_labels``, its labels from a random prior, and 40
word counts from those labels' word distributions (a bag-of-words model).
``allow_unlabeled=False`` gives every item at least one label. The split is
the same for every seed and strategy (``SPLIT_SEED``): a seed changes only
the seed set and the random strategy's draws. The features are standardized
with the pool's mean and scale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

import numpy as np
from sklearn.datasets import make_multilabel_classification
from sklearn.preprocessing import StandardScaler

SPLIT_SEED = 2024
TEST_FRACTION = 1 / 3


@dataclass(frozen=True)
class DataSpec:
    """The arguments of ``make_multilabel_classification`` that make the items."""

    n_samples: int = 3000
    n_features: int = 40
    n_classes: int = 10
    n_labels: int = 3
    random_state: int = 7

    def describe(self) -> str:
        """The call, e.g. "make_multilabel_classification(n_samples=3000, ...)"."""
        arguments = ", ".join(f"{name}={value}" for name, value in asdict(self).items())
        return f"make_multilabel_classification({arguments}, allow_unlabeled=False)"


DATA = DataSpec()


@dataclass(frozen=True)
class Task:
    """Pool and test items: standardized features and their 0/1 label sets (N x L).

    ``pool_y`` is the oracle: what labeling pool item i reveals is ``pool_y[i]``.
    """

    pool_x: np.ndarray
    pool_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray

    @property
    def labels(self) -> int:
        """L, the number of labels: the columns of every probability row."""
        return int(self.pool_y.shape[1])

    @property
    def cardinality(self) -> float:
        """The pool's mean number of labels per item."""
        return float(self.pool_y.sum(axis=1).mean())


def generate(spec: DataSpec = DATA) -> tuple[np.ndarray, np.ndarray]:
    """Every item: (n_samples x n_features counts, n_samples x n_classes 0/1 labels)."""
    x, y = make_multilabel_classification(
        n_samples=spec.n_samples,
        n_features=spec.n_features,
        n_classes=spec.n_classes,
        n_labels=spec.n_labels,
        allow_unlabeled=False,
        random_state=spec.random_state,
    )
    return x.astype(np.float64), y.astype(np.int64)


@cache
def prepare(pool_limit: int | None = None, test_limit: int | None = None) -> Task:
    """The task on the fixed split; ``*_limit`` keep the first items of each side only."""
    x, y = generate()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    held_out = round(len(y) * TEST_FRACTION)
    test, pool = order[:held_out][:test_limit], order[held_out:][:pool_limit]
    scaler = StandardScaler().fit(x[pool])
    return Task(
        pool_x=scaler.transform(x[pool]),
        pool_y=y[pool],
        test_x=scaler.transform(x[test]),
        test_y=y[test],
    )
