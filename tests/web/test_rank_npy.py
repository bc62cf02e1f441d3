"""POST /v1/rank with an application/x-npy body and the fields in the query string."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.web.helpers import (
    NPY_MEDIA_TYPE,
    RANK,
    REQUEST_VARIANTS,
    SMALL_POOL,
    assert_ranked,
    dirichlet_pool,
    npy_bytes,
    send,
)


def post_npy(client, body: bytes, query: str):
    return client.post(f"{RANK}?{query}", data=body, content_type=NPY_MEDIA_TYPE)


def margin32(probs: np.ndarray) -> np.ndarray:
    """1 - (p1 - p2), computed in float32."""
    ordered = np.sort(probs.astype(np.float32), axis=1)
    return np.float32(1) - (ordered[:, -1] - ordered[:, -2])


@pytest.mark.parametrize("variant", list(REQUEST_VARIANTS))
def test_same_answer_as_json(client, variant):
    arrays, fields = REQUEST_VARIANTS[variant]
    expected = assert_ranked(send(client, "json", arrays, **fields))
    body = assert_ranked(send(client, "npy", arrays, **fields))
    assert body == expected
    assert not set(body["indices"]) & set(fields.get("exclude", []))


def test_fields_in_a_literal_query_string(client):
    body = assert_ranked(
        post_npy(
            client,
            npy_bytes(np.array(SMALL_POOL)),
            "strategy=margin&budget=2&exclude=0&return_all_scores=true",
        )
    )
    assert body["indices"] == [2, 1]
    assert body["scores"] == pytest.approx([0.8, 0.2])
    assert body["all_scores"] == pytest.approx([1.0, 0.2, 0.8])


def test_logits_with_temperature_as_a_plain_query_key(client):
    logits = np.array([[2.0, 0.0], [0.0, 0.0], [1.0, -1.0]])
    body = assert_ranked(
        post_npy(
            client,
            npy_bytes(logits),
            "strategy=least_confidence&budget=3&input=logits&temperature=2&return_all_scores=1",
        )
    )
    # softmax([2, 0] / 2) = [e / (e + 1), 1 / (e + 1)]
    top = np.e / (np.e + 1)
    assert body["all_scores"] == pytest.approx([1 - top, 0.5, 1 - top], rel=1e-12)
    assert body["indices"] == [1, 0, 2]


@pytest.mark.parametrize("kind", ["npy", "multipart"])
@pytest.mark.parametrize("strategy", ["margin", "entropy"])
def test_float32_scores_round_trip_as_float32(client, kind, strategy):
    probs32 = dirichlet_pool(50, 4, seed=7, dtype=np.float32)
    fields = {"strategy": strategy, "budget": 10, "return_all_scores": True}
    body = assert_ranked(send(client, kind, {"probabilities": probs32}, **fields))
    # Each number is printed as the shortest text that reads back as the float32.
    for score in body["all_scores"]:
        assert score == float(str(np.float32(score)))
    # The float64 JSON path over the same values agrees up to float32 rounding,
    # yet the scores were computed in float32, not float64.
    wide = assert_ranked(send(client, "json", {"probabilities": probs32}, **fields))
    assert body["indices"] == wide["indices"]
    assert body["all_scores"] == pytest.approx(wide["all_scores"], rel=1e-6, abs=1e-7)
    assert body["all_scores"] != wide["all_scores"]
    if strategy == "margin":
        assert np.array(body["all_scores"], dtype=np.float32).tolist() == (
            margin32(probs32).tolist()
        )


@pytest.mark.parametrize("dtype", ["float16", "int8", "uint8"])
def test_narrow_types_are_scored_in_float32(client, dtype):
    pool = np.array([[1, 0], [0, 1], [1, 0]]) if "int" in dtype else np.array(SMALL_POOL)
    array = pool.astype(dtype)
    body = assert_ranked(
        post_npy(client, npy_bytes(array), "strategy=margin&budget=3&return_all_scores=true")
    )
    assert np.array(body["all_scores"], dtype=np.float32).tolist() == margin32(array).tolist()
    for score in body["all_scores"]:
        assert score == float(str(np.float32(score)))


def test_unseeded_random_returns_the_seed_that_reproduces_it(client):
    body = npy_bytes(dirichlet_pool(20, 3, seed=8))
    query = "strategy=random&budget=4&return_all_scores=true"
    drawn = assert_ranked(post_npy(client, body, query))
    assert 0 <= drawn["seed"] < 2**53
    replay = assert_ranked(post_npy(client, body, f"{query}&seed={drawn['seed']}"))
    assert replay == drawn


def test_fortran_order_is_read_like_c_order(client):
    probs = dirichlet_pool(20, 3, seed=9)
    query = "strategy=entropy&budget=5&return_all_scores=true"
    c_order = assert_ranked(post_npy(client, npy_bytes(probs), query))
    fortran = assert_ranked(post_npy(client, npy_bytes(np.asfortranarray(probs)), query))
    assert fortran == c_order


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)], ids=lambda v: f"v{v[0]}.{v[1]}")
@pytest.mark.parametrize("byte_order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_format_versions_and_byte_orders(client, version, byte_order):
    probs = dirichlet_pool(12, 3, seed=10)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, probs.astype(byte_order + "f8"), version=version)
    query = "strategy=margin&budget=4&return_all_scores=true"
    expected = assert_ranked(post_npy(client, npy_bytes(probs), query))
    assert assert_ranked(post_npy(client, buffer.getvalue(), query)) == expected


@pytest.mark.parametrize("variant", ["margin", "exclude", "random-seeded", "logits-temperature"])
def test_small_chunks_give_the_same_answer(app, client, variant):
    arrays, fields = REQUEST_VARIANTS[variant]
    whole = assert_ranked(send(client, "npy", arrays, **fields))
    app.config["CHUNK_BYTES"] = 3 * 4 * 8  # three rows of four float64 per chunk
    chunked = assert_ranked(send(client, "npy", arrays, **fields))
    assert chunked == whole
