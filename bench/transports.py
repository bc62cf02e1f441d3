"""Figure "transports": POST /v1/rank over loopback HTTP against a real gunicorn.

Times one request per body type (JSON, streamed .npy, multipart .npy) and
pool size, as a multiple of the in-process core path on the same array; then
measures how much a fresh worker's peak RSS (VmHWM) grows while it ranks a
large body.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import http_client, pools
from bench.agreement import compare
from bench.floor import measure_floor
from bench.results import Figure, new_figure, progress
from bench.server import Server, peak_rss_bytes, rss_bytes, running_server
from bench.service_path import make_plan, rank_array, reference_ranking
from bench.timing import Budget, best_time, time_once

C = 10
STRATEGY = "entropy"
BUDGET = 100
FIELDS: Mapping[str, object] = {"strategy": STRATEGY, "budget": BUDGET}
SIZES: Mapping[str, Sequence[int]] = {
    "json": (10_000, 100_000, 1_000_000),
    "npy": (10_000, 100_000, 1_000_000, 10_000_000),
    "multipart": (10_000, 100_000, 1_000_000, 10_000_000),
}
# (transport, pool size) pairs whose peak RSS growth is measured, each on a fresh worker.
RSS_CASES: Sequence[tuple[str, int]] = (
    ("npy", 10_000_000),
    ("multipart", 10_000_000),
    ("json", 1_000_000),
)
WARM_UP_ROWS = 1_000
# JSON bodies of a million rows exceed the default 64 MiB limit.
SERVER_SETTINGS = {"ALRANK_MAX_JSON_BYTES": str(1 << 30)}
REQUEST_BUDGET = Budget(min_repeats=3, max_repeats=10, min_seconds=0.5, max_seconds=15.0)
CORE_BUDGET = Budget()
MiB = 1 << 20

Send = Callable[[int, "Pool"], tuple[float, dict]]


@dataclass
class Pool:
    """One probability array, its .npy file, and its JSON body once made."""

    array: np.ndarray
    path: Path
    _json: bytes | None = None

    @property
    def json(self) -> bytes:
        if self._json is None:
            self._json = http_client.json_body(self.array, FIELDS)
        return self._json

    def body_bytes(self, transport: str) -> int:
        return len(self.json) if transport == "json" else self.path.stat().st_size


SENDERS: Mapping[str, Send] = {
    "json": lambda port, pool: http_client.send_json(port, pool.json),
    "npy": lambda port, pool: http_client.send_npy(port, pool.path, FIELDS),
    "multipart": lambda port, pool: http_client.send_multipart(port, pool.path, FIELDS),
}


def make_pool(n: int, directory: Path) -> Pool:
    """A float32 (n, C) probability pool saved as .npy in ``directory``."""
    array = pools.probabilities(n, C, np.float32, seed=n)
    return Pool(array, pools.save_npy(array, directory / f"pool-{n}.npy"))


def run(
    sizes: Mapping[str, Sequence[int]] = SIZES,
    rss_cases: Sequence[tuple[str, int]] = RSS_CASES,
    request_budget: Budget = REQUEST_BUDGET,
    core_budget: Budget = CORE_BUDGET,
) -> Figure:
    """Time every transport at every size, then the peak RSS growth cases."""
    figure = new_figure("transports")
    figure["rss"] = []
    with tempfile.TemporaryDirectory(prefix="alrank-bench-") as temp:
        directory = Path(temp)
        with running_server(directory, SERVER_SETTINGS) as server:
            for n in sorted({n for ns in sizes.values() for n in ns}):
                wanted = [name for name, ns in sizes.items() if n in ns]
                pool = make_pool(n, directory)
                figure["rows"] += time_transports(server, pool, wanted, request_budget, core_budget)
        for transport, n in rss_cases:
            figure["rss"].append(measure_rss(transport, n, directory))
    return figure


def time_transports(
    server: Server,
    pool: Pool,
    transports: Sequence[str],
    request_budget: Budget,
    core_budget: Budget,
) -> list[dict[str, object]]:
    """Rows for each transport on one pool, with the core path's time on the same array."""
    plan = make_plan(STRATEGY, budget=BUDGET)
    core_s = best_time(lambda: rank_array(pool.array, plan), core_budget)
    read_s = measure_floor(pool.array, core_budget).read_s
    ours, scores = reference_ranking(pool.array, STRATEGY, budget=BUDGET)
    rows = []
    for transport in transports:
        request_s, answer = time_requests(SENDERS[transport], server.port, pool, request_budget)
        body = pool.body_bytes(transport)
        rows.append(
            {
                "transport": transport,
                "n": pool.array.shape[0],
                "c": C,
                "body_mb": body / MiB,
                "request_ms": request_s * 1e3,
                "core_ms": core_s * 1e3,
                "read_ms": read_s * 1e3,
                "x_core": request_s / core_s,
                "mb_per_s": body / MiB / request_s,
                **compare(np.array(answer["indices"]), ours, scores),
            }
        )
        progress(
            f"transport {transport:>9} N={pool.array.shape[0]:>8}: "
            f"{request_s * 1e3:9.1f} ms, {request_s / core_s:6.2f}x core"
        )
    return rows


def time_requests(send: Send, port: int, pool: Pool, budget: Budget) -> tuple[float, dict]:
    """(best request time, the last answer) over several identical requests."""
    answers: list[dict] = []

    def request() -> None:
        answers.append(send(port, pool)[1])

    return best_time(request, budget), answers[-1]


def measure_rss(transport: str, n: int, directory: Path) -> dict[str, object]:
    """Peak RSS growth of a fresh, warmed-up worker while it ranks one body."""
    warm_up = make_pool(WARM_UP_ROWS, directory)
    pool = make_pool(n, directory)
    body = pool.body_bytes(transport)
    with running_server(directory, SERVER_SETTINGS) as server:
        SENDERS[transport](server.port, warm_up)
        worker = server.only_worker()
        rss_before, peak_before = rss_bytes(worker), peak_rss_bytes(worker)
        seconds, _ = time_once(lambda: SENDERS[transport](server.port, pool))
        peak_after = peak_rss_bytes(worker)
        if server.only_worker() != worker:
            raise RuntimeError("the worker was replaced during the measurement")
    row = {
        "transport": transport,
        "n": n,
        "c": C,
        "body_mb": body / MiB,
        "request_ms": seconds * 1e3,
        "rss_before_mb": rss_before / MiB,
        "peak_before_mb": peak_before / MiB,
        "peak_after_mb": peak_after / MiB,
        "growth_mb": (peak_after - peak_before) / MiB,
    }
    progress(
        f"rss {transport:>9} N={n:>8}: peak grew {row['growth_mb']:.1f} MiB "
        f"for a {row['body_mb']:.0f} MiB body"
    )
    return row
