"""Model management over HTTP: upload, list, describe, delete, API keys and refusals.

Responses are checked against openapi.yaml once it documents /v1/models.
"""

from __future__ import annotations

import hashlib

import pytest
from flask.testing import FlaskClient

from service.app import create_app
from service.config import Settings
from service.models.bundled import SOURCE_DIRECTORY
from service.web import models as model_routes
from tests.contract import ContractClient, spec_document
from tests.models import builders
from tests.web.helpers import assert_problem

MODELS = "/v1/models"
OCTET_STREAM = "application/octet-stream"
KEY = "s3cret-key"
WEIGHTS, BIAS = builders.small_classifier(width=4, classes=3)
MODEL = builders.linear(WEIGHTS, BIAS)
MODEL_ID = "sha256:" + hashlib.sha256(MODEL).hexdigest()
DIGITS_ID = (
    "sha256:" + hashlib.sha256((SOURCE_DIRECTORY / "digits-logreg.onnx").read_bytes()).hexdigest()
)
MLP_ID = "sha256:" + hashlib.sha256((SOURCE_DIRECTORY / "digits-mlp.onnx").read_bytes()).hexdigest()


def make_app(tmp_path, **config):
    """An app whose model store lives in ``tmp_path``."""
    app = create_app({"TESTING": True, "MODEL_DIR": str(tmp_path / "store"), **config})
    if model_routes.EXTENSION not in app.extensions:
        model_routes.init_app(app)
    documented = MODELS in spec_document().get("paths", {})
    app.test_client_class = ContractClient if documented else FlaskClient
    return app


@pytest.fixture
def client(tmp_path):
    return make_app(tmp_path).test_client()


@pytest.fixture
def keyed_client(tmp_path):
    return make_app(tmp_path, API_KEY=KEY).test_client()


def upload(client, data=MODEL, *, headers=None, **query):
    return client.post(
        MODELS, data=data, content_type=OCTET_STREAM, query_string=query, headers=headers or {}
    )


def test_upload_then_again(client):
    first = upload(client, name="tiny")
    assert first.status_code == 201, first.get_data(as_text=True)
    body = first.get_json()
    assert body["id"] == MODEL_ID
    assert body["name"] == "tiny"
    assert body["size"] == len(MODEL)
    assert body["bundled"] is False
    assert body["inputs"] == [
        {"name": "features", "type": "tensor(float)", "element_type": "float32", "shape": [None, 4]}
    ]
    assert [output["name"] for output in body["outputs"]] == ["label", "probabilities"]
    assert first.headers["Location"] == f"{MODELS}/{MODEL_ID}"
    again = upload(client, name="other")
    assert again.status_code == 200
    assert again.get_json() == body


def test_list_describe_delete(client):
    upload(client)
    listed = client.get(MODELS).get_json()["models"]
    assert [(model["id"], model["bundled"]) for model in listed] == [
        (DIGITS_ID, True),
        (MLP_ID, True),
        (MODEL_ID, False),
    ]
    assert [model["name"] for model in listed[:2]] == ["digits-logreg", "digits-mlp"]
    described = client.get(f"{MODELS}/{MODEL_ID}")
    assert described.status_code == 200
    assert described.get_json() == listed[2]
    deleted = client.delete(f"{MODELS}/{MODEL_ID}")
    assert deleted.status_code == 204
    assert deleted.get_data() == b""
    assert_problem(client.get(f"{MODELS}/{MODEL_ID}"), 404, "model", says=("no model",))
    assert_problem(client.delete(f"{MODELS}/{MODEL_ID}"), 404, "model")


BUNDLED_REFS = [
    ("digits-logreg", "digits-logreg", DIGITS_ID),
    (DIGITS_ID, "digits-logreg", DIGITS_ID),
    ("digits-mlp", "digits-mlp", MLP_ID),
    (MLP_ID, "digits-mlp", MLP_ID),
]


@pytest.mark.parametrize(("model_ref", "name", "model_id"), BUNDLED_REFS)
def test_bundled_model_by_name_or_id(client, model_ref, name, model_id):
    response = client.get(f"{MODELS}/{model_ref}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == model_id
    assert body["name"] == name
    assert body["bundled"] is True
    assert body["classes"] == list(range(10))
    assert body["created"] is None


def test_the_bundled_mlp_has_probabilities_and_embeddings(client):
    body = client.get(f"{MODELS}/digits-mlp").get_json()
    assert [(output["name"], output["shape"]) for output in body["outputs"]] == [
        ("probabilities", [None, 10]),
        ("embeddings", [None, 32]),
    ]


@pytest.mark.parametrize("model_ref", ["digits-logreg", DIGITS_ID, "digits-mlp", MLP_ID])
def test_bundled_models_are_read_only(client, model_ref):
    assert_problem(client.delete(f"{MODELS}/{model_ref}"), 403, "model", says=("read-only",))


@pytest.mark.parametrize(
    "model_ref",
    ["sha256:" + "f" * 64, "sha256:xyz", "..%2F..%2Fetc%2Fpasswd", "no-such-model", "%00"],
)
def test_unknown_models_are_404(client, model_ref):
    assert_problem(client.get(f"{MODELS}/{model_ref}"), 404)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"definitely not onnx", "do not parse as an ONNX model"),
        (builders.external_data(), "keeps its data in an external file"),
        (builders.external_data_in_subgraph(), "keeps its data in an external file"),
        (builders.custom_op(), "custom domain 'example.custom'"),
        (b"", "the body is empty"),
    ],
    ids=["malformed", "external-data", "external-in-subgraph", "custom-op", "empty"],
)
def test_refused_uploads_say_why(client, data, says):
    body = assert_problem(upload(client, data), 422, says=(says,))
    assert body["type"] == "urn:alrank:problem:model-rejected"
    listed = client.get(MODELS).get_json()["models"]
    assert [(model["id"], model["bundled"]) for model in listed] == [
        (DIGITS_ID, True),
        (MLP_ID, True),
    ]


def test_too_large_upload_is_413(tmp_path):
    client = make_app(tmp_path, MAX_MODEL_BYTES=len(MODEL) - 1).test_client()
    assert_problem(upload(client), 413, "body", says=(f"limit of {len(MODEL) - 1} bytes",))


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_upload_needs_octet_stream(client, content_type):
    response = client.post(MODELS, data=MODEL, content_type=content_type)
    assert_problem(response, 415, says=(OCTET_STREAM,))


@pytest.mark.parametrize("name", ["", "x" * 129, "line\nbreak"])
def test_bad_names_are_refused(client, name):
    assert_problem(upload(client, name=name), 422, "name")


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": f"Bearer {KEY}"}, {"X-API-Key": KEY}, {"Authorization": f"bearer {KEY}"}],
    ids=["bearer", "x-api-key", "lower-case-scheme"],
)
def test_the_api_key_opens_upload_and_delete(keyed_client, headers):
    assert upload(keyed_client, headers=headers).status_code == 201
    assert keyed_client.delete(f"{MODELS}/{MODEL_ID}", headers=headers).status_code == 204


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"Authorization": "Bearer wrong"}, 403),
        ({"X-API-Key": "wrong"}, 403),
        ({"X-API-Key": KEY + "x"}, 403),
    ],
    ids=["none", "basic", "empty-bearer", "wrong-bearer", "wrong-header", "longer"],
)
def test_upload_and_delete_without_the_key_are_refused(keyed_client, headers, status):
    response = upload(keyed_client, headers=headers)
    assert_problem(response, status)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(keyed_client.delete(f"{MODELS}/{DIGITS_ID}", headers=headers), status)


def test_reading_needs_no_key(keyed_client):
    assert keyed_client.get(MODELS).status_code == 200
    assert keyed_client.get(f"{MODELS}/digits-logreg").status_code == 200


def test_the_key_is_checked_before_the_body_is_read(tmp_path):
    client = make_app(tmp_path, API_KEY=KEY, MAX_MODEL_BYTES=10).test_client()
    assert_problem(upload(client), 401)


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"MAX_MODEL_BYTES": 0}, "ALRANK_MAX_MODEL_BYTES must be a positive integer"),
        ({"MODEL_SESSION_CACHE": "8"}, "ALRANK_MODEL_SESSION_CACHE must be a positive integer"),
        ({"API_KEY": ""}, "ALRANK_API_KEY must be a non-empty string"),
    ],
)
def test_invalid_settings_are_refused(config, says):
    with pytest.raises(ValueError, match=says):
        Settings.from_mapping(config)


def test_numeric_api_key_from_the_environment_is_text():
    settings = Settings.from_mapping({"API_KEY": 12345, "MODEL_DIR": "x"})
    assert settings.api_key == "12345"


def test_documented_example_is_the_real_answer(client):
    paths = spec_document().get("paths", {})
    if f"{MODELS}/{{model}}" not in paths:
        pytest.skip("openapi.yaml does not document /v1/models/{model} yet")
    content = paths[f"{MODELS}/{{model}}"]["get"]["responses"]["200"]["content"]
    example = content["application/json"]["examples"]["digits-logreg"]["value"]
    assert client.get(f"{MODELS}/digits-logreg").get_json() == example
