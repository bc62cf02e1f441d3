"""bench/onnx_overhead.py on a tiny pool: the code runs and both paths agree.

Timings here mean nothing; the figure is measured by running the script.
"""

from __future__ import annotations

from bench import embeddings_overhead, onnx_overhead, samples_overhead
from bench.timing import Budget

ONCE = Budget(min_repeats=1, max_repeats=1, min_seconds=0.0, max_seconds=0.0)


def test_measure_reports_both_times_and_their_ratio():
    result = onnx_overhead.measure(3000, ONCE)
    assert result["direct"] > 0
    assert result["service"] > 0
    assert result["ratio"] == result["service"] / result["direct"]
    assert result["chunk_rows"] == 8192
    assert result["cap_ratio"] == result["service"] / result["uncapped"]
    assert 0 < result["run_rows"] <= 8192
    assert result["bytes_per_row"] >= 64 * 4  # at least the float32 pixels of a row


def test_measure_ranking_times_both_apps_on_the_same_answer():
    result = onnx_overhead.measure_ranking(3000, ONCE)
    assert result["capped"] > 0
    assert result["uncapped"] > 0
    assert result["ratio"] == result["capped"] / result["uncapped"]


def test_the_embeddings_bench_reads_both_outputs_of_the_same_runs():
    result = embeddings_overhead.measure(3000, ONCE)
    assert result["scores"] > 0
    assert result["with_embeddings"] > 0
    assert result["ratio"] == result["with_embeddings"] / result["scores"]
    assert result["held_bytes"] == 3000 * (10 + 32) * 4
    assert result["held_ratio"] == result["held"] / result["scores"]


def test_the_samples_bench_times_passes_and_a_committee_against_direct_runs():
    passes = samples_overhead.measure_passes(500, 3, ONCE)
    committee = samples_overhead.measure_committee(500, 3, ONCE)
    for result, columns in ((passes, 3), (committee, 3)):
        assert result["direct"] > 0
        assert result["service"] > 0
        assert result["ratio"] == result["service"] / result["direct"]
        assert result["samples_bytes"] == 500 * columns * 10 * 4
        assert result["service_peak_bytes"] > 0
