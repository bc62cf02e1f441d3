"""bench/batch_strategies.py on small pools: every call runs and is timed.

Timings here mean nothing; the figures are measured by running the script.
"""

from __future__ import annotations

from bench import batch_strategies


def test_measure_times_every_strategy_it_names():
    result = batch_strategies.measure(scale=0.01)
    assert set(result) == {
        "discriminative",
        "ranked_batch",
        "coreset",
        "information_density",
        "embedding_kmeans",
        "batchbald",
        "bald",
        "typiclust",
        "probcover",
        "pool MiB",
        "typiclust peak MiB",
        "probcover peak MiB",
    }
    assert all(value > 0 for value in result.values())
