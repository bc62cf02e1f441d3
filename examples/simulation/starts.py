"""Where labeling starts: the pool items labeled before the first round, and the target.

- cold: a few labels of each class (the dataset's ``seed_per_class``), the
  usual setting of active-learning papers.
- tenth: a stratified random 10% of the pool, as when a project has labeled a
  first random batch and asks whether ranking the rest still pays.

Both starts share a seed's pool/test split, so a dataset's ceiling (the
accuracy with every pool label) is the same for both. The tenth start's
default target is stricter (99% of that ceiling instead of 95%): a seed set of
10% already reaches 95% on most seeds of these datasets, and labels to a target
met before the first round would measure the seed set, not the strategies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Start:
    """A starting point: which pool items are labeled first, and the default target.

    ``pool_fraction`` None labels ``per_class`` items of each class; otherwise
    a stratified random share of the pool. ``target`` is a fraction of the
    full-pool accuracy. ``short`` names the start in the figure's panels.
    """

    name: str
    title: str
    short: str
    pool_fraction: float | None
    target: float


STARTS: dict[str, Start] = {
    start.name: start
    for start in (
        Start(name="cold", title="cold start", short="cold start", pool_fraction=None, target=0.95),
        Start(
            name="tenth",
            title="after 10% of the pool is labeled",
            short="from 10% labeled",
            pool_fraction=0.1,
            target=0.99,
        ),
    )
}
DEFAULT_STARTS = ("cold", "tenth")


def seed_set(start: Start, labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """The sorted pool indices labeled before the first round, drawn from ``seed``.

    ``labels`` (n,) are the pool's labels. The same ``seed`` gives the same
    set to every strategy.
    """
    if start.pool_fraction is None:
        return per_class_set(labels, per_class, np.random.default_rng(seed))
    return stratified_share(labels, start.pool_fraction, seed)


def per_class_set(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` indices of each class of ``labels``, without replacement, sorted."""
    chosen = [
        rng.choice(np.flatnonzero(labels == label), per_class, replace=False)
        for label in np.unique(labels)
    ]
    return np.sort(np.concatenate(chosen))


def stratified_share(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """round(fraction x n) indices of ``labels`` (n,), in the classes' proportions, sorted.

    At least one item per class, so the first model sees every class.
    """
    classes = len(np.unique(labels))
    count = max(classes, round(fraction * len(labels)))
    if count > len(labels) - classes:
        raise ValueError(f"expected at most {len(labels) - classes} labels at start, got {count}")
    chosen, _ = train_test_split(
        np.arange(len(labels)), train_size=count, stratify=labels, random_state=seed
    )
    return np.sort(chosen)
