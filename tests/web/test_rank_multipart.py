"""POST /v1/rank as multipart/form-data: .npy parts named by role, scalar form fields."""

from __future__ import annotations

import errno
import io
import os

import numpy as np
import pytest
from flask import Request

from tests.web.helpers import (
    RANK,
    REQUEST_VARIANTS,
    SMALL_POOL,
    assert_problem,
    assert_ranked,
    dirichlet_pool,
    npy_bytes,
    send,
)


def npy_part(array: np.ndarray, filename: str = "pool.npy") -> tuple[io.BytesIO, str]:
    return io.BytesIO(npy_bytes(array)), filename


@pytest.mark.parametrize("variant", list(REQUEST_VARIANTS))
def test_same_answer_as_json(client, variant):
    arrays, fields = REQUEST_VARIANTS[variant]
    expected = assert_ranked(send(client, "json", arrays, **fields))
    body = assert_ranked(send(client, "multipart", arrays, **fields))
    assert body == expected
    assert not set(body["indices"]) & set(fields.get("exclude", []))


def test_form_fields_like_curl_dash_f(client):
    response = client.post(
        RANK,
        data={
            "strategy": "margin",
            "budget": "2",
            "exclude": "0",
            "return_all_scores": "true",
            "probabilities": npy_part(np.array(SMALL_POOL), "probs.npy"),
        },
        content_type="multipart/form-data",
    )
    body = assert_ranked(response)
    assert body["indices"] == [2, 1]
    assert body["scores"] == pytest.approx([0.8, 0.2])
    assert body["all_scores"] == pytest.approx([1.0, 0.2, 0.8])


def test_logits_part_with_temperature_field(client):
    logits = np.array([[2.0, 0.0], [0.0, 0.0], [1.0, -1.0]])
    response = client.post(
        RANK,
        data={
            "strategy": "least_confidence",
            "budget": "3",
            "temperature": "2",
            "logits": npy_part(logits),
        },
        content_type="multipart/form-data",
    )
    body = assert_ranked(response)
    top = np.e / (np.e + 1)
    assert body["scores"] == pytest.approx([0.5, 1 - top, 1 - top], rel=1e-12)
    assert body["indices"] == [1, 0, 2]


def test_unseeded_random_returns_the_seed_that_reproduces_it(client):
    arrays = {"probabilities": dirichlet_pool(20, 3, seed=11)}
    fields = {"strategy": "random", "budget": 4, "return_all_scores": True}
    drawn = assert_ranked(send(client, "multipart", arrays, **fields))
    assert 0 <= drawn["seed"] < 2**53
    for kind in ("multipart", "json", "npy"):
        replay = assert_ranked(send(client, kind, arrays, **fields, seed=drawn["seed"]))
        assert replay == drawn, kind


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_no_room_to_spool_parts_is_503_not_500(client, monkeypatch, code):
    def full_disk(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Request, "_get_file_stream", full_disk)
    pool = dirichlet_pool(10, 3, seed=4)
    response = client.post(
        RANK,
        data={"strategy": "margin", "budget": "2", "probabilities": npy_part(pool)},
        content_type="multipart/form-data",
    )
    assert_problem(response, 503, None, says=("temporary directory", "application/x-npy"))
    assert response.headers["Retry-After"].isdigit()


def test_another_spooling_failure_stays_a_server_error(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "input/output error")

    monkeypatch.setattr(Request, "_get_file_stream", broken)
    response = client.post(
        RANK,
        data={"strategy": "margin", "budget": "2", "probabilities": npy_part(dirichlet_pool(4, 3))},
        content_type="multipart/form-data",
    )
    assert response.status_code == 500
    assert "input/output" not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["probabilities", "embeddings"])
def test_an_array_sent_as_a_text_field_is_422_naming_it(client, role):
    pool = dirichlet_pool(4, 3, seed=2)
    response = client.post(
        RANK,
        data={"strategy": "margin", "budget": "1", role: npy_bytes(pool).decode("latin-1")},
        content_type="multipart/form-data",
    )
    assert_problem(response, 422, role, says=("file part", f"-F {role}=@"))
