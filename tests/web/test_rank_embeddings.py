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


def test_labeled_features_become_the_labeled_embeddings_of_coreset(client):
    model_id = _upload(client)
    features, labeled = _features(), _features(8, seed=11)
    _, hidden = _model_outputs(features)
    _, labeled_hidden = _model_outputs(labeled)
    from_features = assert_ranked(
        send(
            client,
            "multipart",
            {"features": features, "labeled_features": labeled},
            strategy="coreset",
            budget=6,
            model=model_id,
            params={"embeddings_output": "hidden"},
        )
    )
    sent = {"embeddings": hidden, "labeled_embeddings": labeled_hidden}
    from_arrays = assert_ranked(send(client, "json", sent, strategy="coreset", budget=6))
    unlabeled = assert_ranked(
        send(client, "json", {"embeddings": hidden}, strategy="coreset", budget=6)
    )
    assert from_features["indices"] == from_arrays["indices"]
    # The labeled set changed the picks: it was used, not dropped.
    assert from_arrays["indices"] != unlabeled["indices"]


@pytest.mark.parametrize(
    ("strategy", "arrays", "params", "says"),
    [
        (
            "coreset",
            {"labeled_features": np.zeros((4, WIDTH))},
            {"embeddings_output": "hidden"},
            "send features",
        ),
        ("coreset", {}, {}, "params.embeddings_output"),
        ("badge", {}, {"embeddings_output": "hidden"}, "no labeled embeddings"),
        (
            "coreset",
            {"labeled_embeddings": np.zeros((4, EMBEDDED))},
            {"embeddings_output": "hidden"},
            "not both",
        ),
        (
            "coreset",
            {"labeled_features": np.zeros((4, WIDTH + 1))},
            {"embeddings_output": "hidden"},
            "6 features",
        ),
    ],
    ids=["no-features", "no-embeddings-output", "strategy-takes-none", "both", "wrong-width"],
)
def test_bad_labeled_features_name_the_field(client, strategy, arrays, params, says):
    model_id = _upload(client)
    sent = {"features": _features(), "labeled_features": _features(4, seed=2), **arrays}
    if says == "send features":
        sent.pop("features")
    response = send(
        client, "json", sent, strategy=strategy, budget=2, model=model_id, params=params
    )
    assert_problem(response, 422, "labeled_features", says=(says,))
