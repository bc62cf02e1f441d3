"""small-text drop-in: a QueryStrategy that ranks the unlabeled pool through alrank.

    from small_text import PoolBasedActiveLearner
    from service.integrations.small_text import AlrankQueryStrategy

    strategy = AlrankQueryStrategy("margin", url="http://alrank.internal:8000")
    learner = PoolBasedActiveLearner(clf_factory, strategy, train)
    learner.initialize_data(indices_initial, y_initial)
    indices_queried = learner.query(num_samples=10)
    learner.update(y_true[indices_queried])

The pool is the unlabeled rows: ``clf.predict_proba(dataset[indices_unlabeled])``
(N x C) is sent as ``probabilities``, and the service's picks are returned as
indices into ``dataset``. Strategies of embeddings get ``embed`` of the
unlabeled rows (N x D) and, when they read ``labeled_embeddings``, of the
labeled rows (M x D), from one call on both. This module imports small-text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import sparse
from small_text.query_strategies import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    QueryStrategy,
)

from service.client import DEFAULT_TIMEOUT_S, DEFAULT_URL, RankResult
from service.integrations.ranking import JSON_MAX_ELEMENTS, Ranker

# Maps a small-text dataset (or a subset of one, N rows) to N x D embeddings.
Embed = Callable[[Any], Any]


class AlrankQueryStrategy(QueryStrategy):  # type: ignore[misc, unused-ignore]
    """A small-text query strategy ranking by alrank's ``strategy`` (see GET /v1/strategies).

    ``embed``: dataset subset -> N x D embeddings, for strategies that rank
    embeddings (coreset, badge, typiclust, ...). ``params``: strategy and
    input parameters. ``request_fields``: ``seed``, ``selection``, ``beta``,
    ``normalize``, sent with every query; a query's own keyword arguments
    (``query_strategy_kwargs`` of ``PoolBasedActiveLearner.query``) override
    them. ``json_max_elements``: pools of at most this many numbers go as
    JSON, larger ones as ``.npy``. A refused ranking raises
    ``service.integrations.ranking.RankingRefused``. ``last_result`` holds the
    last answer in full, its indices relative to ``indices_unlabeled``.
    """

    def __init__(
        self,
        strategy: str,
        *,
        url: str = DEFAULT_URL,
        embed: Embed | None = None,
        params: Mapping[str, object] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        json_max_elements: int = JSON_MAX_ELEMENTS,
        **request_fields: object,
    ) -> None:
        self.ranker = Ranker(
            strategy,
            url=url,
            params=params,
            timeout=timeout,
            json_max_elements=json_max_elements,
            **request_fields,
        )
        self.embed = embed
        self.last_result: RankResult | None = None

    def __str__(self) -> str:
        return f"AlrankQueryStrategy({self.ranker.strategy!r}, url={self.ranker.url!r})"

    def query(
        self,
        clf: Any,
        dataset: Any,
        indices_unlabeled: Any,
        indices_labeled: Any,
        y: Any,
        n: int = 10,
        **fields: object,
    ) -> np.ndarray:
        """The ``n`` unlabeled rows to label next: int64 indices into ``dataset``, best first."""
        self._validate_query_input(indices_unlabeled, n)
        if sparse.issparse(y):
            raise ValueError(
                "AlrankQueryStrategy ranks single-label classifiers; "
                "multi-label labels (a sparse y) are not supported"
            )
        unlabeled = np.asarray(indices_unlabeled, dtype=np.int64)
        labeled = np.asarray(indices_labeled, dtype=np.int64)
        arrays = self.arrays(clf, dataset, unlabeled, labeled)
        result = self.ranker.rank(n, arrays, **fields)
        self.last_result = result
        return np.take(unlabeled, result.indices)

    def arrays(
        self, clf: Any, dataset: Any, unlabeled: np.ndarray, labeled: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The arrays the strategy reads, by role, each with the N unlabeled rows first."""
        spec = self.ranker.spec
        arrays: dict[str, np.ndarray] = {}
        if spec.class_input:
            arrays["probabilities"] = _floats(clf.predict_proba(dataset[unlabeled]))
        if not spec.reads("embeddings"):
            return arrays
        if self.embed is None:
            if spec.requires("embeddings"):
                raise ValueError(
                    f"strategy {spec.name!r} ranks embeddings: pass embed=, a function "
                    "of a dataset (N rows) that returns an N x D array"
                )
            return arrays
        with_labeled = spec.reads("labeled_embeddings") and labeled.size > 0
        rows = np.concatenate([unlabeled, labeled]) if with_labeled else unlabeled
        embeddings = _floats(self.embed(dataset[rows]))
        if embeddings.ndim != 2 or embeddings.shape[0] != rows.size:
            raise ValueError(
                f"embed must return one row per row of its dataset ({rows.size} x D), "
                f"got {embeddings.shape}"
            )
        arrays["embeddings"] = embeddings[: unlabeled.size]
        if with_labeled:
            arrays["labeled_embeddings"] = embeddings[unlabeled.size :]
        return arrays


def _floats(values: Any) -> np.ndarray:
    array = np.asarray(values)
    return array if np.issubdtype(array.dtype, np.floating) else array.astype(np.float64)
