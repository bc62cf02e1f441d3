"""Streamed .npy bodies give exactly the buffered answer, whatever the chunking."""

from __future__ import annotations

import numpy as np
import pytest

from service.app import create_app
from tests.web.helpers import RANK, assert_problem, npy_bytes

STRATEGIES = ["least_confidence", "margin", "ratio", "entropy"]


def tied_pool(n: int = 257, c: int = 4) -> np.ndarray:
    """float32 rows with only eight distinct values, so ties straddle every
    chunk boundary and the top-k cut falls inside a run of equal scores."""
    rng = np.random.default_rng(5)
    distinct = rng.dirichlet(np.ones(c), size=8).astype(np.float32)
    return distinct[rng.integers(0, 8, size=n)]


def rank_npy(client, pool: np.ndarray, strategy: str, budget: int, extra: str = "") -> dict:
    response = client.post(
        f"{RANK}?strategy={strategy}&budget={budget}&return_all_scores=true{extra}",
        data=npy_bytes(pool),
        content_type="application/x-npy",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("rows_per_chunk", [1, 2, 7, 64, 1000])
def test_every_chunk_size_gives_the_buffered_answer(strategy, rows_per_chunk):
    pool = tied_pool()
    buffered = rank_npy(
        create_app({"TESTING": True}).test_client(), pool, strategy, 40, "&exclude=3,100"
    )
    small = create_app({"TESTING": True, "CHUNK_BYTES": rows_per_chunk * pool.shape[1] * 8})
    streamed = rank_npy(small.test_client(), pool, strategy, 40, "&exclude=3,100")
    assert streamed == buffered
    scores = np.array(buffered["all_scores"], dtype=np.float32)
    expected = sorted(
        (i for i in range(len(pool)) if i not in (3, 100)), key=lambda i: (-scores[i], i)
    )
    assert buffered["indices"] == expected[:40]


def test_the_streamed_answer_equals_the_json_answer(client):
    pool = tied_pool()
    streamed = rank_npy(client, pool, "margin", 25)
    as_json = client.post(
        RANK,
        json={
            "strategy": "margin",
            "budget": 25,
            "probabilities": pool.tolist(),
            "return_all_scores": True,
        },
    ).get_json()
    assert streamed["indices"] == as_json["indices"]
    np.testing.assert_allclose(streamed["scores"], as_json["scores"], rtol=1e-6)


@pytest.mark.parametrize("cut", [1, 17, 100, 4 * 4 * 256])
def test_a_stream_cut_anywhere_is_a_400(cut):
    client = create_app({"TESTING": True, "CHUNK_BYTES": 64}).test_client()
    body = npy_bytes(tied_pool())
    response = client.post(
        f"{RANK}?strategy=margin&budget=1", data=body[:-cut], content_type="application/x-npy"
    )
    assert_problem(response, 400, "probabilities")


def test_a_stream_with_bytes_past_its_declared_shape_is_a_400():
    client = create_app({"TESTING": True, "CHUNK_BYTES": 64}).test_client()
    body = npy_bytes(tied_pool()) + b"\x00" * 8
    response = client.post(
        f"{RANK}?strategy=margin&budget=1", data=body, content_type="application/x-npy"
    )
    assert_problem(response, 400, "probabilities", says=("longer",))
