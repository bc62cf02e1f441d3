"""Times of the batch strategies that weigh the labeled set, batch information
or density, each beside the strategy it is judged against, in one run.

    .venv/bin/python -m bench.batch_strategies [--scale 1.0]

- discriminative: N = 100,000 x D = 128, 1,000 labeled, budget 1,000, 10 rounds.
- ranked_batch against coreset: N = 100,000 x D = 256, 1,000 labeled, budget 1,000.
- information_density and embedding_kmeans: the same pool, budget 1,000 and 100.
- batchbald: N = 10,000, T = 20, C = 10, budget 20, against BALD's top 20.
- typiclust and probcover: N = 100,000 x D = 128, 1,000 labeled, budget
  1,000, each also with the peak of its numpy allocations (tracemalloc),
  against the pool's own size.

``--scale`` multiplies N (and the budgets), for a quick run. Pools are
synthetic: Gaussian embeddings around 50 centers, softmaxes of Gaussian
logits. Each time is one call (the calls take seconds), the garbage
collector paused.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from service.ranking import (
    batchbald,
    bayesian,
    coverage,
    discriminative,
    diversity,
    representative,
)
from service.ranking.rowops import columns, pass_columns
from service.ranking.uncertainty import least_confidence_of_columns


def _embeddings(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(50, d)) * 3
    return (centers[rng.integers(0, 50, n)] + rng.normal(size=(n, d))).astype(np.float32)


def _probs(n: int, c: int, seed: int) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(scale=2.0, size=(n, c))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def _seconds(call: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        began = time.perf_counter()
        call()
        return time.perf_counter() - began
    finally:
        gc.enable()


def _peak_mib(call: Callable[[], object]) -> float:
    """The peak of the memory allocated during ``call`` (numpy arrays included), MiB."""
    gc.collect()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def measure(scale: float = 1.0, *, memory: bool = True) -> dict[str, float]:
    """Seconds of each call, by name; with ``memory``, also "<name> peak MiB"
    for typiclust and probcover, and "pool MiB", the embeddings they take."""
    n, budget = int(100_000 * scale), max(10, int(1_000 * scale))
    labeled_rows = max(10, int(1_000 * scale))
    eligible = np.ones(n, bool)
    rng = np.random.default_rng(0)
    narrow, wide = _embeddings(n, 128, 1), _embeddings(n, 256, 2)
    u = least_confidence_of_columns(columns(_probs(n, 10, 3)))
    samples_n = max(200, int(10_000 * scale))
    logits = rng.normal(scale=2.0, size=(samples_n, 1, 10)) + rng.normal(size=(samples_n, 20, 10))
    samples = np.exp(logits - logits.max(axis=2, keepdims=True))
    samples = (samples / samples.sum(axis=2, keepdims=True)).astype(np.float32)
    calls: dict[str, Callable[[], object]] = {
        "discriminative": lambda: discriminative.discriminative(
            narrow[labeled_rows:],
            narrow[:labeled_rows],
            budget,
            eligible=eligible[labeled_rows:],
            rng=np.random.default_rng(0),
            rounds=10,
        ),
        "ranked_batch": lambda: representative.ranked_batch(
            u, wide, budget, eligible=eligible, labeled=wide[:labeled_rows]
        ),
        "coreset": lambda: diversity.coreset(
            wide, budget, eligible=eligible, labeled=wide[:labeled_rows]
        ),
        "information_density": lambda: representative.information_density(
            u, wide, budget, eligible=eligible
        ),
        "embedding_kmeans": lambda: diversity.embedding_kmeans(
            wide, max(10, budget // 10), rng=np.random.default_rng(0), eligible=eligible
        ),
        "batchbald": lambda: batchbald.batchbald(
            samples, 20, eligible=np.ones(samples_n, bool), rng=np.random.default_rng(0)
        ),
        "bald": lambda: np.argsort(-bayesian.bald_of_columns(pass_columns(samples)))[:20],
    }
    covering: dict[str, Callable[[], object]] = {
        name: (
            lambda select=select: select(
                narrow[labeled_rows:],
                budget,
                eligible=eligible[labeled_rows:],
                rng=np.random.default_rng(0),
                labeled=narrow[:labeled_rows],
            )
        )
        for name, select in (("typiclust", coverage.typiclust), ("probcover", coverage.probcover))
    }
    result = {name: _seconds(call) for name, call in (calls | covering).items()}
    if memory:
        result["pool MiB"] = narrow[labeled_rows:].nbytes / 2**20
        for name, call in covering.items():
            result[f"{name} peak MiB"] = _peak_mib(call)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    result = measure(parser.parse_args().scale)
    for name, value in result.items():
        unit = "" if name.endswith("MiB") else " s"
        print(f"{name:>22}: {value:8.3f}{unit}")
    print(f"ranked_batch / coreset: {result['ranked_batch'] / result['coreset']:.2f}")


if __name__ == "__main__":
    main()
