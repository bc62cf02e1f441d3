"""An uploaded model cannot take a worker's memory: under a real gunicorn, a model
that widens each row to 5,000 floats ranks 200,000 rows with the worker's peak
resident memory (VmHWM) growing by at most the inference memory budget and a
small margin, and answers the right ranking."""

from __future__ import annotations

import http.client
import io
import json
from pathlib import Path

import numpy as np
import pytest

from bench.server import HOST, Server, running_server
from tests.models import builders

MiB = 1 << 20
REPEATS = 1250  # 4 features become 5,000 floats per row in each wide tensor
ROWS = 200_000
BUDGET = 10
# The ranking's own working memory (pool chunks, the answer) and the
# allocator's slack, on top of the inference budget.
MARGIN = 32 * MiB


def _request(
    server: Server, method: str, path: str, body: bytes, content_type: str
) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(HOST, server.port, timeout=120)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _peak_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _rank(server: Server, model: str, features: np.ndarray) -> tuple[int, dict]:
    query = f"strategy=least_confidence&budget={BUDGET}&input=features&model={model}"
    return _request(server, "POST", f"/v1/rank?{query}", _npy(features), "application/x-npy")


def _growth_of_one_ranking(server: Server, rows: int) -> tuple[int, np.ndarray, dict]:
    """(peak memory growth of the worker, the features, the answer) of ranking
    ``rows`` rows through the widening model, after a first small ranking
    loaded its session."""
    status, model = _request(
        server,
        "POST",
        "/v1/models",
        builders.widening(REPEATS, reduce=True),
        "application/octet-stream",
    )
    assert status == 201, model
    assert model["memory"]["bytes_per_row"] >= 2 * 4 * 4 * REPEATS, model["memory"]
    features = np.random.default_rng(7).normal(size=(rows, 4)).astype(np.float32)
    status, answer = _rank(server, model["id"], features[:BUDGET])
    assert status == 200, answer
    worker = server.only_worker()
    before = _peak_bytes(worker)
    status, answer = _rank(server, model["id"], features)
    assert status == 200, answer
    return _peak_bytes(worker) - before, features, answer


def _assert_least_confident(features: np.ndarray, answer: dict) -> None:
    """The answer's picks are the least confident rows of the float64 reference,
    up to ties within float32 resolution."""
    reference = 1 - builders.widening_reference(features, REPEATS, reduce=True).max(axis=1)
    picked = np.asarray(answer["indices"])
    assert len(set(picked.tolist())) == BUDGET
    kth_best = np.sort(reference)[-BUDGET]
    assert reference[picked].min() >= kth_best - 1e-6


@pytest.mark.parametrize(
    ("budget_bytes", "rows"),
    [(64 * MiB, ROWS), (256 * MiB, ROWS // 4)],
    ids=["64MiB-budget", "default-budget"],
)
def test_a_widening_model_ranks_within_the_inference_memory_budget(tmp_path, budget_bytes, rows):
    settings = {
        "ALRANK_MODEL_DIR": str(tmp_path / "models"),
        "ALRANK_INFERENCE_MEMORY_BYTES": str(budget_bytes),
    }
    with running_server(tmp_path, settings) as server:
        growth, features, answer = _growth_of_one_ranking(server, rows)
    _assert_least_confident(features, answer)
    assert growth <= budget_bytes + MARGIN, f"grew {growth / MiB:.0f} MiB"
    # Runs are sized to half the budget: the measure sees them. Unbounded, the
    # same rankings would grow by rows * 40 KB: 8 GB and 2 GB.
    assert growth >= budget_bytes // 4, f"grew only {growth / MiB:.0f} MiB"


def test_a_model_over_the_budget_for_one_row_is_refused_at_upload(tmp_path):
    settings = {
        "ALRANK_MODEL_DIR": str(tmp_path / "models"),
        "ALRANK_INFERENCE_MEMORY_BYTES": str(16 * MiB),
    }
    # 4 * 2.5e6 float32 per row in each wide tensor: 40 MB for one row.
    with running_server(tmp_path, settings) as server:
        status, problem = _request(
            server,
            "POST",
            "/v1/models",
            builders.widening(2_500_000),
            "application/octet-stream",
        )
        alive, _ = _request(server, "GET", "/v1/models", b"", "application/json")
    assert status == 422, problem
    assert list(problem["errors"]) == ["body"]
    assert "inference memory budget of 16 MiB" in problem["detail"]
    assert alive == 200
