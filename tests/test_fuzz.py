"""Contract fuzzing: every operation of openapi.yaml, driven by schemathesis, in process.

Requests are generated from the document, valid ones and (negative mode)
ones that break it, and sent to the WSGI app. No answer may be a server
error, and each must be one the document allows: a documented status, its
content type, its required headers and its body schema. Pools stay small
and binary bodies are real files (see tests/fuzz_hooks.py); the runs are
derandomized, so every run sends the same requests.

The apps need an API key to upload and delete models. One run sends the
key, one sends none (401) and one sends a wrong key (403).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck as HypothesisHealthCheck
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import HealthCheck, SchemathesisConfig

from service.app import create_app
from tests.fuzz_hooks import (
    bounded_document,
    model_bodies,
    model_references,
    npy_bodies,
    rankable_requests,
    with_edge_integer,
)

API_KEY = "fuzz-key"
KEY_HEADERS = {"Authorization": f"Bearer {API_KEY}"}
WRONG_KEY_HEADERS = {"X-API-Key": f"not-{API_KEY}"}
RANK_PATH = "/v1/rank"
MODEL_PATH = "/v1/models/{model}"
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
# Generated examples per operation (both modes together), on top of the
# document's own examples and schemathesis' boundary cases.
MAX_EXAMPLES = 50
# Whole rank requests that ought to succeed, by binary media type.
RANKABLE = rankable_requests()

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]

schemathesis.openapi.media_type("application/x-npy", npy_bodies())
schemathesis.openapi.media_type("application/octet-stream", model_bodies())

# schemathesis.toml and its hooks are for the command line against a live
# server (make fuzz); this run keeps its own settings and hooks.
schema = schemathesis.openapi.from_dict(bounded_document(), config=SchemathesisConfig())
schema.config.generation.update(
    modes=MODES,
    max_examples=MAX_EXAMPLES,
    deterministic=True,
    database="none",
    # Each run sends its own credentials, never generated ones.
    with_security_parameters=False,
)
schema.config.update(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Address stored and bundled models too, not only strings no model answers to."""
    if context.operation is None or context.operation.path != MODEL_PATH:
        return st.just(path_parameters)
    known = model_references().map(lambda reference: {**path_parameters, "model": reference})
    return st.one_of(st.just(path_parameters), known)


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: object) -> st.SearchStrategy[object]:
    """Generated rank bodies: one number at or past the 64-bit limits. (The
    document's examples and schemathesis' boundary cases keep their own.)"""
    if context.operation is None or context.operation.path != RANK_PATH:
        return st.just(body)
    return with_edge_integer(body)


@schema.hook
def flatmap_case(
    context: schemathesis.HookContext, case: schemathesis.Case
) -> st.SearchStrategy[schemathesis.Case]:
    """Binary rank requests: also send ones that rank, not only ones refused on sight."""
    requests = RANKABLE.get(case.media_type or "")
    if case.operation.path != RANK_PATH or requests is None:
        return st.just(case)
    return st.one_of(st.just(case), requests.map(lambda request: _sending(case, *request)))


def _sending(case: schemathesis.Case, query: dict[str, str], body: object) -> schemathesis.Case:
    """``case`` with ``query`` and ``body`` in place of the generated ones."""
    case.query = query
    case.body = body
    return case


def _app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """An app that needs the API key to manage models, with its own empty store."""
    store = tmp_path_factory.mktemp("fuzz-models")
    return create_app({"TESTING": True, "API_KEY": API_KEY, "MODEL_DIR": str(store)})


@pytest.fixture(scope="module")
def app_for_key_holders(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app of the runs that send the key: its store fills up and empties."""
    return _app(tmp_path_factory)


@pytest.fixture(scope="module")
def app_for_others(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app of the runs without the key: its store stays empty."""
    return _app(tmp_path_factory)


def _call_and_check(case: schemathesis.Case, app: Flask, headers: Mapping[str, str]) -> None:
    """Send ``case`` to ``app`` with ``headers`` added; run every check on the answer."""
    case.call_and_validate(app=app, headers=dict(headers), checks=CHECKS)


@schema.parametrize()
def test_contract_with_the_api_key(case: schemathesis.Case, app_for_key_holders: Flask) -> None:
    """Every operation, sending the key: uploads and deletes go through."""
    _call_and_check(case, app_for_key_holders, KEY_HEADERS)


@schema.parametrize()
def test_contract_without_an_api_key(case: schemathesis.Case, app_for_others: Flask) -> None:
    """Every operation, sending no key: reads answer as usual, uploads and deletes 401."""
    _call_and_check(case, app_for_others, {})


@schema.include(method=["POST", "DELETE"], path_regex="^/v1/models").parametrize()
def test_contract_with_a_wrong_api_key(case: schemathesis.Case, app_for_others: Flask) -> None:
    """Uploads and deletes, sending a wrong key: 403."""
    _call_and_check(case, app_for_others, WRONG_KEY_HEADERS)


@pytest.mark.parametrize("media_type", sorted(RANKABLE))
@pytest.mark.parametrize("mode", MODES, ids=str)
def test_contract_of_binary_rank_bodies(
    mode: GenerationMode, media_type: str, app_for_key_holders: Flask
) -> None:
    """POST /v1/rank with each binary body type. The runs over every operation
    draw mostly JSON bodies, too few of these to reach their decoding paths."""
    operation = schema[RANK_PATH]["POST"]
    # A generated body's media type is drawn, never chosen: keep this one's.
    cases = operation.as_strategy(mode, hooks=schema.hooks).filter(
        lambda case: case.media_type == media_type
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HypothesisHealthCheck.too_slow,
            HypothesisHealthCheck.filter_too_much,
        ],
    )
    @given(case=cases)
    def check(case: schemathesis.Case) -> None:
        _call_and_check(case, app_for_key_holders, KEY_HEADERS)

    check()
