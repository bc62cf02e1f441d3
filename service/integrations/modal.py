"""modAL drop-in: a query strategy that ranks the pool through alrank.

    from modAL.models import ActiveLearner
    from service.integrations.modal import alrank_strategy

    learner = ActiveLearner(
        LogisticRegression(),
        query_strategy=alrank_strategy("margin", url="http://alrank.internal:8000"),
        X_training=X_seed, y_training=y_seed,
    )
    query_idx, query_inst = learner.query(X_pool, n_instances=10)
    learner.teach(X_pool[query_idx], y_pool[query_idx])

An ActiveLearner's ``predict_proba(X_pool)`` (N x C) is sent as
``probabilities``; a Committee's ``vote_proba(X_pool)`` (N x T x C, every
member's columns aligned to the committee's ``classes_`` as modAL aligns
them) as ``samples``. Strategies of embeddings get ``embed(X_pool)``
(N x D), and those that read ``labeled_embeddings`` get ``embed`` of the
learner's ``X_training`` (M x D). modAL itself is not imported here: the
learner is used through the methods above.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from service.client import DEFAULT_TIMEOUT_S, DEFAULT_URL, RankResult
from service.integrations.ranking import JSON_MAX_ELEMENTS, Ranker, StrategySpec

# Maps modAL's X (N rows, of any type the estimator takes) to N x D embeddings.
Embed = Callable[[Any], Any]


class ModalStrategy:
    """A modAL query strategy: ``(classifier, X_pool, n_instances=1, **fields)``.

    Returns ``(indices, scores)`` as modAL 0.4's own strategies return
    ``(indices, metrics)``: int64 pool indices, best first, and the service's
    scores of them (higher = label first; for ``margin`` that is
    ``1 - (p1 - p2)``, not modAL's margin). Keyword arguments of a query are
    request fields (``exclude``, ``seed``, ``selection``, ``beta``,
    ``normalize``) that override the strategy's own for that query.
    ``last_result`` holds the last answer in full.
    """

    def __init__(self, ranker: Ranker, embed: Embed | None = None) -> None:
        self.ranker = ranker
        self.embed = embed
        self.last_result: RankResult | None = None

    def __repr__(self) -> str:
        return f"alrank_strategy({self.ranker.strategy!r}, url={self.ranker.url!r})"

    def __call__(
        self, classifier: Any, x_pool: Any, n_instances: int = 1, **fields: object
    ) -> tuple[np.ndarray, np.ndarray]:
        result = self.ranker.rank(n_instances, self.arrays(classifier, x_pool), **fields)
        self.last_result = result
        return result.indices, result.scores

    def arrays(self, classifier: Any, x_pool: Any) -> dict[str, np.ndarray]:
        """The arrays the strategy reads, by role, each with the pool's N rows first."""
        spec = self.ranker.spec
        arrays = class_arrays(classifier, x_pool, spec) if spec.class_input else {}
        if not spec.reads("embeddings"):
            return arrays
        if self.embed is None:
            if spec.requires("embeddings"):
                raise ValueError(
                    f"strategy {spec.name!r} ranks embeddings: pass embed=, a function "
                    "of X (N rows) that returns an N x D array"
                )
            return arrays
        arrays["embeddings"] = embedded(self.embed, x_pool)
        if spec.reads("labeled_embeddings"):
            labeled = labeled_embeddings(classifier, self.embed)
            if labeled is not None:
                arrays["labeled_embeddings"] = labeled
        return arrays


def alrank_strategy(
    name: str,
    *,
    url: str = DEFAULT_URL,
    embed: Embed | None = None,
    params: Mapping[str, object] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    json_max_elements: int = JSON_MAX_ELEMENTS,
    **request_fields: object,
) -> ModalStrategy:
    """A modAL query strategy ranking by alrank's ``name`` (see GET /v1/strategies).

    ``embed``: X -> N x D embeddings, for strategies that rank embeddings
    (coreset, badge, typiclust, ...). ``params``: strategy and input
    parameters (``{"temperature": 2}``). ``request_fields``: ``exclude``,
    ``seed``, ``selection``, ``beta``, ``normalize``, sent with every query.
    ``json_max_elements``: pools of at most this many numbers go as JSON,
    larger ones as ``.npy``. A refused ranking raises
    ``service.integrations.ranking.RankingRefused``.
    """
    ranker = Ranker(
        name,
        url=url,
        params=params,
        timeout=timeout,
        json_max_elements=json_max_elements,
        **request_fields,
    )
    return ModalStrategy(ranker, embed)


def is_committee(classifier: Any) -> bool:
    """Whether ``classifier`` is a modAL Committee (it has members' probabilities)."""
    return callable(getattr(classifier, "vote_proba", None)) and hasattr(classifier, "learner_list")


def class_arrays(classifier: Any, x_pool: Any, spec: StrategySpec) -> dict[str, np.ndarray]:
    """A Committee's samples (N x T x C), or an estimator's probabilities (N x C)."""
    if is_committee(classifier) and "samples" in spec.inputs:
        return {"samples": _floats(classifier.vote_proba(x_pool))}
    return {"probabilities": _floats(classifier.predict_proba(x_pool))}


def labeled_embeddings(classifier: Any, embed: Embed) -> np.ndarray | None:
    """``embed`` of the labeled rows (M x D), or None when nothing is labeled yet.

    A Committee's labeled rows are its members' ``X_training``; a row that
    several members hold counts once.
    """
    if is_committee(classifier):
        parts = [
            embedded(embed, learner.X_training)
            for learner in classifier.learner_list
            if _rows(getattr(learner, "X_training", None))
        ]
        return np.unique(np.concatenate(parts), axis=0) if parts else None
    training = getattr(classifier, "X_training", None)
    return embedded(embed, training) if _rows(training) else None


def embedded(embed: Embed, x: Any) -> np.ndarray:
    """``embed(X)`` checked to be one row of floats per row of X."""
    embeddings = _floats(embed(x))
    if embeddings.ndim != 2 or embeddings.shape[0] != _rows(x):
        raise ValueError(
            f"embed must return one row per row of X ({_rows(x)} x D), got {embeddings.shape}"
        )
    return embeddings


def _rows(x: Any) -> int:
    if x is None:
        return 0
    shape = getattr(x, "shape", None)
    return int(shape[0]) if shape is not None else len(x)


def _floats(values: Any) -> np.ndarray:
    array = np.asarray(values)
    return array if np.issubdtype(array.dtype, np.floating) else array.astype(np.float64)
