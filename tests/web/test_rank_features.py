"""Ranking raw features through an ONNX model gives the ranking of its probabilities."""

from __future__ import annotations

import io

import numpy as np
import onnxruntime as ort
import pytest

from service.app import create_app
from tests.contract import ContractClient
from tests.models.builders import (
    linear,
    small_classifier,
    softmax_reference,
    widening,
    widening_reference,
)
from tests.web.helpers import assert_problem, assert_ranked, npy_bytes, send

BUNDLED = "models/digits-logreg.onnx"


def upload(client, data: bytes) -> str:
    response = client.post("/v1/models", data=data, content_type="application/octet-stream")
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()["id"]


def pool(width: int = 5, n: int = 40) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, width)).astype(np.float32)


@pytest.mark.parametrize("kind", ["json", "npy", "multipart"])
@pytest.mark.parametrize("strategy", ["margin", "entropy", "least_confidence"])
def test_features_rank_like_the_hand_computed_probabilities(client, kind, strategy):
    weights, bias = small_classifier()
    model_id = upload(client, linear(weights, bias))
    features = pool()
    probs = softmax_reference(features, weights, bias).astype(np.float32)
    through_model = assert_ranked(
        send(client, kind, {"features": features}, strategy=strategy, budget=7, model=model_id)
    )
    direct = assert_ranked(
        send(client, "npy", {"probabilities": probs}, strategy=strategy, budget=7)
    )
    assert through_model["indices"] == direct["indices"]
    np.testing.assert_allclose(through_model["scores"], direct["scores"], atol=1e-5)
    assert through_model["model"] == model_id


def test_the_bundled_model_is_addressed_by_name(client):
    features = np.random.default_rng(2).uniform(0, 16, size=(60, 64)).astype(np.float32)
    session = ort.InferenceSession(BUNDLED, providers=["CPUExecutionProvider"])
    probs = session.run(["probabilities"], {"pixels": features})[0]
    through_model = assert_ranked(
        send(
            client,
            "json",
            {"features": features},
            strategy="margin",
            budget=5,
            model="digits-logreg",
        )
    )
    direct = assert_ranked(
        send(client, "npy", {"probabilities": probs}, strategy="margin", budget=5)
    )
    assert through_model["indices"] == direct["indices"]
    assert through_model["model"].startswith("sha256:")


def test_logit_outputs_are_ranked_as_logits(client):
    weights, bias = small_classifier()
    model_id = upload(client, linear(weights, bias, softmax=False, output_name="logits"))
    features = pool()
    body = assert_ranked(
        send(
            client,
            "json",
            {"features": features},
            strategy="entropy",
            budget=5,
            model=model_id,
            params={"output_kind": "logits"},
        )
    )
    expected = softmax_reference(features, weights, bias)
    entropy = -(expected * np.log(expected)).sum(axis=1)
    assert body["indices"] == sorted(range(len(entropy)), key=lambda i: (-entropy[i], i))[:5]


@pytest.mark.parametrize(
    ("arrays", "fields", "status", "field"),
    [
        ({"features": pool()}, {}, 422, "model"),
        ({"features": pool()}, {"model": "no-such-model"}, 404, "model"),
        ({"features": pool()}, {"model": "sha256:" + "0" * 64}, 404, "model"),
        ({"features": pool(width=4)}, {"model": "UPLOADED"}, 422, "features"),
        ({"features": pool()}, {"model": "UPLOADED", "params": {"output": "nope"}}, 422, "output"),
        (
            {"features": pool()},
            {"model": "UPLOADED", "params": {"output_kind": "odds"}},
            422,
            "params.output_kind",
        ),
        ({"probabilities": [[0.5, 0.5]]}, {"model": "UPLOADED"}, 422, "features"),
    ],
    ids=[
        "no-model",
        "unknown-name",
        "unknown-id",
        "wrong-width",
        "unknown-output",
        "bad-output-kind",
        "model-without-features",
    ],
)
def test_bad_feature_requests_name_the_field(client, arrays, fields, status, field):
    weights, bias = small_classifier()
    model_id = upload(client, linear(weights, bias))
    fields = {key: model_id if value == "UPLOADED" else value for key, value in fields.items()}
    response = send(client, "json", arrays, strategy="margin", budget=1, **fields)
    assert_problem(response, status, field)


def test_a_multipart_model_part_is_used_once_and_not_stored(client):
    weights, bias = small_classifier(seed=3)
    data = linear(weights, bias)
    features = pool()
    response = client.post(
        "/v1/rank",
        data={
            "strategy": "margin",
            "budget": "4",
            "features": (io.BytesIO(npy_bytes(features)), "features.npy"),
            "model": (io.BytesIO(data), "model.onnx"),
        },
        content_type="multipart/form-data",
    )
    body = assert_ranked(response)
    probs = softmax_reference(features, weights, bias)
    top_two = np.sort(probs, axis=1)[:, -2:]
    margin = 1 - (top_two[:, 1] - top_two[:, 0])
    assert body["indices"] == sorted(range(len(margin)), key=lambda i: (-margin[i], i))[:4]
    stored = {model["id"] for model in client.get("/v1/models").get_json()["models"]}
    assert body["model"] not in stored


def test_a_bad_multipart_model_part_is_refused_naming_model(client):
    response = client.post(
        "/v1/rank",
        data={
            "strategy": "margin",
            "budget": "1",
            "features": (io.BytesIO(npy_bytes(pool())), "features.npy"),
            "model": (io.BytesIO(b"not an onnx model"), "model.onnx"),
        },
        content_type="multipart/form-data",
    )
    assert_problem(response, 422, "model")


@pytest.fixture
def tight_client(tmp_path):
    """A client whose workers may hold 16 MiB for inference."""
    app = create_app(
        {"TESTING": True, "MODEL_DIR": str(tmp_path / "models"), "INFERENCE_MEMORY_BYTES": 16 << 20}
    )
    app.test_client_class = ContractClient
    return app.test_client()


def _rank_with_model_part(client, data: bytes, features: np.ndarray):
    return client.post(
        "/v1/rank",
        data={
            "strategy": "least_confidence",
            "budget": "3",
            "features": (io.BytesIO(npy_bytes(features)), "features.npy"),
            "model": (io.BytesIO(data), "model.onnx"),
        },
        content_type="multipart/form-data",
    )


def test_a_model_part_over_the_inference_budget_is_refused_naming_model(tight_client):
    # 10 million float32 per row in each wide tensor: 40 MB for one row.
    features = pool(width=4, n=5).astype(np.float32)
    response = _rank_with_model_part(tight_client, widening(2_500_000), features)
    assert_problem(response, 422, "model", says=("inference memory budget of 16 MiB", "one row"))


def test_a_wide_model_part_ranks_in_runs_that_fit_the_budget(tight_client):
    # 40 KB per row: the 2,000 rows (80 MB at once) run within 8 MiB at a time.
    features = pool(width=4, n=2000).astype(np.float32)
    response = _rank_with_model_part(tight_client, widening(1250, reduce=True), features)
    body = assert_ranked(response)
    reference = 1 - widening_reference(features, 1250, reduce=True).max(axis=1)
    assert reference[body["indices"]].min() >= np.sort(reference)[-3] - 1e-6


def test_a_stored_model_describes_its_footprint(tight_client):
    uploaded = tight_client.post(
        "/v1/models", data=widening(1250), content_type="application/octet-stream"
    )
    assert uploaded.status_code == 201
    memory = uploaded.get_json()["memory"]
    assert memory["bytes_per_row"] >= 2 * 4 * 5000
    described = tight_client.get(f"/v1/models/{uploaded.get_json()['id']}").get_json()
    assert described["memory"] == memory


def test_a_batch_strategy_refuses_a_model_output_larger_than_a_body(tmp_path):
    # 200 rows of the digits model's 10 float32 probabilities: 8,000 bytes held
    # whole by badge, more than a 4,000-byte body; margin streams them.
    app = create_app(
        {"TESTING": True, "MODEL_DIR": str(tmp_path / "models"), "MAX_NPY_BYTES": 4000}
    )
    app.test_client_class = ContractClient
    client = app.test_client()
    rng = np.random.default_rng(2)
    features = rng.integers(0, 17, size=(200, 64)).astype(np.float32)
    embeddings = rng.normal(size=(200, 3))
    arrays = {"features": features, "embeddings": embeddings}
    response = send(client, "json", arrays, strategy="badge", budget=2, model="digits-logreg")
    assert_problem(response, 413, "features", says=("8000 bytes", "pointwise"))
    streamed = send(
        client, "json", {"features": features}, strategy="margin", budget=2, model="digits-logreg"
    )
    assert_ranked(streamed)
    fewer = {"features": features[:50], "embeddings": embeddings[:50]}
    assert_ranked(send(client, "json", fewer, strategy="badge", budget=2, model="digits-logreg"))


def test_a_temperature_beyond_float32_ranks_float32_logits_as_uniform(client):
    # Dividing by 1e300 or by float32's largest value gives the same all-but-zero
    # logits; neither the check nor the softmax may overflow casting it.
    logits = np.array([[1.0, 2.0], [0.0, 5.0], [3.0, 3.0]], dtype=np.float32)
    response = send(
        client,
        "npy",
        {"logits": logits},
        strategy="margin",
        budget=3,
        params={"temperature": 1e300},
    )
    body = assert_ranked(response)
    assert body["scores"] == pytest.approx([1.0, 1.0, 1.0])
