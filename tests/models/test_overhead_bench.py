"""bench/onnx_overhead.py on a tiny pool: the code runs and both paths agree.

Timings here mean nothing; the figure is measured by running the script.
"""

from __future__ import annotations

from bench import onnx_overhead
from bench.timing import Budget

ONCE = Budget(min_repeats=1, max_repeats=1, min_seconds=0.0, max_seconds=0.0)


def test_measure_reports_both_times_and_their_ratio():
    result = onnx_overhead.measure(3000, ONCE)
    assert result["direct"] > 0
    assert result["service"] > 0
    assert result["ratio"] == result["service"] / result["direct"]
    assert result["chunk_rows"] == 8192
