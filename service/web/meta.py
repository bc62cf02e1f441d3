"""Discovery and operations: strategies, health, readiness and the API contract."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from flask import Blueprint, Response

from service import __version__
from service.jobs import describe_inputs
from service.ranking.registry import STRATEGIES
from service.web import models
from service.web.encoding import json_response

blueprint = Blueprint("meta", __name__)


def openapi_text() -> str:
    """The OpenAPI document: packaged with the wheel, or beside the source tree."""
    packaged = resources.files("service").joinpath("openapi.yaml")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "openapi.yaml").read_text(encoding="utf-8")


@blueprint.get("/v1/strategies")
def strategies() -> Response:
    """Every registered strategy and input kind, generated from the registry."""
    return json_response(
        {
            "strategies": [strategy.describe() for strategy in STRATEGIES.values()],
            "inputs": describe_inputs(),
        }
    )


@blueprint.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers HTTP."""
    return json_response({"status": "ok", "version": __version__})


@blueprint.get("/readyz")
def readyz() -> Response:
    """Readiness: the registry is loaded and the service can rank; 503 while the
    model store cannot be written (ranking still works, uploads do not)."""
    unwritable = models.store().unwritable()
    if unwritable is not None:
        return json_response({"status": "not ready", "reason": unwritable}, 503)
    return json_response({"status": "ready", "strategies": len(STRATEGIES)})


@blueprint.get("/openapi.yaml")
def openapi() -> Response:
    """The API contract, OpenAPI 3.1."""
    return Response(openapi_text(), mimetype="application/yaml")
