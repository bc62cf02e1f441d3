"""What a simulation produced: every run's curve, the full-pool F1, the targets, the raw JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from examples.ner.loop import Curve, Schedule
from examples.ner.model import CrfSettings
from examples.simulation.report import Needed


@dataclass
class NerResult:
    """Every strategy's curves over seeds on the fixed split, and what they are measured against.

    ``full_f1`` is the test F1 of the CRF trained on the whole pool: the
    ceiling. ``fractions`` are the targets' shares of it. ``failed`` maps a
    strategy the service answered with an error to that answer; it has no
    curves. ``corpus`` describes the whole corpus (corpus.describe). Sizes
    are in sentences, ``*_tokens`` in tokens, ``labels`` the number of tags.
    """

    corpus: str
    schedule: Schedule
    settings: CrfSettings
    seeds: list[int]
    pool_size: int
    pool_tokens: int
    test_size: int
    test_tokens: int
    test_entities: int
    labels: int
    full_f1: float
    fractions: tuple[float, ...]
    curves: dict[str, list[Curve]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def target(self, fraction: float) -> float:
        """The target F1: ``fraction`` of the full-pool F1."""
        return fraction * self.full_f1

    def mean_curve(self, strategy: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per round, over seeds: (mean tokens, mean sentences, mean F1, F1 standard deviation).

        Averaged round by round, on the rounds every run has.
        """
        curves = self.curves[strategy]
        length = min(len(curve.f1) for curve in curves)
        tokens = np.array([curve.tokens[:length] for curve in curves], dtype=np.float64)
        sentences = np.array([curve.sentences[:length] for curve in curves], dtype=np.float64)
        f1 = np.array([curve.f1[:length] for curve in curves])
        return tokens.mean(axis=0), sentences.mean(axis=0), f1.mean(axis=0), f1.std(axis=0)


def tokens_to_target(curve: Curve, target: float) -> float | None:
    """Tokens labeled when the run's F1 first reached ``target``; None if it never did.

    Between the last round below the target and the first at or above it
    the F1 is taken as linear in tokens, so the answer does not jump by a
    whole round's tokens; a seed set that already meets it counts its own.
    """
    for r, (tokens, f1) in enumerate(zip(curve.tokens, curve.f1, strict=True)):
        if f1 >= target:
            if r == 0:
                return float(tokens)
            before, f1_before = curve.tokens[r - 1], curve.f1[r - 1]
            return before + (tokens - before) * (target - f1_before) / (f1 - f1_before)
    return None


def needed(result: NerResult, strategy: str, fraction: float) -> Needed:
    """Tokens ``strategy``'s runs needed to reach ``fraction`` of the full-pool F1, over seeds.

    A run that never reached it counts its last token count: the mean is
    then a lower bound (``Needed.bounded``).
    """
    target = result.target(fraction)
    curves = result.curves[strategy]
    counts = [tokens_to_target(curve, target) for curve in curves]
    values = [
        float(curve.tokens[-1]) if count is None else count
        for count, curve in zip(counts, curves, strict=True)
    ]
    reached = sum(count is not None for count in counts)
    at_start = sum(curve.f1[0] >= target for curve in curves)
    return Needed(float(np.mean(values)), float(np.std(values)), reached, len(counts), at_start)


def write_json(path: Path, result: NerResult, config: dict[str, Any]) -> None:
    """Every curve of every seed, the ceiling, the targets and each run's tokens to each target."""
    document = {
        "config": config,
        "corpus": result.corpus,
        "schedule": asdict(result.schedule),
        "model": asdict(result.settings),
        "seeds": result.seeds,
        "pool": {"sentences": result.pool_size, "tokens": result.pool_tokens},
        "test": {
            "sentences": result.test_size,
            "tokens": result.test_tokens,
            "entities": result.test_entities,
        },
        "labels": result.labels,
        "full_pool_f1": result.full_f1,
        "targets": {f"{fraction:g}": result.target(fraction) for fraction in result.fractions},
        "strategies": {
            name: {
                "sentences": [curve.sentences for curve in curves],
                "tokens": [curve.tokens for curve in curves],
                "f1": [[round(value, 6) for value in curve.f1] for curve in curves],
                "tokens_to_target": {
                    f"{fraction:g}": [
                        tokens_to_target(curve, result.target(fraction)) for curve in curves
                    ]
                    for fraction in result.fractions
                },
            }
            for name, curves in result.curves.items()
        },
        "failed": result.failed,
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def read_json(path: Path, fractions: tuple[float, ...] | None = None) -> NerResult:
    """The result :func:`write_json` wrote, with its targets or ``fractions`` instead."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return NerResult(
        corpus=document["corpus"],
        schedule=Schedule(**document["schedule"]),
        settings=CrfSettings(**document["model"]),
        seeds=document["seeds"],
        pool_size=document["pool"]["sentences"],
        pool_tokens=document["pool"]["tokens"],
        test_size=document["test"]["sentences"],
        test_tokens=document["test"]["tokens"],
        test_entities=document["test"]["entities"],
        labels=document["labels"],
        full_f1=document["full_pool_f1"],
        fractions=fractions or tuple(float(key) for key in document["targets"]),
        curves={
            name: [
                Curve(sentences, tokens, f1)
                for sentences, tokens, f1 in zip(
                    runs["sentences"], runs["tokens"], runs["f1"], strict=True
                )
            ]
            for name, runs in document["strategies"].items()
        },
        failed=document["failed"],
    )
