"""Request ids, the JSON access log and the metrics, in one process."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from prometheus_client import REGISTRY

from service.web.observability import REQUEST_ID_HEADER
from tests.web.helpers import RANK, SMALL_POOL, dirichlet_pool

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def sample(name: str, **labels: str) -> float:
    """A metric sample's current value in this process (0 when never set)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def log_lines(captured: str) -> list[dict[str, object]]:
    """The access log's JSON lines in captured stderr."""
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


# Request ids


@pytest.mark.parametrize(
    "given", ["abc", "4bf92f3577b34da6a3ce929d0e0e4736", "job-17.batch:3_a", "x" * 128]
)
def test_a_usable_request_id_is_echoed(client, given):
    response = client.get("/healthz", headers={REQUEST_ID_HEADER: given})
    assert response.headers[REQUEST_ID_HEADER] == given


@pytest.mark.parametrize("given", ["", "x" * 129, "has space", "semi;colon", "caf\u00e9", "a/b"])
def test_an_unusable_request_id_is_replaced(client, given):
    response = client.get("/healthz", headers={REQUEST_ID_HEADER: given})
    assert GENERATED_ID.fullmatch(response.headers[REQUEST_ID_HEADER])
    assert response.headers[REQUEST_ID_HEADER] != given


def test_each_request_without_an_id_gets_a_fresh_one(client):
    ids = {client.get("/healthz").headers[REQUEST_ID_HEADER] for _ in range(5)}
    assert len(ids) == 5
    assert all(GENERATED_ID.fullmatch(request_id) for request_id in ids)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", RANK, {"strategy": "margin", "budget": 9, "probabilities": SMALL_POOL}),
        ("post", RANK, {"strategy": "nope", "budget": 1, "probabilities": SMALL_POOL}),
        ("get", "/no-such-path", None),
        ("get", RANK, None),
        ("get", "/v1/models/sha256:" + "0" * 64, None),
    ],
)
def test_problem_bodies_name_the_request(client, method, path, body):
    response = getattr(client, method)(path, json=body, headers={REQUEST_ID_HEADER: "trace-42"})
    assert response.status_code >= 400
    assert response.headers[REQUEST_ID_HEADER] == "trace-42"
    problem = response.get_json()
    assert problem["instance"] == "urn:alrank:request:trace-42"
    assert problem["request_id"] == "trace-42"


# The access log


def test_one_log_line_per_request_with_the_work_but_never_the_payload(client, capsys):
    pool = dirichlet_pool(7, 3, seed=5)
    capsys.readouterr()
    response = client.post(
        RANK,
        json={"strategy": "entropy", "budget": 2, "probabilities": pool.tolist()},
        headers={REQUEST_ID_HEADER: "log-me"},
    )
    assert response.status_code == 200
    captured = capsys.readouterr().err
    (line,) = log_lines(captured)
    assert line["request_id"] == "log-me"
    assert line["method"] == "POST"
    assert line["route"] == RANK
    assert line["status"] == 200
    assert line["strategy"] == "entropy"
    assert line["budget"] == 2
    assert line["rows"] == 7
    assert line["input"] == "probabilities"
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    # No number of the pool appears in the log.
    for value in pool.ravel()[:5]:
        assert repr(float(value)) not in captured


def test_an_error_line_names_the_problem_type(client, capsys):
    capsys.readouterr()
    response = client.post(RANK, json={"strategy": "margin", "budget": 0})
    assert response.status_code == 422
    (line,) = log_lines(capsys.readouterr().err)
    assert line["status"] == 422
    assert line["problem"] == "invalid-input"
    assert line["route"] == RANK


def test_an_unmatched_path_is_logged_as_unmatched(client, capsys):
    capsys.readouterr()
    client.get("/no/such/thing")
    (line,) = log_lines(capsys.readouterr().err)
    assert line["route"] == "unmatched"
    assert line["path"] == "/no/such/thing"
    assert line["status"] == 404


def test_the_access_log_can_be_switched_off(capsys):
    from service.app import create_app

    app = create_app({"TESTING": True, "ACCESS_LOG": False})
    capsys.readouterr()
    assert app.test_client().get("/healthz").status_code == 200
    assert log_lines(capsys.readouterr().err) == []


# Metrics (one process: the counters live in this process's registry)


def test_requests_are_counted_by_route_method_and_status(client):
    labels = {"route": "/healthz", "method": "GET", "status": "200"}
    before = sample("alrank_http_requests_total", **labels)
    for _ in range(3):
        client.get("/healthz")
    assert sample("alrank_http_requests_total", **labels) == before + 3


def test_latency_is_observed_per_route(client):
    labels = {"route": "/readyz", "method": "GET"}
    before = sample("alrank_http_request_duration_seconds_count", **labels)
    client.get("/readyz")
    client.get("/readyz")
    assert sample("alrank_http_request_duration_seconds_count", **labels) == before + 2


def test_rejections_are_counted_by_reason(client):
    before = {
        reason: sample("alrank_rejections_total", reason=reason)
        for reason in ("invalid-input", "malformed-body", "method-not-allowed")
    }
    client.post(RANK, json={"strategy": "margin", "budget": 0, "probabilities": SMALL_POOL})
    client.post(RANK, json={"strategy": "margin", "budget": 0, "probabilities": SMALL_POOL})
    client.post(RANK, data=b"{", content_type="application/json")
    client.get(RANK)
    assert sample("alrank_rejections_total", reason="invalid-input") == before["invalid-input"] + 2
    assert (
        sample("alrank_rejections_total", reason="malformed-body") == before["malformed-body"] + 1
    )
    assert (
        sample("alrank_rejections_total", reason="method-not-allowed")
        == before["method-not-allowed"] + 1
    )


def test_pool_rows_are_observed_per_strategy(client):
    count = "alrank_pool_rows_count"
    total = "alrank_pool_rows_sum"
    before = (sample(count, strategy="ratio"), sample(total, strategy="ratio"))
    for n in (4, 40):
        pool = dirichlet_pool(n, 3, seed=n).tolist()
        response = client.post(RANK, json={"strategy": "ratio", "budget": 1, "probabilities": pool})
        assert response.status_code == 200
    assert sample(count, strategy="ratio") == before[0] + 2
    assert sample(total, strategy="ratio") == before[1] + 44


def test_inference_and_model_load_are_timed(client):
    features = np.random.default_rng(3).uniform(0, 16, size=(30, 64)).round().tolist()
    inference_before = sample("alrank_inference_seconds_count")
    response = client.post(
        RANK,
        json={"strategy": "margin", "budget": 2, "features": features, "model": "digits-logreg"},
    )
    assert response.status_code == 200
    assert sample("alrank_inference_seconds_count") == inference_before + 1
    # The bundled model's session was created at least once in this process.
    assert sample("alrank_model_load_seconds_count") >= 1


def test_metrics_are_served_in_the_text_format(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    for name in (
        "alrank_http_requests_total",
        "alrank_http_request_duration_seconds_bucket",
        "alrank_rejections_total",
        "alrank_rankings_in_progress",
    ):
        assert name in text


def test_invented_methods_share_one_label(client):
    labels = {"route": "unmatched", "method": "other", "status": "405"}
    before = sample("alrank_http_requests_total", **labels)
    for method in ("ZZ0X", "BREW", "PROPFIND"):
        assert client.open("/healthz", method=method).status_code == 405
    assert sample("alrank_http_requests_total", **labels) == before + 3
    for method in ("ZZ0X", "BREW", "PROPFIND"):
        assert sample("alrank_http_requests_total", route="unmatched", method=method) == 0
