"""The service's Prometheus metrics, every name prefixed ``alrank_``.

Under gunicorn, gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before any
worker imports this module, so every worker writes its values to files there
and ``exposition()`` sums them over all workers, live and dead. Without that
variable (a test, a notebook) the values live in this process.

Latencies are in seconds; pool sizes in rows.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.mmap_dict import MmapedDict

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Dead workers' counters and histograms are summed into <kind>_archive.db.
ARCHIVE = "archive"
ARCHIVED_KINDS = ("counter", "histogram")
EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_LATEST

# Request latency, from a health check (~1 ms) to a ranking at the deadline.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0,
)  # fmt: skip
# Pool sizes, one bucket per power of ten up to the row limit's order.
ROW_BUCKETS = tuple(float(10**power) for power in range(1, 9))

REQUESTS = Counter(
    "alrank_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ("route", "method", "status"),
)
REQUEST_SECONDS = Histogram(
    "alrank_http_request_duration_seconds",
    "Time from a request's arrival in the app to its answer, by route template and method.",
    ("route", "method"),
    buckets=LATENCY_BUCKETS,
)
POOL_ROWS = Histogram(
    "alrank_pool_rows",
    "Pool items per ranking, by strategy.",
    ("strategy",),
    buckets=ROW_BUCKETS,
)
REJECTIONS = Counter(
    "alrank_rejections",
    "Requests answered with an error, by problem type (invalid-input, busy, ...).",
    ("reason",),
)
RANKINGS_IN_PROGRESS = Gauge(
    "alrank_rankings_in_progress",
    "Rankings and model uploads holding a compute slot right now, over all workers.",
    multiprocess_mode="livesum",
)
MODEL_STORE_FAULTS = Counter(
    "alrank_model_store_faults",
    "Writes the model store's disk refused, by cause (no-space, unwritable).",
    ("cause",),
)
MODEL_STORE_REPAIRS = Counter(
    "alrank_model_store_repairs",
    "Damage the model store found and handled (record-rebuilt, quarantined).",
    ("action",),
)
MODEL_LOAD_SECONDS = Histogram(
    "alrank_model_load_seconds",
    "Time to create an ONNX Runtime session for a model in a worker.",
    buckets=LATENCY_BUCKETS,
)
MODEL_VALIDATION_SECONDS = Histogram(
    "alrank_model_validation_seconds",
    "Time to check an uploaded model in its isolated child process.",
    buckets=LATENCY_BUCKETS,
)
# Labelled, as every counter here: an unlabelled one would make a file in
# every process that imports this module, the gunicorn master included.
INFERENCE_MEMORY_SPLITS = Counter(
    "alrank_inference_memory_splits",
    "Inference runs that ran out of memory and were run again on half their rows, "
    "by cause (cap: the arena's cap; system: an allocation the system refused).",
    ("cause",),
)
INFERENCE_SECONDS = Histogram(
    "alrank_inference_seconds",
    "Time a model spends scoring the features of one request.",
    buckets=LATENCY_BUCKETS,
)


def multiprocess_directory() -> str | None:
    """The directory the workers share their values through, if any."""
    return os.environ.get(MULTIPROCESS_VARIABLE) or None


def exposition() -> bytes:
    """Every metric in the Prometheus text format, summed over workers when several run."""
    directory = multiprocess_directory()
    if directory is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


def retire_worker(pid: int, directory: str | None = None) -> None:
    """Account for a worker that has exited (the gunicorn master calls this).

    Its live gauges leave the sums; its counters and histograms are added to
    the archive files and its own files removed, so the directory does not
    grow as workers are recycled. A scrape in the instant between the two
    steps may count that worker twice.
    """
    directory = directory or multiprocess_directory()
    if directory is None:
        return
    prometheus_multiprocess.mark_process_dead(pid, directory)
    for kind in ARCHIVED_KINDS:
        dead = Path(directory) / f"{kind}_{pid}.db"
        if not dead.exists():
            continue
        archive = MmapedDict(str(Path(directory) / f"{kind}_{ARCHIVE}.db"))
        try:
            for key, value, _, _ in MmapedDict.read_all_values_from_file(str(dead)):
                total, _ = archive.read_value(key)
                archive.write_value(key, total + value, 0.0)
        finally:
            archive.close()
        dead.unlink()
