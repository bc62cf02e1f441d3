"""Model management: POST/GET /v1/models, GET/DELETE /v1/models/{model} (an id or a name).

The store lives in ``app.extensions["alrank.models"]``; ``init_app`` builds
it from the configuration and registers this blueprint. Upload and delete
need the API key when one is configured (``Authorization: Bearer <key>`` or
``X-API-Key: <key>``); reading does not.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, request, url_for

from service.deadline import within
from service.errors import UnsupportedMediaType
from service.models.bundled import BundledModels, default_directory
from service.models.errors import Forbidden, Unauthorized
from service.models.ids import check_label
from service.models.sessions import SessionCache
from service.models.store import ModelStore
from service.models.validation import ValidationLimits
from service.web import admission, observability
from service.web.bodies import paced_body
from service.web.encoding import json_response
from service.web.problems import problem_response

EXTENSION = "alrank.models"
MODEL_MEDIA_TYPE = "application/octet-stream"
MiB = 1 << 20

# Defaults of the integer settings; every one can be set as ALRANK_<KEY>.
MODEL_DEFAULTS: dict[str, int] = {
    # Largest model upload, bytes.
    "MAX_MODEL_BYTES": 64 * MiB,
    # Sessions each worker keeps, least recently used evicted first.
    "MODEL_SESSION_CACHE": 8,
    # Memory an upload's validation may use on top of a bare interpreter, bytes.
    "MODEL_VALIDATION_MEMORY_BYTES": 1024 * MiB,
    # Wall-clock limit of an upload's validation, seconds.
    "MODEL_VALIDATION_SECONDS": 30,
    # Feature bytes per InferenceSession.run when a model scores a pool.
    "INFERENCE_CHUNK_BYTES": 2 * MiB,
}
# Optional text settings: None means "not set".
MODEL_OPTIONAL = ("MODEL_DIR", "BUNDLED_MODEL_DIR", "API_KEY")

blueprint = Blueprint("models", __name__)


@dataclass(frozen=True)
class ModelSettings:
    """The model settings of one app, checked."""

    directory: Path
    bundled_directory: Path
    max_bytes: int
    session_cache: int
    limits: ValidationLimits
    api_key: str | None
    inference_chunk_bytes: int

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> ModelSettings:
        """Read the settings; ValueError naming the variable when one is invalid."""
        numbers = {key: config.get(key, default) for key, default in MODEL_DEFAULTS.items()}
        for key, value in numbers.items():
            if type(value) is not int or value < 1:
                raise ValueError(f"ALRANK_{key} must be a positive integer, got {value!r}")
        texts = {key: config.get(key) for key in MODEL_OPTIONAL}
        for key, value in texts.items():
            textual = isinstance(value, str | int) and not isinstance(value, bool)
            if value is not None and (not textual or value == ""):
                raise ValueError(f"ALRANK_{key} must be a non-empty string, got {value!r}")
        directory, bundled, api_key = (texts[key] for key in MODEL_OPTIONAL)
        return cls(
            directory=Path(str(directory)) if directory is not None else default_store(),
            bundled_directory=Path(str(bundled)) if bundled is not None else default_directory(),
            max_bytes=numbers["MAX_MODEL_BYTES"],
            session_cache=numbers["MODEL_SESSION_CACHE"],
            limits=ValidationLimits(
                memory_bytes=numbers["MODEL_VALIDATION_MEMORY_BYTES"],
                seconds=float(numbers["MODEL_VALIDATION_SECONDS"]),
            ),
            # The environment is parsed as JSON, so a numeric key arrives as int.
            api_key=str(api_key) if api_key is not None else None,
            inference_chunk_bytes=numbers["INFERENCE_CHUNK_BYTES"],
        )


def default_store() -> Path:
    """$XDG_CACHE_HOME/alrank/models, or ~/.cache/alrank/models."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "alrank" / "models"


def build_store(settings: ModelSettings) -> ModelStore:
    """The store the settings describe; no session is created here."""
    return ModelStore(
        settings.directory,
        bundled=BundledModels(settings.bundled_directory),
        max_bytes=settings.max_bytes,
        limits=settings.limits,
        sessions=SessionCache(settings.session_cache),
    )


def init_app(app: Flask) -> None:
    """Build the store from ``app.config``, keep it in app.extensions, add the routes."""
    settings = ModelSettings.from_config(app.config)
    app.extensions[EXTENSION] = build_store(settings)
    app.register_blueprint(blueprint)


def store() -> ModelStore:
    """The current app's model store."""
    return current_app.extensions[EXTENSION]


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
    expected = current_app.config.get("API_KEY")
    if expected is None:
        return
    given = _presented_key()
    if given is None:
        raise Unauthorized(
            "model management needs an API key: send Authorization: Bearer <key> "
            "or X-API-Key: <key>"
        )
    if not hmac.compare_digest(given.encode(), str(expected).encode()):
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
    request.max_content_length = current_app.config.get(
        "MAX_MODEL_BYTES", MODEL_DEFAULTS["MAX_MODEL_BYTES"]
    )
    if request.mimetype != MODEL_MEDIA_TYPE:
        got = request.mimetype or "no content type"
        raise UnsupportedMediaType(
            f"expected {MODEL_MEDIA_TYPE} (the raw bytes of an .onnx file), got {got}"
        )
    name = check_label(request.args.get("name"))
    config = current_app.config
    with (
        within(config["COMPUTE_DEADLINE_SECONDS"]),
        paced_body(request, config["BODY_READ_TIMEOUT_SECONDS"]),
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
