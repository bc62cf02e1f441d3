"""An uploaded model cannot take a worker's memory: under a real gunicorn, a model
that widens each row to 5,000 floats ranks 200,000 rows with the worker's peak
resident memory (VmHWM) growing by at most the inference memory budget and a
small margin, and answers the right ranking (see bench/inference_memory.py)."""

from __future__ import annotations

import numpy as np
import pytest

from bench import inference_memory
from bench.inference_memory import PICKS, REPEATS, MiB, call
from bench.server import running_server
from tests.models import builders

ROWS = 200_000
# The ranking's own working memory (pool chunks, the answer) and the
# allocator's slack, on top of the inference budget.
MARGIN = 32 * MiB


def _assert_least_confident(features: np.ndarray, answer: dict) -> None:
    """The answer's picks are the least confident rows of the float64 reference,
    up to ties within float32 resolution."""
    reference = 1 - builders.widening_reference(features, REPEATS, reduce=True).max(axis=1)
    picked = np.asarray(answer["indices"])
    assert len(set(picked.tolist())) == PICKS
    kth_best = np.sort(reference)[-PICKS]
    assert reference[picked].min() >= kth_best - 1e-6


@pytest.mark.parametrize(
    ("budget_bytes", "rows"),
    [(64 * MiB, ROWS), (256 * MiB, ROWS // 4)],
    ids=["64MiB-budget", "default-budget"],
)
def test_a_widening_model_ranks_within_the_inference_memory_budget(budget_bytes, rows):
    measured = inference_memory.measure(budget_bytes, rows)
    # Two wide float32 tensors per row, as validation measured them.
    assert measured.footprint["bytes_per_row"] >= 2 * 4 * 4 * REPEATS, measured.footprint
    _assert_least_confident(measured.features, measured.answer)
    growth = measured.growth_bytes
    assert growth <= budget_bytes + MARGIN, f"grew {growth / MiB:.0f} MiB"
    # Runs are sized to half the budget: the measure sees them. Unbounded, the
    # same rankings would grow by rows * 44 KB: 8.5 GB and 2.1 GB.
    assert growth >= budget_bytes // 4, f"grew only {growth / MiB:.0f} MiB"


def test_a_model_over_the_budget_for_one_row_is_refused_at_upload(tmp_path):
    settings = {
        "ALRANK_MODEL_DIR": str(tmp_path / "models"),
        "ALRANK_INFERENCE_MEMORY_BYTES": str(16 * MiB),
    }
    # 4 * 2.5e6 float32 per row in each wide tensor: 40 MB for one row.
    with running_server(tmp_path, settings) as server:
        status, problem = call(
            server, "POST", "/v1/models", builders.widening(2_500_000), "application/octet-stream"
        )
        alive, _ = call(server, "GET", "/v1/models", b"", "application/json")
    assert status == 422, problem
    assert list(problem["errors"]) == ["body"]
    assert "inference memory budget of 16 MiB" in problem["detail"]
    assert alive == 200
