"""What a simulation produced: every run's curve, the full-pool F1, the targets, the raw JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from examples.multilabel.loop import Curve, Schedule
from examples.multilabel.model import ModelSettings
from examples.simulation.report import Needed


@dataclass
class MultilabelResult:
    """Every strategy's curves over seeds on the fixed split, and what they are measured against.

    ``full_micro`` and ``full_macro`` are the test F1s of the classifier
    trained on the whole pool: the ceiling. ``fractions`` are the targets'
    shares of the micro-F1 one. ``failed`` maps a strategy the service
    answered with an error to that answer; it has no curves. ``data``
    describes how the synthetic items were made; ``cardinality`` is the
    pool's mean number of labels per item, ``labels`` L.
    """

    data: str
    schedule: Schedule
    settings: ModelSettings
    seeds: list[int]
    pool_size: int
    test_size: int
    labels: int
    cardinality: float
    full_micro: float
    full_macro: float
    fractions: tuple[float, ...]
    curves: dict[str, list[Curve]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def target(self, fraction: float) -> float:
        """The target micro-F1: ``fraction`` of the full-pool micro-F1."""
        return fraction * self.full_micro

    def mean_curve(self, strategy: str) -> dict[str, np.ndarray]:
        """Per round, over seeds: "labels" (mean items labeled), "micro" and "macro" (mean
        F1s), "micro_sd" and "macro_sd"; on the rounds every run has."""
        curves = self.curves[strategy]
        length = min(len(curve.labels) for curve in curves)
        labels = np.array([curve.labels[:length] for curve in curves], dtype=np.float64)
        micro = np.array([curve.micro_f1[:length] for curve in curves])
        macro = np.array([curve.macro_f1[:length] for curve in curves])
        return {
            "labels": labels.mean(axis=0),
            "micro": micro.mean(axis=0),
            "micro_sd": micro.std(axis=0),
            "macro": macro.mean(axis=0),
            "macro_sd": macro.std(axis=0),
        }

    def chosen_cardinality(self, strategy: str) -> float:
        """Mean number of true labels on the items the strategy chose (the seed set left out)."""
        bought = [
            (curve.positives[-1] - curve.positives[0], curve.labels[-1] - curve.labels[0])
            for curve in self.curves[strategy]
        ]
        items = sum(count for _, count in bought)
        return sum(positives for positives, _ in bought) / items if items else float("nan")


def labels_to_target(curve: Curve, target: float) -> float | None:
    """Items labeled when the run's micro-F1 first reached ``target``; None if it never did.

    Between the last round below the target and the first at or above it
    the F1 is taken as linear in items, so the answer does not jump by a
    whole round; a seed set that already meets it counts its own items.
    """
    for r, (labels, f1) in enumerate(zip(curve.labels, curve.micro_f1, strict=True)):
        if f1 >= target:
            if r == 0:
                return float(labels)
            before, f1_before = curve.labels[r - 1], curve.micro_f1[r - 1]
            return before + (labels - before) * (target - f1_before) / (f1 - f1_before)
    return None


def needed(result: MultilabelResult, strategy: str, fraction: float) -> Needed:
    """Items ``strategy``'s runs needed to reach ``fraction`` of the full-pool micro-F1.

    A run that never reached it counts its last item count: the mean is then
    a lower bound (``Needed.bounded``).
    """
    target = result.target(fraction)
    curves = result.curves[strategy]
    counts = [labels_to_target(curve, target) for curve in curves]
    values = [
        float(curve.labels[-1]) if count is None else count
        for count, curve in zip(counts, curves, strict=True)
    ]
    reached = sum(count is not None for count in counts)
    at_start = sum(curve.micro_f1[0] >= target for curve in curves)
    return Needed(float(np.mean(values)), float(np.std(values)), reached, len(counts), at_start)


def write_json(path: Path, result: MultilabelResult, config: dict[str, Any]) -> None:
    """Every curve of every seed, the ceiling, the targets and each run's items to each target."""
    document = {
        "config": config,
        "data": result.data,
        "schedule": asdict(result.schedule),
        "model": asdict(result.settings),
        "seeds": result.seeds,
        "pool": {"items": result.pool_size, "cardinality": result.cardinality},
        "test": {"items": result.test_size},
        "labels": result.labels,
        "full_pool": {"micro_f1": result.full_micro, "macro_f1": result.full_macro},
        "targets": {f"{fraction:g}": result.target(fraction) for fraction in result.fractions},
        "strategies": {
            name: {
                "labels": [curve.labels for curve in curves],
                "positives": [curve.positives for curve in curves],
                "micro_f1": [[round(value, 6) for value in curve.micro_f1] for curve in curves],
                "macro_f1": [[round(value, 6) for value in curve.macro_f1] for curve in curves],
                "labels_to_target": {
                    f"{fraction:g}": [
                        labels_to_target(curve, result.target(fraction)) for curve in curves
                    ]
                    for fraction in result.fractions
                },
            }
            for name, curves in result.curves.items()
        },
        "failed": result.failed,
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def read_json(path: Path, fractions: tuple[float, ...] | None = None) -> MultilabelResult:
    """The result :func:`write_json` wrote, with its targets or ``fractions`` instead."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return MultilabelResult(
        data=document["data"],
        schedule=Schedule(**document["schedule"]),
        settings=ModelSettings(**document["model"]),
        seeds=document["seeds"],
        pool_size=document["pool"]["items"],
        test_size=document["test"]["items"],
        labels=document["labels"],
        cardinality=document["pool"]["cardinality"],
        full_micro=document["full_pool"]["micro_f1"],
        full_macro=document["full_pool"]["macro_f1"],
        fractions=fractions or tuple(float(key) for key in document["targets"]),
        curves={
            name: [
                Curve(*columns)
                for columns in zip(
                    runs["labels"],
                    runs["positives"],
                    runs["micro_f1"],
                    runs["macro_f1"],
                    strict=True,
                )
            ]
            for name, runs in document["strategies"].items()
        },
        failed=document["failed"],
    )
