"""The datasets: scikit-learn's bundled ones, split into a pool and a test set per seed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from examples.simulation.starts import STARTS, Start, seed_set

TEST_FRACTION = 1 / 3


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset and the labeling schedule that suits its size.

    A cold start labels ``seed_per_class`` items of each class first (see
    starts.py for the others); every start then labels ``batch`` items per
    round for ``rounds`` rounds.
    """

    name: str
    title: str
    # A scikit-learn loader: load(return_X_y=True) -> (features, labels).
    load: Callable[..., Any]
    seed_per_class: int
    batch: int
    rounds: int


# All three ship inside scikit-learn: nothing is downloaded.
DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="digits",
            title="digits: 8x8 images of handwritten digits, 10 classes",
            load=load_digits,
            seed_per_class=2,
            batch=10,
            rounds=30,
        ),
        DatasetSpec(
            name="breast_cancer",
            title="breast_cancer: 30 tabular features, 2 classes",
            load=load_breast_cancer,
            seed_per_class=2,
            batch=2,
            rounds=30,
        ),
        DatasetSpec(
            name="wine",
            title="wine: 13 tabular features, 3 classes",
            load=load_wine,
            seed_per_class=1,
            batch=3,
            rounds=12,
        ),
    )
}
DEFAULT_DATASETS = ("digits", "breast_cancer")


@dataclass(frozen=True)
class Split:
    """One seed's view of a dataset: a standardized pool and test set, and the seed set.

    ``initial`` holds the pool indices labeled before the first round: the
    same for every strategy, so strategies are compared from the same start.
    """

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    initial: np.ndarray
    classes: np.ndarray


def make_split(spec: DatasetSpec, seed: int, start: Start = STARTS["cold"]) -> Split:
    """A stratified pool/test split and ``start``'s seed set, both drawn from ``seed``.

    The split depends on ``seed`` alone, so every start of a seed shares it.
    Features are standardized with the pool's mean and scale: the pool's
    features are known before any label is, so this leaks no label.
    """
    features, labels = spec.load(return_X_y=True)
    x_pool, x_test, y_pool, y_test = train_test_split(
        features, labels, test_size=TEST_FRACTION, stratify=labels, random_state=seed
    )
    scaler = StandardScaler().fit(x_pool)
    return Split(
        x_pool=scaler.transform(x_pool),
        y_pool=y_pool,
        x_test=scaler.transform(x_test),
        y_test=y_test,
        initial=seed_set(start, y_pool, spec.seed_per_class, seed),
        classes=np.unique(labels),
    )
