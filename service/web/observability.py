"""Request ids, one JSON log line per request, and the Prometheus metrics.

Every response carries ``X-Request-ID``: the client's own when it sent a
usable one (1-128 characters of letters, digits and ``._:-``), else a fresh
UUID. Problem bodies name it in ``instance`` (see problems.py). Each request
ends with one JSON line on the ``alrank.access`` logger: id, route, status,
duration, and what the route noted about the work (rows, strategy, budget,
model); never the payload.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import TextIO

from flask import Blueprint, Flask, Response, g, request

from service import config, metrics

REQUEST_ID_HEADER = "X-Request-ID"
_USABLE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
ACCESS_LOGGER = "alrank.access"
# The fields a route may note for the log line, and the pool-size histogram.
NOTED_FIELDS = ("strategy", "budget", "rows", "model", "input")
# Methods a metric label may name; any other (clients may invent them) is "other",
# so no request can add label values without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})

blueprint = Blueprint("observability", __name__)


@blueprint.get("/metrics")
def metrics_text() -> Response:
    """Prometheus metrics of every worker, in the text exposition format."""
    return Response(metrics.exposition(), content_type=metrics.EXPOSITION_CONTENT_TYPE)


def request_id() -> str:
    """This request's id (set before any route runs)."""
    return str(g.get("request_id") or "")


def note(**fields: object) -> None:
    """Record facts about this request's work for its log line (see NOTED_FIELDS)."""
    unknown = set(fields) - set(NOTED_FIELDS)
    if unknown:
        raise ValueError(f"not a noted field: {sorted(unknown)}")
    g.setdefault("noted", {}).update(fields)


def note_rejection(reason: str) -> None:
    """Count an error answer by its problem type and name it in the log line."""
    g.rejection = reason


def init_app(app: Flask) -> None:
    """Install the request hooks and the /metrics route."""
    app.before_request(_start)
    app.after_request(_finish)
    app.register_blueprint(blueprint)
    _configure_access_logger()


def _start() -> None:
    g.started = time.perf_counter()
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _USABLE_ID.fullmatch(given) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    if "request_id" not in g:
        # Flask answered before the hooks ran (a routing error raised early).
        _start()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    seconds = time.perf_counter() - g.started
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    method = request.method if request.method in KNOWN_METHODS else "other"
    metrics.REQUESTS.labels(route, method, str(response.status_code)).inc()
    metrics.REQUEST_SECONDS.labels(route, method).observe(seconds)
    noted: dict[str, object] = g.get("noted", {})
    rejection = g.get("rejection")
    if rejection is not None:
        metrics.REJECTIONS.labels(rejection).inc()
    if response.status_code == 200 and "rows" in noted and "strategy" in noted:
        # note() takes any object; routes note "rows" as an int.
        metrics.POOL_ROWS.labels(str(noted["strategy"])).observe(float(noted["rows"]))  # type: ignore[arg-type]
    logger = logging.getLogger(ACCESS_LOGGER)
    if config.settings().access_log and logger.isEnabledFor(logging.INFO):
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request_id": g.request_id,
            "method": request.method,
            "route": route,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 3),
            "bytes_in": request.content_length,
            "pid": os.getpid(),
            **noted,
        }
        if rejection is not None:
            line["problem"] = rejection
        logger.info(json.dumps(line, default=str))
    return response


def _configure_access_logger() -> None:
    """The access logger writes bare JSON lines to stderr, once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time, as test runners swap it."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass
