"""What a simulation produced, per dataset: every run's learning curve and kappas; the raw JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from examples.simulation.loop import Curve
from examples.simulation.starts import Start
from examples.simulation.stopping import SERVICE_COMMITTEE


@dataclass
class DatasetResult:
    """Every run on one dataset from one start: one curve per strategy and seed.

    ``full_accuracy`` is, per seed, the test accuracy of the model trained on
    every pool label: the ceiling that active learning approaches.
    ``fraction`` is the target's share of it. ``failed`` maps a strategy the
    service answered with an error to that answer; it has no curves.
    """

    name: str
    title: str
    start: Start
    fraction: float
    pool_size: int
    test_size: int
    classes: int
    initial: int
    batch: int
    rounds: int
    seeds: list[int]
    full_accuracy: list[float] = field(default_factory=list)
    families: dict[str, str] = field(default_factory=dict)
    curves: dict[str, list[Curve]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def target(self) -> float:
        """The target accuracy: ``fraction`` of the mean full-pool accuracy."""
        return self.fraction * float(np.mean(self.full_accuracy))

    def start_accuracy(self) -> list[float]:
        """Per seed, the test accuracy with the seed set alone (the same for every strategy)."""
        curves = next(iter(self.curves.values()))
        return [curve.accuracy[0] for curve in curves]

    def mean_curve(self, strategy: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labels, mean accuracy, standard deviation) over seeds, on the labels all runs have."""
        curves = self.curves[strategy]
        length = min(len(curve.labels) for curve in curves)
        accuracy = np.array([curve.accuracy[:length] for curve in curves])
        return np.array(curves[0].labels[:length]), accuracy.mean(axis=0), accuracy.std(axis=0)


def labels_to_target(curve: Curve, target: float) -> int | None:
    """The fewest labels at which the run's test accuracy reached ``target``; None if never."""
    for labels, accuracy in zip(curve.labels, curve.accuracy, strict=True):
        if accuracy >= target:
            return labels
    return None


def write_json(path: Path, results: list[DatasetResult], config: dict[str, Any]) -> None:
    """Every curve, the targets and the labels each run needed, the kappas between
    consecutive rounds and where the stopping rule fired, as JSON: an entry per
    dataset and start."""
    document = {
        "config": config,
        "datasets": [_dataset_json(result) for result in results],
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def _dataset_json(result: DatasetResult) -> dict[str, Any]:
    target = result.target()
    return {
        "name": result.name,
        "title": result.title,
        "start": result.start.name,
        "start_title": result.start.title,
        "pool_size": result.pool_size,
        "test_size": result.test_size,
        "classes": result.classes,
        "initial_labels": result.initial,
        "batch": result.batch,
        "rounds": result.rounds,
        "seeds": result.seeds,
        "full_pool_accuracy": result.full_accuracy,
        "target_fraction": result.fraction,
        "target_accuracy": target,
        "strategies": {
            name: {
                "family": result.families[name],
                "labels": [curve.labels for curve in curves],
                "accuracy": [[round(value, 6) for value in curve.accuracy] for curve in curves],
                "labels_to_target": [labels_to_target(curve, target) for curve in curves],
                **_stopping_json(curves),
            }
            for name, curves in result.curves.items()
        },
        "failed": result.failed,
    }


def _kappas(values: list[float | None]) -> list[float | None]:
    return [None if value is None else round(value, 6) for value in values]


def _stopping_json(curves: list[Curve]) -> dict[str, Any]:
    """Per seed: the kappas (null in round 0), the rule's verdicts, the first stop; and the
    evaluated model's own kappas where they differ in kind (a committee's were judged)."""
    source = curves[0].kappa_source
    document: dict[str, Any] = {
        "kappa_source": source,
        "kappa": [_kappas(curve.kappa) for curve in curves],
        "stop_suggested": [curve.stop for curve in curves],
        "stop_round": [curve.stop_round for curve in curves],
        "labels_at_stop": [
            None if curve.stop_round is None else curve.labels[curve.stop_round] for curve in curves
        ],
    }
    if source == SERVICE_COMMITTEE:
        document["model_kappa"] = [_kappas(curve.model_kappa) for curve in curves]
    return document
