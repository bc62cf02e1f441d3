"""The service under a real gunicorn: metrics summed over workers, request ids,
and health answered while every compute slot is busy."""

from __future__ import annotations

import http.client
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.server import HOST, Server, running_server

# Enough single requests that both workers surely served some; the test
# checks that they did rather than trusting it.
MAX_ROUNDS = 400
RANK_BODY = json.dumps(
    {"strategy": "margin", "budget": 1, "probabilities": [[0.5, 0.5], [0.9, 0.1]]}
).encode()
BAD_BODY = json.dumps({"strategy": "margin", "budget": 5, "probabilities": [[0.5, 0.5]]}).encode()


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: (status, headers, body)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        sent_headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=sent_headers | (headers or {}))
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def served_pids(log_path: Path) -> dict[str, int]:
    """Request id -> the pid of the worker that logged it."""
    pids = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            pids[entry["request_id"]] = entry["pid"]
    return pids


def counter(text: str, name: str, **labels: str) -> float:
    """The value of one labelled sample in a Prometheus text exposition."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory) -> Iterator[Server]:
    with running_server(
        tmp_path_factory.mktemp("gunicorn"), {"ALRANK_WORKERS": "2", "ALRANK_LOG_LEVEL": "info"}
    ) as server:
        yield server


def test_metrics_count_every_request_across_two_workers(two_workers):
    port = two_workers.port
    sent = {"health": 0, "ranked": 0, "rejected": 0}
    for round_number in range(MAX_ROUNDS):
        status, _, _ = request(
            port, "GET", "/healthz", headers={"X-Request-ID": f"h{round_number}"}
        )
        assert status == 200
        sent["health"] += 1
        if round_number % 4 == 0:
            assert request(port, "POST", "/v1/rank", RANK_BODY)[0] == 200
            assert request(port, "POST", "/v1/rank", BAD_BODY)[0] == 422
            sent["ranked"] += 1
            sent["rejected"] += 1
        pids = {pid for rid, pid in served_pids(two_workers.log_path).items() if rid[0] == "h"}
        if len(pids) == 2 and round_number >= 20:
            break
    assert len(pids) == 2, "one worker served every request"
    assert set(pids) == set(two_workers.worker_pids())

    text = request(port, "GET", "/metrics")[2].decode()
    total = "alrank_http_requests_total"
    assert counter(text, total, route="/healthz", method="GET", status="200") == sent["health"]
    assert counter(text, total, route="/v1/rank", method="POST", status="200") == sent["ranked"]
    assert counter(text, total, route="/v1/rank", method="POST", status="422") == sent["rejected"]
    assert counter(text, "alrank_rejections_total", reason="invalid-input") == sent["rejected"]
    assert counter(text, "alrank_pool_rows_count", strategy="margin") == sent["ranked"]
    assert counter(text, "alrank_pool_rows_sum", strategy="margin") == 2 * sent["ranked"]
    assert (
        counter(text, "alrank_http_request_duration_seconds_count", route="/healthz", method="GET")
        == sent["health"]
    )
    assert counter(text, "alrank_rankings_in_progress") == 0


def test_a_request_id_round_trips_through_gunicorn(two_workers):
    status, headers, body = request(
        two_workers.port, "POST", "/v1/rank", BAD_BODY, headers={"X-Request-ID": "pipeline-7.3"}
    )
    assert status == 422
    assert headers["X-Request-ID"] == "pipeline-7.3"
    assert json.loads(body)["instance"] == "urn:alrank:request:pipeline-7.3"
    assert "pipeline-7.3" in served_pids(two_workers.log_path)


def _start_upload(
    port: int, path: str, content_type: str, length: int
) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", content_type)
    connection.putheader("Content-Length", str(length))
    connection.endheaders()
    return connection


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_health_answers_and_rankings_get_503_while_the_only_slot_streams(tmp_path):
    pool = np.random.default_rng(0).dirichlet(np.ones(4), size=50_000).astype(np.float32)
    body = _npy(pool)
    settings = {
        "ALRANK_WORKERS": "1",
        "ALRANK_THREADS": "3",
        "ALRANK_COMPUTE_SLOTS": "1",
        "ALRANK_SLOT_WAIT_SECONDS": "0.2",
        "ALRANK_RETRY_AFTER_SECONDS": "2",
    }
    with running_server(tmp_path, settings) as server:
        slow = _start_upload(
            server.port, "/v1/rank?strategy=entropy&budget=3", "application/x-npy", len(body)
        )
        try:
            slow.send(body[: len(body) // 2])  # the ranking is in flight, its slot held
            for path in ("/healthz", "/readyz", "/metrics"):
                assert request(server.port, "GET", path)[0] == 200
            status, headers, problem = request(server.port, "POST", "/v1/rank", RANK_BODY)
            assert status == 503
            assert headers["Retry-After"] == "2"
            assert json.loads(problem)["type"] == "urn:alrank:problem:busy"
            slow.send(body[len(body) // 2 :])
            answer = slow.getresponse()
            ranked = json.loads(answer.read())
        finally:
            slow.close()
        assert answer.status == 200
        probs = pool.astype(np.float64)
        entropy = -(probs * np.log(np.maximum(probs, 1e-30))).sum(axis=1)
        # float32 scores: the picks are the top three up to float32 rounding.
        np.testing.assert_allclose(ranked["scores"], entropy[ranked["indices"]], atol=1e-5)
        assert min(ranked["scores"]) >= np.sort(entropy)[-4] - 1e-5
        # The slot is free again.
        assert request(server.port, "POST", "/v1/rank", RANK_BODY)[0] == 200


def test_a_stalled_upload_ends_and_frees_its_slot(tmp_path):
    body = _npy(np.random.default_rng(1).dirichlet(np.ones(4), size=20_000))
    settings = {
        "ALRANK_WORKERS": "1",
        "ALRANK_COMPUTE_SLOTS": "1",
        "ALRANK_SLOT_WAIT_SECONDS": "0",
        "ALRANK_BODY_READ_TIMEOUT_SECONDS": "1",
    }
    with running_server(tmp_path, settings) as server:
        stalled = _start_upload(
            server.port, "/v1/rank?strategy=margin&budget=2", "application/x-npy", len(body)
        )
        try:
            stalled.send(body[: len(body) // 3])  # and then nothing more
            answer = stalled.getresponse()
            problem = json.loads(answer.read())
        finally:
            stalled.close()
        assert answer.status == 400
        assert problem["status"] == 400
        # The slot is free again: the only one, with no wait.
        assert request(server.port, "POST", "/v1/rank", RANK_BODY)[0] == 200


def test_a_slow_json_sender_holds_no_slot_and_meets_the_deadline(tmp_path):
    settings = {
        "ALRANK_WORKERS": "1",
        "ALRANK_COMPUTE_SLOTS": "1",
        "ALRANK_SLOT_WAIT_SECONDS": "0",
        "ALRANK_COMPUTE_DEADLINE_SECONDS": "3",
    }
    with running_server(tmp_path, settings) as server:
        slow = _start_upload(server.port, "/v1/rank", "application/json", len(RANK_BODY))
        try:
            slow.send(RANK_BODY[:10])
            # The only slot is free while the slow body arrives.
            assert request(server.port, "POST", "/v1/rank", RANK_BODY)[0] == 200
            for byte in RANK_BODY[10:40]:  # one byte every 0.2 s: too slow for the deadline
                try:
                    slow.send(bytes([byte]))
                except OSError:
                    break  # the server has answered and closed
                time.sleep(0.2)
            answer = slow.getresponse()
            problem = json.loads(answer.read())
        finally:
            slow.close()
        assert answer.status == 504
        assert problem["type"] == "urn:alrank:problem:deadline-exceeded"
        assert request(server.port, "POST", "/v1/rank", RANK_BODY)[0] == 200


def test_recycled_workers_keep_their_counts_and_leave_no_files(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    settings = {
        "ALRANK_WORKERS": "1",
        "ALRANK_MAX_REQUESTS": "10",
        "ALRANK_MAX_REQUESTS_JITTER": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    with running_server(tmp_path, settings) as server:
        sent = 0
        while sent < 35:
            try:
                status = request(server.port, "GET", "/healthz")[0]
            except OSError:  # the worker is being replaced
                time.sleep(0.2)
                continue
            assert status == 200
            sent += 1
        # The 35 probes were served by four workers in turn; three are retired.
        text = request(server.port, "GET", "/metrics")[2].decode()
        counted = counter(text, "alrank_http_requests_total", route="/healthz", status="200")
        live_counter_files = list(metrics_dir.glob("counter_[0-9]*.db"))
    assert counted == sent
    # Three workers retired; only the live one has files of its own.
    assert len(live_counter_files) == 1
    assert (metrics_dir / "counter_archive.db").exists()
