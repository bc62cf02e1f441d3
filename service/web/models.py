"""Model management: POST/GET /v1/models, GET/DELETE /v1/models/{model} (an id or a name).

The store lives in ``app.extensions["alrank.models"]``; ``init_app`` builds
it from the configuration and registers this blueprint. Upload and delete
need the API key when one is configured (``Authorization: Bearer <key>`` or
``X-API-Key: <key>``); reading does not.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Flask, Response, current_app, request, url_for

from service import config
from service.deadline import within
from service.errors import UnsupportedMediaType
from service.models.bundled import BundledModels, default_directory
from service.models.errors import Forbidden, Unauthorized
from service.models.ids import check_label
from service.models.sessions import SessionCache
from service.models.store import ModelStore
from service.models.validation import ValidationLimits
from service.web import admission, observability
from service.web.bodies import paced_body, single_values
from service.web.encoding import json_response
from service.web.problems import problem_response

EXTENSION = "alrank.models"
MODEL_MEDIA_TYPE = "application/octet-stream"

blueprint = Blueprint("models", __name__)
logger = logging.getLogger(__name__)


def build_store(settings: config.Settings) -> ModelStore:
    """The store the settings describe; no session is created here."""
    return ModelStore(
        settings.model_dir,
        bundled=BundledModels(settings.bundled_model_dir or default_directory()),
        max_bytes=settings.max_model_bytes,
        limits=ValidationLimits(
            memory_bytes=settings.model_validation_memory_bytes,
            seconds=float(settings.model_validation_seconds),
            inference_memory_bytes=settings.inference_memory_bytes,
        ),
        sessions=SessionCache(
            settings.model_session_cache, memory_budget=settings.inference_memory_bytes
        ),
    )


def init_app(app: Flask) -> None:
    """Build the store from the app's settings, keep it in app.extensions, add the
    routes, and log what an upload may do."""
    settings = config.settings_of(app)
    app.extensions[EXTENSION] = build_store(settings)
    app.register_blueprint(blueprint)
    log_upload_policy(settings)


def log_upload_policy(settings: config.Settings) -> None:
    """Say at start whether uploads need a key, and what inference may hold."""
    if settings.api_key is None:
        logger.warning(
            "model uploads and deletes are open: ALRANK_API_KEY is unset, so anyone who "
            "can reach the service can store models and have the workers run them; set "
            "ALRANK_API_KEY for any service others can reach"
        )
    logger.info(
        "inference may hold %d MiB per worker (ALRANK_INFERENCE_MEMORY_BYTES)",
        settings.inference_memory_bytes >> 20,
    )


def store() -> ModelStore:
    """The current app's model store."""
    found: ModelStore = current_app.extensions[EXTENSION]
    return found


@blueprint.errorhandler(Unauthorized)
def _unauthorized(error: Unauthorized) -> Response:
    """401 with the challenge RFC 9110 asks for."""
    return problem_response(
        error.status,
        error.title,
        error.detail,
        slug=error.slug,
        headers={"WWW-Authenticate": 'Bearer realm="alrank"'},
    )


def require_api_key() -> None:
    """Pass when no key is configured or the request carries it; 401 or 403 otherwise."""
    expected = config.settings().api_key
    if expected is None:
        return
    given = _presented_key()
    if given is None:
        raise Unauthorized(
            "model management needs an API key: send Authorization: Bearer <key> "
            "or X-API-Key: <key>"
        )
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("the API key is not valid")


def _presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("X-API-Key") or None


@blueprint.post("/v1/models")
def upload() -> Response:
    """Store the .onnx bytes of the body: 201 when new, 200 when already stored."""
    require_api_key()
    request.max_content_length = config.settings().max_model_bytes
    if request.mimetype != MODEL_MEDIA_TYPE:
        got = request.mimetype or "no content type"
        raise UnsupportedMediaType(
            f"expected {MODEL_MEDIA_TYPE} (the raw bytes of an .onnx file), got {got}"
        )
    name = check_label(single_values(request.args, "query string").get("name"))
    settings = config.settings()
    with (
        within(settings.compute_deadline_seconds),
        paced_body(request, settings.body_read_timeout_seconds),
    ):
        data = request.get_data(cache=False)  # before the slot: a slow client holds none
        with admission.computing():
            model, created = store().add(data, name=name)
    observability.note(model=model.id)
    response = json_response(model.describe(), 201 if created else 200)
    response.headers["Location"] = url_for(".describe", model=model.id)
    return response


@blueprint.get("/v1/models")
def list_models() -> Response:
    """Every model: bundled ones by name, then uploaded ones, oldest first."""
    return json_response({"models": [model.describe() for model in store().models()]})


@blueprint.get("/v1/models/<model>")
def describe(model: str) -> Response:
    """One model, by id or bundled name."""
    return json_response(store().resolve(model).describe())


@blueprint.delete("/v1/models/<model>")
def delete(model: str) -> Response:
    """Remove an uploaded model; bundled models are read-only."""
    require_api_key()
    store().delete(model)
    return Response(status=204)
