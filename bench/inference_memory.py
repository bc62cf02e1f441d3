"""Peak memory a worker gains ranking a pool through a model that widens every row.

    .venv/bin/python -m bench.inference_memory [--rows 200000] [--budgets 64 256]

For each inference memory budget (MiB), a real gunicorn with one worker
stores a model of a few hundred bytes that tiles 4 features into 5,000
floats per row (then softmax, summed back to 4 classes), ranks a small pool
through it (which loads its session), then ranks ``rows`` rows. The figure
is the rise of the worker's resident high-water mark (VmHWM) during the
large ranking; unbounded, that ranking would need about 44 KB per row.
The features are synthetic (normal, seeded).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.model_graphs import widening_model
from bench.server import HOST, Server, running_server

MiB = 1 << 20
WIDTH = 4
REPEATS = 1250  # 4 features become 5,000 floats per row in each wide tensor
PICKS = 10


@dataclass(frozen=True)
class Growth:
    """One large ranking: the worker's peak before it and its rise during it."""

    start_bytes: int
    growth_bytes: int
    features: np.ndarray
    answer: dict[str, Any]
    footprint: dict[str, Any]


def call(server: Server, method: str, path: str, body: bytes, content_type: str) -> tuple[int, Any]:
    """One request on a fresh connection: (status, decoded JSON body)."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=300)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def peak_bytes(pid: int) -> int:
    """The process's resident high-water mark (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _rank(server: Server, model: str, features: np.ndarray) -> dict[str, Any]:
    query = f"strategy=least_confidence&budget={PICKS}&input=features&model={model}"
    status, answer = call(server, "POST", f"/v1/rank?{query}", _npy(features), "application/x-npy")
    if status != 200:
        raise RuntimeError(f"ranking answered {status}: {answer}")
    return dict(answer)


def growth_of_one_ranking(server: Server, rows: int) -> Growth:
    """Store the widening model, rank a few rows through it, then ``rows`` rows."""
    status, model = call(server, "POST", "/v1/models", widening_model(), "application/octet-stream")
    if status != 201:
        raise RuntimeError(f"upload answered {status}: {model}")
    features = np.random.default_rng(7).normal(size=(rows, WIDTH)).astype(np.float32)
    _rank(server, model["id"], features[:PICKS])
    worker = server.only_worker()
    before = peak_bytes(worker)
    answer = _rank(server, model["id"], features)
    return Growth(before, peak_bytes(worker) - before, features, answer, model["memory"])


def measure(budget_bytes: int, rows: int) -> Growth:
    """The growth of one large ranking under a server with ``budget_bytes``."""
    with tempfile.TemporaryDirectory() as directory:
        settings = {
            "ALRANK_MODEL_DIR": str(Path(directory) / "models"),
            "ALRANK_INFERENCE_MEMORY_BYTES": str(budget_bytes),
        }
        with running_server(Path(directory), settings) as server:
            return growth_of_one_ranking(server, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--budgets", type=int, nargs="+", default=[64, 256], help="MiB")
    arguments = parser.parse_args()
    for budget in arguments.budgets:
        growth = measure(budget * MiB, arguments.rows)
        print(
            f"budget {budget} MiB, {arguments.rows} rows (footprint "
            f"{growth.footprint['bytes_per_row']} bytes per row): worker peak "
            f"{growth.start_bytes / MiB:.0f} MiB before, grew {growth.growth_bytes / MiB:.0f} MiB "
            f"({growth.growth_bytes / (budget * MiB):.2f}x the budget); unbounded it would "
            f"need {arguments.rows * growth.footprint['bytes_per_row'] / MiB:.0f} MiB"
        )


if __name__ == "__main__":
    main()
