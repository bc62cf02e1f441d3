"""params.embeddings_output: one model run gives the class scores and the
embeddings, so batch strategies rank from features and a model alone."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from service.app import create_app
from tests.contract import ContractClient
from tests.models.builders import two_layer, two_layer_reference
from tests.web.helpers import assert_problem, assert_ranked, send

WIDTH, EMBEDDED, CLASSES, ROWS = 6, 5, 3, 60


def _weights(seed: int = 4) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(WIDTH, EMBEDDED)),
        rng.normal(size=EMBEDDED) * 0.1,
        rng.normal(size=(EMBEDDED, CLASSES)),
        rng.normal(size=CLASSES) * 0.1,
    )


WEIGHTS = _weights()
MODEL = two_layer(*WEIGHTS)


def _features(rows: int = ROWS, seed: int = 9) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, WIDTH)).astype(np.float32)


def _upload(client) -> str:
    response = client.post("/v1/models", data=MODEL, content_type="application/octet-stream")
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return str(response.get_json()["id"])


def _model_outputs(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    probabilities, hidden = session.run(["probabilities", "hidden"], {"features": features})
    return probabilities, hidden


def test_the_model_outputs_are_the_hand_computed_layers():
    features = _features()
    probabilities, hidden = _model_outputs(features)
    expected_probabilities, expected_hidden = two_layer_reference(features, *WEIGHTS)
    np.testing.assert_allclose(probabilities, expected_probabilities, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hidden, expected_hidden, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("strategy", ["badge", "cluster_margin", "coreset"])
@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_a_batch_strategy_ranks_from_features_as_from_the_models_arrays(client, strategy, kind):
    model_id = _upload(client)
    features = _features()
    probabilities, hidden = _model_outputs(features)
    from_features = assert_ranked(
        send(
            client,
            kind,
            {"features": features},
            strategy=strategy,
            budget=5,
            seed=3,
            model=model_id,
            params={"embeddings_output": "hidden"},
        )
    )
    sent = (
        {"embeddings": hidden}
        if strategy == "coreset"
        else {"probabilities": probabilities, "embeddings": hidden}
    )
    from_arrays = assert_ranked(send(client, "json", sent, strategy=strategy, budget=5, seed=3))
    assert from_features["indices"] == from_arrays["indices"]
    assert from_features["model"] == model_id


def test_the_npy_path_takes_the_parameter_in_the_query(client):
    model_id = _upload(client)
    features = _features()
    _, hidden = _model_outputs(features)
    fields = {"strategy": "coreset", "budget": 4, "model": model_id}
    from_features = assert_ranked(
        send(
            client, "npy", {"features": features}, **fields, params={"embeddings_output": "hidden"}
        )
    )
    from_arrays = assert_ranked(
        send(client, "npy", {"embeddings": hidden}, strategy="coreset", budget=4)
    )
    assert from_features["indices"] == from_arrays["indices"]


@pytest.mark.parametrize(
    ("strategy", "params", "extra", "status", "field", "says"),
    [
        ("badge", {"embeddings_output": "nope"}, {}, 422, "params.embeddings_output", "no output"),
        ("badge", {"embeddings_output": "label"}, {}, 422, "params.embeddings_output", "N x E"),
        (
            "margin",
            {"embeddings_output": "hidden"},
            {},
            422,
            "params.embeddings_output",
            "no embeddings",
        ),
        (
            "badge",
            {"embeddings_output": "hidden"},
            {"embeddings": np.zeros((ROWS, EMBEDDED))},
            422,
            "params.embeddings_output",
            "not both",
        ),
        ("badge", {"embeddings_output": 3}, {}, 422, "params.embeddings_output", ""),
    ],
    ids=["unknown-output", "not-2d", "pointwise", "both", "not-a-string"],
)
def test_bad_embeddings_outputs_name_the_parameter(
    client, strategy, params, extra, status, field, says
):
    model_id = _upload(client)
    arrays = {"features": _features(), **extra}
    response = send(
        client, "json", arrays, strategy=strategy, budget=2, model=model_id, params=params
    )
    assert_problem(response, status, field, says=(says,) if says else ())


def test_both_outputs_held_whole_are_bounded_like_a_body(tmp_path):
    # 60 rows x (3 + 5) float32 = 1,920 bytes, more than a 1,000-byte body.
    app = create_app({"TESTING": True, "MODEL_DIR": str(tmp_path / "m"), "MAX_NPY_BYTES": 1000})
    app.test_client_class = ContractClient
    client = app.test_client()
    model_id = _upload(client)
    response = send(
        client,
        "json",
        {"features": _features()},
        strategy="badge",
        budget=2,
        model=model_id,
        params={"embeddings_output": "hidden"},
    )
    assert_problem(response, 413, "features", says=("1920 bytes",))
