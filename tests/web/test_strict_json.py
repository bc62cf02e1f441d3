"""JSON bodies are read strictly; text fields (query, form) are parsed."""

from __future__ import annotations

import json

import pytest

from tests.web.helpers import RANK, assert_problem, npy_bytes

POOL = [[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]]
LOGITS = [[1.0, 0.0], [3.0, 0.0], [0.5, 0.0]]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"normalize": 1}, "normalize"),
        ({"return_all_scores": 0}, "return_all_scores"),
        ({"return_all_scores": "true"}, "return_all_scores"),
        ({"selection": {"method": "power", "beta": "2"}}, "selection.beta"),
        ({"selection": {"method": "power", "beta": True}}, "selection.beta"),
    ],
    ids=["normalize-1", "all-scores-0", "all-scores-string", "beta-string", "beta-true"],
)
def test_json_fields_of_the_wrong_type_are_refused(client, extra, field):
    body = {"strategy": "margin", "budget": 1, "probabilities": POOL} | extra
    assert_problem(client.post(RANK, json=body), 422, field)


@pytest.mark.parametrize("temperature", ["2", True, None], ids=["string", "boolean", "null"])
def test_json_params_of_the_wrong_type_are_refused(client, temperature):
    body = {
        "strategy": "margin",
        "budget": 1,
        "logits": LOGITS,
        "params": {"temperature": temperature},
    }
    assert_problem(client.post(RANK, json=body), 422, "params.temperature")


def test_integers_written_with_a_zero_fraction_are_integers(client):
    """JSON Schema counts 2.0 as an integer, and so does the service (2.5 is refused)."""
    pool = [[0.5, 0.5], [0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.55, 0.45]]
    written_as_floats = {
        "strategy": "cluster_margin",
        "budget": 2.0,
        "seed": 7.0,
        "exclude": [1.0],
        "probabilities": pool,
        "embeddings": [[0.0], [1.0], [2.0], [3.0], [4.0]],
        "params": {"candidates": 3.0, "clusters": 2.0},
    }
    as_integers = written_as_floats | {
        "budget": 2,
        "seed": 7,
        "exclude": [1],
        "params": {"candidates": 3, "clusters": 2},
    }
    floats = client.post(RANK, json=written_as_floats)
    integers = client.post(RANK, json=as_integers)
    assert floats.status_code == 200, floats.get_data(as_text=True)
    assert floats.get_json() == integers.get_json()
    assert 1 not in floats.get_json()["indices"]


def test_query_params_are_parsed_from_text(client):
    response = client.post(
        f"{RANK}?strategy=margin&budget=1&input=logits&temperature=2",
        data=npy_bytes(LOGITS),
        content_type="application/x-npy",
    )
    assert response.status_code == 200
    assert response.get_json()["indices"] == [2]


@pytest.mark.parametrize(
    "body",
    [b"garbage without any boundary", b"--other\r\nContent-Disposition: form-data\r\n\r\nx"],
    ids=["garbage", "wrong-boundary"],
)
def test_an_unparseable_multipart_body_is_a_400(client, body):
    response = client.post(
        f"{RANK}?strategy=margin&budget=1",
        data=body,
        content_type="multipart/form-data; boundary=xyz",
    )
    assert_problem(response, 400, "body", says=("multipart",))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seed", -(2**63) - 1),
        ("seed", 10**20),
        ("seed", 10**40),
        ("budget", 10**30),
        ("exclude", [10**20]),
    ],
)
def test_integers_beyond_64_bits_are_422_naming_the_field(client, field, value):
    body = {"strategy": "margin", "budget": 1, "probabilities": [[0.5, 0.5], [0.9, 0.1]]}
    body[field] = value
    response = client.post(RANK, data=json.dumps(body), content_type="application/json")
    assert_problem(response, 422, field)


def test_a_huge_integer_probability_is_422(client):
    body = '{"strategy": "margin", "budget": 1, "probabilities": [[100000000000000000000, 0]]}'
    response = client.post(RANK, data=body, content_type="application/json")
    assert_problem(response, 422, "probabilities")
