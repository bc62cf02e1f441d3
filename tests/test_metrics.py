"""Metrics summed over worker processes, and kept when a worker is retired."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from service import metrics

# A stand-in worker: counts requests and observes latencies, then exits.
WORKER = """
import os, sys
from service import metrics
for _ in range(int(sys.argv[1])):
    metrics.REQUESTS.labels("/healthz", "GET", "200").inc()
    metrics.REQUEST_SECONDS.labels("/healthz", "GET").observe(0.003)
metrics.RANKINGS_IN_PROGRESS.inc()
print(os.getpid(), flush=True)
"""


def run_worker(directory: Path, count: int) -> int:
    """Run a stand-in worker writing to ``directory``; its pid."""
    env = os.environ | {metrics.MULTIPROCESS_VARIABLE: str(directory)}
    process = subprocess.run(
        [sys.executable, "-c", WORKER, str(count)], env=env, capture_output=True, check=True
    )
    return int(process.stdout)


def totals(directory: Path, monkeypatch) -> dict[str, float]:
    """Request count, latency count and in-progress gauge summed over the directory."""
    monkeypatch.setenv(metrics.MULTIPROCESS_VARIABLE, str(directory))
    text = metrics.exposition().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (
                "alrank_http_requests_total",
                "alrank_http_request_duration_seconds_count",
                "alrank_rankings_in_progress",
            ):
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


def test_retiring_workers_keeps_their_counts_and_removes_their_files(tmp_path, monkeypatch):
    pids = [run_worker(tmp_path, count) for count in (3, 5, 7)]
    before = totals(tmp_path, monkeypatch)
    assert before["alrank_http_requests_total"] == 15
    assert before["alrank_http_request_duration_seconds_count"] == 15
    for pid in pids[:2]:
        metrics.retire_worker(pid, str(tmp_path))
    after = totals(tmp_path, monkeypatch)
    assert after["alrank_http_requests_total"] == 15
    assert after["alrank_http_request_duration_seconds_count"] == 15
    # The retired workers' live gauges left the sum; the last one's stays.
    assert after["alrank_rankings_in_progress"] == 1
    names = {path.name for path in tmp_path.iterdir()}
    for pid in pids[:2]:
        assert not any(name.endswith(f"_{pid}.db") for name in names)
    assert {"counter_archive.db", "histogram_archive.db"} <= names
    metrics.retire_worker(pids[2], str(tmp_path))
    assert totals(tmp_path, monkeypatch)["alrank_http_requests_total"] == 15
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "counter_archive.db",
        "histogram_archive.db",
    ]


def test_retiring_without_a_directory_does_nothing(monkeypatch):
    monkeypatch.delenv(metrics.MULTIPROCESS_VARIABLE, raising=False)
    metrics.retire_worker(12345)
