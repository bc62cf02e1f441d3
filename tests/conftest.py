"""Shared fixtures: a fresh app and client per test.

The client checks every response it receives against openapi.yaml.
"""

from __future__ import annotations

import os

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from service.app import create_app
from tests.contract import ContractClient

# Shared CI machines are noisy: no per-example deadline, a fixed example budget.
settings.register_profile(
    "ci", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True, scope="session")
def _model_store_in_a_temporary_directory(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every app the tests create keeps uploaded models out of the user's cache."""
    os.environ["ALRANK_MODEL_DIR"] = str(tmp_path_factory.mktemp("models"))


@pytest.fixture
def app() -> Flask:
    app = create_app({"TESTING": True})
    app.test_client_class = ContractClient
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
