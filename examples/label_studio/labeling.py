"""What Label Studio holds and is sent: the labeling config, results, prediction scores.

Nothing here talks to a server: tasks come in as Label Studio's task JSON
(``id``, ``data``, ``annotations``) or the SDK's objects of the same shape,
and predictions go out as the JSON the SDK's ``import_predictions`` posts.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# The Data Manager field the example's tab orders by, highest first.
SCORE_ORDERING = "-tasks:predictions_score"


@dataclass(frozen=True)
class ChoicesConfig:
    """The one ``<Choices>`` control of a labeling config that the model fills in."""

    from_name: str
    to_name: str
    choices: tuple[str, ...]

    def result(self, label: str) -> list[dict[str, Any]]:
        """A Label Studio result choosing ``label``: an annotation's or a prediction's."""
        if label not in self.choices:
            raise ValueError(f"{label!r} is not a choice of {self.from_name!r}: {self.choices}")
        return [
            {
                "from_name": self.from_name,
                "to_name": self.to_name,
                "type": "choices",
                "value": {"choices": [label]},
            }
        ]

    def label_of(self, result: Iterable[Mapping[str, Any]]) -> str | None:
        """The choice a result makes with this control, None when it makes none."""
        for region in result:
            if region.get("from_name") != self.from_name or region.get("type") != "choices":
                continue
            chosen = (region.get("value") or {}).get("choices") or []
            if len(chosen) == 1 and chosen[0] in self.choices:
                return str(chosen[0])
        return None


def choices_config(label_config: str, name: str | None = None) -> ChoicesConfig:
    """The ``<Choices>`` control named ``name`` (the first one when None) of ``label_config``."""
    try:
        root = ET.fromstring(label_config)
    except ET.ParseError as error:
        raise ValueError(f"the labeling config is not XML: {error}") from error
    for control in root.iter("Choices"):
        if name is not None and control.get("name") != name:
            continue
        choices = tuple(
            str(choice.get("value")) for choice in control.iter("Choice") if choice.get("value")
        )
        from_name, to_name = control.get("name"), control.get("toName")
        if not from_name or not to_name or len(choices) < 2:
            raise ValueError("a <Choices> control needs a name, a toName and two choices")
        return ChoicesConfig(from_name, to_name, choices)
    wanted = f"named {name!r}" if name is not None else "at all"
    raise ValueError(f"the labeling config has no <Choices> control {wanted}")


@dataclass(frozen=True)
class Split:
    """A project's tasks, split into the annotated ones (with their label) and the pool."""

    labeled_ids: tuple[int, ...]
    labeled_features: np.ndarray
    labels: tuple[str, ...]
    pool_ids: tuple[int, ...]
    pool_features: np.ndarray


def split_tasks(tasks: Iterable[Any], config: ChoicesConfig, features_field: str) -> Split:
    """Tasks whose latest kept annotation makes a choice are labeled; the rest are the pool.

    Skipped (cancelled) annotations do not label a task. Each task's
    ``data[features_field]`` is its feature vector, the same length for all.
    """
    labeled: list[tuple[int, list[float], str]] = []
    pool: list[tuple[int, list[float]]] = []
    for task in tasks:
        task_id, data = int(_get(task, "id")), _get(task, "data") or {}
        if features_field not in data:
            raise ValueError(f"task {task_id} has no {features_field!r} in its data")
        features = list(data[features_field])
        label = latest_label(_get(task, "annotations") or [], config)
        if label is None:
            pool.append((task_id, features))
        else:
            labeled.append((task_id, features, label))
    width = len((labeled or pool or [(0, [])])[0][1])
    return Split(
        labeled_ids=tuple(item[0] for item in labeled),
        labeled_features=_matrix([item[1] for item in labeled], width),
        labels=tuple(item[2] for item in labeled),
        pool_ids=tuple(item[0] for item in pool),
        pool_features=_matrix([item[1] for item in pool], width),
    )


def latest_label(annotations: Sequence[Any], config: ChoicesConfig) -> str | None:
    """The label of the most recent annotation that was not cancelled and makes a choice."""
    kept = [a for a in annotations if not _get(a, "was_cancelled")]
    for annotation in sorted(kept, key=lambda a: int(_get(a, "id") or 0), reverse=True):
        label = config.label_of(_get(annotation, "result") or [])
        if label is not None:
            return label
    return None


def ranking_scores(indices: Sequence[int], pool_size: int) -> np.ndarray:
    """A prediction score per pool item that follows the service's ranking.

    The pick at rank r (0 first) of B scores 1 - r / B: 1.0 for the first,
    1 / B for the last, strictly decreasing; items not picked score 0. So
    sorting by score, highest first, lists the picks in the service's order
    before anything else.
    """
    picks = [int(index) for index in indices]
    if len(set(picks)) != len(picks):
        raise ValueError("the ranking repeats a pool index")
    if any(not 0 <= index < pool_size for index in picks):
        raise ValueError(f"the ranking has an index outside the pool of {pool_size}")
    scores = np.zeros(pool_size, dtype=np.float64)
    budget = len(picks)
    for rank, index in enumerate(picks):
        scores[index] = 1.0 - rank / budget
    return scores


def prediction_requests(
    task_ids: Sequence[int],
    labels: Sequence[str],
    scores: Sequence[float],
    config: ChoicesConfig,
    model_version: str,
) -> list[dict[str, Any]]:
    """One prediction per task: the model's label as a pre-annotation, and its score."""
    if not len(task_ids) == len(labels) == len(scores):
        raise ValueError("task_ids, labels and scores differ in length")
    return [
        {
            "task": int(task_id),
            "result": config.result(str(label)),
            "score": float(score),
            "model_version": model_version,
        }
        for task_id, label, score in zip(task_ids, labels, scores, strict=True)
    ]


def _get(item: Any, name: str) -> Any:
    """A field of Label Studio JSON, as a dict or as the SDK's object."""
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def _matrix(rows: list[list[float]], width: int) -> np.ndarray:
    if any(len(row) != width for row in rows):
        raise ValueError(f"every task's features must have the same length ({width})")
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), width)
