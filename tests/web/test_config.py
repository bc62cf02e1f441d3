"""Configuration: defaults, then ALRANK_* environment variables, then test overrides."""

from __future__ import annotations

import os

import pytest

from service.app import create_app
from service.config import DEFAULTS
from tests.web.helpers import RANK, assert_problem, assert_ranked, dirichlet_pool

POOL = dirichlet_pool(10, 3, seed=12).tolist()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No ALRANK_* variable from the outside leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("ALRANK_"):
            monkeypatch.delenv(name)


def rank(app, budget: int):
    return app.test_client().post(
        RANK, json={"strategy": "margin", "budget": budget, "probabilities": POOL}
    )


def test_defaults_apply_without_environment():
    app = create_app()
    for key, value in DEFAULTS.items():
        if value is not None:  # unset texts: see the model and slot tests
            assert app.config[key] == value
    assert app.config["MAX_CONTENT_LENGTH"] == max(
        DEFAULTS["MAX_JSON_BYTES"], DEFAULTS["MAX_NPY_BYTES"]
    )


def test_environment_overrides_a_default(monkeypatch):
    monkeypatch.setenv("ALRANK_MAX_BUDGET", "5")
    app = create_app()
    assert app.config["MAX_BUDGET"] == 5
    assert_ranked(rank(app, 5))
    assert_problem(rank(app, 6), 422, "budget", says=("budget 6", "limit of 5"))


def test_environment_limits_reach_requests(monkeypatch):
    monkeypatch.setenv("ALRANK_MAX_ROWS", "9")
    monkeypatch.setenv("ALRANK_MAX_JSON_BYTES", "4096")
    app = create_app()
    assert app.config["MAX_ROWS"] == 9
    assert app.config["MAX_JSON_BYTES"] == 4096
    assert_problem(rank(app, 1), 413, "probabilities", says=("10", "limit is 9"))
    big = {"strategy": "margin", "budget": 1, "probabilities": dirichlet_pool(200, 3).tolist()}
    response = app.test_client().post(RANK, json=big)
    assert response.status_code == 413


def test_test_config_overrides_environment_and_defaults(monkeypatch):
    monkeypatch.setenv("ALRANK_MAX_BUDGET", "5")
    monkeypatch.setenv("ALRANK_CHUNK_BYTES", "4096")
    app = create_app({"MAX_BUDGET": 7})
    assert app.config["MAX_BUDGET"] == 7
    assert app.config["CHUNK_BYTES"] == 4096
    assert app.config["MAX_ROWS"] == DEFAULTS["MAX_ROWS"]
    assert_ranked(rank(app, 6))
    assert_problem(rank(app, 8), 422, "budget", says=("limit of 7",))


@pytest.mark.parametrize(
    "text",
    ["abc", "2.5", "true", "0", "-1", "[100]", '"100"', ""],
    ids=["word", "fraction", "boolean", "zero", "negative", "list", "json-string", "empty"],
)
def test_a_bad_environment_limit_fails_at_startup(monkeypatch, text):
    monkeypatch.setenv("ALRANK_MAX_ROWS", text)
    with pytest.raises(ValueError, match="ALRANK_MAX_ROWS must be a positive integer, got "):
        create_app()


@pytest.mark.parametrize("value", ["100", 2.5, True, 0, None], ids=repr)
def test_a_bad_test_config_limit_fails_at_startup(value):
    with pytest.raises(ValueError, match="MAX_BUDGET must be a positive integer"):
        create_app({"MAX_BUDGET": value})


def test_more_classes_than_the_limit_is_413(monkeypatch):
    monkeypatch.setenv("ALRANK_MAX_CLASSES", "3")
    app = create_app()
    client = app.test_client()
    wide = dirichlet_pool(4, 4, seed=1).tolist()
    response = client.post(RANK, json={"strategy": "margin", "budget": 1, "probabilities": wide})
    assert_problem(response, 413, "probabilities", says=("4 classes", "limit is 3"))
    narrow = dirichlet_pool(4, 3, seed=1).tolist()
    response = client.post(RANK, json={"strategy": "margin", "budget": 1, "probabilities": narrow})
    assert_ranked(response)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("SLOT_WAIT_SECONDS", "-1"),
        ("SLOT_WAIT_SECONDS", "soon"),
        ("SLOT_WAIT_SECONDS", "true"),
        ("COMPUTE_DEADLINE_SECONDS", "0"),
        ("COMPUTE_DEADLINE_SECONDS", "Infinity"),
        ("BODY_READ_TIMEOUT_SECONDS", "0"),
    ],
)
def test_a_bad_duration_fails_at_startup(monkeypatch, name, text):
    monkeypatch.setenv(f"ALRANK_{name}", text)
    with pytest.raises(ValueError, match=f"ALRANK_{name} must be"):
        create_app()


def test_durations_may_be_fractions(monkeypatch):
    monkeypatch.setenv("ALRANK_SLOT_WAIT_SECONDS", "0.25")
    monkeypatch.setenv("ALRANK_COMPUTE_DEADLINE_SECONDS", "90")
    app = create_app()
    assert app.config["SLOT_WAIT_SECONDS"] == 0.25
    assert app.config["COMPUTE_DEADLINE_SECONDS"] == 90.0


@pytest.mark.parametrize("text", ["1", "yes", '"false"'])
def test_a_bad_switch_fails_at_startup(monkeypatch, text):
    monkeypatch.setenv("ALRANK_ACCESS_LOG", text)
    with pytest.raises(ValueError, match="ALRANK_ACCESS_LOG must be true or false"):
        create_app()


def test_one_thread_per_worker_is_refused(monkeypatch):
    monkeypatch.setenv("ALRANK_THREADS", "1")
    with pytest.raises(ValueError, match="ALRANK_THREADS must be at least 2"):
        create_app()
