"""Every error answered as application/problem+json (RFC 9457).

Body: ``type``, ``title``, ``status``, ``detail``, ``instance`` (this
request, ``urn:alrank:request:<X-Request-ID>``), ``request_id`` and, where
fields were wrong, ``errors``: a map from field name (dotted for nested
fields, e.g. ``params.temperature``) to a list of messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask import Flask, Response, current_app, has_request_context, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service.errors import AlrankError, PayloadTooLarge
from service.web.encoding import json_response
from service.web.observability import note_rejection, request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:alrank:problem:"
INSTANCE_PREFIX = "urn:alrank:request:"


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response; ``slug`` names the problem type (about:blank if None)."""
    body: dict[str, object] = {
        "type": PROBLEM_TYPE_PREFIX + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if has_request_context():
        note_rejection(slug or _reason(title))
        if request_id():
            body["instance"] = INSTANCE_PREFIX + request_id()
            body["request_id"] = request_id()
    if errors:
        body["errors"] = dict(errors)
    response = json_response(body, status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers.update(headers or {})
    return response


def _reason(title: str) -> str:
    """A metric label for a problem without a type of its own: "Not Found" -> not-found."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def flatten_messages(messages: object, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"a.b": ["message", ...]}."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = "" if key == "_schema" else str(key)
            flat.update(flatten_messages(value, ".".join(p for p in (prefix, name) if p)))
        return flat
    if isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        return {prefix or "body": list(messages)}
    if isinstance(messages, list):
        flat = {}
        for item in messages:
            for key, value in flatten_messages(item, prefix).items():
                flat.setdefault(key, []).extend(value)
        return flat
    return {prefix or "body": [str(messages)]}


def _summary(errors: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())


def _from_alrank_error(error: AlrankError) -> Response:
    detail = f"{error.field}: {error.detail}" if error.field else error.detail
    return problem_response(
        error.status,
        error.title,
        detail,
        slug=error.slug,
        errors=error.fields,
        headers=error.headers,
    )


def _from_validation_error(error: ValidationError) -> Response:
    errors = flatten_messages(error.messages)
    return problem_response(
        422, "Unprocessable Content", _summary(errors), slug="invalid-input", errors=errors
    )


def _from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {
        key: value
        for key, value in error.get_headers()
        if key.lower() in ("allow", "retry-after", "www-authenticate")
    }
    return problem_response(status, error.name, error.description or error.name, headers=headers)


def _from_too_large(error: RequestEntityTooLarge) -> Response:
    limit = request.max_content_length
    detail = "the body exceeds the size limit"
    if limit is not None:
        detail = (
            f"the body exceeds the limit of {limit} bytes for {request.mimetype or 'this route'}"
        )
    return _from_alrank_error(PayloadTooLarge(detail, field="body"))


def _from_unexpected(error: Exception) -> Response:
    # Never echo an internal exception's text: it may hold paths or data.
    current_app.logger.exception("unhandled error", exc_info=error)
    return problem_response(
        500, "Internal Server Error", "The server failed to handle the request.", slug="internal"
    )


def register_error_handlers(app: Flask) -> None:
    """Route every error raised while handling a request to problem+json."""
    app.register_error_handler(AlrankError, _from_alrank_error)
    app.register_error_handler(ValidationError, _from_validation_error)
    app.register_error_handler(RequestEntityTooLarge, _from_too_large)
    app.register_error_handler(HTTPException, _from_http_exception)
    app.register_error_handler(Exception, _from_unexpected)
