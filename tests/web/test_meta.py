"""Discovery and operations: GET /v1/strategies, /healthz, /readyz, /openapi.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml

from service import __version__
from service.ranking.inputs import INPUT_KINDS
from service.ranking.registry import STRATEGIES

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_strategies_lists_every_registered_strategy(client):
    response = client.get("/v1/strategies")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    listed = {entry["name"]: entry for entry in response.get_json()["strategies"]}
    assert set(listed) == set(STRATEGIES)
    for name, strategy in STRATEGIES.items():
        entry = listed[name]
        assert entry == strategy.describe()
        assert entry["family"] == strategy.family
        assert entry["inputs"] == list(strategy.inputs)
        assert entry["description"] == strategy.description
        assert entry["params"] == [param.describe() for param in strategy.params]


def test_strategy_entries_are_complete(client):
    for entry in client.get("/v1/strategies").get_json()["strategies"]:
        assert isinstance(entry["family"], str)
        assert entry["family"]
        assert isinstance(entry["description"], str)
        assert entry["description"]
        assert isinstance(entry["params"], list)
        assert isinstance(entry["inputs"], list)
        assert set(entry["inputs"]) <= set(INPUT_KINDS)
        for param in entry["params"]:
            assert {"name", "type", "description"} <= set(param)


def test_strategies_lists_input_kinds_with_their_params(client):
    inputs = {entry["name"]: entry for entry in client.get("/v1/strategies").get_json()["inputs"]}
    assert set(inputs) == set(INPUT_KINDS)
    temperature = {param["name"]: param for param in inputs["logits"]["params"]}["temperature"]
    assert temperature["type"] == "number"
    assert temperature["default"] == 1.0
    assert temperature["exclusiveMinimum"] == 0.0
    assert inputs["probabilities"]["params"] == []


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok", "version": __version__}


def test_readyz(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["strategies"] == len(STRATEGIES)


def test_openapi_yaml_is_served(client):
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    text = response.get_data(as_text=True)
    assert text == (REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    assert str(document["openapi"]).startswith("3.1")
    assert "/v1/rank" in document["paths"]
